/**
 * The two windows of an instance, in its time zone: the daily backup window (2 hours from a whole hour) and the
 * weekly maintenance window (2.5 hours from a whole hour on one weekday). Pure and clock-free: callers pass the
 * instant they mean, so the scheduler's tests move time without waiting. Browser-safe (only Intl).
 *
 * Daylight-saving time: a window starts when the wall clock of the time zone shows its start hour. On the night the
 * clocks go forward, an hour that does not exist (02:00 in Europe/Berlin) starts the window at the instant the clock
 * jumps past it (03:00 CEST); on the night they go back, an hour that exists twice starts at its first occurrence
 * (02:00 CEST). The length is real time: 2 hours and 2.5 hours, whatever the clock does in between.
 */

export const BACKUP_WINDOW_HOURS = 2;
export const MAINTENANCE_WINDOW_MINUTES = 150;
/** The provider's rule: the backup and the maintenance window are at least 2.5 hours apart. */
export const MIN_WINDOW_GAP_MINUTES = 150;

export const WEEKDAYS = [
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
  'sunday',
] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** A calendar date as the time zone's wall clock shows it. */
export type LocalDate = { year: number; month: number; day: number };

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/** True for an IANA time zone this runtime knows, e.g. Europe/Berlin. */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch (error) {
    if (error instanceof RangeError) return false;
    throw error;
  }
}

/** The wall clock of `timeZone` at `instant`, as if it were UTC (milliseconds). */
function wallClock(instant: number, timeZone: string): number {
  const parts = Object.fromEntries(
    formatter(timeZone)
      .formatToParts(new Date(instant))
      .map((part) => [part.type, part.value]),
  );
  return Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
}

/** The calendar date in `timeZone` at `instant`. */
export function localDateAt(instant: number, timeZone: string): LocalDate {
  const wall = new Date(wallClock(instant, timeZone));
  return { year: wall.getUTCFullYear(), month: wall.getUTCMonth() + 1, day: wall.getUTCDate() };
}

export function addDays(date: LocalDate, days: number): LocalDate {
  const shifted = new Date(Date.UTC(date.year, date.month - 1, date.day) + days * DAY_MS);
  return { year: shifted.getUTCFullYear(), month: shifted.getUTCMonth() + 1, day: shifted.getUTCDate() };
}

/** "2027-03-28". */
export function formatLocalDate(date: LocalDate): string {
  return `${date.year}-${String(date.month).padStart(2, '0')}-${String(date.day).padStart(2, '0')}`;
}

export function parseLocalDate(text: string): LocalDate {
  const [year, month, day] = text.split('-').map(Number);
  return { year: year!, month: month!, day: day! };
}

export function weekdayOf(date: LocalDate): Weekday {
  // getUTCDay: 0 = Sunday.
  return WEEKDAYS[(new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay() + 6) % 7]!;
}

/**
 * The instant at which the wall clock of `timeZone` shows `hour`:00 on `date`; for a skipped hour the instant the
 * clock jumps past it, for a repeated hour its first occurrence.
 */
export function zonedHourToInstant(date: LocalDate, hour: number, timeZone: string): number {
  const wanted = Date.UTC(date.year, date.month - 1, date.day, hour);
  const offsetBefore = wallClock(wanted - 12 * HOUR_MS, timeZone) - (wanted - 12 * HOUR_MS);
  const offsetAfter = wallClock(wanted + 12 * HOUR_MS, timeZone) - (wanted + 12 * HOUR_MS);
  const matches = [wanted - offsetBefore, wanted - offsetAfter]
    .filter((instant) => wallClock(instant, timeZone) === wanted)
    .sort((a, b) => a - b);
  // No instant shows that hour: the clocks went forward over it; the old offset lands right after the jump.
  return matches[0] ?? wanted - offsetBefore;
}

export type TimeWindow = { start: number; end: number };

export type Windows = {
  timeZone: string;
  backupWindow: { startHour: number };
  maintenanceWindow: { day: Weekday; startHour: number };
};

/** The backup window of the night `date` (the local date on which it starts). */
export function backupWindowOn(windows: Windows, date: LocalDate): TimeWindow {
  const start = zonedHourToInstant(date, windows.backupWindow.startHour, windows.timeZone);
  return { start, end: start + BACKUP_WINDOW_HOURS * HOUR_MS };
}

/** The night whose backup window started last at or before `instant`, with that window. */
export function latestBackupNight(
  windows: Windows,
  instant: number,
): { night: LocalDate; window: TimeWindow } {
  const today = localDateAt(instant, windows.timeZone);
  for (const night of [addDays(today, 1), today, addDays(today, -1), addDays(today, -2)]) {
    const window = backupWindowOn(windows, night);
    if (window.start <= instant) return { night, window };
  }
  throw new Error('unreachable: a backup window starts every day');
}

/** The first backup window that starts after `instant`. */
export function nextBackupWindow(windows: Windows, instant: number): TimeWindow {
  const today = localDateAt(instant, windows.timeZone);
  for (const night of [addDays(today, -1), today, addDays(today, 1), addDays(today, 2)]) {
    const window = backupWindowOn(windows, night);
    if (window.start > instant) return window;
  }
  throw new Error('unreachable: a backup window starts every day');
}

function maintenanceWindowOn(windows: Windows, date: LocalDate): TimeWindow {
  const start = zonedHourToInstant(date, windows.maintenanceWindow.startHour, windows.timeZone);
  return { start, end: start + MAINTENANCE_WINDOW_MINUTES * MINUTE_MS };
}

/** The maintenance window that contains `instant`, if any. */
export function maintenanceWindowAt(windows: Windows, instant: number): TimeWindow | undefined {
  const today = localDateAt(instant, windows.timeZone);
  // A window that starts late in the evening reaches into the next day.
  for (const date of [today, addDays(today, -1)]) {
    if (weekdayOf(date) !== windows.maintenanceWindow.day) continue;
    const window = maintenanceWindowOn(windows, date);
    if (window.start <= instant && instant < window.end) return window;
  }
  return undefined;
}

/** The first maintenance window that starts at or after `instant`. */
export function nextMaintenanceWindow(windows: Windows, instant: number): TimeWindow {
  const today = localDateAt(instant, windows.timeZone);
  for (let days = -1; days <= 8; days++) {
    const date = addDays(today, days);
    if (weekdayOf(date) !== windows.maintenanceWindow.day) continue;
    const window = maintenanceWindowOn(windows, date);
    if (window.start >= instant) return window;
  }
  throw new Error('unreachable: a maintenance window starts every week');
}

/**
 * The gaps between the windows on the 24-hour clock, in minutes: from the end of the backup window to the start of
 * the maintenance window, and from the end of the maintenance window to the next backup window. Negative when they
 * overlap. The backup window recurs daily, so the maintenance weekday does not matter.
 */
export function windowGapsMinutes(windows: Windows): { afterBackup: number; afterMaintenance: number } {
  const backupStart = windows.backupWindow.startHour * 60;
  const maintenanceStart = windows.maintenanceWindow.startHour * 60;
  const distance = (((maintenanceStart - backupStart) % 1440) + 1440) % 1440;
  return {
    afterBackup: distance - BACKUP_WINDOW_HOURS * 60,
    afterMaintenance: 1440 - distance - MAINTENANCE_WINDOW_MINUTES,
  };
}

export function windowsFarEnoughApart(windows: Windows): boolean {
  const gaps = windowGapsMinutes(windows);
  return gaps.afterBackup >= MIN_WINDOW_GAP_MINUTES && gaps.afterMaintenance >= MIN_WINDOW_GAP_MINUTES;
}
