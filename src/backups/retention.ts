import type { BackupKind, BackupStatus } from './backup-schemas.js';

/**
 * Which backups go. Pure: the caller passes the backups, the retention and the time.
 *
 * - Nightly backups: the newest `retention` successful ones (by night) stay; older successful ones go as soon as a
 *   newer one succeeded. A failed night never pushes a good backup out.
 * - On-demand, pre-upgrade and pre-restore backups do not count against the retention: each stays
 *   `OTHER_BACKUPS_KEPT_DAYS` days from when it was taken, so an upgrade or a restore can be undone for a month.
 * - Failed backups of any kind stay as long, so the customer and the operator can see what went wrong.
 * - A backup that an unfinished order reads (a restore) stays until that order has ended.
 */
export const OTHER_BACKUPS_KEPT_DAYS = 30;
const DAY_MS = 86_400_000;

export type RetainedBackup = {
  id: string;
  kind: BackupKind;
  status: BackupStatus;
  night: string | null;
  createdAt: string;
};

export function backupsToExpire(
  backups: readonly RetainedBackup[],
  options: { retention: number; now: number; inUse: ReadonlySet<string> },
): string[] {
  const expire = new Set<string>();
  const nightly = backups
    .filter((b) => b.kind === 'nightly' && b.status === 'done')
    .sort((a, b) => (a.night! < b.night! ? 1 : a.night! > b.night! ? -1 : 0));
  for (const backup of nightly.slice(options.retention)) expire.add(backup.id);
  for (const backup of backups) {
    const old = options.now - Date.parse(backup.createdAt) >= OTHER_BACKUPS_KEPT_DAYS * DAY_MS;
    if (old && (backup.status === 'failed' || (backup.kind !== 'nightly' && backup.status === 'done')))
      expire.add(backup.id);
  }
  return [...expire].filter((id) => !options.inUse.has(id));
}

/** When a backup will be removed, for the list: null for nightly ones (they go when outranked). */
export function backupExpiresAt(backup: RetainedBackup): string | null {
  if (backup.kind === 'nightly' && backup.status !== 'failed') return null;
  return new Date(Date.parse(backup.createdAt) + OTHER_BACKUPS_KEPT_DAYS * DAY_MS).toISOString();
}
