import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import type { InstanceSpec } from '../../src/instances/instance-schemas.js';
import { exampleBillingProfile } from './orders.js';
import type { SignedInUser } from './accounts.js';
import type { TestKeyhouse } from './test-keyhouse.js';

/**
 * An instance that "runs" without a Keycloak: its rows as a done create order leaves them, and its database with a
 * table of users, so backups and restores work on real data while no JVM starts (the supervisor skips instances
 * without secrets). For the scheduler, retention and download tests; the Keycloak test provisions for real.
 */
export async function insertDatabaseOnlyInstance(
  keyhouse: TestKeyhouse,
  owner: SignedInUser,
  options: {
    spec?: Partial<InstanceSpec>;
    runningSince: string;
    rows?: number;
    /** For tests whose clock outlives sessions: an API token's headers. */
    headers?: Record<string, string>;
  },
): Promise<{ id: string; name: string; database: string; spec: InstanceSpec }> {
  const profile = await keyhouse.request({
    method: 'POST',
    url: '/api/v1/billing-profiles',
    headers: options.headers ?? owner.sessionHeaders,
    payload: exampleBillingProfile,
  });
  const billingProfileId = profile.json<{ id: string }>().id;
  const hex = randomBytes(4).toString('hex');
  const id = randomUUID();
  const name = `kc-${hex}`;
  const database = `kc_${hex}`;
  const spec: InstanceSpec = {
    serviceType: 'keycloak',
    version: keyhouse.config.catalog.serviceTypes[0]!.versions[0]!,
    nodeSize: 'b2-4',
    storageGb: 50,
    trustedSources: ['127.0.0.1/32'],
    adminSources: null,
    region: 'local',
    zone: 'local-1',
    themes: [],
    ...options.spec,
  };
  const price = { currency: 'EUR', perHour: '0.1300', perMonth: '94.60' };
  await keyhouse.db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO instances (id, organization_id, name, status, spec, billing_profile_id, created_at)
       VALUES ($1, $2, $3, 'running', $4, $5, $6)`,
      [id, owner.organization.id, name, JSON.stringify(spec), billingProfileId, options.runningSince],
    );
    await tx.query(
      `INSERT INTO orders (id, organization_id, instance_id, type, status, spec, price, billing_profile_id, created_at,
                           updated_at)
       VALUES ($1, $2, $3, 'create', 'done', $4, $5, $6, $7, $7)`,
      [
        randomUUID(),
        owner.organization.id,
        id,
        JSON.stringify(spec),
        JSON.stringify(price),
        billingProfileId,
        options.runningSince,
      ],
    );
  });
  const admin = new pg.Client({ connectionString: keyhouse.databaseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE ${database} LOGIN PASSWORD '${randomBytes(12).toString('hex')}'`);
    await admin.query(`CREATE DATABASE ${database} OWNER ${database}`);
  } finally {
    await admin.end();
  }
  const client = new pg.Client({ connectionString: databaseUrl(keyhouse, database) });
  await client.connect();
  try {
    await client.query(`SET ROLE ${database}`);
    await client.query('CREATE TABLE user_entity (id int PRIMARY KEY, username text NOT NULL)');
    await client.query(
      `INSERT INTO user_entity SELECT n, 'user-' || n FROM generate_series(1, $1::int) AS n`,
      [options.rows ?? 100],
    );
  } finally {
    await client.end();
  }
  return { id, name, database, spec };
}

export function databaseUrl(keyhouse: TestKeyhouse, database: string): string {
  const url = new URL(keyhouse.databaseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Waits, with a deadline, until `check` answers something truthy. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
