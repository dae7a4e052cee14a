import {
  Alert,
  Button,
  Checkbox,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Flex,
  FormGroup,
  FormSelect,
  FormSelectOption,
  Label,
  NumberInput,
  Stack,
  TextArea,
  TextInput,
  Title,
} from '@patternfly/react-core';
import { DownloadIcon } from '@patternfly/react-icons';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router';
import { WEEKDAYS } from '../../../src/backups/backup-windows';
import { api, ApiError } from '../api/client';
import { useCan } from '../api/session';
import { priceOfSpec } from '../api/pricing';
import type { Backup, BackupPolicy, InstanceBackups, Order } from '../api/types';
import { uuid } from '../uuid';
import { FieldError, ProblemAlert, SimpleTable } from '../components/ui';
import { useFormat } from '../format';
import { ChangeModal, PriceLines, useRunningOrder, type DialogProps } from './changes';

/**
 * The instance page's "Backups" tab: the schedule (retention, backup and maintenance windows, the next patch with
 * "run now"), the key downloads are encrypted to, and the list of backups with download and restore. Every change
 * is an order placed through the change dialogs (price delta and cost confirmation included).
 */
const backupsKey = (instanceId: string) => ['backups', instanceId] as const;
const HOURS = Array.from({ length: 24 }, (_, hour) => hour);
const hh = (hour: number, minutes = 0) =>
  `${String(hour % 24).padStart(2, '0')}:${String(minutes).padStart(2, '0')}`;

function useBackups(instanceId: string) {
  return useQuery({
    queryKey: backupsKey(instanceId),
    queryFn: () => api<InstanceBackups>('GET', `/api/v1/instances/${encodeURIComponent(instanceId)}/backups`),
    refetchInterval: (query) =>
      query.state.data?.items.some((b) => b.status === 'pending' || b.status === 'running') ? 3000 : false,
  });
}

function bytes(value: number | null, format: ReturnType<typeof useFormat>) {
  if (value === null) return '–';
  const units = ['B', 'KB', 'MB', 'GB'];
  let unit = 0;
  let amount = value;
  while (amount >= 1024 && unit < units.length - 1) {
    amount /= 1024;
    unit++;
  }
  return `${format.number(Math.round(amount * 10) / 10)} ${units[unit]}`;
}

