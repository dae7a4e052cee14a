/* global process, console */
// The JavaScript and CSS the portal's wizard route (/orders/new) loads, gzipped: the entry chunk with its static
// imports plus the lazily loaded wizard chunk with its static imports. Budget: 350 KB of gzipped JavaScript.
//   node bench/portal.mjs          (builds the portal first if dist/web is missing)
//   node bench/portal.mjs --build  (always builds)
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'web');
const manifestFile = path.join(out, '.vite', 'manifest.json');
const BUDGET_KB = 350;

if (process.argv.includes('--build') || !existsSync(manifestFile)) {
  execFileSync('npx', ['vite', 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], {
    cwd: root,
    stdio: 'inherit',
  });
}

const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
const entryKey = Object.keys(manifest).find((key) => manifest[key].isEntry);
const wizardKey = Object.keys(manifest).find((key) => key.endsWith('src/wizard/OrderWizard.tsx'));
if (!entryKey || !wizardKey) throw new Error('entry or wizard chunk not found in the manifest');

/** A chunk and everything it imports statically (what the browser must load before it runs). */
function closure(key, seen = new Set()) {
  if (seen.has(key)) return seen;
  seen.add(key);
  for (const imported of manifest[key].imports ?? []) closure(imported, seen);
  return seen;
}

const gz = (file) => {
  const bytes = readFileSync(path.join(out, file));
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
};
const kb = (bytes) => (bytes / 1024).toFixed(1).padStart(7);

const rows = [];
const seenFiles = new Set();
for (const [route, key] of [
  ['entry', entryKey],
  ['/orders/new', wizardKey],
]) {
  for (const chunk of closure(key)) {
    const { file, css = [] } = manifest[chunk];
    for (const asset of [file, ...css]) {
      if (seenFiles.has(asset)) continue;
      seenFiles.add(asset);
      rows.push({ route, file: asset, ...gz(asset) });
    }
  }
}

const sum = (kind, field) =>
  rows.filter((r) => r.file.endsWith(kind)).reduce((total, r) => total + r[field], 0);
console.log('What /orders/new loads (KB):');
console.log(`${'raw'.padStart(7)} ${'gzip'.padStart(7)}  loaded by     file`);
for (const row of rows.sort((a, b) => b.gzip - a.gzip)) {
  console.log(`${kb(row.raw)} ${kb(row.gzip)}  ${row.route.padEnd(12)}  ${row.file}`);
}
const js = sum('.js', 'gzip');
console.log(
  `\nJavaScript: ${kb(sum('.js', 'raw')).trim()} KB raw, ${kb(js).trim()} KB gzipped (budget ${BUDGET_KB} KB)`,
);
console.log(
  `CSS:        ${kb(sum('.css', 'raw')).trim()} KB raw, ${kb(sum('.css', 'gzip')).trim()} KB gzipped`,
);
if (js / 1024 > BUDGET_KB) {
  console.error(`over budget by ${(js / 1024 - BUDGET_KB).toFixed(1)} KB`);
  process.exitCode = 1;
}
