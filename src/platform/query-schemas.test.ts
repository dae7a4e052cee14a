import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryNumber } from './query-schemas.js';

describe('queryNumber', () => {
  const limit = queryNumber(z.coerce.number().int().min(1).max(100).default(50));

  it('reads digits and falls back to the default when the parameter is absent', () => {
    expect(limit.parse('7')).toBe(7);
    expect(limit.parse(undefined)).toBe(50);
  });

  it('refuses an empty value instead of reading it as 0', () => {
    expect(limit.safeParse('').success).toBe(false);
    expect(limit.safeParse('  ').success).toBe(false);
    const minutes = z.object({ minutes: queryNumber(z.coerce.number().int().min(0)).optional() });
    expect(minutes.safeParse({ minutes: '' }).error?.issues[0]?.path).toEqual(['minutes']);
    expect(minutes.parse({})).toEqual({});
  });

  it('keeps the JSON Schema of the number, default included', () => {
    expect(z.toJSONSchema(limit, { io: 'input' })).toMatchObject({
      type: 'integer',
      default: 50,
      maximum: 100,
    });
  });
});
