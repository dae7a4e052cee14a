import {
  ActionList,
  ActionListGroup,
  ActionListItem,
  Alert,
  Button,
  PageSection,
  useWizardContext,
  Wizard,
  WizardFooterWrapper,
  WizardStep,
} from '@patternfly/react-core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { api, ApiError } from '../api/client';
import { useBillingProfiles, useCatalog } from '../api/queries';
import { useCan, useSession } from '../api/session';
import type { BillingProfile, Order, PublicCatalog } from '../api/types';
import { Loading, PageHeader, ProblemAlert } from '../components/ui';
import { discardDraft, STEP_IDS, useDraft, type Draft, type StepId } from './draft';
import {
  BillingStep,
  ProductStep,
  RegionStep,
  SizeStep,
  SourcesStep,
  StorageStep,
  SummaryStep,
  TypeStep,
  type StepProps,
} from './steps';
import { localizeError, orderRequest, stepOfPath, stepValid } from './validate';
import { localizeMessage } from '../messages';

export default function OrderWizardPage() {
  const { t } = useTranslation();
  const catalog = useCatalog();
  const mayOrder = useCan('orders:create');
  const profiles = useBillingProfiles(mayOrder);
  if (!mayOrder) {
    return (
      <>
        <PageHeader title={t('wizard.title')} />
        <PageSection>
          <Alert variant="warning" isInline title={t('wizard.notAllowed')} />
        </PageSection>
      </>
    );
  }
  if (catalog.error) return <ProblemAlert error={catalog.error} />;
  if (!catalog.data || profiles.isPending) return <Loading />;
  return <OrderWizard catalog={catalog.data} profiles={profiles.data?.items ?? []} />;
}

function OrderWizard({ catalog, profiles }: { catalog: PublicCatalog; profiles: BillingProfile[] }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const { data: session } = useSession();
  const { draft, update } = useDraft(catalog);
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  const [visitedBilling, setVisitedBilling] = useState(false);

  const clearServerError = (prefix: string) =>
    setServerErrors((errors) => {
      const left = Object.fromEntries(
        Object.entries(errors).filter(([path]) => path !== prefix && !path.startsWith(prefix + '.')),
      );
      return Object.keys(left).length === Object.keys(errors).length ? errors : left;
    });

  const order = useMutation({
    mutationFn: (current: Draft) =>
      api<Order>('POST', '/api/v1/orders', {
        body: orderRequest(catalog, current),
        idempotencyKey: current.idempotencyKey,
      }),
    onSuccess: (created) => {
      discardDraft();
      void queryClient.invalidateQueries({ queryKey: ['orders'] });
      void queryClient.invalidateQueries({ queryKey: ['billing-profiles'] });
      queryClient.setQueryData(['order', created.id], created);
      void navigate(`/orders/${created.id}`);
    },
    onError: (error) => {
      if (!(error instanceof ApiError)) return;
      setServerErrors(Object.fromEntries(error.fieldErrors.map((e) => [e.path, localizeMessage(e)])));
    },
  });

  const props: StepProps = { catalog, draft, update, serverErrors, clearServerError };
  const startIndex = STEP_IDS.indexOf(draft.stepId) + 1;
  const stepStatus = (id: StepId) =>
    Object.keys(serverErrors).some((path) => stepOfPath(path) === id)
      ? ('error' as const)
      : ('default' as const);
  // A step's footer props replace the wizard's, so every step names all three buttons.
  const next = (id: StepId) => ({
    isNextDisabled: !stepValid(catalog, draft, id),
    nextButtonText: t('wizard.next'),
    backButtonText: t('wizard.back'),
    cancelButtonText: t('wizard.cancel'),
  });

  return (
    <>
      <PageHeader title={t('wizard.title')} description={t('wizard.intro')} />
      <PageSection isFilled type="wizard" aria-label={t('wizard.title')}>
        <Wizard
          className="kh-wizard"
          navAriaLabel={t('wizard.navLabel')}
          startIndex={startIndex}
          isVisitRequired
          onClose={() => {
            discardDraft();
            void navigate('/');
          }}
          onStepChange={(_event, current) => {
            const id = current.id as StepId;
            if (id === 'billing' || id === 'summary') setVisitedBilling(true);
            update({ stepId: id });
          }}
          footer={{
            backButtonText: t('wizard.back'),
            cancelButtonText: t('wizard.cancel'),
            nextButtonText: t('wizard.next'),
          }}
        >
          <WizardStep id="product" name={t('wizard.steps.product')} footer={next('product')}>
            <ProductStep {...props} />
          </WizardStep>
          <WizardStep
            id="type"
            name={t('wizard.steps.type')}
            footer={next('type')}
            status={stepStatus('type')}
          >
            <TypeStep {...props} />
          </WizardStep>
          <WizardStep
            id="size"
            name={t('wizard.steps.size')}
            footer={next('size')}
            status={stepStatus('size')}
          >
            <SizeStep {...props} />
          </WizardStep>
          <WizardStep
            id="storage"
            name={t('wizard.steps.storage')}
            footer={next('storage')}
            status={stepStatus('storage')}
          >
            <StorageStep {...props} />
          </WizardStep>
          <WizardStep
            id="sources"
            name={t('wizard.steps.sources')}
            footer={next('sources')}
            status={stepStatus('sources')}
          >
            <SourcesStep {...props} sourceAddress={session?.sourceAddress} />
          </WizardStep>
          <WizardStep
            id="region"
            name={t('wizard.steps.region')}
            footer={next('region')}
            status={stepStatus('region')}
          >
            <RegionStepWithNav {...props} />
          </WizardStep>
          <WizardStep
            id="billing"
            name={t('wizard.steps.billing')}
            footer={next('billing')}
            status={stepStatus('billing')}
          >
            <BillingStep {...props} profiles={profiles} showErrors={visitedBilling} />
          </WizardStep>
          <WizardStep
            id="summary"
            name={t('wizard.steps.summary')}
            status={stepStatus('summary')}
            footer={<OrderFooter catalog={catalog} draft={draft} order={order} />}
          >
            <SummaryWithNav {...props} profiles={profiles} order={order} />
          </WizardStep>
        </Wizard>
      </PageSection>
    </>
  );
}

