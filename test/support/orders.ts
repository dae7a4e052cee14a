import type { Config } from '../../src/config/config-schema.js';

/** A billing profile that passes every rule (German company, VAT id optional). */
export const exampleBillingProfile = {
  company: 'Beispiel GmbH',
  street: 'Hafenstraße 1',
  postalCode: '20457',
  city: 'Hamburg',
  country: 'DE',
  invoiceEmail: 'rechnung@beispiel.de',
};

/** The body of a valid `POST /api/v1/orders` for the local region: the smallest node, 50 GB, this host trusted. */
export function exampleOrder(config: Config, overrides: Record<string, unknown> = {}) {
  return {
    serviceType: 'keycloak',
    version: config.catalog.serviceTypes[0]!.versions[0]!,
    nodeSize: 'b2-4',
    storageGb: 50,
    trustedSources: ['127.0.0.1'],
    region: 'local',
    billingProfile: exampleBillingProfile,
    acceptTerms: { version: config.catalog.terms.version },
    ...overrides,
  };
}
