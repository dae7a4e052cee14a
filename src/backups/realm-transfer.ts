import KcAdminClient, { NetworkError } from '@keycloak/keycloak-admin-client';
import type RealmRepresentation from '@keycloak/keycloak-admin-client/lib/defs/realmRepresentation.js';
import type UserRepresentation from '@keycloak/keycloak-admin-client/lib/defs/userRepresentation.js';
import type { Database, Queryable } from '../db/database.js';
import type { StepReporter } from '../drivers/driver.js';
import { getEdgeRoute } from '../edge/edge-route-store.js';
import { openInstanceSecrets } from '../instances/instance-secrets.js';
import { findInstanceForProvisioning } from '../instances/instance-store.js';
import { message, type CodedMessage, type StepMessage } from '../platform/messages.js';
import type { SecretBox } from '../platform/secret-box.js';

/**
 * Realm export and import as orders. The export is Keycloak's partial export of the realm (clients, groups and
 * roles; Keycloak masks client secrets in it) plus, when asked, its users through the admin API (without passwords:
 * Keycloak never hands out credentials; imported users set a new password). It is kept sealed in `realm_exports`
 * and downloaded as JSON (audited). An import creates a realm from such an export on any of the organisation's
 * instances (`POST /admin/realms` with the representation, so users come along).
 *
 * Keycloak is reached on the instance's upstream as its edge route records it, with the instance's admin account:
 * the channel the driver and the service broker use (not the edge, which admits only the customer's sources).
 */
export type RealmOutcome =
  | { outcome: 'done' }
  | { outcome: 'retry'; message: string }
  /** `reason` is for the customer: coded wherever its words are ours. */
  | { outcome: 'failed'; reason: StepMessage; detail: string };

type RealmJson = RealmRepresentation;

const USERS_PAGE = 500;

/** The representation without the source's object ids (`id`, and `containerId`/`parentId` that point to them). */
function withoutIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutIds);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== 'id' && key !== 'containerId' && key !== 'parentId')
      .map(([key, inner]) => [key, withoutIds(inner)]),
  );
}
/** Realm attribute naming the import order that created the realm. */
const IMPORT_MARKER = 'keyhouse.importOrder';

