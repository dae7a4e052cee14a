import {
  ActionGroup,
  Button,
  Card,
  CardBody,
  CardTitle,
  Form,
  FormGroup,
  PageSection,
  Stack,
  TextArea,
  TextInput,
} from '@patternfly/react-core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useLocation, useSearchParams } from 'react-router';
import { api } from '../api/client';
import { keys, useTickets } from '../api/queries';
import { useCan } from '../api/session';
import type { Ticket } from '../api/types';
import { Empty, FieldError, PageHeader, ProblemAlert, QueryContent, SimpleTable } from '../components/ui';
import { useFormat } from '../format';
import { apiFieldErrors, hasUnplacedErrors } from '../validation';

/** What the order status page hands over when it opens a ticket: the failure reason as it showed it. */
export type TicketPrefill = { failureReason: string | null };

export default function Tickets() {
  const { t } = useTranslation();
  const format = useFormat();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const tickets = useTickets();
  const mayCreate = useCan('tickets:create');
  const orderId = params.get('orderId') ?? '';
  const instanceId = params.get('instanceId') ?? '';
  const prefilled = Boolean(orderId || instanceId);
  const failureReason = (useLocation().state as TicketPrefill | null)?.failureReason;
  const [form, setForm] = useState<{ subject: string; message: string } | null>(() =>
    prefilled
      ? {
          subject: orderId ? t('tickets.prefillSubject', { id: orderId.slice(0, 8) }) : '',
          message: !orderId
            ? ''
            : failureReason
              ? t('tickets.prefillMessageWithReason', { id: orderId, reason: failureReason })
              : t('tickets.prefillMessage', { id: orderId }),
        }
      : null,
  );
  const [submitted, setSubmitted] = useState(false);
  const create = useMutation({
    mutationFn: () =>
      api<Ticket>('POST', '/api/v1/tickets', {
        body: {
          subject: form!.subject.trim(),
          message: form!.message.trim(),
          ...(orderId ? { orderId } : {}),
          ...(instanceId ? { instanceId } : {}),
        },
      }),
    onSuccess: () => {
      setForm(null);
      setSubmitted(false);
      setParams({});
      void queryClient.invalidateQueries({ queryKey: keys.tickets });
    },
  });
  const serverErrors = apiFieldErrors(create.error);
  const subjectError =
    (submitted && form && !form.subject.trim() ? t('tickets.required') : undefined) ?? serverErrors.subject;
  const messageError =
    (submitted && form && !form.message.trim() ? t('tickets.required') : undefined) ?? serverErrors.message;

  return (
    <>
      <PageHeader
        title={t('tickets.title')}
        description={t('tickets.intro')}
        actions={
          mayCreate &&
          !form && (
            <Button onClick={() => setForm({ subject: '', message: '' })}>{t('tickets.create')}</Button>
          )
        }
      />
      <PageSection>
        <Stack hasGutter>
          {form && (
            <Card>
              <CardTitle component="h2">{t('tickets.create')}</CardTitle>
              <CardBody>
                <Form
                  noValidate
                  onSubmit={(event) => {
                    event.preventDefault();
                    setSubmitted(true);
                    if (form.subject.trim() && form.message.trim()) create.mutate();
                  }}
                >
                  {hasUnplacedErrors(create.error, ['subject', 'message']) && (
                    <ProblemAlert error={create.error} />
                  )}
                  {orderId && (
                    <p>
                      {t('tickets.linkedOrder')} <Link to={`/orders/${orderId}`}>{orderId}</Link>
                    </p>
                  )}
                  {instanceId && (
                    <p>
                      {t('tickets.linkedInstance')} <Link to={`/instances/${instanceId}`}>{instanceId}</Link>
                    </p>
                  )}
                  <FormGroup label={t('tickets.subject')} isRequired fieldId="subject">
                    <TextInput
                      id="subject"
                      isRequired
                      value={form.subject}
                      maxLength={200}
                      validated={subjectError ? 'error' : 'default'}
                      onChange={(_e, subject) => setForm({ ...form, subject })}
                    />
                    <FieldError message={subjectError} />
                  </FormGroup>
                  <FormGroup label={t('tickets.message')} isRequired fieldId="message">
                    <TextArea
                      id="message"
                      isRequired
                      rows={6}
                      value={form.message}
                      validated={messageError ? 'error' : 'default'}
                      onChange={(_e, message) => setForm({ ...form, message })}
                    />
                    <FieldError message={messageError} />
                  </FormGroup>
                  <ActionGroup>
                    <Button type="submit" isLoading={create.isPending} isDisabled={create.isPending}>
                      {t('tickets.send')}
                    </Button>
                    <Button
                      variant="link"
                      onClick={() => {
                        setForm(null);
                        setParams({});
                      }}
                    >
                      {t('common.cancel')}
                    </Button>
                  </ActionGroup>
                </Form>
              </CardBody>
            </Card>
          )}
          <QueryContent
            query={tickets}
            isEmpty={(data) => data.items.length === 0}
            empty={<Empty title={t('tickets.none')} body={t('tickets.noneBody')} />}
          >
            {(data) => (
              <SimpleTable
                label={t('tickets.title')}
                columns={[
                  t('tickets.subject'),
                  t('tickets.status'),
                  t('tickets.linked'),
                  t('orders.created'),
                ]}
                rows={data.items.map((ticket) => ({
                  key: ticket.id,
                  cells: [
                    <Link key="s" to={`/tickets/${ticket.id}`}>
                      {ticket.subject}
                    </Link>,
                    ticket.status
                      ? t(`provider.ticket.status.${ticket.status as 'open' | 'waiting' | 'closed'}`)
                      : '–',
                    <span key="l">
                      {ticket.orderId && <Link to={`/orders/${ticket.orderId}`}>{t('tickets.order')}</Link>}{' '}
                      {ticket.instanceId && (
                        <Link to={`/instances/${ticket.instanceId}`}>{t('tickets.instance')}</Link>
                      )}
                    </span>,
                    format.dateTime(ticket.createdAt),
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
