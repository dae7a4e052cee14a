import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import {
  changeOrderRequestSchema,
  createOrderRequestSchema,
  specAfter,
  storageGbSchema,
} from './order-schemas.js';
import { effectiveAdminSources, type InstanceSpec } from '../instances/instance-schemas.js';
import { messageOfIssue } from '../platform/messages.js';

const catalog = loadConfig({}).catalog;
const validOrder = {
  serviceType: 'keycloak',
  version: catalog.serviceTypes[0]!.versions[0]!,
  nodeSize: 'b2-4',
  storageGb: 50,
  trustedSources: ['127.0.0.1'],
  region: 'local',
  billingProfileId: '6f1c3a52-3f7b-4f7e-9a43-1d2f7c3b9e10',
  acceptTerms: { version: catalog.terms.version },
};

describe('order request schema', () => {
  const schema = createOrderRequestSchema(catalog);

  it('accepts a complete order, canonicalises sources and picks the default zone', () => {
    const parsed = schema.parse(validOrder);
    expect(parsed.trustedSources).toEqual(['127.0.0.1/32']);
    expect(parsed.zone).toBe('local-1');
  });

  it('property: storage is accepted exactly when it is a step multiple within min and max', () => {
    const { minGb, maxGb, stepGb } = catalog.storage;
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -100, max: 400 }), fc.double({ noNaN: true })), (gb) => {
        const expected = Number.isInteger(gb) && gb >= minGb && gb <= maxGb && gb % stepGb === 0;
        expect(storageGbSchema(catalog.storage).safeParse(gb).success).toBe(expected);
      }),
    );
  });

  it('refuses a changed terms version at the field', () => {
    const result = schema.safeParse({ ...validOrder, acceptTerms: { version: '2020-01' } });
    expect(result.error?.issues).toContainEqual(
      expect.objectContaining({
        path: ['acceptTerms', 'version'],
        message: expect.stringMatching(/terms changed/),
      }),
    );
  });

  it('requires exactly one of billingProfileId and billingProfile', () => {
    const { billingProfileId: _id, ...withoutBilling } = validOrder;
    expect(schema.safeParse(withoutBilling).error?.issues[0]?.path).toEqual(['billingProfileId']);
  });

  it('refuses versions and zones that the catalog does not list', () => {
    const issues =
      schema.safeParse({ ...validOrder, version: '25.0.0', zone: 'nowhere' }).error?.issues ?? [];
    expect(issues.map((i) => i.path.join('.'))).toEqual(['version', 'zone']);
  });

  it('takes admin sources within the trusted sources (default: all of them) and names the ones outside', () => {
    expect(schema.parse(validOrder).adminSources).toBeNull();
    expect(schema.parse({ ...validOrder, adminSources: null }).adminSources).toBeNull();
    const ranged = { ...validOrder, trustedSources: ['127.0.0.0/24', '2a01:238:4000::/48'] };
    expect(
      schema.parse({ ...ranged, adminSources: ['127.0.0.3', '2a01:238:4000:1::/64'] }).adminSources,
    ).toEqual(['127.0.0.3/32', '2a01:238:4000:1::/64']);
    expect(schema.parse({ ...ranged, adminSources: [] }).adminSources).toEqual([]);
    const issues =
      schema.safeParse({ ...ranged, adminSources: ['127.0.0.3', '127.0.1.1', '10.0.0.0/8'] }).error?.issues ??
      [];
    expect(issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['adminSources.2', expect.stringMatching(/between \/24 and \/32/)],
      [
        'adminSources.1',
        '"127.0.1.1" is not within the trusted sources; an admin source must be allowed to connect first.',
      ],
    ]);
  });
});

