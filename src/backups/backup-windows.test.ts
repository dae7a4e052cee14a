import { describe, expect, it } from 'vitest';
import {
  backupWindowOn,
  latestBackupNight,
  maintenanceWindowAt,
  nextMaintenanceWindow,
  weekdayOf,
  windowsFarEnoughApart,
  zonedHourToInstant,
  type Windows,
} from './backup-windows.js';

const berlin = (backupStartHour: number, maintenance: Windows['maintenanceWindow']): Windows => ({
  timeZone: 'Europe/Berlin',
  backupWindow: { startHour: backupStartHour },
  maintenanceWindow: maintenance,
});
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('time zone arithmetic', () => {
  it('maps a wall-clock hour to its instant in winter and summer', () => {
    expect(iso(zonedHourToInstant({ year: 2027, month: 1, day: 15 }, 1, 'Europe/Berlin'))).toBe(
      '2027-01-15T00:00:00.000Z',
    );
    expect(iso(zonedHourToInstant({ year: 2027, month: 7, day: 15 }, 1, 'Europe/Berlin'))).toBe(
      '2027-07-14T23:00:00.000Z',
    );
  });

  it('starts a skipped hour (28 March 2027, 02:00 does not exist in Berlin) when the clock jumps past it', () => {
    expect(iso(zonedHourToInstant({ year: 2027, month: 3, day: 28 }, 2, 'Europe/Berlin'))).toBe(
      '2027-03-28T01:00:00.000Z', // 03:00 CEST
    );
  });

  it('starts a repeated hour (31 October 2027, 02:00 happens twice in Berlin) at its first occurrence', () => {
    expect(iso(zonedHourToInstant({ year: 2027, month: 10, day: 31 }, 2, 'Europe/Berlin'))).toBe(
      '2027-10-31T00:00:00.000Z', // 02:00 CEST
    );
  });

  it('knows the weekday of a local date', () => {
    expect(weekdayOf({ year: 2027, month: 3, day: 28 })).toBe('sunday');
    expect(weekdayOf({ year: 2027, month: 11, day: 1 })).toBe('monday');
  });
});

describe('backup window', () => {
  it('lasts two real hours across the spring change (01:00 CET to 04:00 CEST)', () => {
    const window = backupWindowOn(berlin(1, { day: 'sunday', startHour: 6 }), {
      year: 2027,
      month: 3,
      day: 28,
    });
    expect(iso(window.start)).toBe('2027-03-28T00:00:00.000Z');
    expect(iso(window.end)).toBe('2027-03-28T02:00:00.000Z');
  });

  it('lasts two real hours across the autumn change (01:00 CEST to 02:00 CET)', () => {
    const window = backupWindowOn(berlin(1, { day: 'sunday', startHour: 6 }), {
      year: 2027,
      month: 10,
      day: 31,
    });
    expect(iso(window.start)).toBe('2027-10-30T23:00:00.000Z');
    expect(iso(window.end)).toBe('2027-10-31T01:00:00.000Z');
  });

  it('names the night whose window started last', () => {
    const windows = berlin(1, { day: 'sunday', startHour: 6 });
    // 00:30 local on 5 Jan: the window of 5 Jan has not started, the one of 4 Jan has.
    expect(latestBackupNight(windows, at('2027-01-04T23:30:00Z')).night).toEqual({
      year: 2027,
      month: 1,
      day: 4,
    });
    expect(latestBackupNight(windows, at('2027-01-05T00:00:00Z')).night).toEqual({
      year: 2027,
      month: 1,
      day: 5,
    });
  });
});

describe('maintenance window', () => {
  const windows = berlin(5, { day: 'sunday', startHour: 2 });

  it('on the spring change: opens at 03:00 CEST and lasts 2.5 real hours', () => {
    expect(maintenanceWindowAt(windows, at('2027-03-28T00:59:59Z'))).toBeUndefined();
    expect(maintenanceWindowAt(windows, at('2027-03-28T01:00:00Z'))).toEqual({
      start: at('2027-03-28T01:00:00Z'),
      end: at('2027-03-28T03:30:00Z'),
    });
    expect(maintenanceWindowAt(windows, at('2027-03-28T03:30:00Z'))).toBeUndefined();
  });

  it('on the autumn change: opens at the first 02:00 and still runs at the second 02:30', () => {
    expect(maintenanceWindowAt(windows, at('2027-10-30T23:59:59Z'))).toBeUndefined();
    const window = maintenanceWindowAt(windows, at('2027-10-31T01:30:00Z')); // 02:30 CET, the second one
    expect(window).toEqual({ start: at('2027-10-31T00:00:00Z'), end: at('2027-10-31T02:30:00Z') });
  });

  it('only on its weekday, and reaching past midnight when it starts late', () => {
    const late = berlin(8, { day: 'saturday', startHour: 23 });
    expect(maintenanceWindowAt(late, at('2027-01-09T22:30:00Z'))).toBeDefined(); // Saturday 23:30
    expect(maintenanceWindowAt(late, at('2027-01-10T00:15:00Z'))).toBeDefined(); // Sunday 01:15
    expect(maintenanceWindowAt(late, at('2027-01-10T22:30:00Z'))).toBeUndefined(); // Sunday 23:30
    expect(iso(nextMaintenanceWindow(late, at('2027-01-10T00:15:00Z')).start)).toBe(
      '2027-01-16T22:00:00.000Z',
    );
  });
});

describe('the windows are at least 2.5 hours apart', () => {
  it.each([
    [1, 5, false], // backup ends 03:00, maintenance starts 05:00: 2 h
    [1, 6, true], // 3 h after, and from 08:30 to 01:00
    [1, 20, true], // ends 22:30, backup at 01:00: exactly 2.5 h
    [1, 21, false], // ends 23:30: 1.5 h before the backup
    [1, 2, false], // overlapping
    [22, 3, true], // backup 22–24, maintenance 03:00–05:30
    [22, 2, false],
  ])('backup at %i:00, maintenance at %i:00 → %s', (backup, maintenance, ok) => {
    expect(windowsFarEnoughApart(berlin(backup, { day: 'monday', startHour: maintenance }))).toBe(ok);
  });
});
