import {
  Button,
  Card,
  CardBody,
  CardTitle,
  Gallery,
  Label,
  PageSection,
  Stack,
} from '@patternfly/react-core';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useInstances, useOrders } from '../api/queries';
import { useCan } from '../api/session';
import { useFormat } from '../format';
import { Empty, OrderStatusLabel, PageHeader, QueryContent, RouterLink, SimpleTable } from '../components/ui';

export default function Dashboard() {
  const { t } = useTranslation();
  const format = useFormat();
  const mayOrder = useCan('orders:create');
  const instances = useInstances();
  const orders = useOrders(undefined, 5000);
  const running = (orders.data?.items ?? []).filter((o) => o.status === 'new' || o.status === 'processing');
  const newOrder = mayOrder && (
    <Button component={RouterLink} href="/orders/new" variant="primary">
      {t('dashboard.newInstance')}
    </Button>
  );

  return (
    <>
      <PageHeader title={t('dashboard.title')} description={t('dashboard.intro')} actions={newOrder} />
      <PageSection>
        <Stack hasGutter>
          <Card>
            <CardTitle component="h2">{t('dashboard.instances')}</CardTitle>
            <CardBody>
              <QueryContent
                query={instances}
                isEmpty={(data) => data.items.length === 0}
                empty={
                  <Empty
                    title={t('dashboard.noInstances')}
                    body={t('dashboard.noInstancesBody')}
                    action={newOrder}
                    headingLevel="h3"
                  />
                }
              >
                {(data) => (
                  <Gallery hasGutter minWidths={{ default: '260px' }}>
                    {data.items.map((instance) => (
                      <Card key={instance.id} isCompact>
                        <CardTitle component="h3">
                          <Link to={`/instances/${instance.id}`}>{instance.name}</Link>
                        </CardTitle>
                        <CardBody>
                          <Label isCompact color={instance.status === 'running' ? 'green' : 'grey'}>
                            {t(`instanceStatus.${instance.status}`, { defaultValue: instance.status })}
                          </Label>{' '}
                          {instance.nodeSize} · {instance.storageGb} GB · {instance.region}
                          {instance.url && (
                            <div>
                              <a href={instance.url} target="_blank" rel="noreferrer">
                                {instance.url}
                              </a>
                            </div>
                          )}
                        </CardBody>
                      </Card>
                    ))}
                  </Gallery>
                )}
              </QueryContent>
            </CardBody>
          </Card>
          <Card>
            <CardTitle component="h2">{t('dashboard.runningOrders')}</CardTitle>
            <CardBody>
              <QueryContent
                query={orders}
                isEmpty={() => running.length === 0}
                empty={<Empty title={t('dashboard.noRunningOrders')} headingLevel="h3" />}
              >
                {() => (
                  <SimpleTable
                    label={t('dashboard.runningOrders')}
                    columns={[t('orders.order'), t('orders.type'), t('orders.status'), t('orders.created')]}
                    rows={running.map((order) => ({
                      key: order.id,
                      cells: [
                        <Link key="id" to={`/orders/${order.id}`}>
                          {order.id.slice(0, 8)}
                        </Link>,
                        t(`orderType.${order.type}`),
                        <OrderStatusLabel key="status" status={order.status} />,
                        format.dateTime(order.createdAt),
                      ],
                    }))}
                  />
                )}
              </QueryContent>
            </CardBody>
          </Card>
        </Stack>
      </PageSection>
    </>
  );
}
