import { z } from 'zod';
import type { CustomDomain } from '../domains/domain-schemas.js';
import type { LogPage } from '../instances/instance-log-schemas.js';
import type { InstanceMetrics } from '../metrics/metrics-schemas.js';
import type { InstanceThemes } from '../themes/theme-schemas.js';
import { problemSchema } from './problem.js';

/**
 * Examples for the generated OpenAPI document, by operationId. They live in one place, beside the generator, so
 * that route files keep only their schemas; `completeOpenApiDocument` puts them into the request bodies and the
 * answers. A test (test/integration/openapi-document.test.ts) checks that every operation with a body has one.
 */
type OpenApiOperation = {
  operationId?: string;
  summary?: string;
  requestBody?: { content?: Record<string, { schema?: unknown; example?: unknown }> };
  responses?: Record<
    string,
    { content?: Record<string, { schema?: unknown; example?: unknown }> } | undefined
  >;
};
type OpenApiDocument = { paths?: Record<string, Record<string, OpenApiOperation>> };

const billingProfile = {
  company: 'Beispiel GmbH',
  street: 'Hafenstraße 1',
  postalCode: '20457',
  city: 'Hamburg',
  country: 'DE',
  vatId: 'DE123456789',
  invoiceEmail: 'rechnung@beispiel.de',
};

export const requestExamples: Record<string, unknown> = {
  signUp: {
    email: 'ada@beispiel.de',
    password: 'correct horse battery staple',
    organizationName: 'Beispiel GmbH',
  },
  logIn: { email: 'ada@beispiel.de', password: 'correct horse battery staple' },
  logOut: {},
  createApiToken: { name: 'deploy pipeline' },
  createInvitation: { email: 'grace@beispiel.de', role: 'technician' },
  acceptInvitation: { password: 'another long passphrase' },
  createBillingProfile: billingProfile,
  createOrder: {
    serviceType: 'keycloak',
    version: '26.7.3',
    nodeSize: 'b2-4',
    storageGb: 50,
    trustedSources: ['85.214.132.0/24'],
    region: 'local',
    zone: 'local-1',
    billingProfileId: '0b6f4c1e-8f8a-4a39-9a43-1f1c1f0e2a11',
    acceptTerms: { version: '2026-11' },
  },
  createChangeOrder: { type: 'trusted-sources', trustedSources: ['85.214.132.0/24', '2a01:238:4000::/48'] },
  // Other change orders: { "type": "theme-deploy", "name": "beispiel", "version": 2 }, { "type": "theme-remove", … }.
  updateInstance: { deletionProtection: false },
  // A zip with beispiel/login/theme.properties …, base64 (shortened here).
  uploadInstanceTheme: { fileName: 'beispiel-theme.zip', archive: 'UEsDBBQAAAAIAGZ0g1kAAAAAAAAAAAAAAAAa...' },
  setInstanceDomain: {
    hostname: 'login.beispiel.de',
    certificate: {
      source: 'upload',
      certificateChainPem:
        '-----BEGIN CERTIFICATE-----\n(login.beispiel.de)\n-----END CERTIFICATE-----\n' +
        '-----BEGIN CERTIFICATE-----\n(the intermediate that issued it)\n-----END CERTIFICATE-----\n',
      privateKeyPem: '-----BEGIN PRIVATE KEY-----\n(its key)\n-----END PRIVATE KEY-----\n',
    },
  },
  putInstanceBackupKey: {
    publicKey:
      '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxjMEZ…(the ASCII-armored public key)…\n-----END PGP PUBLIC KEY BLOCK-----\n',
  },
  createTicket: {
    subject: 'Order failed in DE-NORTH',
    message: 'My order failed at the step "keycloak-start"; can you have a look?',
    orderId: '5d0c7a8e-3f9b-4c55-8f0e-6a7f1d2b9c01',
  },
  requestPasswordReset: { email: 'ada@beispiel.de' },
  confirmPasswordReset: {
    token: 'tN3o6qXjz0c7lE6y1m2VfQ8bR4sK9wH5aD0gJ7pU2xY',
    password: 'a new long passphrase',
  },
  setPreferences: { language: 'de' },
  confirmTwoFactor: { code: '492039' },
  disableTwoFactor: { password: 'correct horse battery staple' },
  changeMemberRole: { role: 'manager' },
  updateOrganization: { requireTwoFactor: true },
  replyToTicket: { message: 'The instance is up again, thank you!' },
  osbProvision: {
    service_id: 'keyhouse-keycloak',
    plan_id: 'keyhouse-keycloak-b2-4',
    organization_guid: 'a1b2c3d4-org',
    space_guid: 'e5f6a7b8-space',
    context: { platform: 'cloudfoundry', organization_guid: 'a1b2c3d4-org', space_guid: 'e5f6a7b8-space' },
    parameters: { trustedSources: ['85.214.132.0/24'], storageGb: 100 },
  },
  osbUpdate: {
    service_id: 'keyhouse-keycloak',
    plan_id: 'keyhouse-keycloak-b4-8',
    previous_values: { plan_id: 'keyhouse-keycloak-b2-4' },
  },
  osbBind: {
    service_id: 'keyhouse-keycloak',
    plan_id: 'keyhouse-keycloak-b2-4',
    bind_resource: { app_guid: 'c0ffee00-app' },
  },
};

