import { describe, expect, it } from 'vitest';
import { instancesForHostMemory, regionSchema } from './catalog-schemas.js';

const GiB = 2 ** 30;

describe('region capacity from the host memory', () => {
  it('keeps 2 GiB for the host and counts 1.25 GiB per instance', () => {
    expect(instancesForHostMemory(24 * GiB)).toBe(17);
    expect(instancesForHostMemory(8 * GiB)).toBe(4);
    // A tiny host still takes one.
    expect(instancesForHostMemory(2 * GiB)).toBe(1);
  });

  it('accepts `host-memory` or a number, nothing else', () => {
    const region = (maxInstances: unknown) =>
      regionSchema.safeParse({
        id: 'local',
        name: 'Local',
        driver: 'local',
        public: false,
        zones: [{ id: 'local-1', name: 'This host' }],
        capacity: { maxInstances, concurrentOrders: 2 },
      });
    expect(region('host-memory').data?.capacity.maxInstances).toBeGreaterThanOrEqual(1);
    expect(region(12).data?.capacity.maxInstances).toBe(12);
    expect(region('lots').success).toBe(false);
  });
});
