import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { storageGbSchema } from '../orders/order-schemas.js';
import { fieldErrorsOf } from './field-errors.js';
import { coded, codedIssue, MESSAGES, messageOfIssue, renderMessage } from './messages.js';
import { deMessages } from './de-messages.js';
import { textSchema } from './text-schemas.js';

const placeholders = (template: string) => [...template.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();

describe('message codes', () => {
  it('renders English templates with their parameters', () => {
    expect(renderMessage('text.tooShort', { min: 3 })).toBe('at least 3 characters');
    expect(renderMessage('storage.step', { step: 50 })).toBe('storage grows in steps of 50 GB');
  });

  it('has a German text for every code, with the same placeholders', () => {
    // The typecheck checks that no code is missing; this, that each German text takes the same parameters.
    for (const [code, english] of Object.entries(MESSAGES)) {
      const german = (deMessages as Record<string, string>)[code];
      expect(german, code).toBeTruthy();
      expect(placeholders(german ?? ''), code).toEqual(placeholders(english));
    }
  });

  it('carries the code of a check through a zod parse into the field errors', () => {
    const schema = z.strictObject({
      name: textSchema({ min: 3, max: 10 }),
      size: storageGbSchema({ minGb: 50, maxGb: 200, stepGb: 50 }),
    });
    const result = schema.safeParse({ name: 'ab', size: 75, extra: true });
    expect(result.success).toBe(false);
    expect(fieldErrorsOf(result.error!.issues)).toEqual([
      { path: 'name', message: 'at least 3 characters', code: 'text.tooShort', params: { min: 3 } },
      {
        path: 'size',
        message: 'storage grows in steps of 50 GB',
        code: 'storage.step',
        params: { step: 50 },
      },
      { path: 'extra', message: 'not a field of this request', code: 'field.unknown', params: {} },
    ]);
  });

  it('carries custom issues of transforms', () => {
    const schema = z.string().transform((value, ctx) => {
      ctx.addIssue(codedIssue('order.versions', { versions: '26.5.6, 26.7.3' }));
      return value;
    });
    const [error] = fieldErrorsOf(schema.safeParse('1.0').error!.issues);
    expect(error).toEqual({
      path: '(body)',
      message: 'available versions: 26.5.6, 26.7.3',
      code: 'order.versions',
      params: { versions: '26.5.6, 26.7.3' },
    });
  });

  it('derives a code from what zod says when a check has none of ours', () => {
    const issues = z
      .object({
        a: z.string(),
        b: z.enum(['x', 'y']),
        c: z.int().max(5),
        d: z.array(z.int()).min(2),
        e: z.uuid(),
      })
      .safeParse({ b: 'z', c: 9, d: [1], e: 'nope' }).error!.issues;
    expect(issues.map(messageOfIssue)).toEqual([
      { code: 'value.required', params: {} },
      { code: 'value.oneOf', params: { values: 'x, y' } },
      { code: 'number.tooLarge', params: { max: 5 } },
      { code: 'list.tooShort', params: { min: 2 } },
      { code: 'format.uuid', params: {} },
    ]);
  });

  it('keeps a zod check’s English message as it was', () => {
    const result = z
      .string()
      .min(2, coded('text.tooShort', { min: 2 }))
      .safeParse('a');
    expect(result.error!.issues[0]!.message).toBe('at least 2 characters');
  });
});
