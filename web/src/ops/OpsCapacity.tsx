import { PageSection } from '@patternfly/react-core';
import { useTranslation } from 'react-i18next';
import { useOpsCapacity } from '../api/provider-queries';
import { Empty, PageHeader, QueryContent, SimpleTable } from '../components/ui';
import { useFormat } from '../format';

/** Per region: instances against the limit, memory asked for, orders running and waiting. */
export default function OpsCapacity() {
  const { t } = useTranslation();
  const format = useFormat();
  const capacity = useOpsCapacity();
  return (
    <>
      <PageHeader title={t('provider.ops.capacity')} description={t('provider.ops.capacityIntro')} />
      <PageSection>
        <QueryContent
          query={capacity}
          isEmpty={(data) => data.regions.length === 0}
          empty={<Empty title={t('provider.ops.none')} />}
        >
          {(data) => (
            <SimpleTable
              label={t('provider.ops.capacity')}
              columns={[
                t('provider.ops.region'),
                t('provider.ops.instancesCount'),
                t('provider.ops.memory'),
                t('provider.ops.running'),
                t('provider.ops.waiting'),
                t('provider.ops.warmPool'),
              ]}
              rows={data.regions.map((region) => ({
                key: region.region,
                cells: [
                  `${region.name} (${region.region}, ${region.driver})`,
                  `${region.instances} / ${region.maxInstances}`,
                  format.number(region.memoryGb),
                  `${region.processingOrders} / ${region.concurrentOrders}`,
                  region.waitingOrders,
                  region.warmPool ?? t('provider.ops.noWarmPool'),
                ],
              }))}
            />
          )}
        </QueryContent>
      </PageSection>
    </>
  );
}
