import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import { parseAmount, priceDelta, priceOf } from './pricing.js';

const catalog = loadConfig({}).catalog;

describe('pricing', () => {
  it('prices node and storage per hour and per 730-hour month', () => {
    expect(priceOf(catalog, { nodeSize: 'b2-4', storageGb: 50 })).toEqual({
      currency: 'EUR',
      perHour: '0.1296',
      perMonth: '94.60',
    });
    expect(priceOf(catalog, { nodeSize: 'b4-8', storageGb: 200 }).perMonth).toBe('217.80');
  });

  it('computes deltas exactly, negative ones included', () => {
    const small = priceOf(catalog, { nodeSize: 'b2-4', storageGb: 50 });
    const large = priceOf(catalog, { nodeSize: 'b4-8', storageGb: 50 });
    expect(priceDelta(small, large)).toEqual({ currency: 'EUR', perHour: '0.1100', perMonth: '80.30' });
    expect(priceDelta(large, small).perMonth).toBe('-80.30');
  });

  it('property: monthly prices grow with every storage step by exactly the step price', () => {
    const step = parseAmount(catalog.storage.pricePerStepPerMonth);
    fc.assert(
      fc.property(
        fc.constantFrom(...catalog.nodeSizes.map((n) => n.id)),
        fc.integer({ min: 1, max: 3 }),
        (node, steps) => {
          const gb = steps * catalog.storage.stepGb;
          const before = parseAmount(priceOf(catalog, { nodeSize: node, storageGb: gb }).perMonth);
          const after = parseAmount(
            priceOf(catalog, { nodeSize: node, storageGb: gb + catalog.storage.stepGb }).perMonth,
          );
          expect(after - before).toBe(step);
        },
      ),
    );
  });
});
