import { ToggleGroup, ToggleGroupItem } from '@patternfly/react-core';
import { useTranslation } from 'react-i18next';
import { chooseLanguage, currentLanguage, LANGUAGES } from '../i18n';

const names = { de: 'Deutsch', en: 'English' } as const;

/** German / English; the choice is remembered in localStorage. */
export function LanguageSwitch() {
  const { t } = useTranslation();
  const active = currentLanguage();
  return (
    <ToggleGroup aria-label={t('common.language')} isCompact>
      {LANGUAGES.map((language) => (
        <ToggleGroupItem
          key={language}
          text={names[language]}
          buttonId={`language-${language}`}
          lang={language}
          isSelected={active === language}
          onChange={() => chooseLanguage(language)}
        />
      ))}
    </ToggleGroup>
  );
}
