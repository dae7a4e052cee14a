import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * ~/.config/keyhouse/credentials.json (or $XDG_CONFIG_HOME/keyhouse/…): the URL and API token that `keyhouse login`
 * stored. Readable by its owner only (0600, directory 0700): the token acts with the user's role.
 */
const storedSchema = z.object({
  url: z.url().max(2048),
  token: z.string().min(10).max(200),
});
export type StoredCredentials = z.infer<typeof storedSchema>;

export function credentialsPath(env: { HOME?: string; XDG_CONFIG_HOME?: string }): string {
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME ?? '.', '.config');
  return path.join(base, 'keyhouse', 'credentials.json');
}

export function readCredentials(file: string): StoredCredentials | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    // Not signed in yet; any other failure (permissions, say) is for the user to see.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = storedSchema.safeParse(JSON.parse(text));
  return parsed.success ? parsed.data : undefined;
}

export function writeCredentials(file: string, credentials: StoredCredentials): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify(credentials, null, 2) + '\n', { mode: 0o600 });
  // An existing file keeps its old mode on write: make sure.
  chmodSync(file, 0o600);
}
