import { useEffect, useState } from 'react';
import type { PublicCatalog } from '../api/types';
import { uuid } from '../uuid';

/** What the customer has entered so far; kept in sessionStorage so that a reload loses nothing. */
export type Draft = {
  /** One per wizard run: the API answers a repeated POST with the same order instead of ordering twice. */
  idempotencyKey: string;
  stepId: StepId;
  product: 'iam-keycloak';
  serviceType: string;
  version: string;
  nodeSize: string;
  /** null while the field is empty. */
  storageGb: number | null;
  trustedSources: string[];
  /** null: every trusted source may also use the admin console and API (the default). */
  adminSources: string[] | null;
  region: string;
  zone: string;
  billingMode: 'existing' | 'new';
  billingProfileId: string;
  billingProfile: {
    company: string;
    street: string;
    postalCode: string;
    city: string;
    country: string;
    vatId: string;
    invoiceEmail: string;
  };
  termsAccepted: boolean;
};

export const STEP_IDS = [
  'product',
  'type',
  'size',
  'storage',
  'sources',
  'region',
  'billing',
  'summary',
] as const;
export type StepId = (typeof STEP_IDS)[number];

const STORAGE_KEY = 'keyhouse.orderWizard';

const newestVersion = (versions: readonly string[]) =>
  [...versions].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1) ?? '';

export function initialDraft(catalog: PublicCatalog): Draft {
  const serviceType = catalog.serviceTypes[0]!;
  const smallest = [...catalog.nodeSizes].sort((a, b) => Number(a.pricePerHour) - Number(b.pricePerHour))[0]!;
  const region = catalog.regions[0]!;
  return {
    idempotencyKey: uuid(),
    stepId: 'product',
    product: 'iam-keycloak',
    serviceType: serviceType.id,
    version: newestVersion(serviceType.versions),
    nodeSize: smallest.id,
    storageGb: catalog.storage.minGb,
    trustedSources: [],
    adminSources: null,
    region: region.id,
    zone: region.zones[0]!.id,
    billingMode: 'new',
    billingProfileId: '',
    billingProfile: {
      company: '',
      street: '',
      postalCode: '',
      city: '',
      country: 'DE',
      vatId: '',
      invoiceEmail: '',
    },
    termsAccepted: false,
  };
}

/** The stored draft, as long as it still fits the catalog (ids may have gone since). */
function restore(catalog: PublicCatalog): Draft {
  const fresh = initialDraft(catalog);
  let stored: Partial<Draft> | null;
  try {
    stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as Partial<Draft> | null;
  } catch (error) {
    // A draft another version of the portal stored, or a damaged one: start afresh.
    if (error instanceof SyntaxError) return fresh;
    throw error;
  }
  if (!stored || typeof stored !== 'object' || typeof stored.idempotencyKey !== 'string') return fresh;
  const draft: Draft = {
    ...fresh,
    ...stored,
    billingProfile: { ...fresh.billingProfile, ...stored.billingProfile },
    trustedSources: Array.isArray(stored.trustedSources)
      ? stored.trustedSources.map(String).slice(0, 200)
      : [],
    adminSources: Array.isArray(stored.adminSources) ? stored.adminSources.map(String).slice(0, 200) : null,
  };
  const serviceType = catalog.serviceTypes.find((s) => s.id === draft.serviceType);
  if (!serviceType) Object.assign(draft, { serviceType: fresh.serviceType, version: fresh.version });
  else if (!serviceType.versions.includes(draft.version)) draft.version = newestVersion(serviceType.versions);
  if (!catalog.nodeSizes.some((n) => n.id === draft.nodeSize)) draft.nodeSize = fresh.nodeSize;
  const region = catalog.regions.find((r) => r.id === draft.region);
  if (!region) Object.assign(draft, { region: fresh.region, zone: fresh.zone });
  else if (!region.zones.some((z) => z.id === draft.zone)) draft.zone = region.zones[0]!.id;
  if (!STEP_IDS.includes(draft.stepId)) draft.stepId = 'product';
  return draft;
}

export function useDraft(catalog: PublicCatalog) {
  const [draft, setDraft] = useState<Draft>(() => restore(catalog));
  useEffect(() => {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(draft));
  }, [draft]);
  const update = (patch: Partial<Draft>) => setDraft((current) => ({ ...current, ...patch }));
  return { draft, update };
}

/** After the order is placed (or the wizard cancelled), the next run starts fresh with a new idempotency key. */
export function discardDraft() {
  sessionStorage.removeItem(STORAGE_KEY);
}
