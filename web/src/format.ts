import { useTranslation } from 'react-i18next';

/** Money as decimal strings from the API, formatted in the reader's language (never used for arithmetic). */
export function useFormat() {
  const { i18n } = useTranslation();
  const locale = i18n.resolvedLanguage === 'de' ? 'de-DE' : 'en-GB';
  return {
    money(amount: string | undefined | null, currency = 'EUR', maxDecimals = 2) {
      if (amount === undefined || amount === null || amount === '') return '–';
      return new Intl.NumberFormat(locale, {
        style: 'currency',
        currency,
        minimumFractionDigits: 2,
        maximumFractionDigits: maxDecimals,
      }).format(Number(amount));
    },
    dateTime(iso: string | undefined | null) {
      if (!iso) return '–';
      return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'medium' }).format(
        new Date(iso),
      );
    },
    number(value: number) {
      return new Intl.NumberFormat(locale).format(value);
    },
  };
}