export function createRealmTransfer(deps: { db: Database; secretBox: SecretBox }) {
  const { db } = deps;

  async function adminClient(instanceId: string): Promise<KcAdminClient> {
    const instance = await findInstanceForProvisioning(db.pool, instanceId);
    const route = await getEdgeRoute(db, instanceId);
    if (!instance?.sealedSecrets || !route) throw new Error('the instance has no Keycloak to reach yet');
    const secrets = openInstanceSecrets(deps.secretBox, instance.sealedSecrets);
    const host = route.upstreamHost.includes(':') ? `[${route.upstreamHost}]` : route.upstreamHost;
    const client = new KcAdminClient({
      baseUrl: `http://${host}:${route.upstreamPort}`,
      realmName: 'master',
    });
    await client.auth({
      grantType: 'password',
      clientId: 'admin-cli',
      username: instance.adminUsername,
      password: secrets.adminPassword,
    });
    return client;
  }

  /** Runs one named step; Keycloak's refusals (4xx) fail the order with `refused`, anything else is retried. */
  async function step(
    report: StepReporter,
    name: string,
    refused: (status: number) => CodedMessage,
    work: () => Promise<CodedMessage>,
  ): Promise<RealmOutcome> {
    await report(name, 'running');
    try {
      await report(name, 'done', await work());
      return { outcome: 'done' };
    } catch (error) {
      const status = error instanceof NetworkError ? error.response.status : undefined;
      if (status !== undefined && status >= 400 && status < 500) {
        const reason = refused(status);
        await report(name, 'failed', reason);
        return {
          outcome: 'failed',
          reason,
          detail: `Keycloak answered ${status}: ${(error as Error).message}`,
        };
      }
      await report(name, 'failed', message('step.keycloakUnreachable'));
      return { outcome: 'retry', message: (error as Error).message };
    }
  }

  return {
    async exportRealm(
      order: {
        id: string;
        organizationId: string;
        instanceId: string;
        details: Record<string, unknown> | null;
      },
      report: StepReporter,
    ): Promise<RealmOutcome> {
      const realm = String(order.details?.realm);
      const includeUsers = order.details?.includeUsers === true;
      return step(
        report,
        'realm-export',
        (status) =>
          status === 404 ? message('failure.realmMissing', { realm }) : message('failure.realmExportRefused'),
        async () => {
          const client = await adminClient(order.instanceId);
          const json = (await client.realms.export({
            realm,
            exportClients: true,
            exportGroupsAndRoles: true,
          })) as RealmJson;
          if (includeUsers) {
            const users: UserRepresentation[] = [];
            for (let first = 0; ; first += USERS_PAGE) {
              const page = await client.users.find({
                realm,
                first,
                max: USERS_PAGE,
                briefRepresentation: false,
              });
              // Ids are the source's; the importing Keycloak gives the users new ones.
              users.push(
                ...page.map(({ id: _id, access: _access, createdTimestamp: _created, ...user }) => user),
              );
              if (page.length < USERS_PAGE) break;
            }
            json.users = users;
          }
          const text = JSON.stringify(json);
          await insertRealmExport(db.pool, {
            orderId: order.id,
            organizationId: order.organizationId,
            instanceId: order.instanceId,
            realm,
            users: json.users?.length ?? 0,
            sizeBytes: Buffer.byteLength(text),
            sealedJson: deps.secretBox.seal(text),
          });
          const bytes = Buffer.byteLength(text);
          return includeUsers
            ? message('step.realmExportedWithUsers', { realm, bytes, users: json.users!.length })
            : message('step.realmExported', { realm, bytes });
        },
      );
    },

    async importRealm(
      order: {
        id: string;
        instanceId: string;
        organizationId: string;
        details: Record<string, unknown> | null;
      },
      report: StepReporter,
    ): Promise<RealmOutcome> {
      const exported = await findRealmExport(
        db.pool,
        order.organizationId,
        String(order.details?.exportOrderId),
      );
      if (!exported) return { outcome: 'failed', reason: message('failure.realmExportGone'), detail: '' };
      const json = JSON.parse(deps.secretBox.open(exported.sealedJson)) as RealmJson;
      const realm = typeof order.details?.realmName === 'string' ? order.details.realmName : exported.realm;
      // Ids belong to the source Keycloak and may exist on this one (an instance restored from the source's backup
      // has the same clients and roles): without them, Keycloak assigns new ones.
      const representation = withoutIds(json) as RealmJson;
      return step(
        report,
        'realm-import',
        (status) =>
          status === 409 ? message('failure.realmExists', { realm }) : message('failure.realmImportRefused'),
        async () => {
          const client = await adminClient(order.instanceId);
          // The realm carries the order that created it: a retry after a crash finds its own realm and is done, a
          // realm of that name from anywhere else is a clash (Keycloak's 409 below).
          const existing = await client.realms.findOne({ realm });
          if (existing?.attributes?.[IMPORT_MARKER] === order.id)
            return message('step.realmImportedEarlier', { realm });
          await client.realms.create({
            ...representation,
            realm,
            enabled: true,
            attributes: { ...representation.attributes, [IMPORT_MARKER]: order.id },
          });
          return json.users
            ? message('step.realmImportedWithUsers', { realm, users: json.users.length })
            : message('step.realmImported', { realm });
        },
      );
    },
  };
}
export type RealmTransfer = ReturnType<typeof createRealmTransfer>;

// ---- store -------------------------------------------------------------------------------------------------------

export type StoredRealmExport = {
  orderId: string;
  instanceId: string;
  realm: string;
  users: number;
  sizeBytes: number;
  sealedJson: string;
  createdAt: string;
};

async function insertRealmExport(
  db: Queryable,
  record: Omit<StoredRealmExport, 'createdAt'> & { organizationId: string },
): Promise<void> {
  await db.query(
    `INSERT INTO realm_exports (order_id, organization_id, instance_id, realm, users, size_bytes, sealed_json)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (order_id) DO UPDATE
       SET realm = $4, users = $5, size_bytes = $6, sealed_json = $7, created_at = now()`,
    [
      record.orderId,
      record.organizationId,
      record.instanceId,
      record.realm,
      record.users,
      record.sizeBytes,
      record.sealedJson,
    ],
  );
}

/** An export of the organisation's (tenants never see each other's). */
export async function findRealmExport(
  db: Queryable,
  organizationId: string,
  orderId: string,
): Promise<StoredRealmExport | undefined> {
  const { rows } = await db.query<{
    order_id: string;
    instance_id: string;
    realm: string;
    users: number;
    size_bytes: number;
    sealed_json: string;
    created_at: string;
  }>(
    `SELECT order_id, instance_id, realm, users, size_bytes, sealed_json, created_at FROM realm_exports
      WHERE organization_id = $1 AND order_id = $2`,
    [organizationId, orderId],
  );
  const row = rows[0];
  return (
    row && {
      orderId: row.order_id,
      instanceId: row.instance_id,
      realm: row.realm,
      users: row.users,
      sizeBytes: row.size_bytes,
      sealedJson: row.sealed_json,
      createdAt: row.created_at,
    }
  );
}
