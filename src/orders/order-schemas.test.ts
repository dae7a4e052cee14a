import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import { createOrderRequestSchema, storageGbSchema } from './order-schemas.js';

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
});
