import {
  ActionGroup,
  Button,
  Card,
  CardBody,
  Form,
  FormGroup,
  FormSelect,
  FormSelectOption,
  Grid,
  GridItem,
  PageSection,
  Stack,
  TextInput,
} from '@patternfly/react-core';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import { orderStatusSchema, orderTypeSchema } from '../../../src/orders/order-schemas';
import { useOpsOrders, useOpsOrganizations } from '../api/provider-queries';
import { useCatalog } from '../api/queries';
import { Empty, OrderStatusLabel, PageHeader, QueryContent, SimpleTable } from '../components/ui';
import { useFormat } from '../format';

const FILTERS = ['status', 'type', 'region', 'organizationId', 'processingLongerThanMinutes'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

/** Every organisation's orders, filtered through the URL (so a filtered view can be linked and reloaded). */
export default function OpsOrders() {
  const { t } = useTranslation();
  const format = useFormat();
  const catalog = useCatalog();
  const [params, setParams] = useSearchParams();
  const applied = Object.fromEntries(FILTERS.map((key) => [key, params.get(key) ?? ''])) as Filters;
  const [form, setForm] = useState<Filters>(applied);
  const query = new URLSearchParams(Object.entries(applied).filter(([, value]) => value)).toString();
  const orders = useOpsOrders(query);
  const organizations = useOpsOrganizations();

  const select = (
    key: 'status' | 'type' | 'region' | 'organizationId',
    options: readonly string[],
    label: (v: string) => string,
  ) => (
    <FormGroup
      label={t(`provider.ops.${key === 'organizationId' ? 'organization' : key}`)}
      fieldId={`filter-${key}`}
    >
      <FormSelect
        id={`filter-${key}`}
        value={form[key]}
        onChange={(_e, value) => setForm({ ...form, [key]: value })}
      >
        <FormSelectOption value="" label={t('provider.ops.any')} />
        {options.map((option) => (
          <FormSelectOption key={option} value={option} label={label(option)} />
        ))}
      </FormSelect>
    </FormGroup>
  );

  return (
    <>
      <PageHeader title={t('provider.ops.orders')} description={t('provider.ops.ordersIntro')} />
      <PageSection>
        <Stack hasGutter>
          <Card>
            <CardBody>
              <Form
                onSubmit={(event) => {
                  event.preventDefault();
                  setParams(new URLSearchParams(Object.entries(form).filter(([, value]) => value.trim())));
                }}
              >
                <Grid hasGutter md={4} xl={2}>
                  <GridItem>
                    {select('status', orderStatusSchema.options, (s) => t(`orderStatus.${s}.label`))}
                  </GridItem>
                  <GridItem>{select('type', orderTypeSchema.options, (s) => t(`orderType.${s}`))}</GridItem>
                  <GridItem>
                    {select('region', catalog.data?.regions.map((r) => r.id) ?? [], (id) => id)}
                  </GridItem>
                  <GridItem>
                    {select(
                      'organizationId',
                      organizations.data?.items.map((o) => o.id) ??
                        (form.organizationId ? [form.organizationId] : []),
                      (id) => {
                        const organization = organizations.data?.items.find((o) => o.id === id);
                        return organization ? `${organization.name} (${organization.customerNumber})` : id;
                      },
                    )}
                  </GridItem>
                  <GridItem>
                    <FormGroup label={t('provider.ops.processingLonger')} fieldId="filter-processing">
                      <TextInput
                        id="filter-processing"
                        type="number"
                        min={0}
                        value={form.processingLongerThanMinutes}
                        onChange={(_e, value) => setForm({ ...form, processingLongerThanMinutes: value })}
                      />
                    </FormGroup>
                  </GridItem>
                </Grid>
                <ActionGroup>
                  <Button type="submit">{t('provider.ops.apply')}</Button>
                  <Button
                    variant="link"
                    onClick={() => {
                      setForm(Object.fromEntries(FILTERS.map((key) => [key, ''])) as Filters);
                      setParams({});
                    }}
                  >
                    {t('provider.ops.reset')}
                  </Button>
                </ActionGroup>
              </Form>
            </CardBody>
          </Card>
          <QueryContent
            query={orders}
            isEmpty={(data) => data.items.length === 0}
            empty={<Empty title={t('provider.ops.none')} />}
          >
            {(data) => (
              <SimpleTable
                label={t('provider.ops.orders')}
                columns={[
                  t('provider.ops.order'),
                  t('provider.ops.status'),
                  t('provider.ops.type'),
                  t('provider.ops.attempt'),
                  t('provider.ops.instance'),
                  t('provider.ops.organization'),
                  t('provider.ops.region'),
                  t('provider.ops.updated'),
                ]}
                rows={data.items.map((order) => ({
                  key: order.id,
                  cells: [
                    <Link key="id" to={`/ops/orders/${order.id}`}>
                      {order.id.slice(0, 8)}
                    </Link>,
                    <OrderStatusLabel key="s" status={order.status} />,
                    t(`orderType.${order.type}`),
                    order.attempt,
                    order.instanceName,
                    `${order.organization.name} (${order.organization.customerNumber})`,
                    order.region,
                    format.dateTime(order.updatedAt),
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
