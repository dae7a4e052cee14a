import type { TFunction } from 'i18next';
import { billingProfileInputSchema } from '../../../src/billing/billing-profile-schemas';
import { createOrderRequestSchema, storageGbSchema } from '../../../src/orders/order-schemas';
import {
  adminSourcesSchema,
  checkTrustedSource,
  trustedSourcesSchema,
} from '../../../src/access/trusted-sources';
import type { PublicCatalog } from '../api/types';
import { zodErrors } from '../validation';
import { localizeMessage } from '../messages';
import type { Draft, StepId } from './draft';

/** The body of POST /api/v1/orders for the draft. */
export function orderRequest(catalog: PublicCatalog, draft: Draft) {
  const profile = draft.billingProfile;
  return {
    serviceType: draft.serviceType,
    version: draft.version,
    nodeSize: draft.nodeSize,
    storageGb: draft.storageGb,
    trustedSources: draft.trustedSources.map((s) => s.trim()),
    ...(draft.adminSources ? { adminSources: draft.adminSources.map((s) => s.trim()) } : {}),
    region: draft.region,
    zone: draft.zone,
    ...(draft.billingMode === 'existing'
      ? { billingProfileId: draft.billingProfileId }
      : {
          billingProfile: {
            company: profile.company,
            street: profile.street,
            postalCode: profile.postalCode,
            city: profile.city,
            country: profile.country,
            ...(profile.vatId.trim() ? { vatId: profile.vatId } : {}),
            invoiceEmail: profile.invoiceEmail,
          },
        }),
    acceptTerms: { version: catalog.terms.version },
  };
}

/** Which step owns an API path such as "billingProfile.vatId" or "trustedSources.1". */
export function stepOfPath(path: string): StepId {
  const head = path.split('.')[0];
  switch (head) {
    case 'serviceType':
    case 'version':
      return 'type';
    case 'nodeSize':
      return 'size';
    case 'storageGb':
      return 'storage';
    case 'trustedSources':
    case 'adminSources':
      return 'sources';
    case 'region':
    case 'zone':
      return 'region';
    case 'billingProfile':
    case 'billingProfileId':
      return 'billing';
    default:
      return 'summary';
  }
}

/** A message in the reader's language for a field at fault; the schema's (English) words where we have none. */
export function localizeError(t: TFunction, catalog: PublicCatalog, path: string, message: string): string {
  const { minGb, maxGb, stepGb } = catalog.storage;
  if (path === 'storageGb') return t('wizard.storage.invalid', { min: minGb, max: maxGb, step: stepGb });
  if (path === 'trustedSources') return t('wizard.sources.atLeastOne');
  if (path === 'acceptTerms' || path.startsWith('acceptTerms.')) return t('wizard.summary.termsChanged');
  if (path === 'billingProfileId') return t('wizard.billing.chooseProfile');
  const billing = /^billingProfile\.(company|street|postalCode|city|country|invoiceEmail)$/.exec(path);
  if (billing) return t(`billing.errors.${billing[1]}`);
  return message;
}

export function regionOf(catalog: PublicCatalog, id: string) {
  return catalog.regions.find((r) => r.id === id) ?? catalog.regions[0]!;
}

export function storageErrors(catalog: PublicCatalog, storageGb: number | null): string | undefined {
  const result = storageGbSchema(catalog.storage).safeParse(storageGb);
  return result.success ? undefined : Object.values(zodErrors(result.error))[0];
}

/** Per entry of the list: the problem (duplicates included), or undefined. Empty rows count as problems. */
export function sourceErrors(
  catalog: PublicCatalog,
  draft: Draft,
): { list?: string; entries: (string | undefined)[] } {
  const region = regionOf(catalog, draft.region);
  const entries = draft.trustedSources.map((entry) => {
    if (!entry.trim()) return 'empty';
    const check = checkTrustedSource(entry, region);
    return check.ok ? undefined : localizeMessage(check);
  });
  const result = trustedSourcesSchema(region).safeParse(draft.trustedSources);
  let list: string | undefined;
  if (!result.success) {
    for (const [path, message] of Object.entries(zodErrors(result.error))) {
      const index = Number(path);
      if (path !== '(body)' && Number.isInteger(index)) entries[index] ??= message;
      else list ??= message;
    }
  }
  return { list, entries };
}

/** The admin sources' problems per entry (none while every trusted source may administer). */
export function adminSourceErrors(catalog: PublicCatalog, draft: Draft): (string | undefined)[] {
  if (draft.adminSources === null) return [];
  const region = regionOf(catalog, draft.region);
  const trusted = trustedSourcesSchema(region).safeParse(draft.trustedSources);
  const result = adminSourcesSchema(region, trusted.success ? trusted.data : []).safeParse(
    draft.adminSources,
  );
  const listed = result.success ? {} : zodErrors(result.error);
  return draft.adminSources.map((entry, index) => {
    if (!entry.trim()) return 'empty';
    const check = checkTrustedSource(entry, region);
    return check.ok ? listed[String(index)] : check.message;
  });
}

export function billingErrors(draft: Draft): Record<string, string> {
  if (draft.billingMode === 'existing') return draft.billingProfileId ? {} : { billingProfileId: 'required' };
  const profile = { ...draft.billingProfile, vatId: draft.billingProfile.vatId.trim() || undefined };
  const result = billingProfileInputSchema.safeParse(profile);
  return result.success ? {} : zodErrors(result.error);
}

/** Client-side problems of the whole order, keyed by API path: the same schema the API applies. */
export function orderErrors(catalog: PublicCatalog, draft: Draft): Record<string, string> {
  const result = createOrderRequestSchema(catalog).safeParse(orderRequest(catalog, draft));
  return result.success ? {} : zodErrors(result.error);
}

export function stepValid(catalog: PublicCatalog, draft: Draft, step: StepId): boolean {
  switch (step) {
    case 'product':
      return true;
    case 'type':
      return Boolean(
        catalog.serviceTypes.find((s) => s.id === draft.serviceType)?.versions.includes(draft.version),
      );
    case 'size':
      return catalog.nodeSizes.some((n) => n.id === draft.nodeSize);
    case 'storage':
      return storageErrors(catalog, draft.storageGb) === undefined;
    case 'sources': {
      const errors = sourceErrors(catalog, draft);
      return (
        !errors.list &&
        errors.entries.every((e) => e === undefined) &&
        adminSourceErrors(catalog, draft).every((e) => e === undefined)
      );
    }
    case 'region':
      return regionOf(catalog, draft.region).zones.some((z) => z.id === draft.zone);
    case 'billing':
      return Object.keys(billingErrors(draft)).length === 0;
    case 'summary':
      return draft.termsAccepted && Object.keys(orderErrors(catalog, draft)).length === 0;
  }
}
