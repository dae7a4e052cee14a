import { randomBytes, randomUUID } from 'node:crypto';
import { renderStepMessage } from '../platform/messages.js';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Catalog, Region, WarmPoolEntry } from '../catalog/catalog-schemas.js';
import type { Database } from '../db/database.js';
import type { DesiredInstance, Driver } from '../drivers/driver.js';
import type { DriverRegistry } from '../drivers/driver-registry.js';
import {
  generateInstanceSecrets,
  openInstanceSecrets,
  sealInstanceSecrets,
} from '../instances/instance-secrets.js';
import { countActiveInstances, lockRegionCapacity } from '../instances/instance-store.js';
import type { SecretBox } from '../platform/secret-box.js';
import {
  deleteRetiredMember,
  insertMember,
  listUnclaimedMembers,
  markMemberReady,
  recordMemberFailure,
  regionOrderLoad,
  startRetiring,
  type StoredMember,
} from './warm-pool-store.js';

/**
 * The warm pool's background work, in the worker role: per region, one round at a time builds missing members,
 * resumes members a crash left half built, and removes members no longer wanted. Crash-safe and without twins:
 * a member's row (with its final id, name and sealed secrets) is committed before any work on it, every driver call
 * is the idempotent apply or destroy, and each member is worked on under the same session advisory lock as an
 * instance ("instance:<id>", released by PostgreSQL if the worker dies), so an order that claims a member while the
 * refiller still looks at it waits for the lock instead of applying beside it. A region is refilled by one worker
 * at a time (advisory lock "warm-pool:<region>").
 *
 * Within the region's limits: a member is built only while the region has room (instances + members below
 * capacity.maxInstances) and fewer orders in processing than capacity.concurrentOrders; one member at a time. Orders
 * come first: while a create order waits for capacity, the pool builds nothing and gives up one ready member per
 * round.
 */
export type WarmPoolRefiller = {
  /** One pass over every region (also runs on the timer); for tests and the bench. */
  round(): Promise<void>;
  stop(): Promise<void>;
};

/** A member that failed this often is removed (and rebuilt fresh in a later round). */
const MAX_ATTEMPTS = 5;
const NO_INSTANCE = '00000000-0000-0000-0000-000000000000';

