import type { z } from 'zod';
import type { FieldError } from './errors.js';

/**
 * Field errors from a failed zod parse: one per issue, and one per key for unknown keys, each with the dotted path
 * of the field at fault (`trustedSources.1`, `billingProfile.vatId`, `query.cursor`). `prefix` names the part of
 * the request the value came from (`query`, `params`, `headers`); a body's fields carry no prefix, the body as a
 * whole is `(body)`.
 */
export function fieldErrorsOf(issues: readonly z.core.$ZodIssue[], prefix?: string): FieldError[] {
  const pathOf = (segments: readonly PropertyKey[]) => {
    const inner = segments.map(String).join('.');
    if (prefix) return inner ? `${prefix}.${inner}` : prefix;
    return inner || '(body)';
  };
  return issues.flatMap((issue): FieldError[] =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          path: pathOf([...issue.path, key]),
          message: 'not a field of this request',
        }))
      : [{ path: pathOf(issue.path), message: issue.message }],
  );
}
