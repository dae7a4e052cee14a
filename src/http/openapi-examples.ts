import { z } from 'zod';
import { problemSchema } from './problem.js';

/**
 * Examples for the generated OpenAPI document, by operationId. They live in one place, beside the generator, so
 * that route files keep only their schemas; `completeOpenApiDocument` puts them into the request bodies. A test
 * (test/integration/openapi-document.test.ts) checks that every operation with a body has one.
 */
type OpenApiOperation = {
  operationId?: string;
  summary?: string;
  requestBody?: { content?: Record<string, { schema?: unknown; example?: unknown }> };
  responses?: Record<string, unknown>;
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
  updateInstance: { deletionProtection: false },
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
      operation.responses ??= {};
      operation.responses['500'] ??= internalError;
    }
  }
  return document;
}