function PolicyDialog({ policy, ...props }: DialogProps & { policy: BackupPolicy }) {
  const { t } = useTranslation();
  const [edited, setEdited] = useState<BackupPolicy>(policy);
  const { includedRetention, maxRetention } = props.catalog.backups;
  const set = (change: Partial<BackupPolicy>) => setEdited((current) => ({ ...current, ...change }));
  return (
    <ChangeModal
      id="backup-policy-dialog"
      title={t('backups.policy.title')}
      placeLabel={t('changes.place')}
      request={{ type: 'backup-policy', policy: edited }}
      {...props}
    >
      {(errors) => (
        <Stack hasGutter>
          <p>{t('backups.policy.intro', { included: includedRetention })}</p>
          <FormGroup label={t('backups.retention')} fieldId="backup-retention">
            <NumberInput
              inputName="retention"
              inputAriaLabel={t('backups.retention')}
              inputProps={{ id: 'backup-retention', 'aria-invalid': Boolean(errors['policy.retention']) }}
              minusBtnAriaLabel="−"
              plusBtnAriaLabel="+"
              value={edited.retention}
              min={includedRetention}
              max={maxRetention}
              onMinus={() => set({ retention: Math.max(includedRetention, edited.retention - 1) })}
              onPlus={() => set({ retention: Math.min(maxRetention, edited.retention + 1) })}
              onChange={(event) => set({ retention: Number((event.target as HTMLInputElement).value) })}
            />
            <FieldError message={errors['policy.retention']} />
          </FormGroup>
          <FormGroup label={t('backups.timeZone')} fieldId="backup-time-zone">
            <TextInput
              id="backup-time-zone"
              value={edited.timeZone}
              onChange={(_e, timeZone) => set({ timeZone })}
              validated={errors['policy.timeZone'] ? 'error' : 'default'}
            />
            <FieldError message={errors['policy.timeZone']} />
          </FormGroup>
          <FormGroup label={t('backups.backupWindow')} fieldId="backup-window-start">
            <FormSelect
              id="backup-window-start"
              value={edited.backupWindow.startHour}
              onChange={(_e, value) => set({ backupWindow: { startHour: Number(value) } })}
            >
              {HOURS.map((hour) => (
                <FormSelectOption key={hour} value={hour} label={`${hh(hour)}–${hh(hour + 2)}`} />
              ))}
            </FormSelect>
          </FormGroup>
          <FormGroup label={t('backups.maintenanceWindow')} fieldId="maintenance-day">
            <Flex gap={{ default: 'gapSm' }}>
              <FormSelect
                id="maintenance-day"
                aria-label={t('backups.weekday')}
                value={edited.maintenanceWindow.day}
                onChange={(_e, day) =>
                  set({
                    maintenanceWindow: {
                      ...edited.maintenanceWindow,
                      day: day as BackupPolicy['maintenanceWindow']['day'],
                    },
                  })
                }
              >
                {WEEKDAYS.map((day) => (
                  <FormSelectOption key={day} value={day} label={t(`backups.days.${day}`)} />
                ))}
              </FormSelect>
              <FormSelect
                id="maintenance-start"
                aria-label={t('backups.maintenanceStart')}
                value={edited.maintenanceWindow.startHour}
                onChange={(_e, value) =>
                  set({ maintenanceWindow: { ...edited.maintenanceWindow, startHour: Number(value) } })
                }
              >
                {HOURS.map((hour) => (
                  <FormSelectOption key={hour} value={hour} label={`${hh(hour)}–${hh(hour + 2, 30)}`} />
                ))}
              </FormSelect>
            </Flex>
            <FieldError
              message={errors['policy.maintenanceWindow.startHour'] && t('backups.policy.tooClose')}
            />
          </FormGroup>
        </Stack>
      )}
    </ChangeModal>
  );
}

function RestoreDialog({ backup, ...props }: DialogProps & { backup: Backup }) {
  const { t } = useTranslation();
  const format = useFormat();
  const [confirmName, setConfirmName] = useState('');
  return (
    <ChangeModal
      id="restore-dialog"
      title={t('backups.restore.title')}
      placeLabel={t('backups.restore.place')}
      request={{ type: 'restore', backupId: backup.id, confirmName }}
      danger
      {...props}
    >
      {(errors) => (
        <Stack hasGutter>
          <p>
            {t('backups.restore.intro', {
              when: format.dateTime(backup.finishedAt ?? backup.createdAt),
            })}
          </p>
          <FormGroup
            label={t('changes.delete.confirmLabel', { name: props.instance.name })}
            fieldId="restore-confirm-name"
          >
            <TextInput
              id="restore-confirm-name"
              value={confirmName}
              onChange={(_e, value) => setConfirmName(value)}
              autoComplete="off"
              spellCheck={false}
              validated={confirmName && errors.confirmName ? 'error' : 'default'}
            />
            <FieldError
              message={
                confirmName && errors.confirmName
                  ? t('changes.delete.mismatch', { name: props.instance.name })
                  : undefined
              }
            />
          </FormGroup>
        </Stack>
      )}
    </ChangeModal>
  );
}

/**
 * Restore into a new instance: a new order like the first one (same size, storage, version, region, trusted sources
 * and billing profile as this instance; the API allows larger ones), with its price and the terms to accept.
 */