describe('change order schema: admin sources', () => {
  const spec: InstanceSpec = {
    serviceType: 'keycloak',
    version: catalog.serviceTypes[0]!.versions[0]!,
    nodeSize: 'b2-4',
    storageGb: 50,
    trustedSources: ['127.0.0.0/24'],
    adminSources: ['127.0.0.3/32'],
    region: 'local',
    zone: 'local-1',
    themes: [],
  };
  const schema = changeOrderRequestSchema(catalog, { name: 'kc-1', spec, deletionProtection: false });

  it('changes admin sources within the trusted sources, back to "all trusted" with null, never to the same', () => {
    const change = schema.parse({ type: 'admin-sources', adminSources: ['127.0.0.4'] });
    expect(specAfter(spec, change)).toEqual({ ...spec, adminSources: ['127.0.0.4/32'] });
    expect(
      specAfter(spec, schema.parse({ type: 'admin-sources', adminSources: null })).adminSources,
    ).toBeNull();
    expect(
      schema.safeParse({ type: 'admin-sources', adminSources: ['127.0.0.3'] }).error?.issues[0]?.message,
    ).toMatch(/already has exactly these admin sources/);
    expect(
      schema.safeParse({ type: 'admin-sources', adminSources: ['192.0.2.1'] }).error?.issues[0]?.path,
    ).toEqual(['adminSources', 0]);
    expect(effectiveAdminSources(spec)).toEqual(['127.0.0.3/32']);
    expect(effectiveAdminSources({ ...spec, adminSources: null })).toEqual(['127.0.0.0/24']);
  });

  it('refuses trusted sources that would leave explicit admin sources outside', () => {
    const issues =
      schema.safeParse({ type: 'trusted-sources', trustedSources: ['127.0.0.1'] }).error?.issues ?? [];
    expect(issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      [
        'trustedSources',
        expect.stringMatching(/admin sources 127\.0\.0\.3\/32 would not be within these trusted sources/),
      ],
    ]);
    expect(
      schema.safeParse({ type: 'trusted-sources', trustedSources: ['127.0.0.3', '10.1.1.0/24'] }).success,
    ).toBe(true);
  });
});

describe('admin sources in Kubernetes regions', () => {
  // The same catalog with its region served by the Kubernetes driver (TCP load balancer, TLS in Keycloak).
  const kubernetes = {
    ...catalog,
    regions: catalog.regions.map((r) => ({ ...r, driver: 'kubernetes' as const })),
  };

  it('refuses narrower admin sources on create, naming the field; null and absent pass', () => {
    const schema = createOrderRequestSchema(kubernetes);
    const issues = schema.safeParse({ ...validOrder, adminSources: ['127.0.0.1'] }).error?.issues ?? [];
    expect(issues.map((i) => [i.path.join('.'), messageOfIssue(i).code])).toEqual([
      ['adminSources', 'sources.adminNotOnKubernetes'],
    ]);
    expect(schema.parse({ ...validOrder, adminSources: null }).adminSources).toBeNull();
    expect(schema.parse(validOrder).adminSources).toBeNull();
  });

  it('refuses an admin-sources order except the one back to all trusted sources', () => {
    const spec: InstanceSpec = {
      serviceType: 'keycloak',
      version: catalog.serviceTypes[0]!.versions[0]!,
      nodeSize: 'b2-4',
      storageGb: 50,
      trustedSources: ['127.0.0.0/24'],
      adminSources: ['127.0.0.3/32'],
      region: 'local',
      zone: 'local-1',
      themes: [],
    };
    const schema = changeOrderRequestSchema(kubernetes, { name: 'kc-1', spec, deletionProtection: false });
    const refused = schema.safeParse({ type: 'admin-sources', adminSources: ['127.0.0.4'] });
    expect(refused.error?.issues.map((i) => [i.path.join('.'), messageOfIssue(i).code])).toEqual([
      ['adminSources', 'sources.adminNotOnKubernetes'],
    ]);
    expect(schema.parse({ type: 'admin-sources', adminSources: null })).toEqual({
      type: 'admin-sources',
      adminSources: null,
    });
  });

  it('refuses theme deployments and custom domains, naming the field; back to the own host name passes', () => {
    const spec: InstanceSpec = {
      serviceType: 'keycloak',
      version: catalog.serviceTypes[0]!.versions[0]!,
      nodeSize: 'b2-4',
      storageGb: 50,
      trustedSources: ['127.0.0.0/24'],
      adminSources: null,
      region: 'local',
      zone: 'local-1',
      themes: [],
      customHostname: 'login.example.com',
    };
    const schema = changeOrderRequestSchema(kubernetes, {
      name: 'kc-1',
      spec,
      deletionProtection: false,
      themeVersions: [{ name: 'brand', version: 1 }],
    });
    const codesOf = (body: unknown) =>
      schema.safeParse(body).error?.issues.map((i) => [i.path.join('.'), messageOfIssue(i).code]);
    expect(codesOf({ type: 'theme-deploy', name: 'brand', version: 1 })).toEqual([
      ['name', 'themes.notOnKubernetes'],
    ]);
    expect(codesOf({ type: 'custom-domain', hostname: 'sso.example.com' })).toEqual([
      ['hostname', 'domain.notOnKubernetes'],
    ]);
    expect(schema.parse({ type: 'custom-domain', hostname: null })).toEqual({
      type: 'custom-domain',
      hostname: null,
    });
  });
});
