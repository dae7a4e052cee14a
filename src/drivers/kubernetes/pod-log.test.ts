import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../../instances/instance-log-schemas.js';
import { followPodLog, readPodLog } from './pod-log.js';

const secrets = { adminPassword: 'admin-password-123', databasePassword: 'database-password-456' };
const target = {
  instanceId: '00000000-0000-4000-8000-000000000001',
  name: 'kc-1',
  region: 'de-north',
  secrets,
};

async function* chunks(...parts: string[]): AsyncIterable<string> {
  yield* parts;
}

// Keycloak's console format in a container, in UTC; the API server sends the log in chunks that split lines.
const log = [
  '2026-12-03 08:00:00,100 INFO  [io.quarkus] (main) Keycloak 26.5.6 started',
  '2026-12-03 08:00:01,200 ERROR [org.keycloak] (executor-1) login failed for admin-password-123',
  '\tat org.keycloak.Something(Something.java:1)',
  '2026-12-03 08:00:02,300 WARN  [org.keycloak] (executor-2) slow query',
  '',
].join('\n');

describe('the Keycloak pod log', () => {
  it('reads entries in UTC across split chunks, with stack traces kept and secrets cut out', async () => {
    const page = await readPodLog(chunks(log.slice(0, 70), log.slice(70, 150), log.slice(150)), target, {
      since: new Date('2026-12-03T08:00:01Z'),
      limit: 10,
    });
    expect(page.truncated).toBe(false);
    expect(page.entries.map((e) => [e.time, e.level])).toEqual([
      ['2026-12-03T08:00:01.200Z', 'ERROR'],
      ['2026-12-03T08:00:02.300Z', 'WARN'],
    ]);
    expect(page.entries[0]!.text).toContain('\tat org.keycloak.Something');
    expect(page.entries[0]!.text).not.toContain('admin-password-123');
  });

  it('searches and keeps the newest entries; no pod is an empty page', async () => {
    const page = await readPodLog(chunks(log), target, { since: new Date(0), search: 'KEYCLOAK', limit: 1 });
    expect(page).toMatchObject({ truncated: true, entries: [{ level: 'WARN' }] });
    expect(await readPodLog(null, target, { since: new Date(0), limit: 5 })).toEqual({
      entries: [],
      truncated: false,
    });
  });

  it('follows in the batches that arrive', async () => {
    const batches: LogEntry[][] = [];
    for await (const batch of followPodLog(chunks(log.slice(0, 90), log.slice(90)), target))
      batches.push(batch);
    expect(batches.map((b) => b.map((e) => e.level))).toEqual([['INFO'], ['ERROR', 'WARN']]);
  });
});
