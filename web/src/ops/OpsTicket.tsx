import {
  Breadcrumb,
  BreadcrumbItem,
  Button,
  FormGroup,
  FormSelect,
  FormSelectOption,
  Label,
  PageSection,
} from '@patternfly/react-core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import { ticketStatusSchema, type TicketStatus } from '../../../src/support/ticket-schemas';
import { api } from '../api/client';
import { providerKeys, useOpsTicket } from '../api/provider-queries';
import type { TicketDetail } from '../api/provider-types';
import { Conversation } from '../components/Conversation';
import { Loading, PageHeader, ProblemAlert } from '../components/ui';
import { useOperatorMayAct } from './useOperator';

const statusColor = { open: 'blue', waiting: 'orange', closed: 'grey' } as const;

/** A ticket of any organisation: the conversation, a reply (mailed to the customer), the status. */
export default function OpsTicket() {
  const { id = '' } = useParams();
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const mayAct = useOperatorMayAct();
  const ticket = useOpsTicket(id);
  const [afterReply, setAfterReply] = useState<TicketStatus>('waiting');
  const [sent, setSent] = useState(0);
  const update = (updated: TicketDetail) => {
    queryClient.setQueryData(
      providerKeys.opsTicket(id),
      (previous: { organizationId: string } | undefined) => ({
        ...updated,
        organizationId: previous?.organizationId,
      }),
    );
    void queryClient.invalidateQueries({ queryKey: ['ops', 'tickets'] });
  };
  const reply = useMutation({
    mutationFn: (message: string) =>
      api<TicketDetail>('POST', `/api/v1/ops/tickets/${encodeURIComponent(id)}/replies`, {
        body: { message, status: afterReply },
      }),
    onSuccess: (updated) => {
      update(updated);
      setSent((n) => n + 1);
    },
  });
  const setStatus = useMutation({
    mutationFn: (status: TicketStatus) =>
      api<TicketDetail>('PATCH', `/api/v1/ops/tickets/${encodeURIComponent(id)}`, { body: { status } }),
    onSuccess: update,
  });
  if (ticket.error) return <ProblemAlert error={ticket.error} />;
  if (!ticket.data) return <Loading />;
  const data = ticket.data;
  const statusOptions = ticketStatusSchema.options;

  return (
    <>
      <PageSection>
        <Breadcrumb>
          <BreadcrumbItem>
            <Link to="/ops/tickets">{t('provider.ops.tickets')}</Link>
          </BreadcrumbItem>
        </Breadcrumb>
      </PageSection>
      <PageHeader
        title={
          <>
            {t('provider.ticket.title', { number: data.number, subject: data.subject })}{' '}
            <Label isCompact color={statusColor[data.status]} data-testid="ticket-status">
              {t(`provider.ticket.statusOps.${data.status}`)}
            </Label>
          </>
        }
        description={
          <>
            {data.orderId && <Link to={`/ops/orders/${data.orderId}`}>{t('provider.ops.linkedOrder')}</Link>}{' '}
            {data.instanceId && (
              <Link to={`/ops/instances`} title={data.instanceId}>
                {t('provider.ops.linkedInstance')}
              </Link>
            )}
          </>
        }
        actions={
          mayAct && (
            <div style={{ display: 'flex', gap: 8, alignItems: 'flex-end' }}>
              {statusOptions
                .filter((status) => status !== data.status)
                .map((status) => (
                  <Button
                    key={status}
                    variant="secondary"
                    size="sm"
                    isDisabled={setStatus.isPending}
                    onClick={() => setStatus.mutate(status)}
                  >
                    {t('provider.ops.setStatus')}: {t(`provider.ticket.statusOps.${status}`)}
                  </Button>
                ))}
            </div>
          )
        }
      />
      <PageSection>
        <ProblemAlert error={setStatus.error} />
        <Conversation
          ticket={data}
          view="operator"
          mayReply={mayAct}
          onReply={(message) => reply.mutate(message)}
          replying={reply.isPending}
          replyError={reply.error}
          sentCount={sent}
          extraFields={
            <FormGroup label={t('provider.ops.replyStatus')} fieldId="reply-status">
              <FormSelect
                id="reply-status"
                value={afterReply}
                onChange={(_e, value) => setAfterReply(value as TicketStatus)}
              >
                {statusOptions.map((status) => (
                  <FormSelectOption
                    key={status}
                    value={status}
                    label={t(`provider.ticket.statusOps.${status}`)}
                  />
                ))}
              </FormSelect>
            </FormGroup>
          }
        />
      </PageSection>
    </>
  );
}
