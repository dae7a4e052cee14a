import {
  ActionGroup,
  Alert,
  Button,
  Card,
  CardBody,
  CardTitle,
  ClipboardCopy,
  Content,
  Form,
  Label,
  List,
  ListItem,
  PageSection,
  Stack,
} from '@patternfly/react-core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { totpCodeSchema } from '../../../src/accounts/account-schemas';
import { api } from '../api/client';
import { providerKeys, useSessions } from '../api/provider-queries';
import type { TotpEnrolment } from '../api/provider-types';
import { sessionKey, useSession } from '../api/session';
import { PageHeader, ProblemAlert, QueryContent, SimpleTable, TextField } from '../components/ui';
import { useFormat } from '../format';

/** Shown once after turning two-factor sign-in on or asking for new codes. */
function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const { t } = useTranslation();
  return (
    <Alert variant="warning" isInline title={t('provider.security.recoveryTitle')}>
      <p>{t('provider.security.recoveryIntro')}</p>
      <List isPlain data-testid="recovery-codes">
        {codes.map((code) => (
          <ListItem key={code}>
            <code>{code}</code>
          </ListItem>
        ))}
      </List>
      <Button variant="secondary" onClick={onDone} style={{ marginTop: 8 }}>
        {t('provider.security.recoveryDone')}
      </Button>
    </Alert>
  );
}

function TwoFactorCard() {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const { data: session } = useSession();
  const [enrolment, setEnrolment] = useState<TotpEnrolment | null>(null);
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const [disabling, setDisabling] = useState(false);
  const [submitted, setSubmitted] = useState(false);
  const [recoveryCodes, setRecoveryCodes] = useState<string[] | null>(null);
  const refreshSession = () => queryClient.invalidateQueries({ queryKey: sessionKey });

  const begin = useMutation({
    mutationFn: () => api<TotpEnrolment>('POST', '/api/v1/auth/two-factor'),
    onSuccess: setEnrolment,
  });
  const confirm = useMutation({
    mutationFn: () =>
      api<{ recoveryCodes: string[] }>('POST', '/api/v1/auth/two-factor/confirm', { body: { code } }),
    onSuccess: (result) => {
      setEnrolment(null);
      setCode('');
      setSubmitted(false);
      setRecoveryCodes(result.recoveryCodes);
      void refreshSession();
    },
  });
  const disable = useMutation({
    mutationFn: () => api<null>('POST', '/api/v1/auth/two-factor/disable', { body: { password } }),
    onSuccess: () => {
      setDisabling(false);
      setPassword('');
      void refreshSession();
    },
  });
  const regenerate = useMutation({
    mutationFn: () => api<{ recoveryCodes: string[] }>('POST', '/api/v1/auth/two-factor/recovery-codes'),
    onSuccess: (result) => setRecoveryCodes(result.recoveryCodes),
  });

  const enabled = session?.user.twoFactorEnabled ?? false;
  const required = session?.organization?.requireTwoFactor ?? false;
  const codeValid = totpCodeSchema.safeParse(code).success;

  return (
    <Card>
      <CardTitle component="h2">
        {t('provider.security.twoFactor')}{' '}
        <Label isCompact color={enabled ? 'green' : 'grey'}>
          {t(enabled ? 'provider.members.twoFactorOn' : 'provider.members.twoFactorOff')}
        </Label>
      </CardTitle>
      <CardBody>
        <Stack hasGutter>
          <Content component="p">{t(enabled ? 'provider.security.on' : 'provider.security.off')}</Content>
          {recoveryCodes && <RecoveryCodes codes={recoveryCodes} onDone={() => setRecoveryCodes(null)} />}
          {!enabled && !enrolment && (
            <div>
              <Button onClick={() => begin.mutate()} isLoading={begin.isPending} isDisabled={begin.isPending}>
                {t('provider.security.setUp')}
              </Button>
              <ProblemAlert error={begin.error} />
            </div>
          )}
          {enrolment && (
            <Form
              noValidate
              onSubmit={(event) => {
                event.preventDefault();
                setSubmitted(true);
                if (codeValid) confirm.mutate();
              }}
            >
              <Content component="p">{t('provider.security.scan')}</Content>
              <div
                role="img"
                aria-label={t('provider.security.qrCode')}
                style={{ width: 200, height: 200 }}
                // The SVG comes from our own server (qrcode's output for the otpauth URL), not from user input.
                dangerouslySetInnerHTML={{ __html: enrolment.qrCodeSvg }}
              />
              <ClipboardCopy
                isReadOnly
                hoverTip={t('common.copy')}
                clickTip={t('common.copied')}
                textAriaLabel={t('provider.security.key')}
                toggleAriaLabel={t('provider.security.key')}
                data-testid="totp-secret"
              >
                {enrolment.secret}
              </ClipboardCopy>
              {confirm.error && <ProblemAlert error={confirm.error} />}
              <TextField
                id="totp-code"
                label={t('provider.security.code')}
                autoComplete="one-time-code"
                value={code}
                onChange={setCode}
                error={submitted && !codeValid ? t('provider.security.codeInvalid') : undefined}
              />
              <ActionGroup>
                <Button type="submit" isLoading={confirm.isPending} isDisabled={confirm.isPending}>
                  {t('provider.security.confirm')}
                </Button>
                <Button variant="link" onClick={() => setEnrolment(null)}>
                  {t('common.cancel')}
                </Button>
              </ActionGroup>
            </Form>
          )}
          {enabled && required && (
            <Alert variant="info" isInline isPlain title={t('provider.security.requiredByOrganization')} />
          )}
          {enabled && (
            <div style={{ display: 'flex', gap: 8 }}>
              <Button
                variant="secondary"
                onClick={() => regenerate.mutate()}
                isLoading={regenerate.isPending}
                isDisabled={regenerate.isPending}
              >
                {t('provider.security.regenerate')}
              </Button>
              {!required && !disabling && (
                <Button variant="danger" onClick={() => setDisabling(true)}>
                  {t('provider.security.disable')}
                </Button>
              )}
            </div>
          )}
          {disabling && (
            <Form
              noValidate
              onSubmit={(event) => {
                event.preventDefault();
                if (password) disable.mutate();
              }}
            >
              {disable.error && <ProblemAlert error={disable.error} />}
              <TextField
                id="disable-password"
                label={t('provider.security.disablePassword')}
                type="password"
                autoComplete="current-password"
                value={password}
                onChange={setPassword}
              />
              <ActionGroup>
                <Button type="submit" variant="danger" isLoading={disable.isPending}>
                  {t('provider.security.disableConfirm')}
                </Button>
                <Button variant="link" onClick={() => setDisabling(false)}>
                  {t('common.cancel')}
                </Button>
              </ActionGroup>
            </Form>
          )}
        </Stack>
      </CardBody>
    </Card>
  );
}

