import {
  Alert,
  Button,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Flex,
  Form,
  FormGroup,
  FormSelect,
  FormSelectOption,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  NumberInput,
  Radio,
  Stack,
  Switch,
  TextInput,
} from '@patternfly/react-core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router';
import { priceDelta } from '../../../src/catalog/pricing';
import {
  changeOrderRequestSchema,
  compareVersions,
  isPatchUpgrade,
  specAfter,
  type ChangeableInstance,
} from '../../../src/orders/order-schemas';
import type { InstanceSpec } from '../../../src/instances/instance-schemas';
import { api, ApiError } from '../api/client';
import { priceOfSpec } from '../api/pricing';
import { keys } from '../api/queries';
import { useCan } from '../api/session';
import type { Instance, List, Order, Price, PublicCatalog } from '../api/types';
import { FieldError, ProblemAlert } from '../components/ui';
import { useFormat } from '../format';
import { uuid } from '../uuid';
import { zodErrors } from '../validation';
import { localizeMessage } from '../messages';

const RUNNING: Order['status'][] = ['new', 'processing'];

/** The instance's order that is new or processing, if any (one change at a time); polled while one runs. */
export function useRunningOrder(instanceId: string) {
  const query = useQuery({
    queryKey: ['orders', 'instance', instanceId],
    queryFn: () =>
      api<List<Order>>('GET', `/api/v1/orders?limit=20&instanceId=${encodeURIComponent(instanceId)}`),
    refetchInterval: (q) => (q.state.data?.items.some((o) => RUNNING.includes(o.status)) ? 3000 : false),
  });
  return query.data?.items.find((o) => RUNNING.includes(o.status));
}

const specOf = (instance: Instance): InstanceSpec => ({
  serviceType: instance.serviceType,
  version: instance.version,
  nodeSize: instance.nodeSize,
  storageGb: instance.storageGb,
  trustedSources: instance.trustedSources,
  adminSources: instance.adminSources,
  region: instance.region,
  zone: instance.zone ?? '',
  themes: instance.themes,
  ...(instance.backups ? { backups: instance.backups } : {}),
});

const changeableOf = (instance: Instance): ChangeableInstance => ({
  name: instance.name,
  spec: specOf(instance),
  deletionProtection: instance.deletionProtection,
});

/** Checks a change with the API's own schema; field errors by path, and the parsed change when valid. */
function useChangeCheck(instance: Instance, catalog: PublicCatalog, request: object) {
  const schema = useMemo(
    () => changeOrderRequestSchema(catalog, changeableOf(instance)),
    [catalog, instance],
  );
  const parsed = schema.safeParse(request);
  return parsed.success
    ? { change: parsed.data, errors: {} as Record<string, string> }
    : { change: undefined, errors: zodErrors(parsed.error) };
}

/** The link of a 409 to the order that blocks the change. */
function RunningOrderLink({ error }: { error: unknown }) {
  const { t } = useTranslation();
  if (!(error instanceof ApiError) || error.status !== 409 || !error.problem.runningOrder) return null;
  const id = error.problem.runningOrder.split('/').at(-1)!;
  return <Link to={`/orders/${id}`}>{t('changes.toRunning')}</Link>;
}

export function PriceLines({ price }: { price: Price }) {
  const { t } = useTranslation();
  const format = useFormat();
  return (
    <>
      {t('orders.perHour', { price: format.money(price.perHour, price.currency, 4) })} ·{' '}
      {t('orders.perMonth', { price: format.money(price.perMonth, price.currency) })}
    </>
  );
}

/**
 * A change dialog: the form, then (for changes that alter the price) a confirmation of the new price and the delta
 * with the wizard's "order with costs" wording. One Idempotency-Key per opened dialog: a double click orders once.
 */
export function ChangeModal(props: {
  id: string;
  instance: Instance;
  catalog: PublicCatalog;
  title: string;
  request: object;
  placeLabel: string;
  danger?: boolean;
  /** Extra conditions the form needs (e.g. deletion protection off). */
  blocked?: boolean;
  onClose(): void;
  children(errors: Record<string, string>): ReactNode;
}) {
  const { instance, catalog } = props;
  const { t } = useTranslation();
  const format = useFormat();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [idempotencyKey] = useState(uuid);
  const [confirming, setConfirming] = useState(false);
  const { change, errors } = useChangeCheck(instance, catalog, props.request);
  const place = useMutation({
    mutationFn: () =>
      api<Order>('POST', `/api/v1/instances/${encodeURIComponent(instance.id)}/orders`, {
        body: change,
        idempotencyKey,
      }),
    onSuccess: (order) => {
      void queryClient.invalidateQueries({ queryKey: ['orders'] });
      void queryClient.invalidateQueries({ queryKey: keys.instance(instance.id) });
      queryClient.setQueryData(keys.order(order.id), order);
      void navigate(`/orders/${order.id}`);
    },
  });

  const before = priceOfSpec(catalog, instance);
  const after = change ? priceOfSpec(catalog, specAfter(specOf(instance), change)) : undefined;
  const costs =
    before && after && after.perHour !== before.perHour
      ? { after, delta: priceDelta(before, after) }
      : undefined;
  const serverErrors: Record<string, string> = {};
  if (place.error instanceof ApiError)
    for (const e of place.error.fieldErrors) serverErrors[e.path] ??= localizeMessage(e);
  const shownErrors = { ...serverErrors, ...errors };
  const ready = Boolean(change) && !props.blocked && !place.isPending;
  const titleId = `${props.id}-title`;

  return (
    <Modal isOpen onClose={props.onClose} variant="medium" aria-labelledby={titleId} id={props.id}>
      <ModalHeader
        title={confirming ? t('changes.confirmTitle') : props.title}
        labelId={titleId}
        titleIconVariant={props.danger ? 'danger' : undefined}
      />
      <ModalBody>
        <Form
          id={`${props.id}-form`}
          onSubmit={(event) => {
            event.preventDefault();
            if (!ready) return;
            if (costs && !confirming) setConfirming(true);
            else place.mutate();
          }}
        >
          {confirming && costs && before ? (
            <Stack hasGutter>
              <p>{t('changes.confirmIntro')}</p>
              <DescriptionList isHorizontal>
                <DescriptionListGroup>
                  <DescriptionListTerm>{t('changes.currentPrice')}</DescriptionListTerm>
                  <DescriptionListDescription>
                    <PriceLines price={before} />
                  </DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>{t('changes.newPrice')}</DescriptionListTerm>
                  <DescriptionListDescription data-testid="change-new-price">
                    <strong>
                      <PriceLines price={costs.after} />
                    </strong>
                  </DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>{t('changes.delta')}</DescriptionListTerm>
                  <DescriptionListDescription data-testid="change-price-delta">
                    {t('orders.perHour', {
                      price: format.signedMoney(costs.delta.perHour, costs.delta.currency, 4),
                    })}{' '}
                    ·{' '}
                    {t('orders.perMonth', {
                      price: format.signedMoney(costs.delta.perMonth, costs.delta.currency),
                    })}
                  </DescriptionListDescription>
                </DescriptionListGroup>
              </DescriptionList>
              <small className="kh-muted">
                {t('wizard.summary.billingNote', { hours: catalog.hoursPerMonth })}
              </small>
            </Stack>
          ) : (
            props.children(shownErrors)
          )}
          {place.error && (
            <Alert variant="danger" isInline title={place.error.message} role="alert">
              <RunningOrderLink error={place.error} />
              {!(place.error instanceof ApiError && place.error.status === 409) && (
                <ProblemAlert error={place.error} />
              )}
            </Alert>
          )}
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button
          type="submit"
          form={`${props.id}-form`}
          variant={props.danger ? 'danger' : 'primary'}
          isDisabled={!ready}
          isLoading={place.isPending}
        >
          {confirming ? t('wizard.orderNow') : costs ? t('changes.review') : props.placeLabel}
        </Button>
        {confirming && (
          <Button variant="secondary" onClick={() => setConfirming(false)}>
            {t('wizard.back')}
          </Button>
        )}
        <Button variant="link" onClick={props.onClose}>
          {t('common.cancel')}
        </Button>
      </ModalFooter>
    </Modal>
  );
}

