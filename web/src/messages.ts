import { MESSAGES, renderMessage, type MessageCode } from '../../src/platform/messages';
import type { MessageParts } from '../../src/orders/order-schemas';
import i18n, { currentLanguage } from './i18n';

/** A message of the API or of a shared schema: English text, and its code with parameters (src/platform/messages.ts). */
export type LocalizableMessage = { message: string; code?: string; params?: Record<string, string | number> };

/**
 * The message in the reader's language: English as the server or the schema wrote it, German from the code's
 * translation (src/platform/de-messages.ts) with the same parameters. A message without a code stays as it is.
 */
export function localizeMessage({ message, code, params = {} }: LocalizableMessage): string {
  if (!code || currentLanguage() === 'en') return message;
  const words: Record<string, string | number> = { ...params };
  // The name of an address range is a word to translate, not a value to insert as it is.
  if (typeof params.rangeKind === 'string') {
    words.range = i18n.t(`sourceRanges.${params.rangeKind}`, { defaultValue: i18n.t('sourceRanges.other') });
  }
  // So is an order's type (a failure reason's "the upgrade order").
  if (typeof params.orderType === 'string') {
    words.orderType = i18n.t(`orderType.${params.orderType}`, { defaultValue: params.orderType });
  }
  return i18n.t(code, { ns: 'messages', keySeparator: false, defaultValue: message, ...words });
}

/**
 * A step's note or an order's failure reason in the reader's language: its coded parts each translated and joined
 * by "; " (as the server joins the English text), or the English text as sent when it has no parts (a URL, an
 * error's own words, an operator's cancel reason).
 */
export function localizeStepMessage(message: string, parts: MessageParts | null | undefined): string {
  if (!parts?.length || currentLanguage() === 'en') return message;
  // A code this portal does not know (a newer server): the English text as a whole rather than half of it.
  if (!parts.every((part) => part.code in MESSAGES)) return message;
  return parts
    .map(({ code, params }) =>
      localizeMessage({ message: renderMessage(code as MessageCode, params), code, params }),
    )
    .join('; ');
}
