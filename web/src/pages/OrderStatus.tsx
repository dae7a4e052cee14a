import {
  Alert,
  Button,
  Card,
  CardBody,
  CardTitle,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Icon,
  Label,
  List,
  ListItem,
  PageSection,
  ProgressStep,
  ProgressStepper,
  Spinner,
  Stack,
} from '@patternfly/react-core';
import { CheckCircleIcon, ExclamationCircleIcon } from '@patternfly/react-icons';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router';
import { api } from '../api/client';
import { keys } from '../api/queries';
import type { Order, OrderStatus, OrderStep } from '../api/types';
import {
  Loading,
  OrderStatusLabel,
  PageHeader,
  ProblemAlert,
  RouterLink,
  SimpleTable,
} from '../components/ui';
import { useFormat } from '../format';
import { localizeStepMessage } from '../messages';
import type { TicketPrefill } from './Tickets';

const TERMINAL: OrderStatus[] = ['done', 'failed'];

/**
 * The order, live: server-sent events carry the full order on every change; if the stream fails (a proxy that
 * buffers, an older server), the page polls instead.
 */
function useLiveOrder(id: string) {
  const queryClient = useQueryClient();
  const [streaming, setStreaming] = useState<'connecting' | 'open' | 'failed'>('connecting');
  const query = useQuery({
    queryKey: keys.order(id),
    queryFn: () => api<Order>('GET', `/api/v1/orders/${encodeURIComponent(id)}`),
    refetchInterval: (q) => {
      if (!q.state.data) return false;
      // A failed order may be retried by the provider's team: the page notices the new attempt.
      if (q.state.data.status === 'failed') return 5000;
      return streaming === 'failed' && !TERMINAL.includes(q.state.data.status) ? 2000 : false;
    },
  });
  const terminal = query.data ? TERMINAL.includes(query.data.status) : false;

  useEffect(() => {
    if (terminal || typeof EventSource === 'undefined') {
      if (!terminal) setStreaming('failed');
      return;
    }
    const source = new EventSource(`/api/v1/orders/${encodeURIComponent(id)}/events`);
    source.onopen = () => setStreaming('open');
    const onOrder = (event: MessageEvent<string>) => {
      try {
        const order = JSON.parse(event.data) as Order;
        if (order && order.id === id) queryClient.setQueryData(keys.order(id), order);
      } catch (error) {
        // A malformed event is skipped; the next one carries the full order again.
        if (!(error instanceof SyntaxError)) throw error;
      }
    };
    // The API names its events `event: order`; unnamed ones (`message`) are accepted too.
    source.addEventListener('order', onOrder);
    source.onmessage = onOrder;
    source.onerror = () => {
      source.close();
      setStreaming('failed');
      void queryClient.invalidateQueries({ queryKey: keys.order(id) });
    };
    return () => source.close();
  }, [id, terminal, queryClient]);

  // A finished order changed its instance (a change order, a deletion): the instance page must not show the old one.
  const instanceId = query.data?.instanceId;
  useEffect(() => {
    if (terminal) {
      void queryClient.invalidateQueries({ queryKey: keys.instances });
      if (instanceId) void queryClient.invalidateQueries({ queryKey: keys.instance(instanceId) });
      void queryClient.invalidateQueries({ queryKey: ['orders'] });
    }
  }, [terminal, instanceId, queryClient]);

  return { ...query, streaming };
}

function StepIcon({ step }: { step: OrderStep }) {
  const { t } = useTranslation();
  if (step.status === 'done')
    return (
      <Icon status="success" role="img" aria-label={t('orderStatus.step.done')}>
        <CheckCircleIcon />
      </Icon>
    );
  if (step.status === 'failed')
    return (
      <Icon status="danger" role="img" aria-label={t('orderStatus.step.failed')}>
        <ExclamationCircleIcon />
      </Icon>
    );
  return <Spinner size="md" aria-label={t('orderStatus.step.running')} />;
}

