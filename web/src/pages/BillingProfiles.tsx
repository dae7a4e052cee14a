import {
  ActionGroup,
  Button,
  Card,
  CardBody,
  CardTitle,
  Form,
  PageSection,
  Stack,
} from '@patternfly/react-core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { billingProfileInputSchema } from '../../../src/billing/billing-profile-schemas';
import { api } from '../api/client';
import { keys, useBillingProfiles } from '../api/queries';
import { useCan } from '../api/session';
import type { BillingProfile } from '../api/types';
import { Empty, PageHeader, ProblemAlert, QueryContent, SimpleTable } from '../components/ui';
import { apiFieldErrors, hasUnplacedErrors, zodErrors } from '../validation';
import { BillingProfileFields } from '../wizard/steps';
import { BillingUsage } from './BillingUsage';

const empty = {
  company: '',
  street: '',
  postalCode: '',
  city: '',
  country: 'DE',
  vatId: '',
  invoiceEmail: '',
};
const FIELDS = ['company', 'street', 'postalCode', 'city', 'country', 'vatId', 'invoiceEmail'];

export default function BillingProfiles() {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const profiles = useBillingProfiles();
  const mayCreate = useCan('billing-profiles:create');
  const [form, setForm] = useState<typeof empty | null>(null);
  const [submitted, setSubmitted] = useState(false);
  const create = useMutation({
    mutationFn: (body: object) => api<BillingProfile>('POST', '/api/v1/billing-profiles', { body }),
    onSuccess: () => {
      setForm(null);
      setSubmitted(false);
      void queryClient.invalidateQueries({ queryKey: keys.billingProfiles });
    },
  });

  const input = form && { ...form, vatId: form.vatId.trim() || undefined };
  const parsed = input ? billingProfileInputSchema.safeParse(input) : undefined;
  const clientErrors = submitted && parsed && !parsed.success ? zodErrors(parsed.error) : {};
  const serverErrors = apiFieldErrors(create.error);
  const errors: Record<string, string> = {};
  for (const name of FIELDS) {
    const message = clientErrors[name] ?? serverErrors[name];
    if (message) errors[name] = name === 'vatId' ? message : t(`billing.errors.${name}`);
  }

  return (
    <>
      <PageHeader
        title={t('billing.title')}
        description={t('billing.intro')}
        actions={
          mayCreate &&
          !form && (
            <Button onClick={() => setForm(empty)} id="new-billing-profile">
              {t('billing.create')}
            </Button>
          )
        }
      />
      <PageSection>
        <Stack hasGutter>
          {form && (
            <Card>
              <CardTitle component="h2">{t('billing.create')}</CardTitle>
              <CardBody>
                <Form
                  noValidate
                  onSubmit={(event) => {
                    event.preventDefault();
                    setSubmitted(true);
                    if (parsed?.success) create.mutate(input!);
                  }}
                >
                  {hasUnplacedErrors(create.error, FIELDS) && <ProblemAlert error={create.error} />}
                  <BillingProfileFields idPrefix="profile-" value={form} onChange={setForm} errors={errors} />
                  <ActionGroup>
                    <Button type="submit" isLoading={create.isPending} isDisabled={create.isPending}>
                      {t('common.save')}
                    </Button>
                    <Button variant="link" onClick={() => setForm(null)}>
                      {t('common.cancel')}
                    </Button>
                  </ActionGroup>
                </Form>
              </CardBody>
            </Card>
          )}
          <QueryContent
            query={profiles}
            isEmpty={(data) => data.items.length === 0}
            empty={<Empty title={t('billing.none')} body={t('billing.noneBody')} />}
          >
            {(data) => (
              <SimpleTable
                label={t('billing.title')}
                columns={[
                  t('billing.fields.company'),
                  t('billing.address'),
                  t('billing.fields.vatId'),
                  t('billing.fields.invoiceEmail'),
                ]}
                rows={data.items.map((p) => ({
                  key: p.id,
                  cells: [
                    p.company,
                    `${p.street}, ${p.postalCode} ${p.city}, ${p.country}`,
                    p.vatId ?? '–',
                    p.invoiceEmail,
                  ],
                }))}
              />
            )}
          </QueryContent>
          {profiles.data && profiles.data.items.length > 0 && <BillingUsage profiles={profiles.data.items} />}
        </Stack>
      </PageSection>
    </>
  );
}