const domainExample: CustomDomain = {
  hostname: 'login.beispiel.de',
  cnameTarget: 'kc-1a2b3c4d.keycloak.provider.example',
  source: 'upload',
  status: 'dns-verified',
  message: null,
  messageCode: null,
  messageParams: null,
  certificate: {
    subject: 'CN=login.beispiel.de',
    issuer: 'CN=Beispiel Intermediate CA',
    names: ['login.beispiel.de'],
    notBefore: '2026-11-20T00:00:00.000Z',
    notAfter: '2027-02-18T23:59:59.000Z',
    fingerprintSha256: '3f:9a:…:c2',
    expiresSoon: false,
  },
  dnsCheckedAt: '2026-12-03T08:15:02.000Z',
  updatedAt: '2026-12-03T08:15:02.000Z',
  orderId: '7c1e0d4a-2f6b-4e8a-9d3c-5b1a0e9f8d21',
};
const hourPoints = (values: (number | null)[]): [number, number | null][] =>
  values.map((value, i) => [Date.parse('2026-12-03T08:00:00Z') + i * 30_000, value]);

/** Answers (200/201) by operationId: what the API returns for the four self-service features of issue 15. */
export const responseExamples: Record<string, unknown> = {
  getInstanceDomain: { ...domainExample, status: 'active', orderId: undefined },
  setInstanceDomain: {
    ...domainExample,
    status: 'pending-dns',
    dnsCheckedAt: null,
    orderId: undefined,
  } satisfies CustomDomain,
  checkInstanceDomain: domainExample,
  removeInstanceDomain: { orderId: '0e4b9c2d-6a1f-4d7e-8b3a-2c9f1e0d7a65' },
  getInstanceMetrics: {
    range: 'hour',
    from: '2026-12-03T08:00:00.000Z',
    to: '2026-12-03T09:00:00.000Z',
    stepSeconds: 30,
    series: {
      requestsPerSecond: hourPoints([0.4, 1.2, null]),
      logins: hourPoints([0, 3, null]),
      failedLogins: hourPoints([0, 1, null]),
      tokensIssued: hourPoints([0, 3, null]),
      responseTimeP95Ms: hourPoints([38, 112, null]),
      heapUsedBytes: hourPoints([201_326_592, 214_958_080, null]),
      cpuPercent: hourPoints([3.1, 11.4, null]),
      databaseBytes: hourPoints([12_845_056, 12_853_248, null]),
    },
    totals: { logins: 3, failedLogins: 1, tokensIssued: 3 },
    heapMaxBytes: 536_870_912,
  } satisfies InstanceMetrics,
  readInstanceLog: {
    entries: [
      {
        time: '2026-12-03T08:14:55.120Z',
        level: 'WARN',
        text:
          '2026-12-03 08:14:55,120 WARN  [org.keycloak.events] (executor-thread-3) type="LOGIN_ERROR", ' +
          'realmName="kd500001", clientId="account-console", userId="null", ipAddress="85.214.132.7", ' +
          'error="user_not_found", username="unbekannt"',
      },
    ],
    truncated: false,
  } satisfies LogPage,
  listInstanceThemes: {
    themes: [
      {
        name: 'beispiel',
        deployedVersion: 2,
        versions: [
          {
            name: 'beispiel',
            version: 2,
            fileName: 'beispiel-theme.zip',
            types: ['login'],
            sizeBytes: 18_204,
            unpackedBytes: 52_311,
            fileCount: 9,
            sha256: 'b5d4045c3f466fa91fe2cc6abe79232a1a57cdf104f7a26e716e0a1e2789df78',
            uploadedAt: '2026-12-02T16:40:11.000Z',
          },
        ],
      },
    ],
  } satisfies InstanceThemes,
};

const internalError = {
  description: 'Unexpected error: quote the request id (header x-request-id) in a support ticket',
  content: {
    'application/problem+json': { schema: z.toJSONSchema(problemSchema, { target: 'draft-2020-12' }) },
  },
};

/** Adds the examples and a 500 response to every operation (any operation can fail on our side). */
export function completeOpenApiDocument<T extends object>(document: T): T {
  for (const operations of Object.values((document as OpenApiDocument).paths ?? {})) {
    for (const operation of Object.values(operations)) {
      if (typeof operation !== 'object' || operation === null) continue;
      const example = operation.operationId && requestExamples[operation.operationId];
      for (const media of Object.values(operation.requestBody?.content ?? {})) {
        if (example !== undefined) media.example = example;
      }
      const answer = operation.operationId && responseExamples[operation.operationId];
      const success = operation.responses?.['200'] ?? operation.responses?.['201'];
      for (const media of Object.values(success?.content ?? {})) {
        if (answer !== undefined) media.example = answer;
      }
      operation.responses ??= {};
      operation.responses['500'] ??= internalError;
    }
  }
  return document;
}
