import type { Queryable } from '../../src/db/database.js';

/**
 * Every table of the database, counted and hashed, so a test can say "this request changed no row in any table":
 * a count catches inserts and deletes, the hash of the sorted rows catches updates. The job queue's tables count
 * too (a refused order must not queue a job); pg-boss's own bookkeeping tables (version, schedule, subscription)
 * and its maintenance columns are left out because its supervisor writes them on a timer.
 */
export type TableSnapshot = Map<string, { rows: number; hash: string }>;

/** Columns written on purpose by a request that is nevertheless refused or only reads (see the README). */
const VOLATILE_COLUMNS: Record<string, string[]> = {
  // An API token's use is recorded at most once a minute, also when the request it authenticates is refused.
  'public.api_tokens': ['last_used_at'],
  // Likewise a session's last activity (the sessions list of the account page shows it).
  'public.sessions': ['last_seen_at'],
};

const tablesOf = new WeakMap<Queryable, Promise<{ name: string; sql: string }[]>>();

async function tables(db: Queryable): Promise<{ name: string; sql: string }[]> {
  const { rows } = await db.query<{ schema: string; name: string; columns: string[] }>(
    `SELECT t.table_schema AS schema, t.table_name AS name,
            array_agg(c.column_name::text ORDER BY c.ordinal_position) AS columns
       FROM information_schema.tables t
       JOIN information_schema.columns c ON c.table_schema = t.table_schema AND c.table_name = t.table_name
      WHERE t.table_type = 'BASE TABLE'
        AND (t.table_schema = 'public' OR (t.table_schema = 'pgboss' AND t.table_name IN ('job', 'archive')))
      GROUP BY t.table_schema, t.table_name ORDER BY 1, 2`,
  );
  return rows.map(({ schema, name, columns }) => {
    const qualified = `${schema}.${name}`;
    const skip = new Set(VOLATILE_COLUMNS[qualified] ?? []);
    // pg-boss's job rows: whether a job exists and what it carries, not the supervisor's timestamps.
    const kept =
      schema === 'pgboss' ? ['id', 'name', 'data', 'singleton_key'] : columns.filter((c) => !skip.has(c));
    const row = `row(${kept.map((c) => `"${c}"`).join(', ')})::text`;
    return {
      name: qualified,
      sql: `SELECT '${qualified}' AS name, count(*)::int AS rows,
                   coalesce(md5(string_agg(md5(${row}), '' ORDER BY md5(${row}))), '') AS hash
              FROM ${schema}."${name}"`,
    };
  });
}

export async function snapshotTables(db: Queryable): Promise<TableSnapshot> {
  if (!tablesOf.has(db)) tablesOf.set(db, tables(db));
  const list = await tablesOf.get(db)!;
  const { rows } = await db.query<{ name: string; rows: number; hash: string }>(
    list.map((table) => table.sql).join(' UNION ALL '),
  );
  return new Map(rows.map((row) => [row.name, { rows: row.rows, hash: row.hash }]));
}

/** Tables whose rows differ between two snapshots, e.g. `["public.orders (+1 rows)"]`. */
export function changedTables(before: TableSnapshot, after: TableSnapshot): string[] {
  const changed: string[] = [];
  for (const [name, now] of after) {
    const then = before.get(name);
    if (!then) changed.push(`${name} (new table)`);
    else if (then.rows !== now.rows)
      changed.push(`${name} (${now.rows - then.rows >= 0 ? '+' : ''}${now.rows - then.rows} rows)`);
    else if (then.hash !== now.hash) changed.push(`${name} (rows changed)`);
  }
  return changed;
}