function RestoreIntoNewDialog({ backup, instance, catalog, onClose }: DialogProps & { backup: Backup }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [accepted, setAccepted] = useState(false);
  const [idempotencyKey] = useState(uuid);
  const price = priceOfSpec(catalog, { nodeSize: instance.nodeSize, storageGb: instance.storageGb });
  const place = useMutation({
    mutationFn: () =>
      api<Order>('POST', '/api/v1/orders', {
        idempotencyKey,
        body: {
          serviceType: instance.serviceType,
          version: instance.version,
          nodeSize: instance.nodeSize,
          storageGb: instance.storageGb,
          trustedSources: instance.trustedSources,
          region: instance.region,
          ...(instance.zone ? { zone: instance.zone } : {}),
          billingProfileId: instance.billingProfileId,
          acceptTerms: { version: catalog.terms.version },
          restoreFrom: { instanceId: instance.id, backupId: backup.id },
        },
      }),
    onSuccess: (order) => void navigate(`/orders/${order.id}`),
  });
  return (
    <Modal
      isOpen
      onClose={onClose}
      variant="medium"
      aria-labelledby="restore-new-title"
      id="restore-new-dialog"
    >
      <ModalHeader title={t('backups.restoreNew.title')} labelId="restore-new-title" />
      <ModalBody>
        <Stack hasGutter>
          <p>
            {t('backups.restoreNew.intro', {
              name: instance.name,
              size: instance.nodeSize,
              gb: instance.storageGb,
            })}
          </p>
          {price && (
            <p data-testid="restore-new-price">
              <PriceLines price={price} />
            </p>
          )}
          <Checkbox
            id="restore-new-terms"
            isChecked={accepted}
            onChange={(_e, checked) => setAccepted(checked)}
            label={t('wizard.summary.terms', { version: catalog.terms.version })}
          />
          {place.error && <ProblemAlert error={place.error} />}
        </Stack>
      </ModalBody>
      <ModalFooter>
        <Button
          variant="primary"
          isDisabled={!accepted || place.isPending}
          isLoading={place.isPending}
          onClick={() => place.mutate()}
        >
          {t('wizard.orderNow')}
        </Button>
        <Button variant="link" onClick={onClose}>
          {t('common.cancel')}
        </Button>
      </ModalFooter>
    </Modal>
  );
}

function EncryptionKey({ instanceId, backups }: { instanceId: string; backups: InstanceBackups }) {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const mayChange = useCan('instances:change');
  const [publicKey, setPublicKey] = useState('');
  const upload = useMutation({
    mutationFn: () =>
      api('PUT', `/api/v1/instances/${encodeURIComponent(instanceId)}/backup-key`, { body: { publicKey } }),
    onSuccess: () => {
      setPublicKey('');
      void queryClient.invalidateQueries({ queryKey: backupsKey(instanceId) });
    },
  });
  const fieldError =
    upload.error instanceof ApiError
      ? upload.error.fieldErrors.find((e) => e.path === 'publicKey')?.message
      : undefined;
  return (
    <Stack hasGutter>
      <p>
        {backups.encryptionKey
          ? t('backups.key.current', {
              fingerprint: backups.encryptionKey.fingerprint,
              userIds: backups.encryptionKey.userIds.join(', '),
            })
          : t('backups.key.none')}
      </p>
      {mayChange && (
        <>
          <FormGroup label={t('backups.key.label')} fieldId="backup-public-key">
            <TextArea
              id="backup-public-key"
              value={publicKey}
              onChange={(_e, value) => setPublicKey(value)}
              rows={4}
              resizeOrientation="vertical"
              placeholder="-----BEGIN PGP PUBLIC KEY BLOCK-----"
              validated={fieldError ? 'error' : 'default'}
            />
            <FieldError message={fieldError} />
          </FormGroup>
          <div>
            <Button
              variant="secondary"
              isDisabled={!publicKey.trim() || upload.isPending}
              isLoading={upload.isPending}
              onClick={() => upload.mutate()}
            >
              {t('backups.key.upload')}
            </Button>
          </div>
          {upload.error && !fieldError && <ProblemAlert error={upload.error} />}
        </>
      )}
    </Stack>
  );
}

type Open =
  | { dialog: 'backup' }
  | { dialog: 'policy' }
  | { dialog: 'patch'; version: string }
  | { dialog: 'restore'; backup: Backup }
  | { dialog: 'restore-new'; backup: Backup };

