import { HOURS_PER_MONTH, parseAmount } from '../catalog/pricing.js';

/**
 * Metering: what an instance costs in a month, from its usage records. Pure and clock-free (the caller passes
 * `asOf`), exact (integers only, no floating point), so the property tests can compare it hour by hour.
 *
 * The rules (the provider's: "billed hourly, from the next full hour after provisioning to the full hour of
 * cancellation"):
 * - An instance is billed for every hour `h` (UTC, whole hours) from the first full hour after it was provisioned
 *   (`ceil(provisionedAt)`) to the hour in which it was deleted (`floor(deletedAt)`), that hour in full. While it
 *   runs, up to the hour containing `asOf`. An instance deleted before its first full hour costs nothing.
 * - The rate of an hour is the highest of the records that overlap it (a record `[start, end]` overlaps the hour
 *   `[h, h+1)` when `start < h+1` and `end >= h`): a scale within an hour bills that hour at the higher size, a
 *   storage growth within an hour at the larger storage. Node size and storage are rated independently.
 * - Node: its `pricePerHour` per hour. Storage: `pricePerStepPerMonth / 730` per step and hour (730 hours a month,
 *   the catalog's convention), so a full 730-hour month costs exactly the monthly price.
 * - Each line (instance × node size, instance × storage size) is rounded once, half up, to cents from its exact
 *   value; the total is the sum of the lines, as on an invoice.
 */

export const HOUR_MS = 3_600_000;
/** Amounts are computed in 1/10000 EUR (see pricing.ts) times 730, so a storage hour is a whole number too. */
const UNITS_PER_CENT = 100;

export type MeteredRecord = {
  instanceId: string;
  instanceName: string;
  nodeSize: string;
  storageGb: number;
  /** Nightly backups kept; those beyond `prices.backups.includedRetention` are billed like storage. */
  backupRetention?: number;
  /** Epoch milliseconds. */
  startedAt: number;
  /** Epoch milliseconds; null while the record is open (the instance runs with this size). */
  endedAt: number | null;
};

export type MeteringPrices = {
  nodeSizes: readonly { id: string; pricePerHour: string }[];
  storage: { stepGb: number; pricePerStepPerMonth: string };
  backups?: { includedRetention: number; pricePerExtraNightPerStepPerMonth: string };
};

export type UsageLine = {
  instanceId: string;
  instanceName: string;
  kind: 'node' | 'storage' | 'backups';
  /** The node size of a node line, the storage of a storage line. */
  nodeSize: string | null;
  storageGb: number | null;
  hours: number;
  /** The rate as printed: "0.11 EUR per hour" or "14.30 EUR per 50 GB and month, hourly (1/730)". */
  rate: string;
  amountCents: number;
};

export type UsageReport = { lines: UsageLine[]; totalCents: number };

/** [start, end) of a calendar month in UTC, from "YYYY-MM". */
export function monthWindow(month: string): { start: number; end: number } {
  const match = /^(\d{4})-(\d{2})$/.exec(month);
  const monthIndex = match ? Number(match[2]) - 1 : -1;
  if (!match || monthIndex < 0 || monthIndex > 11) throw new RangeError(`not a month: ${month}`);
  const year = Number(match[1]);
  return { start: Date.UTC(year, monthIndex, 1), end: Date.UTC(year, monthIndex + 1, 1) };
}

export const floorHour = (ms: number) => Math.floor(ms / HOUR_MS) * HOUR_MS;
export const ceilHour = (ms: number) => Math.ceil(ms / HOUR_MS) * HOUR_MS;

/** `numerator / denominator` rounded half up; both non-negative safe integers. */
export function divideRoundHalfUp(numerator: number, denominator: number): number {
  if (!Number.isSafeInteger(numerator) || !Number.isSafeInteger(denominator) || denominator <= 0)
    throw new RangeError('exact amounts need safe integers');
  const quotient = Math.floor(numerator / denominator);
  const remainder = numerator - quotient * denominator;
  return remainder * 2 >= denominator ? quotient + 1 : quotient;
}

type Rated = { key: string; label: string | number; scaled: number };

/** The rate of one record, per component, in units × 730 per hour. */
function rates(
  record: MeteredRecord,
  prices: MeteringPrices,
): { node: Rated; storage: Rated; backups: Rated } {
  const node = prices.nodeSizes.find((n) => n.id === record.nodeSize);
  if (!node) throw new Error(`no price for node size ${record.nodeSize}`);
  const steps = record.storageGb / prices.storage.stepGb;
  if (!Number.isInteger(steps)) throw new Error(`${record.storageGb} GB is not a whole number of steps`);
  return {
    node: {
      key: `node:${node.id}`,
      label: node.id,
      scaled: parseAmount(node.pricePerHour) * HOURS_PER_MONTH,
    },
    storage: {
      key: `storage:${record.storageGb}`,
      label: record.storageGb,
      scaled: steps * parseAmount(prices.storage.pricePerStepPerMonth),
    },
    // Extra nightly backups: per extra night and storage step, like storage (a zero rate bills nothing).
    backups: {
      key: `backups:${extraNights(record, prices)}x${record.storageGb}`,
      label: record.storageGb,
      scaled:
        extraNights(record, prices) *
        steps *
        parseAmount(prices.backups?.pricePerExtraNightPerStepPerMonth ?? '0'),
    },
  };
}

