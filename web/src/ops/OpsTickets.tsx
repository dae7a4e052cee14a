import { PageSection, Stack, ToggleGroup, ToggleGroupItem } from '@patternfly/react-core';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import { ticketStatusSchema } from '../../../src/support/ticket-schemas';
import { useOpsTickets } from '../api/provider-queries';
import { Empty, PageHeader, QueryContent, SimpleTable } from '../components/ui';
import { useFormat } from '../format';

/** The tickets inbox of every organisation, by status (open first). */
export default function OpsTickets() {
  const { t } = useTranslation();
  const format = useFormat();
  const [params, setParams] = useSearchParams();
  const status = params.get('status') ?? 'open';
  const tickets = useOpsTickets(status === 'all' ? '' : status);
  return (
    <>
      <PageHeader title={t('provider.ops.tickets')} description={t('provider.ops.ticketsIntro')} />
      <PageSection>
        <Stack hasGutter>
          <ToggleGroup aria-label={t('provider.ops.status')}>
            {[...ticketStatusSchema.options, 'all' as const].map((option) => (
              <ToggleGroupItem
                key={option}
                buttonId={`tickets-${option}`}
                text={option === 'all' ? t('provider.ops.any') : t(`provider.ticket.statusOps.${option}`)}
                isSelected={status === option}
                onChange={() => setParams({ status: option })}
              />
            ))}
          </ToggleGroup>
          <QueryContent
            query={tickets}
            isEmpty={(data) => data.items.length === 0}
            empty={<Empty title={t('provider.ops.none')} />}
          >
            {(data) => (
              <SimpleTable
                label={t('provider.ops.tickets')}
                columns={[
                  '#',
                  t('tickets.subject'),
                  t('provider.ops.customer'),
                  t('provider.ops.status'),
                  t('provider.ops.updated'),
                ]}
                rows={data.items.map((ticket) => ({
                  key: ticket.id,
                  cells: [
                    ticket.number,
                    <Link key="s" to={`/ops/tickets/${ticket.id}`}>
                      {ticket.subject}
                    </Link>,
                    `${ticket.organizationName} (${ticket.customerNumber})`,
                    t(`provider.ticket.statusOps.${ticket.status}`),
                    format.dateTime(ticket.updatedAt),
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
