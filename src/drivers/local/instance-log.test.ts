import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LogEntry } from '../../instances/instance-log-schemas.js';
import { followInstanceLog, logFilesOf, readInstanceLog, redactSecrets } from './instance-log.js';

const secrets = { adminPassword: 'admin-secret-123', databasePassword: 'db-secret-4567' };
const target = {
  instanceId: '00000000-0000-4000-8000-000000000001',
  name: 'kc-1a2b3c4d',
  region: 'local',
  secrets,
};
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function logDir() {
  const dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-log-'));
  dirs.push(dir);
  return path.join(dir, 'keycloak.log');
}
/** A line in Keycloak's default file format, at a local time like Keycloak writes it. */
const line = (local: string, level: string, message: string) =>
  `${local.replace('T', ' ').replace('.', ',')} ${level.padEnd(5)} [org.keycloak.events] (executor-thread-1) ${message}`;
const isoOf = (local: string) => new Date(local).toISOString();

describe('reading a local instance log', () => {
  it('reads rotated files oldest first, keeps stack traces with their entry, searches and limits', async () => {
    const file = logDir();
    writeFileSync(`${file}.2`, `${line('2026-12-01T08:00:00.000', 'INFO', 'oldest')}\n`);
    writeFileSync(
      `${file}.1`,
      [
        line('2026-12-02T08:00:00.000', 'ERROR', 'Failed to send e-mail'),
        'java.lang.IllegalStateException: boom',
        '\tat org.keycloak.Something(Something.java:1)',
      ].join('\n') + '\n',
    );
    writeFileSync(
      file,
      [
        line('2026-12-03T08:00:00.000', 'WARN', 'type=LOGIN_ERROR, error=invalid_user_credentials'),
        line('2026-12-03T08:00:01.500', 'INFO', 'Keycloak started'),
      ].join('\n') + '\n',
    );
    writeFileSync(`${file}.tmp`, 'not a log of ours');
    expect((await logFilesOf(file)).map((f) => path.basename(f))).toEqual([
      'keycloak.log.2',
      'keycloak.log.1',
      'keycloak.log',
    ]);

    const all = await readInstanceLog(file, target, { since: new Date(0), limit: 100 });
    expect(all.entries.map((e) => e.time)).toEqual([
      isoOf('2026-12-01T08:00:00.000'),
      isoOf('2026-12-02T08:00:00.000'),
      isoOf('2026-12-03T08:00:00.000'),
      isoOf('2026-12-03T08:00:01.500'),
    ]);
    expect(all.entries[1]).toMatchObject({ level: 'ERROR' });
    expect(all.entries[1]!.text.split('\n')).toHaveLength(3);
    expect(all.truncated).toBe(false);

    const search = await readInstanceLog(file, target, { since: new Date(0), search: 'BOOM', limit: 10 });
    expect(search.entries.map((e) => e.level)).toEqual(['ERROR']);

    const newest = await readInstanceLog(file, target, { since: new Date(0), limit: 2 });
    expect(newest.entries.map((e) => e.level)).toEqual(['WARN', 'INFO']);
    expect(newest.truncated).toBe(true);

    const recent = await readInstanceLog(file, target, {
      since: new Date('2026-12-02T12:00:00.000'),
      limit: 10,
    });
    expect(recent.entries).toHaveLength(2);
  });

  it('cuts the instance secrets out of every entry', async () => {
    const file = logDir();
    writeFileSync(
      file,
      `${line('2026-12-03T08:00:00.000', 'ERROR', `password was ${secrets.databasePassword}!`)}\n`,
    );
    const page = await readInstanceLog(file, target, { since: new Date(0), limit: 10 });
    expect(page.entries[0]!.text).toContain('password was [redacted]!');
    expect(JSON.stringify(page)).not.toContain(secrets.databasePassword);
    expect(redactSecrets('short', { adminPassword: 'short', databasePassword: 'x' })).toBe('short');
  });

  it('has no log before Keycloak first wrote one', async () => {
    expect(await readInstanceLog(logDir(), target, { since: new Date(0), limit: 10 })).toEqual({
      entries: [],
      truncated: false,
    });
  });
});

describe('following a local instance log', () => {
  it('yields what is appended from now on, across a rotation, until aborted', async () => {
    const file = logDir();
    writeFileSync(file, `${line('2026-12-03T08:00:00.000', 'INFO', 'before the tail started')}\n`);
    const controller = new AbortController();
    const seen: LogEntry[] = [];
    const done = (async () => {
      for await (const batch of followInstanceLog(file, target, controller.signal, 20)) seen.push(...batch);
    })();
    const waitFor = async (count: number) => {
      const deadline = Date.now() + 5000;
      while (seen.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(seen.length).toBe(count);
    };
    // Half a line first: it is read only once its end arrives. "ü" is two bytes, split between the writes.
    const text = line('2026-12-03T08:00:02.000', 'INFO', `über ${secrets.adminPassword}`);
    const bytes = Buffer.from(`${text}\n`);
    const cut = bytes.indexOf(Buffer.from('ü')) + 1;
    appendFileSync(file, bytes.subarray(0, cut));
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(file, bytes.subarray(cut));
    await waitFor(1);
    expect(seen[0]!.text).toContain('über [redacted]');
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${line('2026-12-03T08:00:03.000', 'WARN', 'after rotation')}\n`);
    await waitFor(2);
    expect(seen[1]).toMatchObject({ level: 'WARN' });
    controller.abort();
    await done;
    expect(seen.map((e) => e.text).join()).not.toContain('before the tail started');
  });
});
