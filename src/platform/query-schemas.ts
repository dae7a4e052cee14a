import { z } from 'zod';

/**
 * A number in a query string. `z.coerce.number` alone reads an empty value (`?limit=`) as 0, so a request that
 * names a filter without a value would be answered as if it had asked for 0; an empty value is refused instead.
 * Wrapping the whole schema (default included) keeps its JSON Schema, so OpenAPI still documents an integer.
 */
export function queryNumber<Schema extends z.ZodType>(schema: Schema) {
  return z.preprocess(
    (value) => (typeof value === 'string' && value.trim() === '' ? Number.NaN : value),
    schema,
  );
}
