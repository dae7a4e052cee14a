import { ActionGroup, Alert, Button, Content, Form } from '@patternfly/react-core';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router';
import {
  loginRequestSchema,
  recoveryCodeSchema,
  totpCodeSchema,
} from '../../../src/accounts/account-schemas';
import { api, ApiError } from '../api/client';
import { useSession, useStartSession } from '../api/session';
import type { Session } from '../api/types';
import { PublicLayout } from '../components/PublicLayout';
import { ProblemAlert, TextField } from '../components/ui';
import { apiFieldErrors, hasUnplacedErrors, zodErrors } from '../validation';

/** Only paths inside the portal are followed after login. */
function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

export default function Login() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const startSession = useStartSession();
  const { data: session } = useSession();
  const [form, setForm] = useState({ email: '', password: '' });
  const [submitted, setSubmitted] = useState(false);
  /** After the password: the second factor, a code from the app or a recovery code. */
  const [secondFactor, setSecondFactor] = useState<{ kind: 'app' | 'recovery'; value: string } | null>(null);
  const next = safeNext(params.get('next'));
  const login = useMutation({
    mutationFn: (body: typeof form & { totpCode?: string; recoveryCode?: string }) =>
      api<Session>('POST', '/api/v1/auth/login', { body }),
    onSuccess: (result) => {
      startSession(result);
      void navigate(result.organization === null ? '/ops' : next);
    },
    onError: (error) => {
      // The password was right: ask for the second factor (the refusal itself is no error to show).
      if (error instanceof ApiError && error.problem.twoFactorRequired && !secondFactor) {
        setSecondFactor({ kind: 'app', value: '' });
        setSubmitted(false);
        login.reset();
      }
    },
  });

  if (session && !login.isPending && !login.isSuccess) return <Navigate to={next} replace />;

  if (secondFactor) {
    const schema = secondFactor.kind === 'app' ? totpCodeSchema : recoveryCodeSchema;
    const valid = schema.safeParse(secondFactor.value).success;
    const codeError =
      submitted && !valid
        ? t(secondFactor.kind === 'app' ? 'provider.login.codeInvalid' : 'provider.login.recoveryInvalid')
        : undefined;
    return (
      <PublicLayout title={t('provider.login.codeTitle')}>
        <Form
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            setSubmitted(true);
            if (!valid) return;
            login.mutate({
              ...form,
              ...(secondFactor.kind === 'app'
                ? { totpCode: secondFactor.value }
                : { recoveryCode: secondFactor.value }),
            });
          }}
        >
          <Content component="p">{t('provider.login.codeIntro')}</Content>
          {login.error instanceof ApiError && login.error.problem.twoFactorRequired ? (
            <Alert variant="danger" isInline title={t('provider.login.codeWrong')} role="alert" />
          ) : (
            login.error && <ProblemAlert error={login.error} />
          )}
          <TextField
            id={secondFactor.kind === 'app' ? 'totp-code' : 'recovery-code'}
            label={t(secondFactor.kind === 'app' ? 'provider.login.code' : 'provider.login.recoveryCode')}
            autoComplete="one-time-code"
            value={secondFactor.value}
            onChange={(value) => setSecondFactor({ ...secondFactor, value })}
            error={codeError}
          />
          <ActionGroup>
            <Button type="submit" isBlock isLoading={login.isPending} isDisabled={login.isPending}>
              {t('provider.login.verify')}
            </Button>
            <Button
              variant="link"
              isInline
              onClick={() => {
                setSubmitted(false);
                login.reset();
                setSecondFactor({ kind: secondFactor.kind === 'app' ? 'recovery' : 'app', value: '' });
              }}
            >
              {t(secondFactor.kind === 'app' ? 'provider.login.useRecovery' : 'provider.login.useApp')}
            </Button>
          </ActionGroup>
        </Form>
      </PublicLayout>
    );
  }

  const parsed = loginRequestSchema.safeParse(form);
  const clientErrors = submitted && !parsed.success ? zodErrors(parsed.error) : {};
  const serverErrors = apiFieldErrors(login.error);
  const errorOf = (field: 'email' | 'password') =>
    clientErrors[field] ? t(`login.errors.${field}`) : serverErrors[field];

  return (
    <PublicLayout
      title={t('login.title')}
      footer={
        <>
          {t('login.noAccount')} <Link to="/signup">{t('login.toSignup')}</Link>
        </>
      }
    >
      <Form
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          setSubmitted(true);
          if (parsed.success) login.mutate(form);
        }}
      >
        {hasUnplacedErrors(login.error, ['email', 'password']) && <ProblemAlert error={login.error} />}
        <TextField
          id="email"
          label={t('login.email')}
          type="email"
          autoComplete="username"
          value={form.email}
          onChange={(email) => setForm({ ...form, email })}
          error={errorOf('email')}
        />
        <TextField
          id="password"
          label={t('login.password')}
          type="password"
          autoComplete="current-password"
          value={form.password}
          onChange={(password) => setForm({ ...form, password })}
          error={errorOf('password')}
        />
        <ActionGroup>
          <Button
            type="submit"
            variant="primary"
            isBlock
            isLoading={login.isPending}
            isDisabled={login.isPending}
          >
            {t('login.submit')}
          </Button>
          <Link to="/forgot-password">{t('provider.login.forgot')}</Link>
        </ActionGroup>
      </Form>
    </PublicLayout>
  );
}
