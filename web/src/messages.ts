import i18n, { currentLanguage } from './i18n';

/** A message of the API or of a shared schema: English text, and its code with parameters (src/platform/messages.ts). */
export type LocalizableMessage = { message: string; code?: string; params?: Record<string, string | number> };

/**
 * The message in the reader's language: English as the server or the schema wrote it, German from the code's
 * translation (i18n/de-messages.ts) with the same parameters. A message without a code stays as it is.
 */
export function localizeMessage({ message, code, params = {} }: LocalizableMessage): string {
  if (!code || currentLanguage() === 'en') return message;
  const words: Record<string, string | number> = { ...params };
  // The name of an address range is a word to translate, not a value to insert as it is.
  if (typeof params.rangeKind === 'string') {
    words.range = i18n.t(`sourceRanges.${params.rangeKind}`, { defaultValue: i18n.t('sourceRanges.other') });
  }
  return i18n.t(code, { ns: 'messages', keySeparator: false, defaultValue: message, ...words });
}
