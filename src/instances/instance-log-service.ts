import type { Catalog } from '../catalog/catalog-schemas.js';
import type { Database } from '../db/database.js';
import type { InstanceLogSource, LogTarget } from '../drivers/driver.js';
import type { InstanceLogSources } from '../drivers/instance-logs.js';
import { ConflictError, NotFoundError, UnavailableError } from '../platform/errors.js';
import type { SecretBox } from '../platform/secret-box.js';
import { LOG_RETENTION_DAYS, type LogEntry, type LogPage, type LogQuery } from './instance-log-schemas.js';
import { openInstanceSecrets } from './instance-secrets.js';
import { findInstance, findSealedSecrets } from './instance-store.js';

/** A download holds at most this many entries (the newest), so that one request stays bounded in memory. */
export const LOG_DOWNLOAD_MAX_ENTRIES = 50_000;

/**
 * The instance's Keycloak log for its organisation (customers) or for the provider (the operator console's tail):
 * read from the region's log source (`readLog`, `followLog`), never further back than LOG_RETENTION_DAYS, with the
 * instance's secrets cut out by the source.
 */
export function createInstanceLogService(deps: {
  db: Database;
  catalog: Catalog;
  logSources: InstanceLogSources;
  secretBox: SecretBox;
  now: () => Date;
}) {
  const oldest = () => new Date(deps.now().getTime() - LOG_RETENTION_DAYS * 24 * 3600_000);

  async function logOf(
    organizationId: string,
    id: string,
  ): Promise<{ source: InstanceLogSource; target: LogTarget }> {
    const instance = await findInstance(deps.db.pool, organizationId, id);
    if (!instance || instance.status === 'deleted') throw new NotFoundError('Instance');
    const sealed = await findSealedSecrets(deps.db.pool, organizationId, id);
    const region = deps.catalog.regions.find((r) => r.id === instance.spec.region);
    if (!sealed || !region)
      throw new ConflictError('The instance has no log yet; it starts with its first Keycloak start.');
    return {
      source: deps.logSources.forRegion(region),
      target: {
        instanceId: id,
        name: instance.name,
        region: instance.spec.region,
        secrets: openInstanceSecrets(deps.secretBox, sealed),
      },
    };
  }

  return {
    /** The newest entries matching the query, oldest first. */
    async read(organizationId: string, id: string, query: LogQuery): Promise<LogPage> {
      const { source, target } = await logOf(organizationId, id);
      const since =
        query.since && Date.parse(query.since) > oldest().getTime() ? new Date(query.since) : oldest();
      return source.readLog(target, { since, search: query.search, limit: query.limit });
    },

    /** Everything of the last days that matches `search`, as a log file's text (the newest entries when huge). */
    async download(organizationId: string, id: string, search: string | undefined) {
      const { source, target } = await logOf(organizationId, id);
      const page = await source.readLog(target, { since: oldest(), search, limit: LOG_DOWNLOAD_MAX_ENTRIES });
      return {
        fileName: `${target.name}-keycloak.log`,
        text: page.entries.map((entry) => `${entry.text}\n`).join(''),
      };
    },

    /** Checks access first (404 before a stream opens), then the entries as they are written. */
    async follow(
      organizationId: string,
      id: string,
    ): Promise<(signal: AbortSignal) => AsyncIterable<LogEntry[]>> {
      const { source, target } = await logOf(organizationId, id);
      return (signal) => source.followLog(target, signal);
    },

    /**
     * The last `lines` lines of the instance's log, for the operator console beside a failed order; null where
     * there is none yet or its source cannot be read now (the console shows the order either way).
     */
    async tail(organizationId: string, id: string, lines: number): Promise<string | null> {
      try {
        const { source, target } = await logOf(organizationId, id);
        const page = await source.readLog(target, { since: oldest(), limit: lines });
        const text = page.entries.map((entry) => entry.text).join('\n');
        return text === '' ? null : text.split('\n').slice(-lines).join('\n');
      } catch (error) {
        if (error instanceof ConflictError || error instanceof UnavailableError) return null;
        throw error;
      }
    },
  };
}
export type InstanceLogService = ReturnType<typeof createInstanceLogService>;
