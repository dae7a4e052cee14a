import { describe, expect, it } from 'vitest';
import { backupsToExpire, type RetainedBackup } from './retention.js';

const now = Date.parse('2027-02-01T12:00:00Z');
const nightly = (day: number, status: RetainedBackup['status'] = 'done'): RetainedBackup => ({
  id: `n${day}`,
  kind: 'nightly',
  status,
  night: `2027-01-${String(day).padStart(2, '0')}`,
  createdAt: `2027-01-${String(day).padStart(2, '0')}T01:10:00Z`,
});

describe('retention', () => {
  it('keeps the newest successful nightly backups, however they were listed', () => {
    const backups = [5, 1, 9, 3, 7, 2, 8, 4, 6].map((day) => nightly(day));
    expect(backupsToExpire(backups, { retention: 7, now, inUse: new Set() }).sort()).toEqual(['n1', 'n2']);
  });

  it('does not let a failed night push a good backup out, and keeps failures for a month', () => {
    const backups = [...[1, 2, 3, 4, 5, 6, 7].map((day) => nightly(day)), nightly(8, 'failed')];
    expect(backupsToExpire(backups, { retention: 7, now, inUse: new Set() })).toEqual([]);
    const later = Date.parse('2027-02-08T02:00:00Z');
    expect(backupsToExpire(backups, { retention: 7, now: later, inUse: new Set() })).toEqual(['n8']);
  });

  it('keeps on-demand and pre-upgrade backups for 30 days, outside the retention count', () => {
    const others: RetainedBackup[] = [
      { id: 'od', kind: 'on-demand', status: 'done', night: null, createdAt: '2027-01-02T10:00:00Z' },
      { id: 'up', kind: 'pre-upgrade', status: 'done', night: null, createdAt: '2027-01-03T10:00:00Z' },
    ];
    const backups = [...[1, 2, 3].map((day) => nightly(day)), ...others];
    expect(backupsToExpire(backups, { retention: 7, now, inUse: new Set() })).toEqual(['od']);
  });

  it('leaves a backup alone while a restore reads it', () => {
    const backups = [1, 2, 3].map((day) => nightly(day));
    expect(backupsToExpire(backups, { retention: 2, now, inUse: new Set(['n1']) })).toEqual([]);
  });
});
