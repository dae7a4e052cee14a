// `npm start` runs this first: it compiles the server (tsc) and builds the portal (vite) only when their output is
// missing or older than the sources, so a start without changes starts at once. Plain Node: nothing is compiled yet.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import console from 'node:console';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const at = (...parts) => path.join(root, ...parts);

/** Newest modification time of a file, or of the files below a directory (0 if missing). */
function newest(target) {
  if (!existsSync(target)) return 0;
  const stat = statSync(target);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = 0;
  for (const entry of readdirSync(target, { withFileTypes: true })) {
    latest = Math.max(latest, newest(path.join(target, entry.name)));
  }
  return latest;
}

const outputTime = (file) => (existsSync(file) ? statSync(file).mtimeMs : -1);
const configs = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'].map((f) =>
  at(f),
);

function run(what, bin, args, env = process.env) {
  console.log(`build: ${what}`);
  const result = spawnSync(at('node_modules', '.bin', bin), args, { cwd: root, stdio: 'inherit', env });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

// The server: dist/src/main.js against src/ and the compiler settings.
const serverSources = Math.max(newest(at('src')), ...configs.map(newest));
if (outputTime(at('dist', 'src', 'main.js')) < serverSources) {
  run('compiling the server (tsc)', 'tsc', ['-p', 'tsconfig.build.json']);
} else console.log('build: server is up to date');

// The portal: dist/web/index.html against web/ and src/ (the portal imports the shared schemas from there).
const portalSources = Math.max(newest(at('web')), newest(at('src')), ...configs.map(newest));
if (outputTime(at('dist', 'web', 'index.html')) < portalSources) {
  // NODE_ENV=production: a production build of React even when the caller's environment says otherwise.
  run('building the portal (vite)', 'vite', ['build', '--config', 'web/vite.config.ts'], {
    ...process.env,
    NODE_ENV: 'production',
  });
} else console.log('build: portal is up to date');
