import {
  Alert,
  Button,
  Card,
  CardBody,
  CardTitle,
  ClipboardCopy,
  Content,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Flex,
  Form,
  Grid,
  GridItem,
  Label,
  PageSection,
  Progress,
  Stack,
  Tab,
  Tabs,
  TabTitleText,
} from '@patternfly/react-core';
import { DownloadIcon, EyeIcon, EyeSlashIcon } from '@patternfly/react-icons';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate, useParams } from 'react-router';
import {
  adminSourcesSchema,
  checkTrustedSource,
  trustedSourcesSchema,
} from '../../../src/access/trusted-sources';
import { api, ApiError } from '../api/client';
import { keys, useCatalog, useInstance } from '../api/queries';
import { useCan, useSession } from '../api/session';
import type { Instance, Order, PublicCatalog } from '../api/types';
import { AdminSourcesField } from '../components/AdminSourcesField';
import { SourceListEditor } from '../components/SourceListEditor';
import { Empty, Loading, PageHeader, ProblemAlert, SimpleTable } from '../components/ui';
import { InstanceChanges, useRunningOrder } from '../instance/changes';
import { DomainTab } from '../instance/domain';
import { LogsTab } from '../instance/logs';
import { ThemesTab } from '../instance/themes';
import { BackupsTab } from '../instance/backups';
import { useFormat } from '../format';
import { uuid } from '../uuid';
import { zodErrors } from '../validation';

// The charts (PatternFly's Victory charts, most of this page's weight) load when the metrics tab opens.
const MetricsTab = lazy(() =>
  import('../instance/metrics').then((module) => ({ default: module.MetricsTab })),
);

function Credentials({ instance }: { instance: Instance }) {
  const { t } = useTranslation();
  const [shown, setShown] = useState<{ username: string; password: string } | null>(null);
  const reveal = useMutation({
    mutationFn: () =>
      api<{ username: string; password: string }>(
        'POST',
        `/api/v1/instances/${encodeURIComponent(instance.id)}/credentials/reveal`,
      ),
    onSuccess: setShown,
  });
  if (!shown) {
    return (
      <Stack hasGutter>
        <Button
          variant="secondary"
          icon={<EyeIcon />}
          onClick={() => reveal.mutate()}
          isLoading={reveal.isPending}
          isDisabled={reveal.isPending}
        >
          {t('instance.showCredentials')}
        </Button>
        <small className="kh-muted">{t('instance.revealAudited')}</small>
        {reveal.error && <ProblemAlert error={reveal.error} />}
      </Stack>
    );
  }
  return (
    <Stack hasGutter>
      <div>
        <strong id="cred-user-label">{t('instance.username')}</strong>
        <ClipboardCopy
          isReadOnly
          hoverTip={t('common.copy')}
          clickTip={t('common.copied')}
          textAriaLabel={t('instance.username')}
          toggleAriaLabel={t('instance.username')}
        >
          {shown.username}
        </ClipboardCopy>
      </div>
      <div>
        <strong>{t('instance.password')}</strong>
        <ClipboardCopy
          isReadOnly
          hoverTip={t('common.copy')}
          clickTip={t('common.copied')}
          textAriaLabel={t('instance.password')}
          toggleAriaLabel={t('instance.password')}
          data-testid="revealed-password"
        >
          {shown.password}
        </ClipboardCopy>
      </div>
      <div>
        <Button variant="link" icon={<EyeSlashIcon />} onClick={() => setShown(null)}>
          {t('instance.hideCredentials')}
        </Button>
      </div>
    </Stack>
  );
}

