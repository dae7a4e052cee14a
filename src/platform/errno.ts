import { readFileSync } from 'node:fs';

/** The code of a failed system call (ENOENT, EEXIST, ESRCH …); undefined for other errors. */
export const errnoOf = (error: unknown): string | undefined =>
  error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;

/** A path that is not there: ENOENT, or ENOTDIR when a part of it is a file. */
export function isNotFound(error: unknown): boolean {
  const code = errnoOf(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** A file's text, or null when it does not exist; every other failure (permissions, I/O) throws. */
export function readTextIfExists(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}
