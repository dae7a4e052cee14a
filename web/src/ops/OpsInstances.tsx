import { Label, LabelGroup, PageSection } from '@patternfly/react-core';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useOpsInstances } from '../api/provider-queries';
import { Empty, PageHeader, QueryContent, SimpleTable } from '../components/ui';

const conditionColor = (status: string) =>
  status === 'True' ? 'green' : status === 'False' ? 'red' : 'grey';

/** Every organisation's instances with version, size and conditions. */
export default function OpsInstances() {
  const { t } = useTranslation();
  const instances = useOpsInstances();
  return (
    <>
      <PageHeader title={t('provider.ops.instances')} description={t('provider.ops.instancesIntro')} />
      <PageSection>
        <QueryContent
          query={instances}
          isEmpty={(data) => data.items.length === 0}
          empty={<Empty title={t('provider.ops.none')} />}
        >
          {(data) => (
            <SimpleTable
              label={t('provider.ops.instances')}
              columns={[
                t('provider.ops.instance'),
                t('provider.ops.organization'),
                t('provider.ops.status'),
                t('provider.ops.version'),
                t('provider.ops.size'),
                t('provider.ops.storage'),
                t('provider.ops.region'),
                t('provider.ops.conditions'),
              ]}
              rows={data.items.map((instance) => ({
                key: instance.id,
                cells: [
                  instance.name,
                  <Link key="o" to={`/ops?organizationId=${instance.organization.id}`}>
                    {instance.organization.name} ({instance.organization.customerNumber})
                  </Link>,
                  t(`instanceStatus.${instance.status}`, { defaultValue: instance.status }),
                  instance.version,
                  instance.nodeSize,
                  `${instance.storageGb} GB`,
                  instance.region,
                  <LabelGroup key="c" numLabels={6}>
                    {instance.conditions.map((condition) => (
                      <Label
                        key={condition.type}
                        isCompact
                        color={conditionColor(condition.status)}
                        title={`${condition.reason}: ${condition.message}`}
                      >
                        {condition.type}
                      </Label>
                    ))}
                  </LabelGroup>,
                ],
              }))}
            />
          )}
        </QueryContent>
      </PageSection>
    </>
  );
}