/** Places a change order of the instance (one Idempotency-Key per opened editor) and opens its status page. */
function usePlaceChange(instance: Instance) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ body, key }: { body: object; key: string }) =>
      api<Order>('POST', `/api/v1/instances/${encodeURIComponent(instance.id)}/orders`, {
        body,
        idempotencyKey: key,
      }),
    onSuccess: (order) => {
      void queryClient.invalidateQueries({ queryKey: ['orders'] });
      void queryClient.invalidateQueries({ queryKey: keys.instance(instance.id) });
      queryClient.setQueryData(keys.order(order.id), order);
      void navigate(`/orders/${order.id}`);
    },
  });
}

/** Submit and cancel of a source editor, and the problem of a refusal that is not about one of its rows. */
function ChangeActions(props: {
  change: ReturnType<typeof usePlaceChange>;
  field: string;
  disabled: boolean;
  onCancel(): void;
}) {
  const { t } = useTranslation();
  const { change } = props;
  const serverErrors = change.error instanceof ApiError ? change.error.fieldErrors : [];
  return (
    <>
      {change.error &&
        (serverErrors.length === 0 ||
          !serverErrors.every((e) => e.path === props.field || e.path.startsWith(`${props.field}.`))) && (
          <ProblemAlert error={change.error} />
        )}
      <Flex gap={{ default: 'gapSm' }}>
        <Button type="submit" isDisabled={props.disabled || change.isPending} isLoading={change.isPending}>
          {t('instance.placeSourcesOrder')}
        </Button>
        <Button variant="link" onClick={props.onCancel}>
          {t('common.cancel')}
        </Button>
      </Flex>
    </>
  );
}

const serverErrorOf = (change: ReturnType<typeof usePlaceChange>, path: string) =>
  change.error instanceof ApiError
    ? change.error.fieldErrors.find((e) => e.path === path)?.message
    : undefined;

function SourcesEditor({ instance, catalog }: { instance: Instance; catalog: PublicCatalog }) {
  const { t } = useTranslation();
  const { data: session } = useSession();
  const mayChange = useCan('instances:change');
  const [editing, setEditing] = useState<{ sources: string[]; key: string } | null>(null);
  const region = catalog.regions.find((r) => r.id === instance.region);
  const running = useRunningOrder(instance.id);
  const change = usePlaceChange(instance);

  if (!editing) {
    return (
      <Stack hasGutter>
        <Flex gap={{ default: 'gapSm' }}>
          {instance.trustedSources.map((source) => (
            <Label key={source}>{source}</Label>
          ))}
        </Flex>
        {mayChange && instance.status !== 'deleted' && (
          <div>
            <Button
              variant="secondary"
              isDisabled={Boolean(running) || instance.status !== 'running'}
              onClick={() => setEditing({ sources: [...instance.trustedSources], key: uuid() })}
            >
              {t('instance.editSources')}
            </Button>
          </div>
        )}
      </Stack>
    );
  }

  const schemaErrors = region ? zodErrors(trustedSourcesSchema(region).safeParse(editing.sources).error) : {};
  const rowErrors = editing.sources.map((entry, index) => {
    if (!entry.trim()) return t('sources.emptyRow');
    if (region) {
      const check = checkTrustedSource(entry, region);
      if (!check.ok) return check.message;
    }
    return schemaErrors[String(index)] ?? serverErrorOf(change, `trustedSources.${index}`);
  });
  const listError =
    editing.sources.length === 0 ? t('wizard.sources.atLeastOne') : serverErrorOf(change, 'trustedSources');
  const valid = editing.sources.length > 0 && rowErrors.every((e) => !e);
  const unchanged = editing.sources.join('\n') === instance.trustedSources.join('\n');
  const place = () =>
    change.mutate({
      body: { type: 'trusted-sources', trustedSources: editing.sources.map((s) => s.trim()) },
      key: editing.key,
    });

  return (
    <Form
      onSubmit={(event) => {
        event.preventDefault();
        if (valid && !unchanged && !change.isPending) place();
      }}
    >
      <Alert variant="info" isInline isPlain title={t('instance.sourcesChangeInfo')} />
      <SourceListEditor
        idPrefix="instance-source-"
        value={editing.sources}
        onChange={(sources) => setEditing({ ...editing, sources })}
        errors={rowErrors}
        listError={listError}
        sourceAddress={session?.sourceAddress}
      />
      <ChangeActions
        change={change}
        field="trustedSources"
        disabled={!valid || unchanged}
        onCancel={() => setEditing(null)}
      />
    </Form>
  );
}

