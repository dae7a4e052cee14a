import {
  Alert,
  Card,
  CardBody,
  CardTitle,
  CodeBlock,
  CodeBlockCode,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Label,
  PageSection,
  Stack,
} from '@patternfly/react-core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import { api } from '../api/client';
import { providerKeys, useOpsOrder } from '../api/provider-queries';
import type { OpsOrderDetail } from '../api/provider-types';
import { ConfirmButton } from '../components/ConfirmButton';
import { Loading, OrderStatusLabel, PageHeader, ProblemAlert, SimpleTable } from '../components/ui';
import { useFormat } from '../format';
import { localizeStepMessage } from '../messages';
import { useOperatorMayAct } from './useOperator';

type Step = OpsOrderDetail['steps'][number];

function StepsTable({ steps, label }: { steps: Step[]; label: string }) {
  const { t } = useTranslation();
  const format = useFormat();
  return (
    <SimpleTable
      label={label}
      columns={[
        t('provider.ops.step'),
        t('provider.ops.status'),
        t('provider.ops.message'),
        t('orderStatus.started'),
        t('orderStatus.finished'),
      ]}
      rows={steps.map((step, index) => ({
        key: `${index}-${step.name}`,
        cells: [
          t(`steps.${step.name}`, { defaultValue: step.name }),
          step.status,
          step.message ? localizeStepMessage(step.message, step.messageParts) : '–',
          format.dateTime(step.startedAt),
          format.dateTime(step.finishedAt),
        ],
      }))}
    />
  );
}