function RegionStepWithNav(props: StepProps) {
  const { goToStepById } = useWizardContext();
  return <RegionStep {...props} goTo={goToStepById} />;
}

type OrderMutation = ReturnType<typeof useMutation<Order, Error, Draft>>;

function SummaryWithNav(props: StepProps & { profiles: BillingProfile[]; order: OrderMutation }) {
  const { t } = useTranslation();
  const { goToStepById } = useWizardContext();
  const error = props.order.error;
  const fieldErrors = error instanceof ApiError ? error.fieldErrors : [];
  return (
    <>
      <SummaryStep {...props} goTo={goToStepById} />
      {error && (
        <div style={{ marginTop: 16 }}>
          {fieldErrors.length > 0 ? (
            <Alert variant="danger" isInline title={t('wizard.summary.refused')} role="alert">
              <ul>
                {fieldErrors.map((e) => (
                  <li key={e.path}>
                    <Button variant="link" isInline onClick={() => goToStepById(stepOfPath(e.path))}>
                      {t(`wizard.steps.${stepOfPath(e.path)}`)}
                    </Button>
                    : {localizeError(t, props.catalog, e.path, localizeMessage(e))}
                  </li>
                ))}
              </ul>
            </Alert>
          ) : (
            <ProblemAlert error={error} title={t('wizard.summary.failed')} />
          )}
        </div>
      )}
    </>
  );
}

/** The last step's footer: "Jetzt kostenpflichtig bestellen", disabled until the terms are accepted. */
function OrderFooter({
  catalog,
  draft,
  order,
}: {
  catalog: PublicCatalog;
  draft: Draft;
  order: OrderMutation;
}) {
  const { t } = useTranslation();
  const { goToPrevStep, close } = useWizardContext();
  const submitting = useRef(false);
  const ready = stepValid(catalog, draft, 'summary');
  return (
    <WizardFooterWrapper>
      <ActionList>
        <ActionListGroup>
          <ActionListItem>
            <Button variant="secondary" onClick={goToPrevStep}>
              {t('wizard.back')}
            </Button>
          </ActionListItem>
          <ActionListItem>
            <Button
              variant="primary"
              id="place-order"
              isDisabled={!ready || order.isPending}
              isLoading={order.isPending}
              onClick={() => {
                // Two clicks in one frame reach here before React re-renders: only the first orders. Both would
                // be harmless anyway: the server answers a repeated idempotency key with the same order.
                if (submitting.current) return;
                submitting.current = true;
                order.mutate(draft, {
                  onSettled: () => {
                    submitting.current = false;
                  },
                });
              }}
            >
              {t('wizard.orderNow')}
            </Button>
          </ActionListItem>
        </ActionListGroup>
        <ActionListGroup>
          <ActionListItem>
            <Button variant="link" onClick={close}>
              {t('wizard.cancel')}
            </Button>
          </ActionListItem>
        </ActionListGroup>
      </ActionList>
    </WizardFooterWrapper>
  );
}