function AdminSourcesEditor({ instance, catalog }: { instance: Instance; catalog: PublicCatalog }) {
  const { t } = useTranslation();
  const { data: session } = useSession();
  const mayChange = useCan('instances:change');
  const [editing, setEditing] = useState<{ sources: string[] | null; key: string } | null>(null);
  const region = catalog.regions.find((r) => r.id === instance.region);
  const running = useRunningOrder(instance.id);
  const change = usePlaceChange(instance);

  if (!editing) {
    return (
      <Stack hasGutter>
        <Content component="p" className="kh-muted">
          {t('adminSources.intro')}
        </Content>
        <Flex gap={{ default: 'gapSm' }} data-testid="admin-sources">
          {instance.adminSources === null
            ? t('adminSources.allShort')
            : instance.adminSources.length === 0
              ? t('adminSources.noneShort')
              : instance.adminSources.map((source) => <Label key={source}>{source}</Label>)}
        </Flex>
        {mayChange && instance.status !== 'deleted' && (
          <div>
            <Button
              variant="secondary"
              isDisabled={Boolean(running) || instance.status !== 'running'}
              onClick={() =>
                setEditing({ sources: instance.adminSources && [...instance.adminSources], key: uuid() })
              }
            >
              {t('adminSources.edit')}
            </Button>
          </div>
        )}
      </Stack>
    );
  }

  const { sources } = editing;
  const schemaErrors =
    region && sources
      ? zodErrors(adminSourcesSchema(region, instance.trustedSources).safeParse(sources).error)
      : {};
  const rowErrors = (sources ?? []).map((entry, index) => {
    if (!entry.trim()) return t('sources.emptyRow');
    if (region) {
      const check = checkTrustedSource(entry, region);
      if (!check.ok) return check.message;
    }
    return schemaErrors[String(index)] ?? serverErrorOf(change, `adminSources.${index}`);
  });
  const valid = rowErrors.every((e) => !e);
  const unchanged = JSON.stringify(sources) === JSON.stringify(instance.adminSources);
  const place = () =>
    change.mutate({
      body: { type: 'admin-sources', adminSources: sources && sources.map((s) => s.trim()) },
      key: editing.key,
    });

  return (
    <Form
      onSubmit={(event) => {
        event.preventDefault();
        if (valid && !unchanged && !change.isPending) place();
      }}
    >
      <Alert variant="info" isInline isPlain title={t('instance.sourcesChangeInfo')} />
      <AdminSourcesField
        idPrefix="instance-admin-source-"
        value={sources}
        onChange={(next) => setEditing({ ...editing, sources: next })}
        errors={rowErrors}
        listError={serverErrorOf(change, 'adminSources')}
        sourceAddress={session?.sourceAddress}
      />
      <ChangeActions
        change={change}
        field="adminSources"
        disabled={!valid || unchanged}
        onCancel={() => setEditing(null)}
      />
    </Form>
  );
}

/** A card of the overview: a whole row, or half of one (`half`) beside another. */
function Section({ title, half, children }: { title: string; half?: boolean; children: ReactNode }) {
  return (
    <GridItem md={half ? 6 : 12}>
      <Card isFullHeight={half}>
        <CardTitle component="h2">{title}</CardTitle>
        <CardBody>{children}</CardBody>
      </Card>
    </GridItem>
  );
}

