import { z } from 'zod';
import { ValidationError } from './errors.js';

export const pageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(200).optional(),
});
export type PageQuery = z.infer<typeof pageQuerySchema>;

/** Position after the last item of a page, in (created_at, id) order. Opaque to clients. */
type Position = { createdAt: string; id: string };

export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');
}

const positionSchema = z.tuple([z.iso.datetime({ offset: true }), z.uuid()]);

export function decodeCursor(cursor: string | undefined): Position | undefined {
  if (cursor === undefined) return undefined;
  try {
    const [createdAt, id] = positionSchema.parse(
      JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')),
    );
    return { createdAt, id };
  } catch {
    throw new ValidationError([{ path: 'query.cursor', message: 'not a cursor of this list' }]);
  }
}

export type Page<T> = { items: T[]; nextCursor: string | null };

/** Rows fetched with `limit + 1`: the extra row only says that another page exists. */
export function toPage<T extends { id: string; createdAt: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}

export const pageSchema = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });
