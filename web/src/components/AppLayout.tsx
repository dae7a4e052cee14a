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
import { Suspense, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Outlet, useLocation, useNavigate } from 'react-router';
import { api, setCsrfToken } from '../api/client';
import { sessionKey, useCan, useSession } from '../api/session';
import { LanguageSwitch } from './LanguageSwitch';
import { Loading, RouterLink } from './ui';

const navItems = [
  { to: '/', key: 'nav.dashboard', exact: true },
  { to: '/orders/new', key: 'nav.newOrder', exact: true },
  { to: '/orders', key: 'nav.orders', exact: false, not: '/orders/new' },
  { to: '/billing-profiles', key: 'nav.billingProfiles', exact: false },
  { to: '/tickets', key: 'nav.tickets', exact: false },
  { to: '/members', key: 'nav.members', exact: false },
  { to: '/audit', key: 'nav.audit', exact: false, permission: 'audit:read' as const },
];

export function AppLayout() {
  const { t } = useTranslation();
  const { data: session } = useSession();
  const location = useLocation();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [sidebarOpen, setSidebarOpen] = useState(true);
  const mayReadAudit = useCan('audit:read');

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
              {session && (
                <ToolbarItem>
                  <span data-testid="organization">
                    {session.organization.name}{' '}
                    <Label isCompact color="blue" data-testid="customer-number">
                      {t('masthead.customerNumber', { number: session.organization.customerNumber })}
                    </Label>
                  </span>
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

  const isActive = (item: (typeof navItems)[number]) =>
    item.exact
      ? location.pathname === item.to
      : location.pathname.startsWith(item.to) && location.pathname !== item.not;

  const sidebar = (
    <PageSidebar isSidebarOpen={sidebarOpen}>
      <PageSidebarBody>
        <Nav aria-label={t('nav.label')}>
          <NavList>
            {navItems
              .filter((item) => !('permission' in item) || mayReadAudit)
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
