import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder with Keyhouse's package.json, whether running from src/ (tests) or dist/src/ (npm start). */
function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('Keyhouse package root not found');
    dir = parent;
  }
  return dir;
}

export const packageRoot = findPackageRoot();
