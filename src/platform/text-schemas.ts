import { z } from 'zod';
import { coded } from './messages.js';

/**
 * Text that people type (names, subjects, addresses): trimmed, bounded, well-formed Unicode, and without control
 * characters. PostgreSQL refuses a NUL byte in text and JSON, so letting one through would turn a typing mistake
 * into a server error after half the work; other control characters have no place in a name either.
 * Browser-safe: zod only.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex -- as above
const CONTROL_EXCEPT_LINE_BREAKS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True for text without NUL or other control characters (line breaks and tabs allowed when `multiline`). */
export function isPlainText(text: string, options: { multiline?: boolean } = {}): boolean {
  const control = options.multiline ? CONTROL_EXCEPT_LINE_BREAKS : CONTROL_CHARACTER;
  return !control.test(text) && !LONE_SURROGATE.test(text);
}

const CONTROL_CHARACTERS = new RegExp(CONTROL_CHARACTER.source, 'g');

/**
 * Text from elsewhere (a key's user ids, a library's error message) made fit to show and store: control characters
 * become U+FFFD. Lone surrogates cannot occur in text decoded from bytes.
 */
export function plainText(text: string): string {
  return text.replace(CONTROL_CHARACTERS, '\ufffd');
}

/** True for text PostgreSQL can store as text or in JSON: no NUL, no lone surrogate. */
export function fitsPostgres(text: string): boolean {
  return !text.includes('\u0000') && !LONE_SURROGATE.test(text);
}

type TextBounds = { min?: number; max: number; multiline?: boolean };

/** One line of text, e.g. a company or token name. */
export function textSchema({ min = 1, max, multiline = false }: TextBounds) {
  return z
    .string()
    .trim()
    .min(min, min === 1 ? coded('value.required') : coded('text.tooShort', { min }))
    .max(max, coded('text.tooLong', { max }))
    .refine(
      (text) => isPlainText(text, { multiline }),
      coded(multiline ? 'text.controlCharactersMultiline' : 'text.controlCharacters'),
    );
}

/**
 * An identifier a platform sends (the broker's GUIDs and names): not trimmed, since it has to come back exactly as
 * sent, but bounded and free of control characters all the same.
 */
export function identifierSchema(max: number) {
  return z
    .string()
    .min(1)
    .max(max)
    .refine((text) => isPlainText(text), coded('text.controlCharacters'));
}