const extraNights = (record: MeteredRecord, prices: MeteringPrices) =>
  Math.max(0, (record.backupRetention ?? 0) - (prices.backups?.includedRetention ?? 0));

/** The higher of two rates; equal amounts fall to the key, so the choice never depends on input order. */
const higher = (a: Rated, b: Rated) =>
  a.scaled !== b.scaled ? (a.scaled > b.scaled ? a : b) : a.key > b.key ? a : b;

/**
 * The billable hours of one instance in [window.start, window.end), as segments of equal coverage: every hour
 * where a record starts or ends on its own, the stretches between them whole. Interval arithmetic, not an hour
 * loop: the tests compare it with one.
 */
function meterInstance(
  records: MeteredRecord[],
  prices: MeteringPrices,
  window: { start: number; end: number },
  asOf: number,
  add: (rated: Rated, hours: number) => void,
) {
  const provisionedAt = Math.min(...records.map((r) => r.startedAt));
  const open = records.some((r) => r.endedAt === null);
  const endedAt = open ? asOf : Math.min(asOf, Math.max(...records.map((r) => r.endedAt!)));
  const first = Math.max(ceilHour(provisionedAt), window.start);
  const last = Math.min(floorHour(endedAt), window.end - HOUR_MS);
  if (first > last) return;

  const ranges = records.map((record) => ({
    from: floorHour(record.startedAt),
    to: floorHour(record.endedAt ?? endedAt),
    rated: rates(record, prices),
  }));
  const breakpoints = [...new Set(ranges.flatMap((r) => [r.from, r.to]))]
    .filter((h) => h >= first && h <= last)
    .concat([first, last]);
  const points = [...new Set(breakpoints)].sort((a, b) => a - b);

  const rateAt = (hour: number) => {
    const covering = ranges.filter((r) => r.from <= hour && hour <= r.to);
    if (covering.length === 0) return undefined;
    return {
      node: covering.map((r) => r.rated.node).reduce(higher),
      storage: covering.map((r) => r.rated.storage).reduce(higher),
      backups: covering.map((r) => r.rated.backups).reduce(higher),
    };
  };
  const bill = (hour: number, hours: number) => {
    const rate = rateAt(hour);
    if (!rate || hours <= 0) return;
    add(rate.node, hours);
    add(rate.storage, hours);
    if (rate.backups.scaled > 0) add(rate.backups, hours);
  };
  for (let i = 0; i < points.length; i++) {
    const point = points[i]!;
    bill(point, 1);
    const next = points[i + 1];
    // Between two breakpoints nothing starts or ends: one hour stands for the whole stretch.
    if (next !== undefined) bill(point + HOUR_MS, (next - point) / HOUR_MS - 1);
  }
}

/** Usage of a month, as of `asOf` (hours after it are not billed yet). */
export function computeUsage(input: {
  records: readonly MeteredRecord[];
  prices: MeteringPrices;
  month: { start: number; end: number };
  asOf: number;
}): UsageReport {
  const byInstance = new Map<string, MeteredRecord[]>();
  for (const record of input.records) {
    if (record.startedAt > input.asOf) continue;
    const list = byInstance.get(record.instanceId) ?? [];
    list.push(record);
    byInstance.set(record.instanceId, list);
  }
  const lines: UsageLine[] = [];
  const instanceIds = [...byInstance.keys()].sort();
  for (const instanceId of instanceIds) {
    const records = byInstance.get(instanceId)!;
    const hoursByRate = new Map<string, { rated: Rated; hours: number }>();
    meterInstance(records, input.prices, input.month, input.asOf, (rated, hours) => {
      const entry = hoursByRate.get(rated.key) ?? { rated, hours: 0 };
      entry.hours += hours;
      hoursByRate.set(rated.key, entry);
    });
    const instanceName = records[0]!.instanceName;
    const entries = [...hoursByRate.values()].sort(
      (a, b) => a.rated.key.localeCompare(b.rated.key, 'en') || a.rated.scaled - b.rated.scaled,
    );
    for (const { rated, hours } of entries) {
      const kind = rated.key.startsWith('node:')
        ? 'node'
        : rated.key.startsWith('backups:')
          ? 'backups'
          : 'storage';
      const isNode = kind === 'node';
      lines.push({
        instanceId,
        instanceName,
        kind,
        nodeSize: isNode ? String(rated.label) : null,
        storageGb: isNode ? null : Number(rated.label),
        hours,
        rate:
          kind === 'node'
            ? `${input.prices.nodeSizes.find((n) => n.id === rated.label)!.pricePerHour} EUR per hour`
            : kind === 'backups'
              ? `${input.prices.backups!.pricePerExtraNightPerStepPerMonth} EUR per extra nightly backup, ` +
                `${input.prices.storage.stepGb} GB and month, hourly (1/${HOURS_PER_MONTH}): ${rated.key.slice(8)} GB`
              : `${input.prices.storage.pricePerStepPerMonth} EUR per ${input.prices.storage.stepGb} GB and month, ` +
                `hourly (1/${HOURS_PER_MONTH})`,
        amountCents: divideRoundHalfUp(hours * rated.scaled, HOURS_PER_MONTH * UNITS_PER_CENT),
      });
    }
  }
  return { lines, totalCents: lines.reduce((sum, line) => sum + line.amountCents, 0) };
}
