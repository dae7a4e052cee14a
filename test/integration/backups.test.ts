import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as openpgp from 'openpgp';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackupRunner } from '../../src/backups/backup-runner.js';
import { startBackupScheduler } from '../../src/backups/backup-scheduler.js';
import type { InstanceBackups } from '../../src/backups/backup-schemas.js';
import { ensureBackup } from '../../src/backups/backup-store.js';
import { findPgTools } from '../../src/drivers/local/postgres-dump.js';
import type { Instance } from '../../src/instances/instance-schemas.js';
import { createOrderService } from '../../src/orders/order-service.js';
import { createLogger } from '../../src/platform/logger.js';
import {
  startProvisioningQueue,
  type ProvisioningQueue,
} from '../../src/provisioning/provisioning-worker.js';
import { runCommand } from '../../src/platform/process-runner.js';
import { bearerHeaders, signUp, type SignedInUser } from '../support/accounts.js';
import { eventually, insertDatabaseOnlyInstance } from '../support/backups.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

/**
 * Nightly backups, retention, catch-up, failures and the encrypted download on real databases (the instance's
 * database is real; no Keycloak runs: test/integration/backup-restore-keycloak.test.ts does that). The scheduler's
 * clock is the test's: nights pass without waiting.
 */

let clock = Date.parse('2027-01-04T12:00:00Z');
const now = () => new Date(clock);
/** 02:30 in Berlin (winter) on that January day: inside the default backup window 01:00–03:00. */
const inWindow = (day: number) => Date.parse(`2027-01-${String(day).padStart(2, '0')}T01:30:00Z`);

describe('nightly backups of a running instance', () => {
  let keyhouse: TestKeyhouse;
  let owner: SignedInUser;
  let headers: Record<string, string>;
  let instance: Awaited<ReturnType<typeof insertDatabaseOnlyInstance>>;

  beforeAll(async () => {
    keyhouse = await startTestKeyhouse((config) => (config.roles = ['api', 'worker']), {
      now,
      backupSchedule: false,
    });
    owner = await signUp(keyhouse);
    // The test's clock passes weeks; sessions would expire, API tokens do not.
    headers = bearerHeaders(await owner.createApiToken());
    instance = await insertDatabaseOnlyInstance(keyhouse, owner, { runningSince: '2027-01-04T10:00:00Z' });
  }, 120_000);
  afterAll(() => keyhouse?.stop());

  const overview = async () => {
    const response = await keyhouse.request({
      method: 'GET',
      url: `/api/v1/instances/${instance.id}/backups`,
      headers,
    });
    expect(response.statusCode).toBe(200);
    return response.json<InstanceBackups>();
  };
  const backupRows = async () =>
    (
      await keyhouse.db.pool.query<{ night: string; status: string }>(
        `SELECT to_char(night, 'YYYY-MM-DD') AS night, status FROM backups WHERE instance_id = $1 AND kind = 'nightly'
          ORDER BY night`,
        [instance.id],
      )
    ).rows;
  const dumpFiles = () => readdirSync(path.join(keyhouse.config.dataDir, 'backups', instance.name)).sort();

  it('takes one backup per night in the window, never twice, and keeps exactly the retention (7 of 9)', async () => {
    clock = Date.parse('2027-01-04T23:30:00Z'); // 00:30 on 5 January in Berlin: the window has not begun
    expect((await keyhouse.backupScheduler!.tick()).queued).toEqual([]);
    for (let day = 5; day <= 13; day++) {
      clock = inWindow(day);
      const { queued } = await keyhouse.backupScheduler!.tick();
      expect(queued).toHaveLength(1);
      // The same night again (the every-minute schedule, or a second process): nothing more.
      expect((await keyhouse.backupScheduler!.tick()).queued).toEqual([]);
      // Done, and what retention lets go removed: the runner expires old ones right after a nightly one is done.
      await eventually(async () => {
        const rows = await backupRows();
        return rows.length === Math.min(day - 4, 7) && rows.every((row) => row.status === 'done');
      });
    }
    const rows = await backupRows();
    expect(rows.map((row) => row.night)).toEqual(
      [7, 8, 9, 10, 11, 12, 13].map((d) => `2027-01-${String(d).padStart(2, '0')}`),
    );
    expect(dumpFiles()).toHaveLength(7);
    const listed = (await overview()).items;
    expect(listed).toHaveLength(7);
    for (const backup of listed) {
      expect(backup).toMatchObject({
        kind: 'nightly',
        status: 'done',
        postgresMajor: 15,
        keycloakVersion: instance.spec.version,
      });
      expect(backup.sizeBytes).toBeGreaterThan(1000);
      expect(backup.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(backup.durationMs).toBeGreaterThanOrEqual(0);
      expect(dumpFiles()).toContain(`${backup.id}.dump`);
    }
  });

  it('catches up after downtime once, for the latest night only', async () => {
    clock = Date.parse('2027-01-17T12:00:00Z'); // down from the 14th to the 17th
    const { queued } = await keyhouse.backupScheduler!.tick();
    expect(queued).toHaveLength(1);
    await eventually(async () => (await backupRows()).every((row) => row.status === 'done'));
    const nights = (await backupRows()).map((row) => row.night);
    expect(nights).toContain('2027-01-17');
    expect(nights).not.toContain('2027-01-14');
    expect(nights).toHaveLength(7);
  });

  it('shows a failed nightly backup as a condition of the instance until a later one succeeds', async () => {
    const admin = new pg.Client({ connectionString: keyhouse.databaseUrl });
    await admin.connect();
    await admin.query(`ALTER DATABASE ${instance.database} RENAME TO ${instance.database}_away`);
    try {
      const { backup } = await ensureBackup(keyhouse.db.pool, {
        id: crypto.randomUUID(),
        instanceId: instance.id,
        kind: 'nightly',
        night: '2027-01-18',
        keycloakVersion: instance.spec.version,
      });
      const outcome = await keyhouse.worker!.backups.take(backup, instance, { lastAttempt: true });
      expect(outcome.outcome).toBe('failed');
    } finally {
      await admin.query(`ALTER DATABASE ${instance.database}_away RENAME TO ${instance.database}`);
      await admin.end();
    }
    const shown = await keyhouse.request({
      method: 'GET',
      url: `/api/v1/instances/${instance.id}`,
      headers,
    });
    expect(shown.json<Instance>().conditions).toContainEqual(
      expect.objectContaining({ type: 'BackupSucceeded', status: 'False', reason: 'NightlyBackupFailed' }),
    );
    // A failure does not push a good backup out.
    expect((await overview()).items.filter((b) => b.status === 'done')).toHaveLength(7);
  });

  it('downloads a backup only encrypted to the uploaded key; it decrypts and pg_restore reads it', async () => {
    const [backup] = (await overview()).items.filter((b) => b.status === 'done');
    const url = `/api/v1/instances/${instance.id}/backups/${backup!.id}/download`;
    const noKey = await keyhouse.request({ method: 'GET', url, headers });
    expect(noKey.statusCode).toBe(409);
    expect(noKey.json<{ detail: string }>().detail).toMatch(/OpenPGP public key/);

    const { privateKey, publicKey } = await openpgp.generateKey({
      type: 'ecc',
      curve: 'curve25519Legacy',
      userIDs: [{ name: 'Ops', email: 'ops@beispiel.de' }],
      format: 'armored',
    });
    const privateUpload = await keyhouse.request({
      method: 'PUT',
      url: `/api/v1/instances/${instance.id}/backup-key`,
      headers,
      payload: { publicKey: privateKey.replace(/PRIVATE KEY BLOCK/g, 'PUBLIC KEY BLOCK') },
    });
    expect(privateUpload.statusCode).toBe(400);
    const uploaded = await keyhouse.request({
      method: 'PUT',
      url: `/api/v1/instances/${instance.id}/backup-key`,
      headers,
      payload: { publicKey },
    });
    expect(uploaded.statusCode).toBe(200);
    expect(uploaded.json<{ userIds: string[] }>().userIds).toEqual(['Ops <ops@beispiel.de>']);

    const download = await keyhouse.request({ method: 'GET', url, headers });
    expect(download.statusCode).toBe(200);
    expect(download.headers['content-type']).toBe('application/pgp-encrypted');
    const decrypted = await openpgp.decrypt({
      message: await openpgp.readMessage({ binaryMessage: download.rawPayload }),
      decryptionKeys: await openpgp.readPrivateKey({ armoredKey: privateKey }),
      format: 'binary',
    });
    const file = path.join(keyhouse.config.dataDir, 'downloaded.dump');
    writeFileSync(file, decrypted.data as Uint8Array);
    const tools = (await findPgTools()).find((t) => t.major >= 15)!;
    const listing = await runCommand(tools.pgRestore, ['--list', file], { tailLines: 200 });
    expect(listing.code).toBe(0);
    expect(listing.tail).toMatch(/TABLE DATA public user_entity/);

    const audit = await keyhouse.db.pool.query(
      `SELECT details FROM audit_events WHERE action = 'backup.download' AND target_id = $1`,
      [backup!.id],
    );
    expect(audit.rowCount).toBe(1);
  });

  it('keeps a key whose user ids hold control characters, and refuses one over 64 KB in standard armor (never a 500)', async () => {
    const upload = (publicKey: string) =>
      keyhouse.request({
        method: 'PUT',
        url: `/api/v1/instances/${instance.id}/backup-key`,
        headers,
        payload: { publicKey },
      });
    // OpenPGP lets a user id hold any text, NUL included, which PostgreSQL cannot store: shown with U+FFFD.
    const withNul = await openpgp.generateKey({
      type: 'ecc',
      curve: 'curve25519Legacy',
      userIDs: [{ name: 'Ops\u0000Nacht', email: 'ops@beispiel.de' }],
      format: 'armored',
    });
    const kept = await upload(withNul.publicKey);
    expect(kept.statusCode, kept.body).toBe(200);
    expect(kept.json<{ userIds: string[] }>().userIds).toEqual(['Ops\ufffdNacht <ops@beispiel.de>']);

    // A key sent with long base64 lines fits the request, but its standard armor (60 characters a line) does not
    // fit the stored bound.
    const big = await openpgp.generateKey({
      type: 'ecc',
      curve: 'curve25519Legacy',
      userIDs: Array.from({ length: 142 }, (_, i) => ({
        name: `Ops ${i} ${'x'.repeat(100)}`,
        email: `ops${i}@example.com`,
      })),
      format: 'armored',
    });
    const [head, body] = big.publicKey.split('\n\n') as [string, string];
    const lines = body.trim().split('\n');
    const footer = lines.pop()!;
    const checksum = lines.at(-1)!.startsWith('=') ? `${lines.pop()}\n` : '';
    const longLines = `${head}\n\n${lines.join('')}\n${checksum}${footer}\n`;
    expect(big.publicKey.length).toBeGreaterThan(65536);
    expect(longLines.length).toBeLessThan(65536);
    const before = await keyhouse.db.pool.query(
      'SELECT fingerprint FROM backup_keys WHERE instance_id = $1',
      [instance.id],
    );
    const refused = await upload(longLines);
    expect(refused.statusCode, refused.body).toBe(400);
    expect(refused.json<{ errors: { path: string; code: string }[] }>().errors).toEqual([
      expect.objectContaining({ path: 'publicKey', code: 'backup.keyTooLarge' }),
    ]);
    const after = await keyhouse.db.pool.query('SELECT fingerprint FROM backup_keys WHERE instance_id = $1', [
      instance.id,
    ]);
    expect(after.rows).toEqual(before.rows);
  });

  it('another organisation sees neither the backups nor a download (404)', async () => {
    const stranger = await signUp(keyhouse);
    const [backup] = (await overview()).items;
    for (const url of [
      `/api/v1/instances/${instance.id}/backups`,
      `/api/v1/instances/${instance.id}/backups/${backup!.id}/download`,
    ]) {
      const response = await keyhouse.request({ method: 'GET', url, headers: stranger.sessionHeaders });
      expect(response.statusCode).toBe(404);
    }
  });
});

describe('backup policy orders', () => {
  let keyhouse: TestKeyhouse;
  let owner: SignedInUser;
  let instance: Awaited<ReturnType<typeof insertDatabaseOnlyInstance>>;

  beforeAll(async () => {
    keyhouse = await startTestKeyhouse();
    owner = await signUp(keyhouse);
    instance = await insertDatabaseOnlyInstance(keyhouse, owner, { runningSince: '2027-01-04T10:00:00Z' });
  });
  afterAll(() => keyhouse?.stop());

  const policy = (overrides: Record<string, unknown>) => ({
    type: 'backup-policy',
    policy: {
      retention: 7,
      timeZone: 'Europe/Berlin',
      backupWindow: { startHour: 1 },
      maintenanceWindow: { day: 'sunday', startHour: 6 },
      ...overrides,
    },
  });
  const place = (body: Record<string, unknown>) =>
    keyhouse.request({
      method: 'POST',
      url: `/api/v1/instances/${instance.id}/orders`,
      headers: owner.sessionHeaders,
      payload: body,
    });

  it('refuses windows closer than 2.5 hours, a retention outside 7–90 and unknown time zones, naming the field', async () => {
    for (const [overrides, path] of [
      [{ maintenanceWindow: { day: 'sunday', startHour: 5 } }, 'policy.maintenanceWindow.startHour'],
      [{ maintenanceWindow: { day: 'sunday', startHour: 21 } }, 'policy.maintenanceWindow.startHour'],
      [{ retention: 6 }, 'policy.retention'],
      [{ retention: 91 }, 'policy.retention'],
      [{ timeZone: 'Mars/Olympus' }, 'policy.timeZone'],
    ] as const) {
      const response = await place(policy(overrides));
      expect(response.statusCode, JSON.stringify(overrides)).toBe(400);
      expect(response.json<{ errors: { path: string }[] }>().errors.map((e) => e.path)).toContain(path);
    }
    const orders = await keyhouse.db.pool.query('SELECT 1 FROM orders WHERE instance_id = $1', [instance.id]);
    expect(orders.rowCount).toBe(1); // only the create order
  });

  it('prices nightly backups beyond 7 like storage and shows the delta', async () => {
    const response = await place(
      policy({
        retention: 30,
        backupWindow: { startHour: 22 },
        maintenanceWindow: { day: 'tuesday', startHour: 3 },
      }),
    );
    expect(response.statusCode).toBe(201);
    // 23 extra nights × 1 step of 50 GB × 0.29 EUR per month.
    expect(response.json<{ priceDelta: { perMonth: string } }>().priceDelta.perMonth).toBe('6.67');
    const backups = await keyhouse.request({
      method: 'GET',
      url: `/api/v1/instances/${instance.id}/backups`,
      headers: owner.sessionHeaders,
    });
    expect(backups.json<InstanceBackups>()).toMatchObject({
      policy: { retention: 30, backupWindow: { startHour: 22 } },
      retentionPricePerMonth: '6.67',
    });
  });
});

describe('patch upgrades in the maintenance window, both daylight-saving changes of 2027 (Europe/Berlin)', () => {
  let keyhouse: TestKeyhouse;
  let owner: SignedInUser;
  let headers: Record<string, string>;
  let scheduler: Awaited<ReturnType<typeof startBackupScheduler>>;
  let queue: ProvisioningQueue;

  beforeAll(async () => {
    // 26.5.7 is a patch of 26.5.6 in this catalog; no worker runs, so the orders stay `new` for the test to read.
    keyhouse = await startTestKeyhouse(
      (config) => {
        config.catalog.serviceTypes[0]!.versions = ['26.5.6', '26.5.7', '26.7.3'];
      },
      { now },
    );
    owner = await signUp(keyhouse);
    headers = bearerHeaders(await owner.createApiToken());
    const logger = createLogger({ level: 'silent' });
    // The real queue without a reconciler: the maintenance orders' jobs are queued, and nobody works on them.
    queue = await startProvisioningQueue({
      databaseUrl: keyhouse.databaseUrl,
      db: keyhouse.db,
      catalog: keyhouse.config.catalog,
      logger,
    });
    const orders = createOrderService({ db: keyhouse.db, catalog: keyhouse.config.catalog, jobs: queue });
    scheduler = await startBackupScheduler({
      databaseUrl: keyhouse.databaseUrl,
      db: keyhouse.db,
      catalog: keyhouse.config.catalog,
      logger,
      now,
      runner: createBackupRunner({ db: keyhouse.db, logger, now, driverFor: () => undefined }),
      placeMaintenanceUpgrade: orders.placeMaintenanceUpgrade,
      schedule: false,
    });
  });
  afterAll(async () => {
    await scheduler?.stop();
    await queue?.stop();
    await keyhouse?.stop();
  });

  const patchPolicy = {
    retention: 7,
    timeZone: 'Europe/Berlin',
    backupWindow: { startHour: 20 },
    maintenanceWindow: { day: 'sunday' as const, startHour: 2 },
  };
  const upgradeOrders = async (instanceId: string) =>
    (
      await keyhouse.db.pool.query<{ version: string; actor_user_id: string | null }>(
        `SELECT spec->>'version' AS version, actor_user_id FROM orders WHERE instance_id = $1 AND type = 'upgrade'`,
        [instanceId],
      )
    ).rows;

  it.each([
    // 28 March: 02:00 does not exist; the window opens at 03:00 CEST (01:00 UTC).
    ['spring', '2027-03-28T00:59:00Z', '2027-03-28T01:00:00Z', '2027-03-28T03:30:00Z'],
    // 31 October: the window opens at the first 02:00 (CEST, 00:00 UTC) and lasts 2.5 real hours.
    ['autumn', '2027-10-30T23:59:00Z', '2027-10-31T00:00:00Z', '2027-10-31T02:30:00Z'],
  ])('%s: no order before the window, one inside it, none after', async (_change, before, opens, closes) => {
    const instance = await insertDatabaseOnlyInstance(keyhouse, owner, {
      runningSince: '2027-01-01T00:00:00Z',
      spec: { version: '26.5.6', backups: patchPolicy },
      rows: 1,
      headers,
    });
    clock = Date.parse(closes);
    await scheduler.tick();
    clock = Date.parse(before);
    await scheduler.tick();
    expect(await upgradeOrders(instance.id)).toEqual([]);

    const overview = await keyhouse.request({
      method: 'GET',
      url: `/api/v1/instances/${instance.id}/backups`,
      headers,
    });
    expect(overview.json<InstanceBackups>().nextPatch).toEqual({
      version: '26.5.7',
      plannedFor: new Date(opens).toISOString(),
    });

    clock = Date.parse(opens);
    expect((await scheduler.tick()).patchOrders).toHaveLength(1);
    clock = Date.parse(opens) + 30 * 60_000;
    expect((await scheduler.tick()).patchOrders).toEqual([]);
    expect(await upgradeOrders(instance.id)).toEqual([{ version: '26.5.7', actor_user_id: null }]);
  });
});