export function BackupsTab({ instance, catalog }: Omit<DialogProps, 'onClose'>) {
  const { t } = useTranslation();
  const format = useFormat();
  const backups = useBackups(instance.id);
  const running = useRunningOrder(instance.id);
  const mayChange = useCan('instances:change');
  const mayDownload = useCan('instances:reveal-credentials');
  const mayOrder = useCan('orders:create');
  const [open, setOpen] = useState<Open | null>(null);
  if (backups.error) return <ProblemAlert error={backups.error} />;
  if (!backups.data) return null;
  const data = backups.data;
  const { policy } = data;
  const canOrder = mayChange && !running && instance.status === 'running';
  const close = () => setOpen(null);
  const dialogProps = { instance, catalog, onClose: close };
  const kindLabel = (backup: Backup) =>
    backup.kind === 'nightly'
      ? t('backups.kinds.nightly', { night: backup.night })
      : t(`backups.kinds.${backup.kind}`);

  return (
    <Stack hasGutter>
      <Title headingLevel="h2">{t('backups.schedule')}</Title>
      <DescriptionList isHorizontal>
        <DescriptionListGroup>
          <DescriptionListTerm>{t('backups.retention')}</DescriptionListTerm>
          <DescriptionListDescription data-testid="backup-retention">
            {t('backups.retentionValue', { count: policy.retention })}
            {data.retentionPricePerMonth !== '0.00' &&
              ` (${t('orders.perMonth', { price: format.signedMoney(data.retentionPricePerMonth) })})`}
          </DescriptionListDescription>
        </DescriptionListGroup>
        <DescriptionListGroup>
          <DescriptionListTerm>{t('backups.backupWindow')}</DescriptionListTerm>
          <DescriptionListDescription>
            {t('backups.daily', {
              from: hh(policy.backupWindow.startHour),
              to: hh(policy.backupWindow.startHour + 2),
              timeZone: policy.timeZone,
            })}{' '}
            · {t('backups.next', { when: format.dateTime(data.nextBackupWindow.start) })}
          </DescriptionListDescription>
        </DescriptionListGroup>
        <DescriptionListGroup>
          <DescriptionListTerm>{t('backups.maintenanceWindow')}</DescriptionListTerm>
          <DescriptionListDescription>
            {t('backups.weekly', {
              day: t(`backups.days.${policy.maintenanceWindow.day}`),
              from: hh(policy.maintenanceWindow.startHour),
              to: hh(policy.maintenanceWindow.startHour + 2, 30),
              timeZone: policy.timeZone,
            })}{' '}
            · {t('backups.next', { when: format.dateTime(data.nextMaintenanceWindow.start) })}
          </DescriptionListDescription>
        </DescriptionListGroup>
        <DescriptionListGroup>
          <DescriptionListTerm>{t('backups.nextPatch')}</DescriptionListTerm>
          <DescriptionListDescription data-testid="next-patch">
            {data.nextPatch ? (
              <Flex gap={{ default: 'gapSm' }} alignItems={{ default: 'alignItemsCenter' }}>
                {t('backups.patchPlanned', {
                  version: data.nextPatch.version,
                  when: format.dateTime(data.nextPatch.plannedFor),
                })}
                {mayChange && (
                  <Button
                    variant="secondary"
                    size="sm"
                    isDisabled={!canOrder}
                    onClick={() => setOpen({ dialog: 'patch', version: data.nextPatch!.version })}
                  >
                    {t('backups.runPatchNow')}
                  </Button>
                )}
              </Flex>
            ) : (
              t('backups.noPatch')
            )}
          </DescriptionListDescription>
        </DescriptionListGroup>
      </DescriptionList>
      {running && (
        <Alert variant="info" isInline title={t('changes.running')}>
          <Link to={`/orders/${running.id}`}>{t('changes.toRunning')}</Link>
        </Alert>
      )}
      {mayChange && (
        <Flex gap={{ default: 'gapSm' }}>
          <Button variant="secondary" isDisabled={!canOrder} onClick={() => setOpen({ dialog: 'backup' })}>
            {t('backups.backupNow')}
          </Button>
          <Button variant="secondary" isDisabled={!canOrder} onClick={() => setOpen({ dialog: 'policy' })}>
            {t('backups.policy.open')}
          </Button>
        </Flex>
      )}

      <Title headingLevel="h2">{t('backups.key.title')}</Title>
      <EncryptionKey instanceId={instance.id} backups={data} />

      <Title headingLevel="h2">{t('backups.list')}</Title>
      {data.items.length === 0 ? (
        <Alert variant="info" isInline isPlain title={t('backups.none')} />
      ) : (
        <SimpleTable
          label={t('backups.list')}
          columns={[
            t('backups.columns.taken'),
            t('backups.columns.kind'),
            t('backups.columns.status'),
            t('backups.columns.size'),
            t('backups.columns.actions'),
          ]}
          rows={data.items.map((backup) => ({
            key: backup.id,
            cells: [
              format.dateTime(backup.finishedAt ?? backup.createdAt),
              kindLabel(backup),
              <Label
                key="status"
                isCompact
                color={backup.status === 'done' ? 'green' : backup.status === 'failed' ? 'red' : 'grey'}
              >
                {t(`backups.status.${backup.status}`)}
              </Label>,
              backup.status === 'failed' ? (backup.failureReason ?? '') : bytes(backup.sizeBytes, format),
              backup.status === 'done' ? (
                <Flex key="actions" gap={{ default: 'gapSm' }}>
                  {mayDownload && data.encryptionKey && (
                    <Button
                      component="a"
                      variant="link"
                      isInline
                      icon={<DownloadIcon />}
                      href={`/api/v1/instances/${encodeURIComponent(instance.id)}/backups/${backup.id}/download`}
                    >
                      {t('backups.download')}
                    </Button>
                  )}
                  {mayChange && (
                    <Button
                      variant="link"
                      isInline
                      isDanger
                      isDisabled={!canOrder}
                      onClick={() => setOpen({ dialog: 'restore', backup })}
                    >
                      {t('backups.restore.open')}
                    </Button>
                  )}
                  {mayOrder && (
                    <Button
                      variant="link"
                      isInline
                      onClick={() => setOpen({ dialog: 'restore-new', backup })}
                    >
                      {t('backups.restoreNew.open')}
                    </Button>
                  )}
                </Flex>
              ) : (
                ''
              ),
            ],
          }))}
        />
      )}
      {mayDownload && !data.encryptionKey && data.items.length > 0 && (
        <small className="kh-muted">{t('backups.downloadNeedsKey')}</small>
      )}

      {open?.dialog === 'backup' && (
        <ChangeModal
          id="backup-dialog"
          title={t('backups.backupNow')}
          placeLabel={t('backups.backupNowPlace')}
          request={{ type: 'backup' }}
          {...dialogProps}
        >
          {() => <p>{t('backups.backupNowIntro')}</p>}
        </ChangeModal>
      )}
      {open?.dialog === 'patch' && (
        <ChangeModal
          id="patch-dialog"
          title={t('backups.runPatchNow')}
          placeLabel={t('changes.upgrade.place')}
          request={{ type: 'upgrade', version: open.version }}
          {...dialogProps}
        >
          {() => (
            <Stack hasGutter>
              <p>{t('changes.upgrade.intro', { version: instance.version })}</p>
              <Alert variant="warning" isInline title={t('changes.upgrade.backupTitle')}>
                {t('changes.upgrade.backup')}
              </Alert>
            </Stack>
          )}
        </ChangeModal>
      )}
      {open?.dialog === 'policy' && <PolicyDialog policy={policy} {...dialogProps} />}
      {open?.dialog === 'restore' && <RestoreDialog backup={open.backup} {...dialogProps} />}
      {open?.dialog === 'restore-new' && <RestoreIntoNewDialog backup={open.backup} {...dialogProps} />}
    </Stack>
  );
}