function SessionsCard() {
  const { t } = useTranslation();
  const format = useFormat();
  const queryClient = useQueryClient();
  const sessions = useSessions();
  const revoke = useMutation({
    mutationFn: (id: string) => api<null>('DELETE', `/api/v1/auth/sessions/${encodeURIComponent(id)}`),
    onSettled: () => queryClient.invalidateQueries({ queryKey: providerKeys.sessions }),
  });
  return (
    <Card>
      <CardTitle component="h2">{t('provider.security.sessions')}</CardTitle>
      <CardBody>
        <Content component="p">{t('provider.security.sessionsIntro')}</Content>
        <ProblemAlert error={revoke.error} />
        <QueryContent query={sessions} isEmpty={() => false} empty={null}>
          {(data) => (
            <SimpleTable
              label={t('provider.security.sessions')}
              columns={[
                t('provider.security.browser'),
                t('provider.security.address'),
                t('provider.security.started'),
                t('provider.security.lastSeen'),
                '',
              ]}
              rows={data.items.map((item) => ({
                key: item.id,
                cells: [
                  <span key="ua">
                    {item.userAgent ?? t('provider.security.unknownBrowser')}{' '}
                    {item.current && (
                      <Label isCompact color="blue">
                        {t('provider.security.current')}
                      </Label>
                    )}
                  </span>,
                  item.sourceAddress ?? '–',
                  format.dateTime(item.createdAt),
                  format.dateTime(item.lastSeenAt),
                  item.current ? null : (
                    <Button
                      key="revoke"
                      variant="secondary"
                      size="sm"
                      onClick={() => revoke.mutate(item.id)}
                      isDisabled={revoke.isPending}
                      aria-label={`${t('provider.security.revoke')}: ${item.userAgent ?? item.id}`}
                    >
                      {t('provider.security.revoke')}
                    </Button>
                  ),
                ],
              }))}
            />
          )}
        </QueryContent>
      </CardBody>
    </Card>
  );
}

export default function AccountSecurity() {
  const { t } = useTranslation();
  const { data: session } = useSession();
  return (
    <>
      <PageHeader title={t('provider.security.title')} description={t('provider.security.intro')} />
      <PageSection>
        <Stack hasGutter>
          {session?.mustEnrolTwoFactor && (
            <Alert variant="warning" isInline title={t('provider.security.mustEnrol')} />
          )}
          <TwoFactorCard />
          <SessionsCard />
        </Stack>
      </PageSection>
    </>
  );
}
