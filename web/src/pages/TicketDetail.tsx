import { Breadcrumb, BreadcrumbItem, Label, PageSection } from '@patternfly/react-core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import { api } from '../api/client';
import { providerKeys, useTicket } from '../api/provider-queries';
import type { TicketDetail as Ticket } from '../api/provider-types';
import { keys } from '../api/queries';
import { useCan } from '../api/session';
import { Conversation } from '../components/Conversation';
import { Loading, PageHeader, ProblemAlert, RouterLink } from '../components/ui';

const statusColor = { open: 'blue', waiting: 'orange', closed: 'grey' } as const;

/** The customer's ticket with its conversation with the provider's support team. */
export default function TicketDetailPage() {
  const { id = '' } = useParams();
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const ticket = useTicket(id);
  const mayReply = useCan('tickets:create');
  const [sent, setSent] = useState(0);
  const reply = useMutation({
    mutationFn: (message: string) =>
      api<Ticket>('POST', `/api/v1/tickets/${encodeURIComponent(id)}/replies`, { body: { message } }),
    onSuccess: (updated) => {
      queryClient.setQueryData(providerKeys.ticket(id), updated);
      void queryClient.invalidateQueries({ queryKey: keys.tickets });
      setSent((n) => n + 1);
    },
  });
  if (ticket.error) return <ProblemAlert error={ticket.error} />;
  if (!ticket.data) return <Loading />;
  const data = ticket.data;
  return (
    <>
      <PageSection>
        <Breadcrumb>
          <BreadcrumbItem>
            <Link to="/tickets">{t('provider.ticket.back')}</Link>
          </BreadcrumbItem>
        </Breadcrumb>
      </PageSection>
      <PageHeader
        title={
          <>
            {t('provider.ticket.title', { number: data.number, subject: data.subject })}{' '}
            <Label isCompact color={statusColor[data.status]} data-testid="ticket-status">
              {t(`provider.ticket.status.${data.status}`)}
            </Label>
          </>
        }
        description={
          <>
            {data.orderId && (
              <RouterLink to={`/orders/${data.orderId}`}>{t('tickets.linkedOrder')}</RouterLink>
            )}{' '}
            {data.instanceId && (
              <RouterLink to={`/instances/${data.instanceId}`}>{t('tickets.linkedInstance')}</RouterLink>
            )}
          </>
        }
      />
      <PageSection>
        <Conversation
          ticket={data}
          view="customer"
          mayReply={mayReply}
          onReply={(message) => reply.mutate(message)}
          replying={reply.isPending}
          replyError={reply.error}
          sentCount={sent}
        />
      </PageSection>
    </>
  );
}