export type DialogProps = { instance: Instance; catalog: PublicCatalog; onClose(): void };

function ScaleDialog({ instance, catalog, onClose }: DialogProps) {
  const { t } = useTranslation();
  const format = useFormat();
  const [nodeSize, setNodeSize] = useState(instance.nodeSize);
  return (
    <ChangeModal
      id="scale-dialog"
      title={t('changes.scale.title')}
      placeLabel={t('changes.place')}
      request={{ type: 'scale', nodeSize }}
      {...{ instance, catalog, onClose }}
    >
      {(errors) => (
        <Stack hasGutter>
          <p>{t('changes.scale.intro')}</p>
          <FormGroup role="radiogroup" isStack fieldId="scale-sizes" label={t('changes.scale.label')}>
            {catalog.nodeSizes.map((size) => {
              const price = priceOfSpec(catalog, { nodeSize: size.id, storageGb: instance.storageGb });
              return (
                <Radio
                  key={size.id}
                  id={`scale-${size.id}`}
                  name="scale-size"
                  isChecked={nodeSize === size.id}
                  onChange={() => setNodeSize(size.id)}
                  label={
                    <>
                      <strong>{size.id}</strong> – {t('wizard.size.vcpu', { count: size.vcpu })},{' '}
                      {t('wizard.size.ram', { gb: size.memoryGb })}
                      {size.id === instance.nodeSize && ` (${t('changes.scale.current')})`}
                    </>
                  }
                  description={price && <PriceLines price={price} />}
                />
              );
            })}
          </FormGroup>
          {nodeSize !== instance.nodeSize && (
            <NewPrice instance={instance} catalog={catalog} spec={{ nodeSize }} format={format} />
          )}
          <FieldError message={errors.nodeSize} />
        </Stack>
      )}
    </ChangeModal>
  );
}

/** The new price and the delta, shown live in the form (and again in the confirmation). */
function NewPrice(props: {
  instance: Instance;
  catalog: PublicCatalog;
  spec: { nodeSize?: string; storageGb?: number };
  format: ReturnType<typeof useFormat>;
}) {
  const { t } = useTranslation();
  const before = priceOfSpec(props.catalog, props.instance);
  const after = priceOfSpec(props.catalog, { ...specOf(props.instance), ...props.spec });
  if (!before || !after) return null;
  const delta = priceDelta(before, after);
  return (
    <Alert variant="info" isInline isPlain title={t('changes.newPrice')}>
      <PriceLines price={after} /> ({t('changes.delta')}:{' '}
      {t('orders.perMonth', { price: props.format.signedMoney(delta.perMonth, delta.currency) })})
    </Alert>
  );
}

function StorageDialog({ instance, catalog, onClose }: DialogProps) {
  const { t } = useTranslation();
  const format = useFormat();
  const { stepGb, maxGb } = catalog.storage;
  const [storageGb, setStorageGb] = useState(Math.min(maxGb, instance.storageGb + stepGb));
  const grows = instance.storageGb < maxGb;
  return (
    <ChangeModal
      id="storage-dialog"
      title={t('changes.storage.title')}
      placeLabel={t('changes.place')}
      request={{ type: 'storage', storageGb }}
      {...{ instance, catalog, onClose }}
    >
      {(errors) => (
        <Stack hasGutter>
          <p>{t('changes.storage.intro', { current: instance.storageGb })}</p>
          {grows ? (
            <FormGroup label={t('wizard.storage.label')} fieldId="change-storageGb">
              <NumberInput
                inputName="storageGb"
                inputAriaLabel={t('wizard.storage.label')}
                inputProps={{ id: 'change-storageGb', 'aria-invalid': Boolean(errors.storageGb) }}
                minusBtnAriaLabel={t('wizard.storage.less', { step: stepGb })}
                plusBtnAriaLabel={t('wizard.storage.more', { step: stepGb })}
                value={storageGb}
                min={instance.storageGb + stepGb}
                max={maxGb}
                onMinus={() => setStorageGb((gb) => Math.max(instance.storageGb + stepGb, gb - stepGb))}
                onPlus={() => setStorageGb((gb) => Math.min(maxGb, gb + stepGb))}
                onChange={(event) => setStorageGb(Number((event.target as HTMLInputElement).value))}
              />
              <FieldError
                message={
                  errors.storageGb &&
                  t('changes.storage.invalid', { current: instance.storageGb, max: maxGb, step: stepGb })
                }
              />
            </FormGroup>
          ) : (
            <Alert variant="info" isInline title={t('changes.storage.atMax', { max: maxGb })} />
          )}
          {!errors.storageGb && storageGb !== instance.storageGb && (
            <NewPrice instance={instance} catalog={catalog} spec={{ storageGb }} format={format} />
          )}
        </Stack>
      )}
    </ChangeModal>
  );
}

