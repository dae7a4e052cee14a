import { z } from 'zod';
import { queryNumber } from './query-schemas.js';
import { codedIssue } from './messages.js';

/** Position after the last item of a page, in (created_at, id) order. Opaque to clients. */
export type Position = { createdAt: string; id: string };

export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');
}

/** Timestamps as the database hands them out (src/db/database.ts): UTC, up to microseconds. */
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?Z$/;
const ID_PATTERNS = {
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  /** bigserial ids, such as the audit trail's */
  serial: /^[1-9]\d{0,17}$/,
};
export type CursorIdKind = keyof typeof ID_PATTERNS;

/** A real calendar instant between the years 1 and 9999, so PostgreSQL accepts whatever this lets through. */
function isTimestamp(value: string): boolean {
  const match = TIMESTAMP.exec(value);
  if (!match) return false;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (year < 1 || hour > 23 || minute > 59 || second > 59) return false;
  const date = new Date(Date.UTC(year, month - 1, day));
  date.setUTCFullYear(year);
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/**
 * The one cursor decoder of every list: exactly what encodeCursor writes, nothing else. Anything the lists did not
 * hand out is undefined, so no crafted value reaches a query.
 */
export function decodeCursor(cursor: string, idKind: CursorIdKind): Position | undefined {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [createdAt, id] = value as unknown[];
  if (typeof createdAt !== 'string' || !isTimestamp(createdAt)) return undefined;
  if (typeof id !== 'string' || !ID_PATTERNS[idKind].test(id)) return undefined;
  return { createdAt, id };
}

/** `cursor` of a list's query: the opaque string in the API, the decoded position for the store. */
export const cursorSchema = (idKind: CursorIdKind = 'uuid') =>
  z
    .string()
    .max(200)
    .transform((cursor, ctx) => {
      const position = decodeCursor(cursor, idKind);
      if (!position) ctx.addIssue(codedIssue('list.cursor'));
      return position ?? z.NEVER;
    })
    .describe('nextCursor of the previous page');

export const pageQuerySchema = z.object({
  limit: queryNumber(z.coerce.number().int().min(1).max(100).default(50)),
  cursor: cursorSchema().optional(),
});
export type PageQuery = z.output<typeof pageQuerySchema>;

export type Page<T> = { items: T[]; nextCursor: string | null };

/** Rows fetched with `limit + 1`: the extra row only says that another page exists. */
export function toPage<T extends { id: string; createdAt: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}

export const pageSchema = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });
