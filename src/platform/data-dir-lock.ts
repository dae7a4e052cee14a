import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One Keyhouse per data dir: a second one would start a second embedded PostgreSQL and second Keycloak twins on the
 * same files. The lock is a pid file; a lock whose process is gone (after a crash or SIGKILL) is taken over.
 */
export function lockDataDir(dataDir: string): { release(): void } {
  mkdirSync(dataDir, { recursive: true });
  const lockFile = path.join(dataDir, 'keyhouse.pid');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      return {
        release() {
          try {
            if (readFileSync(lockFile, 'utf8') === String(process.pid)) unlinkSync(lockFile);
          } catch (error) {
            // Already gone (removed by hand, or the data dir with it): nothing left to release.
            if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(lockFile, 'utf8'));
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new Error(
          `Another Keyhouse (pid ${holder}) is already running on the data dir ${dataDir}. ` +
            'Stop it first, or give this one another DATA_DIR.',
        );
      }
      unlinkSync(lockFile);
    }
  }
  throw new Error(`Could not lock the data dir ${dataDir}.`);
}