function RestartDialog({ instance, catalog, onClose }: DialogProps) {
  const { t } = useTranslation();
  return (
    <ChangeModal
      id="restart-dialog"
      title={t('changes.restart.title')}
      placeLabel={t('changes.restart.place')}
      request={{ type: 'restart' }}
      {...{ instance, catalog, onClose }}
    >
      {() => <p>{t('changes.restart.intro')}</p>}
    </ChangeModal>
  );
}

function UpgradeDialog({ instance, catalog, onClose }: DialogProps) {
  const { t } = useTranslation();
  const newer = (catalog.serviceTypes.find((s) => s.id === instance.serviceType)?.versions ?? [])
    .filter((v) => compareVersions(v, instance.version) > 0)
    .sort(compareVersions);
  const [version, setVersion] = useState(newer.at(-1) ?? '');
  return (
    <ChangeModal
      id="upgrade-dialog"
      title={t('changes.upgrade.title')}
      placeLabel={t('changes.upgrade.place')}
      request={{ type: 'upgrade', version }}
      blocked={newer.length === 0}
      {...{ instance, catalog, onClose }}
    >
      {(errors) =>
        newer.length === 0 ? (
          <Alert variant="info" isInline title={t('changes.upgrade.none', { version: instance.version })} />
        ) : (
          <Stack hasGutter>
            <p>{t('changes.upgrade.intro', { version: instance.version })}</p>
            <FormGroup label={t('changes.upgrade.version')} fieldId="upgrade-version">
              <FormSelect id="upgrade-version" value={version} onChange={(_e, v) => setVersion(v)}>
                {newer.map((v) => (
                  <FormSelectOption key={v} value={v} label={v} />
                ))}
              </FormSelect>
              <FieldError message={errors.version} />
            </FormGroup>
            <p id="upgrade-interruption">
              {isPatchUpgrade(instance.version, version)
                ? t('changes.upgrade.patch')
                : t('changes.upgrade.minor')}
            </p>
            <Alert variant="warning" isInline title={t('changes.upgrade.backupTitle')}>
              {t('changes.upgrade.backup')}
            </Alert>
          </Stack>
        )
      }
    </ChangeModal>
  );
}

function DeleteDialog({ instance, catalog, onClose }: DialogProps) {
  const { t } = useTranslation();
  const [confirmName, setConfirmName] = useState('');
  return (
    <ChangeModal
      id="delete-dialog"
      title={t('changes.delete.title')}
      placeLabel={t('changes.delete.place')}
      request={{ type: 'delete', confirmName }}
      danger
      blocked={instance.deletionProtection}
      {...{ instance, catalog, onClose }}
    >
      {(errors) => (
        <Stack hasGutter>
          <p>{t('changes.delete.intro')}</p>
          <DeletionProtectionSwitch instance={instance} id="delete-dialog-protection" />
          {instance.deletionProtection && (
            <Alert variant="warning" isInline title={t('changes.delete.protected')} />
          )}
          <FormGroup
            label={t('changes.delete.confirmLabel', { name: instance.name })}
            fieldId="delete-confirm-name"
          >
            <TextInput
              id="delete-confirm-name"
              value={confirmName}
              onChange={(_e, value) => setConfirmName(value)}
              isDisabled={instance.deletionProtection}
              autoComplete="off"
              spellCheck={false}
              validated={confirmName && errors.confirmName ? 'error' : 'default'}
            />
            <FieldError
              message={
                confirmName && errors.confirmName
                  ? t('changes.delete.mismatch', { name: instance.name })
                  : undefined
              }
            />
          </FormGroup>
        </Stack>
      )}
    </ChangeModal>
  );
}

/** Deletion protection on/off: PATCH /api/v1/instances/{id} (audited; managers and admins). */
export function DeletionProtectionSwitch({ instance, id }: { instance: Instance; id: string }) {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const mayDelete = useCan('instances:delete');
  const patch = useMutation({
    mutationFn: (deletionProtection: boolean) =>
      api<Instance>('PATCH', `/api/v1/instances/${encodeURIComponent(instance.id)}`, {
        body: { deletionProtection },
      }),
    onSuccess: (updated) => queryClient.setQueryData(keys.instance(instance.id), updated),
  });
  return (
    <Stack>
      <Switch
        id={id}
        label={t('changes.protection.label')}
        isChecked={instance.deletionProtection}
        isDisabled={!mayDelete || patch.isPending}
        onChange={(_event, checked) => patch.mutate(checked)}
      />
      <small className="kh-muted">
        {instance.deletionProtection ? t('changes.protection.on') : t('changes.protection.off')}
      </small>
      {patch.error && <ProblemAlert error={patch.error} />}
    </Stack>
  );
}

type DialogName = 'scale' | 'storage' | 'restart' | 'upgrade' | 'delete';

/** The instance page's changes: one button per change type, disabled while another order of the instance runs. */
export function InstanceChanges({ instance, catalog }: { instance: Instance; catalog: PublicCatalog }) {
  const { t } = useTranslation();
  const mayChange = useCan('instances:change');
  const mayDelete = useCan('instances:delete');
  const running = useRunningOrder(instance.id);
  const [open, setOpen] = useState<DialogName | null>(null);
  const usable = instance.status === 'running';
  const disabled = Boolean(running) || !usable;
  const close = () => setOpen(null);
  const buttons: { name: DialogName; allowed: boolean; enabled: boolean; danger?: boolean }[] = [
    { name: 'scale', allowed: mayChange, enabled: !disabled },
    { name: 'storage', allowed: mayChange, enabled: !disabled && instance.storageGb < catalog.storage.maxGb },
    { name: 'restart', allowed: mayChange, enabled: !disabled },
    { name: 'upgrade', allowed: mayChange, enabled: !disabled },
    {
      name: 'delete',
      allowed: mayDelete,
      enabled: !running && (usable || instance.status === 'failed'),
      danger: true,
    },
  ];
  const Dialog =
    open &&
    {
      scale: ScaleDialog,
      storage: StorageDialog,
      restart: RestartDialog,
      upgrade: UpgradeDialog,
      delete: DeleteDialog,
    }[open];

  return (
    <Stack hasGutter>
      {running && (
        <Alert variant="info" isInline title={t('changes.running')} data-testid="change-running">
          <Link to={`/orders/${running.id}`}>{t('changes.toRunning')}</Link>
        </Alert>
      )}
      <p className="kh-muted">{t('changes.intro')}</p>
      <Flex gap={{ default: 'gapSm' }}>
        {buttons
          .filter((b) => b.allowed)
          .map((b) => (
            <Button
              key={b.name}
              variant={b.danger ? 'danger' : 'secondary'}
              isDisabled={!b.enabled}
              onClick={() => setOpen(b.name)}
            >
              {t(`changes.${b.name}.open`)}
            </Button>
          ))}
      </Flex>
      <DeletionProtectionSwitch instance={instance} id="deletion-protection" />
      {Dialog && <Dialog instance={instance} catalog={catalog} onClose={close} />}
    </Stack>
  );
}
