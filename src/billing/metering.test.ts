import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAmount } from '../catalog/pricing.js';
import {
  HOUR_MS,
  computeUsage,
  divideRoundHalfUp,
  monthWindow,
  type MeteredRecord,
  type MeteringPrices,
} from './metering.js';

const prices: MeteringPrices = {
  nodeSizes: [
    { id: 'b2-4', pricePerHour: '0.11' },
    { id: 'b4-8', pricePerHour: '0.22' },
    { id: 'b8-16', pricePerHour: '0.44' },
    { id: 'a2-8', pricePerHour: '0.16' },
    { id: 'r2-16', pricePerHour: '0.24' },
  ],
  storage: { stepGb: 50, pricePerStepPerMonth: '14.30' },
};
const at = (iso: string) => Date.parse(iso);
const march = monthWindow('2026-03');

describe('monthWindow', () => {
  it('spans a calendar month in UTC, across the year end', () => {
    expect(monthWindow('2026-02')).toEqual({
      start: at('2026-02-01T00:00:00Z'),
      end: at('2026-03-01T00:00:00Z'),
    });
    expect(monthWindow('2026-12').end).toBe(at('2027-01-01T00:00:00Z'));
    expect(() => monthWindow('2026-13')).toThrow(RangeError);
  });
});

describe('computeUsage (examples)', () => {
  const record = (overrides: Partial<MeteredRecord>): MeteredRecord => ({
    instanceId: 'i1',
    instanceName: 'kc-1',
    nodeSize: 'b2-4',
    storageGb: 50,
    startedAt: at('2026-03-10T10:20:00Z'),
    endedAt: null,
    ...overrides,
  });

  it('bills from the next full hour to the hour of deletion, that hour in full', () => {
    // Provisioned 10:20, deleted 15:10: hours 11, 12, 13, 14, 15 = 5 hours.
    const usage = computeUsage({
      records: [record({ endedAt: at('2026-03-10T15:10:00Z') })],
      prices,
      month: march,
      asOf: at('2026-04-01T00:00:00Z'),
    });
    expect(usage.lines).toEqual([
      expect.objectContaining({ kind: 'node', nodeSize: 'b2-4', hours: 5, amountCents: 55 }),
      // 5 h × 14.30 / 730 = 0.0979… EUR
      expect.objectContaining({ kind: 'storage', storageGb: 50, hours: 5, amountCents: 10 }),
    ]);
    expect(usage.totalCents).toBe(65);
  });

  it('bills a scale within an hour at the higher size for that hour', () => {
    // b2-4 from 10:20, scaled to b4-8 at 12:30, back to b2-4 at 14:45, deleted 16:05.
    const records = [
      record({ endedAt: at('2026-03-10T12:30:00Z') }),
      record({
        nodeSize: 'b4-8',
        startedAt: at('2026-03-10T12:30:00Z'),
        endedAt: at('2026-03-10T14:45:00Z'),
      }),
      record({ startedAt: at('2026-03-10T14:45:00Z'), endedAt: at('2026-03-10T16:05:00Z') }),
    ];
    const usage = computeUsage({ records, prices, month: march, asOf: at('2026-03-31T00:00:00Z') });
    const node = usage.lines.filter((l) => l.kind === 'node');
    // Hours 11 (b2-4), 12, 13, 14 (b4-8), 15, 16 (b2-4).
    expect(node).toEqual([
      expect.objectContaining({ nodeSize: 'b2-4', hours: 3, amountCents: 33 }),
      expect.objectContaining({ nodeSize: 'b4-8', hours: 3, amountCents: 66 }),
    ]);
  });

  it('costs nothing when deleted before the first full hour; a full month of storage is its monthly price', () => {
    expect(
      computeUsage({
        records: [record({ endedAt: at('2026-03-10T10:50:00Z') })],
        prices,
        month: march,
        asOf: at('2026-04-01T00:00:00Z'),
      }).totalCents,
    ).toBe(0);
    // 730 hours of 100 GB = 2 × 14.30 EUR.
    const usage = computeUsage({
      records: [record({ storageGb: 100, startedAt: at('2026-02-01T00:00:00Z') })],
      prices,
      month: march,
      asOf: at('2026-03-31T09:59:00Z'),
    });
    expect(usage.lines.find((l) => l.kind === 'storage')).toMatchObject({ hours: 730, amountCents: 2860 });
  });

  it('rounds half up exactly', () => {
    expect(divideRoundHalfUp(5, 10)).toBe(1);
    expect(divideRoundHalfUp(4, 10)).toBe(0);
    expect(divideRoundHalfUp(15, 10)).toBe(2);
  });
});

// ---- property: the interval computation equals an hour-by-hour one -------------------------------------------

type Change =
  | { kind: 'scale'; nodeSize: string; atMs: number }
  | { kind: 'storage'; steps: number; atMs: number }
  | { kind: 'delete'; atMs: number };

/** A moment: often on a whole hour, sometimes a minute or a millisecond away, to hit every boundary. */
const offset = fc.oneof(
  fc.integer({ min: 0, max: 6 }).map((h) => h * HOUR_MS),
  fc.integer({ min: 0, max: 600 }).map((m) => m * 60_000),
  fc.integer({ min: 0, max: 3 * HOUR_MS }),
  fc.constantFrom(0, 1, HOUR_MS - 1),
);

