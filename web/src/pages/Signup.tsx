import { ActionGroup, Button, Form } from '@patternfly/react-core';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, Navigate, useNavigate } from 'react-router';
import { PASSWORD_MIN_LENGTH, signupRequestSchema } from '../../../src/accounts/account-schemas';
import { api } from '../api/client';
import { useSession, useStartSession } from '../api/session';
import type { Session } from '../api/types';
import { PublicLayout } from '../components/PublicLayout';
import { ProblemAlert, TextField } from '../components/ui';
import { apiFieldErrors, hasUnplacedErrors, zodErrors } from '../validation';

const fields = ['email', 'password', 'organizationName'] as const;

export default function Signup() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const startSession = useStartSession();
  const { data: session } = useSession();
  const [form, setForm] = useState({ email: '', password: '', organizationName: '' });
  const [submitted, setSubmitted] = useState(false);
  const signup = useMutation({
    mutationFn: (body: typeof form) => api<Session>('POST', '/api/v1/auth/signup', { body }),
    onSuccess: (result) => {
      startSession(result);
      void navigate('/');
    },
  });

  if (session && !signup.isPending && !signup.isSuccess) return <Navigate to="/" replace />;

  const parsed = signupRequestSchema.safeParse(form);
  const clientErrors = submitted && !parsed.success ? zodErrors(parsed.error) : {};
  const serverErrors = apiFieldErrors(signup.error);
  const errorOf = (field: (typeof fields)[number]) =>
    clientErrors[field] ? t(`signup.errors.${field}`, { min: PASSWORD_MIN_LENGTH }) : serverErrors[field];

  return (
    <PublicLayout
      title={t('signup.title')}
      subtitle={t('signup.subtitle')}
      footer={
        <>
          {t('signup.haveAccount')} <Link to="/login">{t('signup.toLogin')}</Link>
        </>
      }
    >
      <Form
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          setSubmitted(true);
          if (parsed.success) signup.mutate(form);
        }}
      >
        {hasUnplacedErrors(signup.error, fields) && <ProblemAlert error={signup.error} />}
        <TextField
          id="organizationName"
          label={t('signup.organizationName')}
          autoComplete="organization"
          value={form.organizationName}
          onChange={(organizationName) => setForm({ ...form, organizationName })}
          error={errorOf('organizationName')}
        />
        <TextField
          id="email"
          label={t('signup.email')}
          type="email"
          autoComplete="email"
          value={form.email}
          onChange={(email) => setForm({ ...form, email })}
          error={errorOf('email')}
        />
        <TextField
          id="password"
          label={t('signup.password')}
          type="password"
          autoComplete="new-password"
          value={form.password}
          onChange={(password) => setForm({ ...form, password })}
          error={errorOf('password')}
          hint={t('signup.passwordHint', { min: PASSWORD_MIN_LENGTH })}
        />
        <ActionGroup>
          <Button
            type="submit"
            variant="primary"
            isBlock
            isLoading={signup.isPending}
            isDisabled={signup.isPending}
          >
            {t('signup.submit')}
          </Button>
        </ActionGroup>
      </Form>
    </PublicLayout>
  );
}
