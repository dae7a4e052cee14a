import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { message } from '../../platform/messages.js';
import { availableMemoryMb, hostRoom, SECOND_KEYCLOAK_MB } from './keycloak-switch.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe('room for a second Keycloak on this host', () => {
  it('reads MemAvailable in MB, and null where there is no meminfo', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-meminfo-'));
    dirs.push(dir);
    const file = path.join(dir, 'meminfo');
    writeFileSync(file, 'MemTotal:       24683520 kB\nMemFree:  1 kB\nMemAvailable:   2097152 kB\n');
    expect(availableMemoryMb(file)).toBe(2048);
    expect(availableMemoryMb(path.join(dir, 'absent'))).toBeNull();
  });

  it("narrows the region's room by free memory, with the reason coded", () => {
    const full = {
      secondInstance: false as const,
      why: message('step.roomRegionFull', { count: 3, max: 3 }),
    };
    expect(hostRoom(full, 100_000)).toBe(full);
    expect(hostRoom({ secondInstance: true }, SECOND_KEYCLOAK_MB)).toEqual({ secondInstance: true });
    expect(hostRoom({ secondInstance: true }, null)).toEqual({ secondInstance: true });
    expect(hostRoom({ secondInstance: true }, 512)).toEqual({
      secondInstance: false,
      why: message('step.roomHostMemory', { available: 512, needed: SECOND_KEYCLOAK_MB }),
    });
  });
});
