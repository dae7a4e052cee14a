import { Button, Label, PageSection, Stack } from '@patternfly/react-core';
import { useInfiniteQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { api } from '../api/client';
import { useCan } from '../api/session';
import type { AuditEvent } from '../api/types';
import { Empty, Loading, PageHeader, ProblemAlert, SimpleTable } from '../components/ui';
import { useFormat } from '../format';

type AuditPage = { items: AuditEvent[]; nextCursor: string | null };

/** Where a target lives in the portal, if it has a page. */
function targetLink(event: AuditEvent): string | undefined {
  if (!event.targetId) return undefined;
  if (event.targetType === 'order') return `/orders/${event.targetId}`;
  if (event.targetType === 'instance') return `/instances/${event.targetId}`;
  return undefined;
}

/** Who did what, when, from where (GET /api/v1/audit-events; admins and managers). */
export default function AuditPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const mayRead = useCan('audit:read');
  const events = useInfiniteQuery({
    queryKey: ['audit-events'],
    queryFn: ({ pageParam }) =>
      api<AuditPage>(
        'GET',
        `/api/v1/audit-events?limit=50${pageParam ? `&cursor=${encodeURIComponent(pageParam)}` : ''}`,
      ),
    initialPageParam: '',
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    enabled: mayRead,
  });

  const items = events.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <>
      <PageHeader title={t('audit.title')} description={t('audit.intro')} />
      <PageSection>
        {!mayRead ? (
          <Empty title={t('audit.notAllowed')} />
        ) : events.error ? (
          <ProblemAlert error={events.error} />
        ) : events.isPending ? (
          <Loading />
        ) : items.length === 0 ? (
          <Empty title={t('audit.none')} />
        ) : (
          <Stack hasGutter>
            <SimpleTable
              label={t('audit.title')}
              columns={[
                t('audit.when'),
                t('audit.who'),
                t('audit.what'),
                t('audit.from'),
                t('audit.outcome'),
              ]}
              rows={items.map((event) => {
                const link = targetLink(event);
                return {
                  key: event.id,
                  cells: [
                    format.dateTime(event.createdAt),
                    event.actorUserId || event.actor !== 'system' ? event.actor : t('audit.system'),
                    <span key="what">
                      <code>{event.action}</code>
                      {event.targetId && (
                        <div className="kh-muted">
                          {event.targetType} {link ? <Link to={link}>{event.targetId}</Link> : event.targetId}
                        </div>
                      )}
                    </span>,
                    event.sourceAddress ?? '–',
                    <Label key="outcome" isCompact color={event.outcome === 'success' ? 'green' : 'red'}>
                      {t(`audit.${event.outcome}`)}
                    </Label>,
                  ],
                };
              })}
            />
            {events.hasNextPage && (
              <div>
                <Button
                  variant="secondary"
                  onClick={() => void events.fetchNextPage()}
                  isLoading={events.isFetchingNextPage}
                  isDisabled={events.isFetchingNextPage}
                >
                  {t('audit.more')}
                </Button>
              </div>
            )}
          </Stack>
        )}
      </PageSection>
    </>
  );
}