/** One order with what only operators see, and the actions on it: retry a failed one, cancel one not started. */
export default function OpsOrder() {
  const { id = '' } = useParams();
  const { t } = useTranslation();
  const format = useFormat();
  const queryClient = useQueryClient();
  const mayAct = useOperatorMayAct();
  const order = useOpsOrder(id);
  const onDone = (updated: OpsOrderDetail) => {
    queryClient.setQueryData(providerKeys.opsOrder(id), updated);
    void queryClient.invalidateQueries({ queryKey: ['ops', 'orders'] });
  };
  const retry = useMutation({
    mutationFn: (attempt: number) =>
      api<OpsOrderDetail>('POST', `/api/v1/ops/orders/${encodeURIComponent(id)}/retry`, {
        body: { attempt },
      }),
    onSuccess: onDone,
  });
  const cancel = useMutation({
    mutationFn: () => api<OpsOrderDetail>('POST', `/api/v1/ops/orders/${encodeURIComponent(id)}/cancel`),
    onSuccess: onDone,
  });
  if (order.error) return <ProblemAlert error={order.error} />;
  if (!order.data) return <Loading />;
  const data = order.data;

  return (
    <>
      <PageHeader
        title={
          <>
            {t('provider.ops.detail', { id: data.id.slice(0, 8) })} <OrderStatusLabel status={data.status} />{' '}
            <Label isCompact color="purple" data-testid="ops-attempt">
              {t('provider.order.attempt', { attempt: data.attempt })}
            </Label>
          </>
        }
        description={data.id}
        actions={
          mayAct && (
            <div style={{ display: 'flex', gap: 8 }}>
              {data.status === 'failed' && (
                <ConfirmButton
                  label={t('provider.ops.retry')}
                  question={t('provider.ops.retryConfirm', { attempt: data.attempt + 1 })}
                  isLoading={retry.isPending}
                  isDisabled={retry.isPending}
                  onConfirm={() => retry.mutate(data.attempt)}
                />
              )}
              {data.status === 'new' && (
                <ConfirmButton
                  label={t('provider.ops.cancel')}
                  question={t('provider.ops.cancelConfirm')}
                  variant="secondary"
                  isDanger
                  isLoading={cancel.isPending}
                  isDisabled={cancel.isPending}
                  onConfirm={() => cancel.mutate()}
                />
              )}
            </div>
          )
        }
      />
      <PageSection>
        <Stack hasGutter>
          <ProblemAlert error={retry.error ?? cancel.error} />
          {!mayAct && <Alert variant="info" isInline isPlain title={t('provider.ops.readOnly')} />}
          <Card>
            <CardBody>
              <DescriptionList isHorizontal isCompact>
                <DescriptionListGroup>
                  <DescriptionListTerm>{t('provider.ops.organization')}</DescriptionListTerm>
                  <DescriptionListDescription>
                    <Link to={`/ops?organizationId=${data.organization.id}`}>
                      {data.organization.name} ({data.organization.customerNumber})
                    </Link>
                  </DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>{t('provider.ops.instance')}</DescriptionListTerm>
                  <DescriptionListDescription>{data.instanceName}</DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>{t('provider.ops.type')}</DescriptionListTerm>
                  <DescriptionListDescription>{t(`orderType.${data.type}`)}</DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>{t('provider.ops.region')}</DescriptionListTerm>
                  <DescriptionListDescription>{data.spec.region}</DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>{t('provider.ops.created')}</DescriptionListTerm>
                  <DescriptionListDescription>{format.dateTime(data.createdAt)}</DescriptionListDescription>
                </DescriptionListGroup>
                {data.failureReason && (
                  <DescriptionListGroup>
                    <DescriptionListTerm>{t('provider.ops.failureReason')}</DescriptionListTerm>
                    <DescriptionListDescription data-testid="ops-failure-reason">
                      {localizeStepMessage(data.failureReason, data.failureReasonParts)}
                    </DescriptionListDescription>
                  </DescriptionListGroup>
                )}
              </DescriptionList>
            </CardBody>
          </Card>
          {data.operatorDetail && (
            <Card>
              <CardTitle component="h2">{t('provider.ops.operatorDetail')}</CardTitle>
              <CardBody>
                <CodeBlock>
                  <CodeBlockCode data-testid="operator-detail">{data.operatorDetail}</CodeBlockCode>
                </CodeBlock>
              </CardBody>
            </Card>
          )}
          <Card>
            <CardTitle component="h2">{t('provider.ops.steps')}</CardTitle>
            <CardBody>
              {data.steps.length === 0 ? (
                <p className="kh-muted">{t('orderStatus.noSteps')}</p>
              ) : (
                <StepsTable steps={data.steps} label={t('provider.ops.steps')} />
              )}
            </CardBody>
          </Card>
          <Card>
            <CardTitle component="h2">{t('provider.ops.logTail')}</CardTitle>
            <CardBody>
              {data.logTail ? (
                <CodeBlock>
                  <CodeBlockCode data-testid="log-tail">{data.logTail}</CodeBlockCode>
                </CodeBlock>
              ) : (
                <p className="kh-muted">{t('provider.ops.noLog')}</p>
              )}
            </CardBody>
          </Card>
          {data.attempts.length > 0 && (
            <Card>
              <CardTitle component="h2">{t('provider.ops.attempts')}</CardTitle>
              <CardBody>
                <Stack hasGutter>
                  {data.attempts.map((attempt) => (
                    <div key={attempt.attempt} data-testid={`attempt-${attempt.attempt}`}>
                      <h3>
                        {t('provider.order.attempt', { attempt: attempt.attempt })} ·{' '}
                        {format.dateTime(attempt.finishedAt)}
                        {attempt.retriedBy &&
                          ` · ${t('provider.ops.retriedBy', { email: attempt.retriedBy })}`}
                      </h3>
                      {attempt.failureReason && (
                        <p>{localizeStepMessage(attempt.failureReason, attempt.failureReasonParts)}</p>
                      )}
                      {attempt.operatorDetail && (
                        <CodeBlock>
                          <CodeBlockCode>{attempt.operatorDetail}</CodeBlockCode>
                        </CodeBlock>
                      )}
                      <StepsTable
                        steps={attempt.steps}
                        label={t('provider.order.attempt', { attempt: attempt.attempt })}
                      />
                    </div>
                  ))}
                </Stack>
              </CardBody>
            </Card>
          )}
        </Stack>
      </PageSection>
    </>
  );
}
