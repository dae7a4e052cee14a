import { ActionGroup, Alert, Button, Form } from '@patternfly/react-core';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import {
  linkTokenSchema,
  newPasswordSchema,
  PASSWORD_MIN_LENGTH,
} from '../../../src/accounts/account-schemas';
import { api } from '../api/client';
import { PublicLayout } from '../components/PublicLayout';
import { ProblemAlert, TextField } from '../components/ui';
import { apiFieldErrors } from '../validation';

/**
 * The reset link's page: /reset-password#token=… The token is in the fragment, which the browser never sends to a
 * server (so no request log holds it); it leaves the browser only in the body of the confirming POST.
 */
export default function ResetPassword() {
  const { t } = useTranslation();
  const [token] = useState(() => new URLSearchParams(window.location.hash.slice(1)).get('token') ?? '');
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [submitted, setSubmitted] = useState(false);
  const confirm = useMutation({
    mutationFn: () => api<null>('POST', '/api/v1/auth/password-reset/confirm', { body: { token, password } }),
    onSuccess: () => window.history.replaceState(null, '', window.location.pathname),
  });
  const tokenValid = linkTokenSchema.safeParse(token).success;
  const passwordValid = newPasswordSchema.safeParse(password).success;
  const passwordError =
    (submitted && !passwordValid ? t('signup.errors.password', { min: PASSWORD_MIN_LENGTH }) : undefined) ??
    apiFieldErrors(confirm.error).password;
  const repeatError = submitted && repeat !== password ? t('provider.reset.mismatch') : undefined;

  return (
    <PublicLayout
      title={t('provider.reset.title')}
      footer={<Link to="/forgot-password">{t('provider.reset.again')}</Link>}
    >
      {!tokenValid ? (
        <Alert variant="warning" isInline title={t('provider.reset.missingToken')} />
      ) : confirm.isSuccess ? (
        <Alert
          variant="success"
          isInline
          title={t('provider.reset.done')}
          actionLinks={<Link to="/login">{t('provider.reset.toLogin')}</Link>}
        />
      ) : (
        <Form
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            setSubmitted(true);
            if (passwordValid && repeat === password) confirm.mutate();
          }}
        >
          {confirm.error && !apiFieldErrors(confirm.error).password && <ProblemAlert error={confirm.error} />}
          <TextField
            id="new-password"
            label={t('provider.reset.password')}
            type="password"
            autoComplete="new-password"
            value={password}
            onChange={setPassword}
            error={passwordError}
            hint={t('signup.passwordHint', { min: PASSWORD_MIN_LENGTH })}
          />
          <TextField
            id="repeat-password"
            label={t('provider.reset.repeat')}
            type="password"
            autoComplete="new-password"
            value={repeat}
            onChange={setRepeat}
            error={repeatError}
          />
          <ActionGroup>
            <Button type="submit" isBlock isLoading={confirm.isPending} isDisabled={confirm.isPending}>
              {t('provider.reset.submit')}
            </Button>
          </ActionGroup>
        </Form>
      )}
    </PublicLayout>
  );
}
