import {
  Card,
  CardBody,
  CardTitle,
  Content,
  Flex,
  FlexItem,
  FormGroup,
  FormSelect,
  FormSelectOption,
  TextInput,
} from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { api } from '../api/client';
import type { BillingProfile, Usage } from '../api/types';
import { Empty, Loading, ProblemAlert, SimpleTable } from '../components/ui';
import { useFormat } from '../format';

const thisMonth = () => new Date().toISOString().slice(0, 7);
const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/** Metered usage of one billing profile in one month: the lines and the total (integers of cents from the API). */
export function BillingUsage({ profiles }: { profiles: BillingProfile[] }) {
  const { t } = useTranslation();
  const format = useFormat();
  const [profileId, setProfileId] = useState(profiles[0]?.id ?? '');
  const [month, setMonth] = useState(thisMonth);
  const selected = profiles.some((p) => p.id === profileId) ? profileId : (profiles[0]?.id ?? '');
  const valid = MONTH.test(month);
  const usage = useQuery({
    queryKey: ['usage', selected, month],
    queryFn: () =>
      api<Usage>(
        'GET',
        `/api/v1/billing-profiles/${encodeURIComponent(selected)}/usage?month=${encodeURIComponent(month)}`,
      ),
    enabled: Boolean(selected) && valid,
  });

  return (
    <Card>
      <CardTitle component="h2">{t('usage.title')}</CardTitle>
      <CardBody>
        <Content component="p" className="kh-muted">
          {t('usage.intro')}
        </Content>
        <Flex gap={{ default: 'gapMd' }} style={{ marginBottom: 16 }}>
          <FlexItem>
            <FormGroup label={t('usage.profile')} fieldId="usage-profile">
              <FormSelect id="usage-profile" value={selected} onChange={(_e, id) => setProfileId(id)}>
                {profiles.map((p) => (
                  <FormSelectOption key={p.id} value={p.id} label={`${p.company}, ${p.city}`} />
                ))}
              </FormSelect>
            </FormGroup>
          </FlexItem>
          <FlexItem>
            <FormGroup label={t('usage.month')} fieldId="usage-month">
              <TextInput
                id="usage-month"
                type="month"
                value={month}
                max={thisMonth()}
                onChange={(_e, value) => setMonth(value)}
                validated={valid ? 'default' : 'error'}
              />
            </FormGroup>
          </FlexItem>
        </Flex>
        {!valid ? null : usage.error ? (
          <ProblemAlert error={usage.error} />
        ) : usage.isPending ? (
          <Loading />
        ) : usage.data.lines.length === 0 ? (
          <Empty title={t('usage.none')} headingLevel="h3" />
        ) : (
          <>
            <SimpleTable
              label={t('usage.title')}
              columns={[
                t('usage.instance'),
                t('usage.item'),
                t('usage.hours'),
                t('usage.rate'),
                t('usage.amount'),
              ]}
              rows={[
                ...usage.data.lines.map((line, index) => ({
                  key: `${line.instanceId}-${line.kind}-${line.nodeSize ?? line.storageGb}-${index}`,
                  cells: [
                    <Link key="i" to={`/instances/${line.instanceId}`}>
                      {line.instanceName}
                    </Link>,
                    line.kind === 'node'
                      ? t('usage.node', { size: line.nodeSize })
                      : t('usage.storage', { gb: line.storageGb }),
                    format.number(line.hours),
                    format.money(line.rate, usage.data.currency, 6),
                    format.cents(line.amountCents, usage.data.currency),
                  ],
                })),
                {
                  key: 'total',
                  cells: [
                    <strong key="t">{t('usage.total')}</strong>,
                    '',
                    '',
                    '',
                    <strong key="v" data-testid="usage-total">
                      {format.cents(usage.data.totalCents, usage.data.currency)}
                    </strong>,
                  ],
                },
              ]}
            />
            <small className="kh-muted">{t('usage.asOf', { time: format.dateTime(usage.data.asOf) })}</small>
          </>
        )}
      </CardBody>
    </Card>
  );
}
