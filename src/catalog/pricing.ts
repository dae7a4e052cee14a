import type { Catalog } from './catalog-schemas.js';
import { backupPolicyOf, type BackupPolicy } from '../backups/backup-schemas.js';

/**
 * Prices are computed here and only here, in integer units of 1/10000 EUR, so that sums are exact. A month is
 * 730 hours (the usual 8760 / 12), the convention of hourly-billed cloud price lists.
 */
export const HOURS_PER_MONTH = 730;
const UNITS_PER_EUR = 10_000;

export type Price = {
  currency: 'EUR';
  /** EUR per hour, 4 decimals. */
  perHour: string;
  /** EUR per month (730 h), 2 decimals. */
  perMonth: string;
};

export function parseAmount(decimal: string): number {
  const [whole, fraction = ''] = decimal.split('.');
  return Number(whole) * UNITS_PER_EUR + Number(fraction.padEnd(4, '0'));
}

export function formatAmount(units: number, decimals: 2 | 4): string {
  const scale = 10 ** (4 - decimals);
  const rounded = Math.round(units / scale);
  const sign = rounded < 0 ? '-' : '';
  const abs = Math.abs(rounded);
  const base = 10 ** decimals;
  return `${sign}${Math.floor(abs / base)}.${String(abs % base).padStart(decimals, '0')}`;
}

export type PricedSpec = { nodeSize: string; storageGb: number; backups?: BackupPolicy };

/**
 * The monthly price of the nightly backups an instance keeps beyond the included ones: per extra night and storage
 * step, so that it grows with the data like storage does.
 */
export function retentionPricePerMonth(
  catalog: Pick<Catalog, 'storage' | 'backups'>,
  spec: Pick<PricedSpec, 'storageGb' | 'backups'>,
): number {
  const extraNights = Math.max(0, backupPolicyOf(spec).retention - catalog.backups.includedRetention);
  return (
    extraNights *
    (spec.storageGb / catalog.storage.stepGb) *
    parseAmount(catalog.backups.pricePerExtraNightPerStepPerMonth)
  );
}

/** The price of an instance of the given size; both parts must exist in the catalog (validated before). */
export function priceOf(catalog: Catalog, spec: PricedSpec): Price {
  const node = catalog.nodeSizes.find((n) => n.id === spec.nodeSize);
  if (!node) throw new Error(`unknown node size ${spec.nodeSize}`);
  const nodePerHour = parseAmount(node.pricePerHour);
  const storagePerMonth =
    (spec.storageGb / catalog.storage.stepGb) * parseAmount(catalog.storage.pricePerStepPerMonth) +
    retentionPricePerMonth(catalog, spec);
  const perMonth = nodePerHour * HOURS_PER_MONTH + storagePerMonth;
  return {
    currency: catalog.currency,
    perHour: formatAmount(nodePerHour + storagePerMonth / HOURS_PER_MONTH, 4),
    perMonth: formatAmount(perMonth, 2),
  };
}

/** New price minus old price, for change orders. */
export function priceDelta(before: Price, after: Price): Price {
  return {
    currency: after.currency,
    perHour: formatAmount(parseAmount(after.perHour) - parseAmount(before.perHour), 4),
    perMonth: formatAmount(parseAmount(after.perMonth) - parseAmount(before.perMonth), 2),
  };
}
