import type { z } from 'zod';
import { fieldErrorsOf } from '../../src/platform/field-errors';
import { ApiError } from './api/client';
import { localizeMessage } from './messages';

/** The first message per field of a failed zod parse, keyed by dotted path ("trustedSources.1"), localized. */
export function zodErrors(error: z.ZodError | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const fieldError of fieldErrorsOf(error?.issues ?? []))
    result[fieldError.path] ??= localizeMessage(fieldError);
  return result;
}

/** The problem document's field errors keyed by path, optionally only those under `prefix` (prefix removed). */
export function apiFieldErrors(error: unknown, prefix = ''): Record<string, string> {
  const result: Record<string, string> = {};
  if (!(error instanceof ApiError)) return result;
  for (const fieldError of error.fieldErrors) {
    if (!fieldError.path.startsWith(prefix)) continue;
    result[fieldError.path.slice(prefix.length)] ??= localizeMessage(fieldError);
  }
  return result;
}

/** Does the problem name a field among `known`? If not, the form shows its detail as a whole. */
export function hasUnplacedErrors(error: unknown, known: readonly string[]): boolean {
  if (!(error instanceof ApiError)) return Boolean(error);
  const paths = error.fieldErrors.map((e) => e.path);
  return paths.length === 0 || paths.some((p) => !known.some((k) => p === k || p.startsWith(k + '.')));
}