export default function InstancePage() {
  const { id = '' } = useParams();
  const { t } = useTranslation();
  const format = useFormat();
  const instance = useInstance(id);
  const catalog = useCatalog();
  const mayReveal = useCan('instances:reveal-credentials');
  if (instance.error) return <ProblemAlert error={instance.error} />;
  if (instance.isPending || catalog.isPending) return <Loading />;
  const i = instance.data;
  const size = catalog.data?.nodeSizes.find((n) => n.id === i.nodeSize);
  const region = catalog.data?.regions.find((r) => r.id === i.region);
  const zone = region?.zones.find((z) => z.id === i.zone);
  const GB = 1024 ** 3;
  const used = i.usage ? i.usage.storageUsedBytes / GB : undefined;
  const deleted = i.status === 'deleted';

  const header = (
    <PageHeader
      title={
        <>
          {i.name}{' '}
          <Label
            color={i.status === 'running' ? 'green' : i.status === 'failed' ? 'red' : 'grey'}
            isCompact
            data-testid="instance-status"
          >
            {t(`instanceStatus.${i.status}`, { defaultValue: i.status })}
          </Label>
        </>
      }
      description={`${i.serviceType} ${i.version}`}
    />
  );
  const overview = (
    <Grid hasGutter>
      {deleted && (
        <GridItem md={12}>
          <Alert variant="info" isInline title={t('instance.deleted')} />
        </GridItem>
      )}
      <Section title={t('instance.access')} half>
        <DescriptionList>
          <DescriptionListGroup>
            <DescriptionListTerm>{t('instance.url')}</DescriptionListTerm>
            <DescriptionListDescription>
              {i.url ? (
                <ClipboardCopy
                  isReadOnly
                  hoverTip={t('common.copy')}
                  clickTip={t('common.copied')}
                  textAriaLabel={t('instance.url')}
                  toggleAriaLabel={t('instance.url')}
                >
                  {i.url}
                </ClipboardCopy>
              ) : deleted ? (
                '–'
              ) : (
                t('instance.noUrlYet')
              )}
            </DescriptionListDescription>
          </DescriptionListGroup>
          <DescriptionListGroup>
            <DescriptionListTerm>{t('instance.adminUser')}</DescriptionListTerm>
            <DescriptionListDescription>{i.adminUsername ?? '–'}</DescriptionListDescription>
          </DescriptionListGroup>
          {mayReveal && !deleted && (
            <DescriptionListGroup>
              <DescriptionListTerm>{t('instance.credentials')}</DescriptionListTerm>
              <DescriptionListDescription>
                <Credentials instance={i} />
              </DescriptionListDescription>
            </DescriptionListGroup>
          )}
          <DescriptionListGroup>
            <DescriptionListTerm>{t('instance.ca')}</DescriptionListTerm>
            <DescriptionListDescription>
              <Button
                component="a"
                href="/api/v1/ca.pem"
                download="keyhouse-ca.pem"
                variant="link"
                isInline
                icon={<DownloadIcon />}
              >
                {t('instance.downloadCa')}
              </Button>
              <div className="kh-muted">{t('instance.caHint')}</div>
            </DescriptionListDescription>
          </DescriptionListGroup>
        </DescriptionList>
      </Section>
      <Section title={t('instance.configuration')} half>
        <DescriptionList isHorizontal>
          <DescriptionListGroup>
            <DescriptionListTerm>{t('wizard.steps.size')}</DescriptionListTerm>
            <DescriptionListDescription>
              {i.nodeSize}
              {size &&
                ` (${t('wizard.size.vcpu', { count: size.vcpu })}, ${t('wizard.size.ram', { gb: size.memoryGb })})`}
            </DescriptionListDescription>
          </DescriptionListGroup>
          <DescriptionListGroup>
            <DescriptionListTerm>{t('wizard.steps.storage')}</DescriptionListTerm>
            <DescriptionListDescription>
              {used === undefined ? (
                `${i.storageGb} GB`
              ) : (
                <Progress
                  value={Math.min(100, (used / i.storageGb) * 100)}
                  title={t('instance.storageUsed', {
                    used: format.number(Math.round(used * 10) / 10),
                    total: i.storageGb,
                  })}
                  size="sm"
                />
              )}
            </DescriptionListDescription>
          </DescriptionListGroup>
          <DescriptionListGroup>
            <DescriptionListTerm>{t('wizard.steps.region')}</DescriptionListTerm>
            <DescriptionListDescription>
              {region?.name ?? i.region} / {zone?.name ?? i.zone ?? '–'}
            </DescriptionListDescription>
          </DescriptionListGroup>
        </DescriptionList>
      </Section>
      <Section title={t('instance.conditions')}>
        {i.conditions.length === 0 ? (
          <Empty title={t('instance.noConditions')} headingLevel="h3" />
        ) : (
          <SimpleTable
            label={t('instance.conditions')}
            columns={[
              t('instance.condition.type'),
              t('instance.condition.status'),
              t('instance.condition.reason'),
              t('instance.condition.message'),
              t('instance.condition.since'),
            ]}
            rows={i.conditions.map((c) => ({
              key: c.type,
              cells: [
                c.type,
                <Label
                  key="s"
                  isCompact
                  color={c.status === 'True' ? 'green' : c.status === 'False' ? 'red' : 'grey'}
                >
                  {c.status}
                </Label>,
                c.reason ?? '',
                c.message ?? '',
                format.dateTime(c.lastTransitionTime),
              ],
            }))}
          />
        )}
      </Section>
      {!deleted && catalog.data && (
        <Section title={t('instance.changes')}>
          <InstanceChanges instance={i} catalog={catalog.data} />
        </Section>
      )}
      <Section title={t('wizard.steps.sources')}>
        {catalog.data ? (
          <SourcesEditor instance={i} catalog={catalog.data} />
        ) : (
          <ProblemAlert error={catalog.error} />
        )}
      </Section>
      <Section title={t('adminSources.listLabel')}>
        {catalog.data ? (
          <AdminSourcesEditor instance={i} catalog={catalog.data} />
        ) : (
          <ProblemAlert error={catalog.error} />
        )}
      </Section>
    </Grid>
  );

  return (
    <>
      {header}
      <PageSection>
        {deleted || !catalog.data ? (
          overview
        ) : (
          <Tabs defaultActiveKey="overview" aria-label={i.name} mountOnEnter unmountOnExit>
            <Tab eventKey="overview" title={<TabTitleText>{t('backups.overviewTab')}</TabTitleText>}>
              <div className="kh-tab-body">{overview}</div>
            </Tab>
            <Tab eventKey="metrics" title={<TabTitleText>{t('insights.metricsTab')}</TabTitleText>}>
              <div className="kh-tab-body">
                <Suspense fallback={<Loading />}>
                  <MetricsTab instance={i} />
                </Suspense>
              </div>
            </Tab>
            <Tab eventKey="logs" title={<TabTitleText>{t('insights.logsTab')}</TabTitleText>}>
              <div className="kh-tab-body">
                <LogsTab instance={i} />
              </div>
            </Tab>
            <Tab eventKey="themes" title={<TabTitleText>{t('insights.themesTab')}</TabTitleText>}>
              <div className="kh-tab-body">
                <ThemesTab instance={i} />
              </div>
            </Tab>
            <Tab eventKey="domain" title={<TabTitleText>{t('insights.domainTab')}</TabTitleText>}>
              <div className="kh-tab-body">
                <DomainTab instance={i} />
              </div>
            </Tab>
            <Tab
              eventKey="backups"
              title={<TabTitleText>{t('backups.tab')}</TabTitleText>}
              data-testid="backups-tab"
            >
              <div className="kh-tab-body">
                <BackupsTab instance={i} catalog={catalog.data} />
              </div>
            </Tab>
          </Tabs>
        )}
      </PageSection>
    </>
  );
}
