import type { z } from 'zod';
import type { FieldError } from './errors.js';
import { messageOfIssue, renderMessage, type MessageCode, type MessageParams } from './messages.js';

/**
 * Field errors from a failed zod parse: one per issue, and one per key for unknown keys, each with the dotted path
 * of the field at fault (`trustedSources.1`, `billingProfile.vatId`, `query.cursor`), the English message, and its
 * code with parameters for a translation (src/platform/messages.ts). `prefix` names the part of the request the
 * value came from (`query`, `params`, `headers`); a body's fields carry no prefix, the body as a whole is `(body)`.
 * Browser-safe: the portal maps its own parses with it too.
 */
export function fieldErrorsOf(issues: readonly z.core.$ZodIssue[], prefix?: string): FieldError[] {
  const pathOf = (segments: readonly PropertyKey[]) => {
    const inner = segments.map(String).join('.');
    if (prefix) return inner ? `${prefix}.${inner}` : prefix;
    return inner || '(body)';
  };
  return issues.flatMap((issue): FieldError[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => fieldError(pathOf([...issue.path, key]), 'field.unknown'));
    }
    const { code, params } = messageOfIssue(issue);
    return [{ path: pathOf(issue.path), message: issue.message, code, params }];
  });
}

/** A field error in the words of the message catalogue. */
export function fieldError(path: string, code: MessageCode, params: MessageParams = {}): FieldError {
  return { path, message: renderMessage(code, params), code, params };
}