export function startWarmPoolRefiller(options: {
  db: Database;
  catalog: Catalog;
  drivers: DriverRegistry;
  secretBox: SecretBox;
  logger: Logger;
  /** Pause between rounds; default 5 s (a round with nothing to do is a few queries). */
  intervalMs?: number;
}): WarmPoolRefiller {
  const { db, catalog } = options;
  const logger = options.logger.child({ component: 'warm-pool' });
  const regions = catalog.regions.filter((region) => region.warmPool.length > 0);
  /** Ready members are looked at once per start of this process (after a host restart their Keycloak is gone). */
  const checked = new Set<string>();
  /** Set by stop(): no new driver work starts; the one in flight is left to finish or to the next start. */
  let stopped = false;
  /** The sessions holding the refiller's advisory locks; stop() ends them, and PostgreSQL drops their locks. */
  const sessions = new Set<pg.PoolClient>();

  function desired(member: StoredMember): DesiredInstance {
    const size = catalog.nodeSizes.find((n) => n.id === member.nodeSize)!;
    return {
      instanceId: member.id,
      name: member.name,
      // Not used before the hand-over, which the claiming order's apply does with its own values.
      customerNumber: 'warm-pool',
      adminUsername: 'admin',
      version: member.version,
      nodeSize: { id: size.id, vcpu: size.vcpu, memoryGb: size.memoryGb },
      storageGb: catalog.storage.minGb,
      // The edge refuses everyone until an order claims the member and brings its trusted sources.
      trustedSources: [],
      adminSources: [],
      region: member.region,
      zone: member.zone,
      themes: [],
      customHostname: null,
      secrets: openInstanceSecrets(options.secretBox, member.secrets),
      warm: true,
    };
  }

  /** Runs `work` under a session advisory lock; 'busy' when someone else holds it. */
  async function locked<T>(client: pg.PoolClient, key: string, work: () => Promise<T>): Promise<T | 'busy'> {
    const { rows } = await client.query<{ locked: boolean }>(
      `SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked`,
      [key],
    );
    if (!rows[0]!.locked) return 'busy';
    try {
      return await work();
    } finally {
      await client.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [key]);
    }
  }

  const silent = async () => undefined;

  async function build(client: pg.PoolClient, driver: Driver, member: StoredMember): Promise<void> {
    if (stopped) return;
    const started = Date.now();
    const outcome = await locked(client, `instance:${member.id}`, async () => {
      const result = await driver.apply(desired(member), silent);
      switch (result.outcome) {
        case 'ready':
          if (member.state === 'provisioning' && (await markMemberReady(db.pool, member.id)))
            logger.info(
              { member: member.name, seconds: Math.round((Date.now() - started) / 1000) },
              'warm-pool member ready',
            );
          return;
        case 'progressing':
          return;
        case 'transient-error':
          await recordMemberFailure(db.pool, member.id, result.message);
          logger.warn({ member: member.name, message: result.message }, 'warm-pool member not ready yet');
          return;
        case 'permanent-error':
          await recordMemberFailure(
            db.pool,
            member.id,
            `${renderStepMessage(result.reason)} ${result.detail}`,
          );
          logger.error({ member: member.name, detail: result.detail }, 'warm-pool member cannot be built');
          if (await startRetiring(db.pool, member.id)) await retire(client, driver, member);
          return;
        default:
          return result satisfies never;
      }
    });
    if (outcome === 'busy') logger.debug({ member: member.name }, 'warm-pool member busy; next round');
  }

  /** Removes a member that is `retiring` (ours: no order can claim it any more). */
  async function retire(client: pg.PoolClient, driver: Driver, member: StoredMember): Promise<void> {
    if (stopped) return;
    await locked(client, `instance:${member.id}`, async () => {
      const removed = await driver.destroy(
        { instanceId: member.id, name: member.name, region: member.region },
        silent,
      );
      // A backend that deletes asynchronously is asked again in the next round; the row stays until it is gone.
      if (removed.outcome === 'progressing') return;
      await deleteRetiredMember(db.pool, member.id);
      logger.info(
        { member: member.name, version: member.version, nodeSize: member.nodeSize },
        'warm-pool member removed',
      );
    });
  }

  const entryOf = (region: Region, member: StoredMember): WarmPoolEntry | undefined =>
    region.warmPool.find((e) => e.version === member.version && e.nodeSize === member.nodeSize);

  async function refillRegion(client: pg.PoolClient, region: Region, driver: Driver): Promise<void> {
    const zone = region.zones[0]!.id;
    let members = await listUnclaimedMembers(db.pool, region.id);

    // Removal first: members being removed, members of pools no longer configured (or beyond their count, or of
    // another zone), and members that failed too often.
    const surplus = new Set<string>();
    for (const entry of region.warmPool) {
      const ofEntry = members.filter(
        (m) => m.state !== 'retiring' && m.version === entry.version && m.nodeSize === entry.nodeSize,
      );
      // The newest go first: the oldest ready ones are the ones orders claim first anyway.
      for (const extra of ofEntry.slice(entry.count)) surplus.add(extra.id);
    }
    const load = await regionOrderLoad(db.pool, region.id);
    if (load.waitingForCapacity > 0) {
      const giveUp = members.find((m) => m.state === 'ready');
      if (giveUp) surplus.add(giveUp.id);
    }
    for (const member of members) {
      const unwanted =
        !entryOf(region, member) ||
        member.zone !== zone ||
        surplus.has(member.id) ||
        (member.state === 'provisioning' && member.attempts >= MAX_ATTEMPTS);
      if (member.state === 'retiring' || (unwanted && (await startRetiring(db.pool, member.id))))
        await retire(client, driver, member);
    }
    members = await listUnclaimedMembers(db.pool, region.id);

    // Then resume what a crash (or a transient failure) left half built, and look once at the ready ones.
    for (const member of members) {
      if (member.state === 'provisioning') await build(client, driver, member);
      else if (member.state === 'ready' && !checked.has(member.id)) {
        await build(client, driver, member);
        checked.add(member.id);
      }
    }

    // Then one new member, where a pool is short and the region has room for it.
    if (load.waitingForCapacity > 0) return;
    const short = region.warmPool.find(
      (entry) =>
        members.filter(
          (m) => m.state !== 'retiring' && m.version === entry.version && m.nodeSize === entry.nodeSize,
        ).length < entry.count,
    );
    if (!short || stopped) return;
    // Counted and taken under the region's capacity lock, as orders take their place: a member and an order never
    // both get the last free place.
    const member = await db.transaction(async (tx) => {
      await lockRegionCapacity(tx, region.id);
      const active = (await countActiveInstances(tx, region.id, NO_INSTANCE)) + members.length;
      const { processing } = await regionOrderLoad(tx, region.id);
      if (active >= region.capacity.maxInstances || processing >= region.capacity.concurrentOrders)
        return undefined;
      return insertMember(tx, {
        id: randomUUID(),
        name: `kc-${randomBytes(4).toString('hex')}`,
        region: region.id,
        zone,
        version: short.version,
        nodeSize: short.nodeSize,
        secrets: sealInstanceSecrets(options.secretBox, generateInstanceSecrets()),
      });
    });
    if (!member) return;
    logger.info(
      { member: member.name, version: member.version, nodeSize: member.nodeSize },
      'building a warm-pool member',
    );
    await build(client, driver, member);
  }

  async function round(): Promise<void> {
    for (const region of regions) {
      const driver = options.drivers.forRegion(region);
      if (!driver) continue;
      const client = await db.pool.connect();
      sessions.add(client);
      try {
        await locked(client, `warm-pool:${region.id}`, () => refillRegion(client, region, driver));
      } finally {
        if (sessions.delete(client)) client.release();
      }
    }
  }

  let timer: NodeJS.Timeout | undefined;
  const schedule = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      void round()
        .catch((error: unknown) => {
          // After stop() the round's session is gone: its failure is the expected end of an abandoned build.
          if (!stopped) logger.error({ err: error }, 'warm-pool round failed; next round retries');
        })
        .finally(() => schedule(options.intervalMs ?? 5000));
    }, delayMs);
    timer.unref();
  };
  if (regions.length) schedule(0);

  return {
    round,
    /**
     * Starts no further work. A member build in flight (minutes, mostly Keycloak's first start) is not waited for:
     * its row stays `provisioning` and the next start resumes it, as after a crash (the process exits without
     * waiting for it: main.ts ends with process.exit).
     */
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      // The pool's shutdown would wait for these sessions, i.e. for a Keycloak start: end them now instead.
      for (const client of sessions) {
        sessions.delete(client);
        client.release(true);
      }
    },
  };
}
