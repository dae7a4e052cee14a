import { ActionGroup, Alert, Button, Content, Form } from '@patternfly/react-core';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { passwordResetRequestSchema } from '../../../src/accounts/account-schemas';
import { api } from '../api/client';
import { PublicLayout } from '../components/PublicLayout';
import { ProblemAlert, TextField } from '../components/ui';

/** Asks for a reset link; the answer is the same whether or not the address has an account. */
export default function ForgotPassword() {
  const { t } = useTranslation();
  const [email, setEmail] = useState('');
  const [submitted, setSubmitted] = useState(false);
  const request = useMutation({
    mutationFn: () => api<null>('POST', '/api/v1/auth/password-reset', { body: { email } }),
  });
  const valid = passwordResetRequestSchema.safeParse({ email }).success;

  return (
    <PublicLayout
      title={t('provider.forgot.title')}
      footer={<Link to="/login">{t('provider.forgot.backToLogin')}</Link>}
    >
      {request.isSuccess ? (
        <Alert variant="success" isInline title={t('provider.forgot.sent')} />
      ) : (
        <Form
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            setSubmitted(true);
            if (valid) request.mutate();
          }}
        >
          <Content component="p">{t('provider.forgot.intro')}</Content>
          {request.error && <ProblemAlert error={request.error} />}
          <TextField
            id="email"
            label={t('provider.forgot.email')}
            type="email"
            autoComplete="username"
            value={email}
            onChange={setEmail}
            error={submitted && !valid ? t('provider.forgot.emailInvalid') : undefined}
          />
          <ActionGroup>
            <Button type="submit" isBlock isLoading={request.isPending} isDisabled={request.isPending}>
              {t('provider.forgot.submit')}
            </Button>
          </ActionGroup>
        </Form>
      )}
    </PublicLayout>
  );
}
