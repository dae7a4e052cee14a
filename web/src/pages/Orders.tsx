import {
  Button,
  PageSection,
  ToggleGroup,
  ToggleGroupItem,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from '@patternfly/react-core';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import { useOrders } from '../api/queries';
import { useCan } from '../api/session';
import type { OrderStatus } from '../api/types';
import { Empty, OrderStatusLabel, PageHeader, QueryContent, RouterLink, SimpleTable } from '../components/ui';
import { useFormat } from '../format';

const STATUSES: OrderStatus[] = ['new', 'processing', 'done', 'failed'];

export default function Orders() {
  const { t } = useTranslation();
  const format = useFormat();
  const [params, setParams] = useSearchParams();
  const mayOrder = useCan('orders:create');
  const filter = STATUSES.find((s) => s === params.get('status'));
  const orders = useOrders(filter, 10_000);
  const setFilter = (status?: OrderStatus) => setParams(status ? { status } : {});

  return (
    <>
      <PageHeader
        title={t('orders.title')}
        description={t('orders.intro')}
        actions={
          mayOrder && (
            <Button component={RouterLink} href="/orders/new">
              {t('dashboard.newInstance')}
            </Button>
          )
        }
      />
      <PageSection>
        <Toolbar>
          <ToolbarContent>
            <ToolbarItem>
              <ToggleGroup aria-label={t('orders.filter')}>
                <ToggleGroupItem text={t('orders.all')} isSelected={!filter} onChange={() => setFilter()} />
                {STATUSES.map((status) => (
                  <ToggleGroupItem
                    key={status}
                    text={t(`orderStatus.${status}.label`)}
                    isSelected={filter === status}
                    onChange={() => setFilter(status)}
                  />
                ))}
              </ToggleGroup>
            </ToolbarItem>
          </ToolbarContent>
        </Toolbar>
        <QueryContent
          query={orders}
          isEmpty={(data) => data.items.length === 0}
          empty={
            <Empty
              title={filter ? t('orders.noneWithStatus') : t('orders.none')}
              body={t('orders.noneBody')}
            />
          }
        >
          {(data) => (
            <SimpleTable
              label={t('orders.title')}
              columns={[
                t('orders.order'),
                t('orders.type'),
                t('orders.status'),
                t('orders.price'),
                t('orders.created'),
                t('orders.updated'),
              ]}
              rows={data.items.map((order) => ({
                key: order.id,
                cells: [
                  <Link key="id" to={`/orders/${order.id}`}>
                    {order.id.slice(0, 8)}
                  </Link>,
                  t(`orderType.${order.type}`),
                  <OrderStatusLabel key="status" status={order.status} />,
                  order.price
                    ? t('orders.perMonth', {
                        price: format.money(order.price.perMonth, order.price.currency),
                      })
                    : '–',
                  format.dateTime(order.createdAt),
                  format.dateTime(order.updatedAt),
                ],
              }))}
            />
          )}
        </QueryContent>
      </PageSection>
    </>
  );
}