const instanceHistory = fc.record({
  createdAt: fc.integer({ min: march.start - 3 * 24 * HOUR_MS, max: march.end + 24 * HOUR_MS }),
  nodeSize: fc.constantFrom(...prices.nodeSizes.map((n) => n.id)),
  steps: fc.integer({ min: 1, max: 4 }),
  changes: fc.array(
    fc.oneof(
      fc.record({
        kind: fc.constant('scale' as const),
        nodeSize: fc.constantFrom(...prices.nodeSizes.map((n) => n.id)),
        gap: offset,
      }),
      fc.record({ kind: fc.constant('storage' as const), grow: fc.integer({ min: 1, max: 2 }), gap: offset }),
    ),
    { maxLength: 8 },
  ),
  deleteAfter: fc.option(offset, { nil: undefined }),
  bigGap: fc.integer({ min: 0, max: 20 * 24 }).map((h) => h * HOUR_MS),
});

type InstanceHistory = typeof instanceHistory extends fc.Arbitrary<infer T> ? T : never;

/** What the reconciler writes: create opens a record; scale and storage close it and open the next; delete closes. */
function recordsOf(id: string, history: InstanceHistory): MeteredRecord[] {
  const changes: Change[] = [];
  let t = history.createdAt;
  let steps = history.steps;
  for (const [index, change] of history.changes.entries()) {
    t += change.gap + (index === 2 ? history.bigGap : 0);
    if (change.kind === 'scale') changes.push({ kind: 'scale', nodeSize: change.nodeSize, atMs: t });
    else if (steps + change.grow <= 4) {
      steps += change.grow;
      changes.push({ kind: 'storage', steps, atMs: t });
    }
  }
  if (history.deleteAfter !== undefined) changes.push({ kind: 'delete', atMs: t + history.deleteAfter });

  const records: MeteredRecord[] = [];
  let current: MeteredRecord = {
    instanceId: id,
    instanceName: `kc-${id}`,
    nodeSize: history.nodeSize,
    storageGb: history.steps * 50,
    startedAt: history.createdAt,
    endedAt: null,
  };
  for (const change of changes) {
    current.endedAt = change.atMs;
    records.push(current);
    if (change.kind === 'delete') return records;
    current = {
      ...current,
      nodeSize: change.kind === 'scale' ? change.nodeSize : current.nodeSize,
      storageGb: change.kind === 'storage' ? change.steps * 50 : current.storageGb,
      startedAt: change.atMs,
      endedAt: null,
    };
  }
  records.push(current);
  return records;
}

/** The oracle: walks every hour of the month, straight from the rules' wording. */
function hourByHour(records: MeteredRecord[], month: { start: number; end: number }, asOf: number) {
  const cents = new Map<string, number>();
  const ids = [...new Set(records.map((r) => r.instanceId))];
  for (const id of ids) {
    const own = records.filter((r) => r.instanceId === id && r.startedAt <= asOf);
    if (own.length === 0) continue;
    const provisioned = Math.min(...own.map((r) => r.startedAt));
    const deleted = own.every((r) => r.endedAt !== null) ? Math.max(...own.map((r) => r.endedAt!)) : Infinity;
    const stop = Math.min(deleted, asOf);
    const scaled = new Map<string, number>();
    for (let h = month.start; h < month.end; h += HOUR_MS) {
      // From the next full hour after provisioning to the hour of deletion (or of asOf), inclusive.
      if (h < provisioned || h > stop) continue;
      const overlapping = own.filter((r) => r.startedAt < h + HOUR_MS && (r.endedAt ?? stop) >= h);
      if (overlapping.length === 0) continue;
      let node = { id: '', perHour: -1 };
      let storage = -1;
      for (const r of overlapping) {
        const perHour = parseAmount(prices.nodeSizes.find((n) => n.id === r.nodeSize)!.pricePerHour);
        if (perHour > node.perHour || (perHour === node.perHour && r.nodeSize > node.id))
          node = { id: r.nodeSize, perHour };
        storage = Math.max(storage, r.storageGb);
      }
      const nodeKey = `${id}/node/${node.id}`;
      scaled.set(nodeKey, (scaled.get(nodeKey) ?? 0) + node.perHour * 730);
      const storageKey = `${id}/storage/${storage}`;
      scaled.set(storageKey, (scaled.get(storageKey) ?? 0) + (storage / 50) * parseAmount('14.30'));
    }
    for (const [key, value] of scaled) cents.set(key, divideRoundHalfUp(value, 730 * 100));
  }
  return cents;
}

describe('computeUsage (property)', () => {
  it('equals an hour-by-hour computation for random order sequences over a month', () => {
    fc.assert(
      fc.property(
        fc.array(instanceHistory, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: march.start - 24 * HOUR_MS, max: march.end + 48 * HOUR_MS }),
        (histories, asOf) => {
          const records = histories.flatMap((history, index) => recordsOf(String(index), history));
          const usage = computeUsage({ records, prices, month: march, asOf });
          const expected = hourByHour(records, march, asOf);
          const actual = new Map(
            usage.lines.map((l) => [
              `${l.instanceId}/${l.kind}/${l.kind === 'node' ? l.nodeSize : l.storageGb}`,
              l.amountCents,
            ]),
          );
          expect(actual).toEqual(expected);
          expect(usage.totalCents).toBe([...expected.values()].reduce((a, b) => a + b, 0));
          for (const line of usage.lines) expect(Number.isSafeInteger(line.amountCents)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never bills more hours than the month has, per instance and component', () => {
    fc.assert(
      fc.property(instanceHistory, (history) => {
        const usage = computeUsage({
          records: recordsOf('x', history),
          prices,
          month: march,
          asOf: march.end + HOUR_MS,
        });
        const nodeHours = usage.lines.filter((l) => l.kind === 'node').reduce((sum, l) => sum + l.hours, 0);
        const storageHours = usage.lines
          .filter((l) => l.kind === 'storage')
          .reduce((sum, l) => sum + l.hours, 0);
        expect(nodeHours).toBeLessThanOrEqual(31 * 24);
        expect(nodeHours).toBe(storageHours);
      }),
      { numRuns: 300 },
    );
  });
});
