import { describe, expect, it } from 'vitest';
import { nextPatchVersion, spreadMinutes } from './schedule-rules.js';

const catalog = {
  serviceTypes: [{ id: 'keycloak', versions: ['26.5.6', '26.5.10', '26.5.7', '26.7.3', '27.0.0'] }],
};

describe('patches', () => {
  it('are newer releases of the running major.minor, the newest one first (numerically, 10 > 7)', () => {
    expect(nextPatchVersion(catalog, 'keycloak', '26.5.6')).toBe('26.5.10');
    expect(nextPatchVersion(catalog, 'keycloak', '26.5.10')).toBeUndefined();
    expect(nextPatchVersion(catalog, 'keycloak', '26.7.3')).toBeUndefined(); // 27.0.0 is an upgrade, not a patch
    expect(nextPatchVersion(catalog, 'other', '26.5.6')).toBeUndefined();
  });
});

describe('the spread of nightly backups', () => {
  it('is stable per instance and within the first hour of the window', () => {
    const ids = Array.from(
      { length: 200 },
      (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    );
    const minutes = ids.map(spreadMinutes);
    expect(minutes.every((m) => Number.isInteger(m) && m >= 0 && m < 60)).toBe(true);
    expect(ids.map(spreadMinutes)).toEqual(minutes);
    expect(new Set(minutes).size).toBeGreaterThan(30);
  });
});
