import {
  Button,
  Label,
  Masthead,
  MastheadBrand,
  MastheadContent,
  MastheadLogo,
  MastheadMain,
  MastheadToggle,
  Nav,
  NavItem,
  NavList,
  Page,
  PageSidebar,
  PageSidebarBody,
  PageToggleButton,
  SkipToContent,
  Toolbar,
  ToolbarContent,
  ToolbarGroup,
  ToolbarItem,
} from '@patternfly/react-core';
import { useQueryClient } from '@tanstack/react-query';
import { Suspense, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Outlet, useLocation, useNavigate } from 'react-router';
import { api, setCsrfToken } from '../api/client';
import { sessionKey, useCan, useSession } from '../api/session';
import { LanguageSwitch } from './LanguageSwitch';
import { Loading, RouterLink } from './ui';

type NavEntry = { to: string; key: string; exact: boolean; not?: string; permission?: 'audit:read' };

const navItems: NavEntry[] = [
  { to: '/', key: 'nav.dashboard', exact: true },
  { to: '/orders/new', key: 'nav.newOrder', exact: true },
  { to: '/orders', key: 'nav.orders', exact: false, not: '/orders/new' },
  { to: '/billing-profiles', key: 'nav.billingProfiles', exact: false },
  { to: '/tickets', key: 'nav.tickets', exact: false },
  { to: '/members', key: 'nav.members', exact: false },
  { to: '/audit', key: 'nav.audit', exact: false, permission: 'audit:read' },
  { to: '/account/security', key: 'provider.nav.security', exact: true },
];

/** The provider's operators see the console instead of a customer's pages. */
const operatorNavItems: NavEntry[] = [
  { to: '/ops', key: 'provider.ops.orders', exact: false, not: '/ops/' },
  { to: '/ops/instances', key: 'provider.ops.instances', exact: true },
  { to: '/ops/capacity', key: 'provider.ops.capacity', exact: true },
  { to: '/ops/tickets', key: 'provider.ops.tickets', exact: false },
  { to: '/ops/mail', key: 'provider.ops.mail', exact: true },
  { to: '/account/security', key: 'provider.nav.security', exact: true },
];

export function AppLayout() {
  const { t, i18n } = useTranslation();
  const { data: session } = useSession();
  const location = useLocation();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [sidebarOpen, setSidebarOpen] = useState(true);
  const mayReadAudit = useCan('audit:read');
  const language = i18n.resolvedLanguage === 'de' ? 'de' : 'en';

  // E-mails go out in the portal's language: the server learns it when it differs (after sign-up or a switch).
  const userLanguage = session?.user.language;
  useEffect(() => {
    if (!userLanguage || userLanguage === language) return;
    api('PUT', '/api/v1/auth/preferences', { body: { language } })
      .then(() => queryClient.invalidateQueries({ queryKey: sessionKey }))
      // Only the mails' language stays as it was; the portal itself has switched. The next page load tries again.
      .catch(() => undefined);
  }, [userLanguage, language, queryClient]);

  const logout = async () => {
    await api('POST', '/api/v1/auth/logout').catch(() => undefined);
    setCsrfToken(undefined);
    queryClient.clear();
    queryClient.setQueryData(sessionKey, null);
    void navigate('/login');
  };

  const masthead = (
    <Masthead>
      <MastheadMain>
        <MastheadToggle>
          <PageToggleButton
            isHamburgerButton
            aria-label={t('nav.toggle')}
            isSidebarOpen={sidebarOpen}
            onSidebarToggle={() => setSidebarOpen((open) => !open)}
          />
        </MastheadToggle>
        <MastheadBrand>
          <MastheadLogo component={(props) => <RouterLink {...props} to="/" />}>
            <span style={{ fontSize: 'var(--pf-t--global--font--size--heading--h3)', fontWeight: 600 }}>
              Keyhouse
            </span>
          </MastheadLogo>
        </MastheadBrand>
      </MastheadMain>
      <MastheadContent>
        <Toolbar isFullHeight isStatic>
          <ToolbarContent>
            <ToolbarGroup align={{ default: 'alignEnd' }} alignItems="center">
              {session?.organization && (
                <ToolbarItem>
                  <span data-testid="organization">
                    {session.organization.name}{' '}
                    <Label isCompact color="blue" data-testid="customer-number">
                      {t('masthead.customerNumber', { number: session.organization.customerNumber })}
                    </Label>
                  </span>
                </ToolbarItem>
              )}
              {session && !session.organization && (
                <ToolbarItem>
                  <Label isCompact color="purple" data-testid="operator-console">
                    {t('provider.nav.console')}
                  </Label>
                </ToolbarItem>
              )}
              <ToolbarItem>
                <LanguageSwitch />
              </ToolbarItem>
              {session && (
                <ToolbarItem>
                  <span>{session.user.email}</span>{' '}
                  <Button variant="secondary" size="sm" onClick={() => void logout()}>
                    {t('masthead.logout')}
                  </Button>
                </ToolbarItem>
              )}
            </ToolbarGroup>
          </ToolbarContent>
        </Toolbar>
      </MastheadContent>
    </Masthead>
  );

  const isActive = (item: NavEntry) => {
    if (item.exact) return location.pathname === item.to;
    // /ops lists orders (/ops, /ops/orders/…); the console's other pages have entries of their own.
    if (item.to === '/ops')
      return location.pathname === '/ops' || location.pathname.startsWith('/ops/orders/');
    return location.pathname.startsWith(item.to) && location.pathname !== item.not;
  };
  const items = session && !session.organization ? operatorNavItems : navItems;

  const sidebar = (
    <PageSidebar isSidebarOpen={sidebarOpen}>
      <PageSidebarBody>
        <Nav aria-label={t('nav.label')}>
          <NavList>
            {items
              .filter((item) => !item.permission || mayReadAudit)
              .map((item) => (
                <NavItem key={item.to} to={item.to} isActive={isActive(item)} component={RouterLink}>
                  {t(item.key)}
                </NavItem>
              ))}
          </NavList>
        </Nav>
      </PageSidebarBody>
    </PageSidebar>
  );

  return (
    <Page
      masthead={masthead}
      sidebar={sidebar}
      skipToContent={<SkipToContent href="#main">{t('nav.skipToContent')}</SkipToContent>}
      mainContainerId="main"
      isContentFilled
    >
      <Suspense fallback={<Loading />}>
        <Outlet />
      </Suspense>
    </Page>
  );
}
