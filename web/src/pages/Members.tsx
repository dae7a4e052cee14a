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
  TextInput,
} from '@patternfly/react-core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { createInvitationRequestSchema } from '../../../src/accounts/account-schemas';
import { roleSchema } from '../../../src/accounts/roles';
import { api } from '../api/client';
import { keys, useMembers } from '../api/queries';
import { useCan } from '../api/session';
import type { Invitation, Role } from '../api/types';
import {
  Empty,
  FieldError,
  Hint,
  PageHeader,
  ProblemAlert,
  QueryContent,
  SimpleTable,
} from '../components/ui';
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
          <QueryContent
            query={members}
            isEmpty={(data) => data.items.length === 0}
            empty={<Empty title={t('members.none')} />}
          >
            {(data) => (
              <SimpleTable
                label={t('members.title')}
                columns={[t('members.email'), t('members.role')]}
                rows={data.items.map((m) => ({
                  key: m.id,
                  cells: [m.email, t(`roles.${m.role}.name`, { defaultValue: m.role })],
                }))}
              />
            )}
          </QueryContent>
        </Stack>
      </PageSection>
    </>
  );
}
