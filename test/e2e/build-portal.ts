import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { packageRoot } from '../../src/platform/package-root.js';

/** Newest modification time of the files below `dir` (the portal's sources and the shared schemas in src/). */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(full));
    else latest = Math.max(latest, statSync(full).mtimeMs);
  }
  return latest;
}

/** vitest globalSetup of the e2e project: builds the portal when dist/web is missing or older than its sources. */
export default function buildPortal() {
  const index = path.join(packageRoot, 'dist', 'web', 'index.html');
  const sources = Math.max(newest(path.join(packageRoot, 'web')), newest(path.join(packageRoot, 'src')));
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  console.log('e2e: building the portal (dist/web is missing or stale)');
  // In a child process: vitest sets NODE_ENV=test, which would give a development build of React.
  execFileSync('npx', ['vite', 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], {
    cwd: packageRoot,
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: 'production' },
  });
}
