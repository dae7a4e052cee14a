import i18n from 'i18next';
import LanguageDetector from 'i18next-browser-languagedetector';
import { initReactI18next } from 'react-i18next';
import { MESSAGES } from '../../../src/platform/messages';
import { de } from './de';
import { deMessages } from '../../../src/platform/de-messages';
import { en } from './en';

export const LANGUAGES = ['de', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];
const STORAGE_KEY = 'keyhouse.language';

/** German and English; the browser's language by default, an explicit choice is remembered in localStorage. */
void i18n
  .use(LanguageDetector)
  .use(initReactI18next)
  .init({
    // `messages`: the codes of the API's and the shared schemas' messages (src/platform/messages.ts).
    resources: { de: { translation: de, messages: deMessages }, en: { translation: en, messages: MESSAGES } },
    ns: ['translation', 'messages'],
    defaultNS: 'translation',
    supportedLngs: [...LANGUAGES],
    load: 'languageOnly',
    fallbackLng: 'en',
    detection: { order: ['localStorage', 'navigator'], lookupLocalStorage: STORAGE_KEY, caches: [] },
    interpolation: { escapeValue: false },
    returnNull: false,
  });

const applyLang = (lng: string) => {
  document.documentElement.lang = lng;
};
applyLang(i18n.resolvedLanguage ?? 'en');
i18n.on('languageChanged', applyLang);

export function currentLanguage(): Language {
  return i18n.resolvedLanguage === 'de' ? 'de' : 'en';
}

export function chooseLanguage(language: Language) {
  localStorage.setItem(STORAGE_KEY, language);
  void i18n.changeLanguage(language);
}

export default i18n;
