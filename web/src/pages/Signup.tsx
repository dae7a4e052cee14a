import { ActionGroup, Button, Form, FormGroup, TextInput } from '@patternfly/react-core';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, Navigate, useNavigate } from 'react-router';
import { PASSWORD_MIN_LENGTH, signupRequestSchema } from '../../../src/accounts/account-schemas';
import { api } from '../api/client';
import { useSession, useStartSession } from '../api/session';
import type { Session } from '../api/types';
import { PublicLayout } from '../components/PublicLayout';
import { FieldError, Hint, ProblemAlert } from '../components/ui';
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
        <FormGroup label={t('signup.organizationName')} isRequired fieldId="organizationName">
          <TextInput
            id="organizationName"
            name="organizationName"
            isRequired
            autoComplete="organization"
            value={form.organizationName}
            validated={errorOf('organizationName') ? 'error' : 'default'}
            onChange={(_e, organizationName) => setForm({ ...form, organizationName })}
          />
          <FieldError message={errorOf('organizationName')} />
        </FormGroup>
        <FormGroup label={t('signup.email')} isRequired fieldId="email">
          <TextInput
            id="email"
            name="email"
            type="email"
            isRequired
            autoComplete="email"
            value={form.email}
            validated={errorOf('email') ? 'error' : 'default'}
            onChange={(_e, email) => setForm({ ...form, email })}
          />
          <FieldError message={errorOf('email')} />
        </FormGroup>
        <FormGroup label={t('signup.password')} isRequired fieldId="password">
          <TextInput
            id="password"
            name="password"
            type="password"
            isRequired
            autoComplete="new-password"
            value={form.password}
            validated={errorOf('password') ? 'error' : 'default'}
            onChange={(_e, password) => setForm({ ...form, password })}
          />
          {errorOf('password') ? (
            <FieldError message={errorOf('password')} />
          ) : (
            <Hint>{t('signup.passwordHint', { min: PASSWORD_MIN_LENGTH })}</Hint>
          )}
        </FormGroup>
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
