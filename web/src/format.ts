import { useTranslation } from 'react-i18next';

/** Money as decimal strings from the API, formatted in the reader's language (never used for arithmetic). */
export function useFormat() {
  const { i18n } = useTranslation();
  const locale = i18n.resolvedLanguage === 'de' ? 'de-DE' : 'en-GB';
  const money = (amount: string | undefined | null, currency = 'EUR', maxDecimals = 2) => {
    if (amount === undefined || amount === null || amount === '') return '–';
    return new Intl.NumberFormat(locale, {
      style: 'currency',
      currency,
      minimumFractionDigits: 2,
      maximumFractionDigits: maxDecimals,
    }).format(Number(amount));
  };
  return {
    money,
    /** Integer cents (usage) as money; the decimal string is built from integers, never by dividing floats. */
    cents(cents: number, currency = 'EUR') {
      const sign = cents < 0 ? '-' : '';
      const abs = Math.abs(cents);
      return money(`${sign}${Math.trunc(abs / 100)}.${String(abs % 100).padStart(2, '0')}`, currency);
    },
    /** A price delta with its sign: +12,34 € / −5,00 €. */
    signedMoney(amount: string, currency = 'EUR', maxDecimals = 2) {
      const negative = amount.trim().startsWith('-');
      const magnitude = amount.trim().replace(/^[-+]/, '');
      return `${negative ? '−' : '+'}${money(magnitude, currency, maxDecimals)}`;
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