export default function OrderStatusPage() {
  const { id = '' } = useParams();
  const { t } = useTranslation();
  const format = useFormat();
  const navigate = useNavigate();
  const { data: order, error, isPending, streaming } = useLiveOrder(id);

  if (error) return <ProblemAlert error={error} />;
  if (isPending || !order) return <Loading />;

  const stepperIndex = { new: 0, processing: 1, done: 2, failed: 2 }[order.status];
  const variant = (index: number) =>
    index < stepperIndex || order.status === 'done'
      ? ('success' as const)
      : index === stepperIndex
        ? order.status === 'failed'
          ? ('danger' as const)
          : ('info' as const)
        : ('pending' as const);
  const failureReason = order.failureReason
    ? localizeStepMessage(order.failureReason, order.failureReasonParts)
    : null;

  return (
    <>
      <PageHeader
        title={
          <>
            {t('orderStatus.title', { type: t(`orderType.${order.type}`) })}{' '}
            <OrderStatusLabel status={order.status} />
            {(order.attempt ?? 1) > 1 && (
              <>
                {' '}
                <Label isCompact color="purple" data-testid="order-attempt">
                  {t('provider.order.attempt', { attempt: order.attempt })}
                </Label>
              </>
            )}
          </>
        }
        description={t('orderStatus.id', { id: order.id })}
      />
      <PageSection>
        <Stack hasGutter>
          <Card>
            <CardBody>
              <ProgressStepper aria-label={t('orderStatus.progress')}>
                <ProgressStep
                  id="state-new"
                  titleId="state-new-title"
                  variant={variant(0)}
                  isCurrent={stepperIndex === 0}
                >
                  {t('orderStatus.new.label')}
                </ProgressStep>
                <ProgressStep
                  id="state-processing"
                  titleId="state-processing-title"
                  variant={variant(1)}
                  isCurrent={stepperIndex === 1}
                >
                  {t('orderStatus.processing.label')}
                </ProgressStep>
                <ProgressStep
                  id="state-end"
                  titleId="state-end-title"
                  variant={variant(2)}
                  isCurrent={stepperIndex === 2}
                >
                  {order.status === 'failed' ? t('orderStatus.failed.label') : t('orderStatus.done.label')}
                </ProgressStep>
              </ProgressStepper>
            </CardBody>
          </Card>

          {(order.previousAttempts?.length ?? 0) > 0 && (
            <Alert
              variant="info"
              isInline
              title={t('provider.order.retried')}
              data-testid="previous-attempts"
            >
              <ul>
                {order.previousAttempts!.map((previous) => (
                  <li key={previous.attempt}>
                    {t('provider.order.previous', {
                      attempt: previous.attempt,
                      date: format.dateTime(previous.finishedAt),
                      reason: previous.failureReason
                        ? localizeStepMessage(previous.failureReason, previous.failureReasonParts)
                        : '–',
                    })}
                  </li>
                ))}
              </ul>
            </Alert>
          )}
          {order.status === 'failed' && (
            <Alert
              variant="danger"
              isInline
              title={t('orderStatus.failed.meaning')}
              actionLinks={
                <Button
                  variant="primary"
                  onClick={() =>
                    void navigate(
                      `/tickets?orderId=${encodeURIComponent(order.id)}${order.instanceId ? `&instanceId=${encodeURIComponent(order.instanceId)}` : ''}`,
                      // The ticket's text starts with the reason as this page says it.
                      { state: { failureReason } satisfies TicketPrefill },
                    )
                  }
                >
                  {t('orderStatus.openTicket')}
                </Button>
              }
            >
              {failureReason && <p data-testid="failure-reason">{failureReason}</p>}
            </Alert>
          )}
          {order.status === 'done' && (
            <Alert
              variant="success"
              isInline
              title={
                order.type === 'create'
                  ? t('orderStatus.done.meaning')
                  : order.type === 'delete'
                    ? t('orderStatus.done.deleted')
                    : t('orderStatus.done.changed')
              }
              actionLinks={
                order.instanceId && (
                  <Button component={RouterLink} href={`/instances/${order.instanceId}`} variant="primary">
                    {t('orderStatus.toInstance')}
                  </Button>
                )
              }
            />
          )}

          <Card>
            <CardTitle component="h2">{t('orderStatus.steps')}</CardTitle>
            <CardBody>
              {order.steps.length === 0 ? (
                <p className="kh-muted">{t('orderStatus.noSteps')}</p>
              ) : (
                <SimpleTable
                  label={t('orderStatus.steps')}
                  columns={[
                    '',
                    t('orderStatus.stepName'),
                    t('orderStatus.started'),
                    t('orderStatus.finished'),
                  ]}
                  rows={order.steps.map((step, index) => ({
                    key: `${index}-${step.name}`,
                    cells: [
                      <StepIcon key="icon" step={step} />,
                      <span key="name">
                        {t(`steps.${step.name}`, { defaultValue: step.name })}
                        {step.message && (
                          <div className="kh-muted">
                            {localizeStepMessage(step.message, step.messageParts)}
                          </div>
                        )}
                      </span>,
                      format.dateTime(step.startedAt),
                      format.dateTime(step.finishedAt),
                    ],
                  }))}
                />
              )}
              <p className="kh-muted" style={{ marginTop: 8 }}>
                {TERMINAL.includes(order.status)
                  ? null
                  : streaming === 'failed'
                    ? t('orderStatus.polling')
                    : streaming === 'open'
                      ? t('orderStatus.live')
                      : null}
              </p>
            </CardBody>
          </Card>

          <Card>
            <CardTitle component="h2">{t('orderStatus.details')}</CardTitle>
            <CardBody>
              <DescriptionList isHorizontal isCompact>
                <DescriptionListGroup>
                  <DescriptionListTerm>{t('orders.created')}</DescriptionListTerm>
                  <DescriptionListDescription>{format.dateTime(order.createdAt)}</DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>{t('orders.updated')}</DescriptionListTerm>
                  <DescriptionListDescription>{format.dateTime(order.updatedAt)}</DescriptionListDescription>
                </DescriptionListGroup>
                {order.price && (
                  <DescriptionListGroup>
                    <DescriptionListTerm>{t('orders.price')}</DescriptionListTerm>
                    <DescriptionListDescription>
                      {t('orders.perHour', {
                        price: format.money(order.price.perHour, order.price.currency, 4),
                      })}{' '}
                      ·{' '}
                      {t('orders.perMonth', {
                        price: format.money(order.price.perMonth, order.price.currency),
                      })}
                    </DescriptionListDescription>
                  </DescriptionListGroup>
                )}
                {order.priceDelta && (
                  <DescriptionListGroup>
                    <DescriptionListTerm>{t('orderStatus.priceDelta')}</DescriptionListTerm>
                    <DescriptionListDescription>
                      {t('orders.perMonth', {
                        price: format.signedMoney(order.priceDelta.perMonth, order.priceDelta.currency),
                      })}
                    </DescriptionListDescription>
                  </DescriptionListGroup>
                )}
                {order.instanceId && (
                  <DescriptionListGroup>
                    <DescriptionListTerm>{t('orderStatus.instance')}</DescriptionListTerm>
                    <DescriptionListDescription>
                      <Link to={`/instances/${order.instanceId}`}>{order.instanceId}</Link>
                    </DescriptionListDescription>
                  </DescriptionListGroup>
                )}
              </DescriptionList>
            </CardBody>
          </Card>

          <Card>
            <CardTitle component="h2">{t('orderStatus.meanings')}</CardTitle>
            <CardBody>
              <List isPlain>
                {(['new', 'processing', 'failed', 'done'] as const).map((status) => (
                  <ListItem key={status}>
                    <span style={{ fontWeight: order.status === status ? 700 : 400 }}>
                      <OrderStatusLabel status={status} /> {t(`orderStatus.${status}.meaning`)}
                      {order.status === status && ` ${t('orderStatus.current')}`}
                    </span>
                  </ListItem>
                ))}
              </List>
            </CardBody>
          </Card>
        </Stack>
      </PageSection>
    </>
  );
}
