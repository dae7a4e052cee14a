import { LoginPage } from '@patternfly/react-core';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { LanguageSwitch } from './LanguageSwitch';

/** Sign-up, login and invitation pages: PatternFly's login layout with the language switch. */
export function PublicLayout(props: {
  title: string;
  subtitle?: string;
  footer?: ReactNode;
  children: ReactNode;
}) {
  const { t } = useTranslation();
  return (
    <LoginPage
      loginTitle={props.title}
      loginSubtitle={props.subtitle}
      textContent={t('public.tagline')}
      headerUtilities={<LanguageSwitch />}
      signUpForAccountMessage={props.footer}
      brandImgSrc={undefined}
    >
      {props.children}
    </LoginPage>
  );
}
