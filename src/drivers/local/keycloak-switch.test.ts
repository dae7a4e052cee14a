import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { message } from '../../platform/messages.js';
import { availableMemoryMb, hostRoom, openConnections, SECOND_KEYCLOAK_MB } from './keycloak-switch.js';

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

describe('connections to the old Keycloak before the drain stops it', () => {
  it("counts the established connections whose local end is the port, from the kernel's tables", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-proc-net-'));
    dirs.push(dir);
    const header =
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
    // Port 0x7531 = 30001: listening (0A), one established from HAProxy (01, and its client end, local port
    // 0xC350), one in TIME_WAIT (06); another Keycloak on 0x7532 = 30002.
    writeFileSync(
      path.join(dir, 'tcp'),
      header +
        '   0: 0100007F:7531 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 11 1\n' +
        '   1: 0100007F:7531 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 12 1\n' +
        '   2: 0100007F:C350 0100007F:7531 01 00000000:00000000 00:00000000 00000000  1000        0 13 1\n' +
        '   3: 0100007F:7531 0100007F:C351 06 00000000:00000000 00:00000000 00000000  1000        0 0 1\n' +
        '   4: 0100007F:7532 0100007F:C352 01 00000000:00000000 00:00000000 00000000  1000        0 14 1\n',
    );
    writeFileSync(
      path.join(dir, 'tcp6'),
      header +
        '   0: 00000000000000000000000001000000:7531 00000000000000000000000001000000:C353 01 00000000:00000000 00:00000000 00000000  1000        0 15 1\n',
    );
    expect(openConnections(30001, dir)).toBe(2);
    expect(openConnections(30002, dir)).toBe(1);
    expect(openConnections(30003, dir)).toBe(0);
    expect(openConnections(30001, path.join(dir, 'absent'))).toBeNull();
  });
});
