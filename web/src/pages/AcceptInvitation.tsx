import { ActionGroup, Button, Form, FormGroup, TextInput } from '@patternfly/react-core';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate, useParams } from 'react-router';
import { acceptInvitationRequestSchema, PASSWORD_MIN_LENGTH } from '../../../src/accounts/account-schemas';
import { api } from '../api/client';
import { useStartSession } from '../api/session';
import type { Session } from '../api/types';
import { PublicLayout } from '../components/PublicLayout';
import { FieldError, Hint, ProblemAlert } from '../components/ui';
import { apiFieldErrors, hasUnplacedErrors } from '../validation';

export default function AcceptInvitation() {
  const { t } = useTranslation();
  const { token = '' } = useParams();
  const navigate = useNavigate();
  const startSession = useStartSession();
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [submitted, setSubmitted] = useState(false);
  const accept = useMutation({
    mutationFn: () =>
      api<Session>('POST', `/api/v1/invitations/${encodeURIComponent(token)}/accept`, { body: { password } }),
    onSuccess: (result) => {
      if (result?.user) startSession(result);
      void navigate(result?.user ? '/' : '/login');
    },
  });
  const valid = acceptInvitationRequestSchema.safeParse({ password }).success;
  const passwordError =
    submitted && !valid ? t('signup.errors.password', { min: PASSWORD_MIN_LENGTH }) : undefined;
  const repeatError = submitted && repeat !== password ? t('invitation.mismatch') : undefined;
  const serverError = apiFieldErrors(accept.error).password;

  return (
    <PublicLayout title={t('invitation.title')} subtitle={t('invitation.subtitle')}>
      <Form
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          setSubmitted(true);
          if (valid && repeat === password) accept.mutate();
        }}
      >
        {hasUnplacedErrors(accept.error, ['password']) && <ProblemAlert error={accept.error} />}
        <FormGroup label={t('invitation.password')} isRequired fieldId="password">
          <TextInput
            id="password"
            type="password"
            autoComplete="new-password"
            isRequired
            value={password}
            validated={passwordError || serverError ? 'error' : 'default'}
            onChange={(_e, value) => setPassword(value)}
          />
          {passwordError || serverError ? (
            <FieldError message={passwordError ?? serverError} />
          ) : (
            <Hint>{t('signup.passwordHint', { min: PASSWORD_MIN_LENGTH })}</Hint>
          )}
        </FormGroup>
        <FormGroup label={t('invitation.repeat')} isRequired fieldId="repeat">
          <TextInput
            id="repeat"
            type="password"
            autoComplete="new-password"
            isRequired
            value={repeat}
            validated={repeatError ? 'error' : 'default'}
            onChange={(_e, value) => setRepeat(value)}
          />
          <FieldError message={repeatError} />
        </FormGroup>
        <ActionGroup>
          <Button type="submit" isBlock isLoading={accept.isPending} isDisabled={accept.isPending}>
            {t('invitation.submit')}
          </Button>
        </ActionGroup>
      </Form>
    </PublicLayout>
  );
}
