import {
  ActionGroup,
  Alert,
  Button,
  Card,
  CardBody,
  CardTitle,
  ClipboardCopy,
  Form,
  FormGroup,
  FormSelect,
  FormSelectOption,
  PageSection,
  Stack,
  Switch,
  TextInput,
} from '@patternfly/react-core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { createInvitationRequestSchema } from '../../../src/accounts/account-schemas';
import { roleSchema } from '../../../src/accounts/roles';
import { api } from '../api/client';
import { keys, useMembers } from '../api/queries';
import { sessionKey, useCan, useSession } from '../api/session';
import type { Invitation, Member, Role } from '../api/types';
import {
  Empty,
  FieldError,
  Hint,
  PageHeader,
  ProblemAlert,
  QueryContent,
  SimpleTable,
} from '../components/ui';
import { ConfirmButton } from '../components/ConfirmButton';
import { apiFieldErrors, hasUnplacedErrors, zodErrors } from '../validation';

export default function Members() {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const members = useMembers();
  const isAdmin = useCan('members:manage');
  const [form, setForm] = useState<{ email: string; role: Role }>({ email: '', role: 'technician' });
  const [submitted, setSubmitted] = useState(false);
  const invite = useMutation({
    mutationFn: () => api<Invitation>('POST', '/api/v1/invitations', { body: form }),
    onSuccess: () => {
      setSubmitted(false);
      void queryClient.invalidateQueries({ queryKey: keys.members });
    },
  });
  const { data: session } = useSession();
  const refreshMembers = () => queryClient.invalidateQueries({ queryKey: keys.members });
  const changeRole = useMutation({
    mutationFn: ({ id, role }: { id: string; role: Role }) =>
      api<Member>('PATCH', `/api/v1/members/${encodeURIComponent(id)}`, { body: { role } }),
    onSettled: refreshMembers,
  });
  const remove = useMutation({
    mutationFn: (id: string) => api<null>('DELETE', `/api/v1/members/${encodeURIComponent(id)}`),
    onSettled: refreshMembers,
  });
  const requireTwoFactor = useMutation({
    mutationFn: (required: boolean) =>
      api<unknown>('PATCH', '/api/v1/organization', { body: { requireTwoFactor: required } }),
    onSettled: () => queryClient.invalidateQueries({ queryKey: sessionKey }),
  });
  const removeLabel = (id: string) =>
    id === session?.user.id ? t('provider.members.leave') : t('provider.members.remove');
  const parsed = createInvitationRequestSchema.safeParse(form);
  const emailError =
    (submitted && !parsed.success && zodErrors(parsed.error).email ? t('members.emailInvalid') : undefined) ??
    apiFieldErrors(invite.error).email;

  return (
    <>
      <PageHeader title={t('members.title')} description={t('members.intro')} />
      <PageSection>
        <Stack hasGutter>
          {isAdmin ? (
            <Card>
              <CardTitle component="h2">{t('members.invite')}</CardTitle>
              <CardBody>
                <Form
                  noValidate
                  onSubmit={(event) => {
                    event.preventDefault();
                    setSubmitted(true);
                    if (parsed.success) invite.mutate();
                  }}
                >
                  {hasUnplacedErrors(invite.error, ['email', 'role']) && (
                    <ProblemAlert error={invite.error} />
                  )}
                  <FormGroup label={t('members.email')} isRequired fieldId="invite-email">
                    <TextInput
                      id="invite-email"
                      type="email"
                      isRequired
                      value={form.email}
                      validated={emailError ? 'error' : 'default'}
                      onChange={(_e, email) => setForm({ ...form, email })}
                    />
                    <FieldError message={emailError} />
                  </FormGroup>
                  <FormGroup label={t('members.role')} isRequired fieldId="invite-role">
                    <FormSelect
                      id="invite-role"
                      value={form.role}
                      onChange={(_e, role) => setForm({ ...form, role: role as Role })}
                    >
                      {roleSchema.options.map((role) => (
                        <FormSelectOption key={role} value={role} label={t(`roles.${role}.name`)} />
                      ))}
                    </FormSelect>
                    <Hint>{t(`roles.${form.role}.description`)}</Hint>
                  </FormGroup>
                  <ActionGroup>
                    <Button type="submit" isLoading={invite.isPending} isDisabled={invite.isPending}>
                      {t('members.sendInvite')}
                    </Button>
                  </ActionGroup>
                </Form>
                {invite.data && (
                  <Alert
                    variant="success"
                    isInline
                    title={t('members.invited', { email: invite.data.email })}
                    style={{ marginTop: 16 }}
                  >
                    <p>{t('members.linkHint')}</p>
                    <ClipboardCopy
                      isReadOnly
                      hoverTip={t('common.copy')}
                      clickTip={t('common.copied')}
                      textAriaLabel={t('members.link')}
                      toggleAriaLabel={t('members.link')}
                      data-testid="invitation-url"
                    >
                      {invite.data.invitationUrl}
                    </ClipboardCopy>
                  </Alert>
                )}
              </CardBody>
            </Card>
          ) : (
            <Alert variant="info" isInline isPlain title={t('members.adminsOnly')} />
          )}
          {isAdmin && (
            <Card>
              <CardBody>
                <Switch
                  id="require-two-factor"
                  label={t('provider.members.requireTwoFactor')}
                  isChecked={session?.organization?.requireTwoFactor ?? false}
                  isDisabled={requireTwoFactor.isPending}
                  onChange={(_e, checked) => requireTwoFactor.mutate(checked)}
                />
                <Hint>{t('provider.members.requireHint')}</Hint>
                <ProblemAlert error={requireTwoFactor.error} />
              </CardBody>
            </Card>
          )}
          <ProblemAlert error={changeRole.error ?? remove.error} />
          <QueryContent
            query={members}
            isEmpty={(data) => data.items.length === 0}
            empty={<Empty title={t('members.none')} />}
          >
            {(data) => (
              <SimpleTable
                label={t('members.title')}
                columns={[
                  t('members.email'),
                  t('members.role'),
                  t('provider.members.twoFactor'),
                  ...(isAdmin ? [t('provider.members.actions')] : []),
                ]}
                rows={data.items.map((m) => ({
                  key: m.id,
                  cells: [
                    m.email,
                    isAdmin ? (
                      <FormSelect
                        key="role"
                        id={`role-${m.id}`}
                        aria-label={t('provider.members.changeRole', { email: m.email })}
                        value={m.role}
                        isDisabled={changeRole.isPending}
                        onChange={(_e, role) => changeRole.mutate({ id: m.id, role: role as Role })}
                      >
                        {roleSchema.options.map((role) => (
                          <FormSelectOption key={role} value={role} label={t(`roles.${role}.name`)} />
                        ))}
                      </FormSelect>
                    ) : (
                      t(`roles.${m.role}.name`, { defaultValue: m.role })
                    ),
                    t(m.twoFactorEnabled ? 'provider.members.twoFactorOn' : 'provider.members.twoFactorOff'),
                    ...(isAdmin
                      ? [
                          <ConfirmButton
                            key="remove"
                            variant="secondary"
                            isDanger
                            size="sm"
                            isDisabled={remove.isPending}
                            aria-label={`${removeLabel(m.id)}: ${m.email}`}
                            label={removeLabel(m.id)}
                            question={t('provider.members.removeConfirm', { email: m.email })}
                            onConfirm={() => remove.mutate(m.id)}
                          />,
                        ]
                      : []),
                  ],
                }))}
              />
            )}
          </QueryContent>
        </Stack>
      </PageSection>
    </>
  );
}
