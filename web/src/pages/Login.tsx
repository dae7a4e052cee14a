import { ActionGroup, Button, Form } from '@patternfly/react-core';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router';
import { loginRequestSchema } from '../../../src/accounts/account-schemas';
import { api } from '../api/client';
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
  const next = safeNext(params.get('next'));
  const login = useMutation({
    mutationFn: (body: typeof form) => api<Session>('POST', '/api/v1/auth/login', { body }),
    onSuccess: (result) => {
      startSession(result);
      void navigate(next);
    },
  });

  if (session && !login.isPending && !login.isSuccess) return <Navigate to={next} replace />;

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
        </ActionGroup>
      </Form>
    </PublicLayout>
  );
}
