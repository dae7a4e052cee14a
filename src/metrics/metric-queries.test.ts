import { describe, expect, it } from 'vitest';
import { alignToSteps, countPerStep, seriesQueries } from './metric-queries.js';

describe('counting counter values per step', () => {
  it('counts increases, a series that appears with its first events, and restarts', () => {
    const counted = countPerStep([
      [0, null], // baseline: no login yet, so no series
      [30, 1], // the first login made the series appear with 1
      [60, 1],
      [90, 4],
      [120, null], // nothing scraped
      [150, 2], // Keycloak restarted: counting began at 0 again
      [180, 3.0000000001],
    ]);
    expect(counted.points).toEqual([
      [30, 1],
      [60, 0],
      [90, 3],
      [120, null],
      [150, 2],
      [180, 1],
    ]);
    expect(counted.total).toBe(7);
  });

  it('has nothing to count without values', () => {
    expect(countPerStep([])).toEqual({ points: [], total: 0 });
    expect(countPerStep([[0, 5]])).toEqual({ points: [], total: 0 });
  });
});

describe('aligning a Prometheus matrix to the step times', () => {
  it('fills gaps with null, and NaN too (a quantile without requests)', () => {
    expect(
      alignToSteps(
        [1000, 2000, 3000],
        [
          [1, '5'],
          [3, 'NaN'],
        ],
      ),
    ).toEqual([
      [1000, 5],
      [2000, null],
      [3000, null],
    ]);
    expect(alignToSteps([1000], undefined)).toEqual([[1000, null]]);
  });
});

describe('the queries of an instance', () => {
  it("select the instance's series only", () => {
    const id = '6f1c2a9e-1111-4222-8333-944455556666';
    for (const query of Object.values(seriesQueries(id, 60)))
      expect(query.promql).toContain(`keyhouse_instance="${id}"`);
  });
});
