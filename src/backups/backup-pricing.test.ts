import { describe, expect, it } from 'vitest';
import { computeUsage, monthWindow, type MeteredRecord, type MeteringPrices } from '../billing/metering.js';
import { loadConfig } from '../config/load-config.js';
import { priceOf, retentionPricePerMonth } from '../catalog/pricing.js';
import { DEFAULT_BACKUP_POLICY } from './backup-schemas.js';

/** Nightly backups beyond the included 7: priced per night, storage step and month, metered hourly like storage. */
const catalog = loadConfig({}).catalog;
const policy = (retention: number) => ({ ...DEFAULT_BACKUP_POLICY, retention });

describe('the price of retention', () => {
  it('is nothing within the included nights, per extra night and 50 GB step beyond', () => {
    expect(retentionPricePerMonth(catalog, { storageGb: 50 })).toBe(0);
    expect(retentionPricePerMonth(catalog, { storageGb: 50, backups: policy(7) })).toBe(0);
    // 23 × 1 step × 0.29 EUR = 6.67 EUR, in 1/10000 EUR.
    expect(retentionPricePerMonth(catalog, { storageGb: 50, backups: policy(30) })).toBe(66_700);
    expect(retentionPricePerMonth(catalog, { storageGb: 200, backups: policy(90) })).toBe(83 * 4 * 2_900);
  });

  it('is part of the instance price', () => {
    const without = priceOf(catalog, { nodeSize: 'b2-4', storageGb: 50 });
    const withRetention = priceOf(catalog, { nodeSize: 'b2-4', storageGb: 50, backups: policy(30) });
    expect(Number(withRetention.perMonth) - Number(without.perMonth)).toBeCloseTo(6.67, 2);
  });
});

describe('metering of retention', () => {
  const prices: MeteringPrices = { ...catalog, backups: catalog.backups };
  const record = (overrides: Partial<MeteredRecord>): MeteredRecord => ({
    instanceId: 'i1',
    instanceName: 'kc-1',
    nodeSize: 'b2-4',
    storageGb: 50,
    startedAt: Date.parse('2026-03-01T00:00:00Z'),
    endedAt: null,
    ...overrides,
  });
  const march = monthWindow('2026-03');
  const asOf = march.end; // a whole month: 744 hours, all billed

  it('adds a backups line for extra nights, hourly (1/730 of the monthly price)', () => {
    const usage = computeUsage({ records: [record({ backupRetention: 30 })], prices, month: march, asOf });
    const line = usage.lines.find((l) => l.kind === 'backups')!;
    expect(line.hours).toBe(744);
    // 6.67 EUR a month × 744 / 730 hours.
    expect(line.amountCents).toBe(Math.round((66_700 * 744) / 730 / 100));
  });

  it('adds nothing within the included nights', () => {
    const usage = computeUsage({ records: [record({ backupRetention: 7 })], prices, month: march, asOf });
    expect(usage.lines.map((l) => l.kind)).toEqual(['node', 'storage']);
  });

  it('bills the hour of a change at the larger retention', () => {
    const change = Date.parse('2026-03-10T12:30:00Z');
    const usage = computeUsage({
      records: [
        record({ backupRetention: 7, endedAt: change }),
        record({ backupRetention: 14, startedAt: change }),
      ],
      prices,
      month: march,
      asOf,
    });
    const lines = usage.lines.filter((l) => l.kind === 'backups');
    expect(lines).toHaveLength(1);
    // From the change's hour (12:00 on the 10th) to the end: 21 days × 24 h − 12 h.
    expect(lines[0]!.hours).toBe(21 * 24 + 12);
  });
});
