import {
  Alert,
  Button,
  Card,
  CardBody,
  CardHeader,
  CardTitle,
  Checkbox,
  Content,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  ExpandableSection,
  Form,
  FormGroup,
  FormSelect,
  FormSelectOption,
  Label,
  NumberInput,
  Radio,
  Stack,
  TextInput,
  Title,
} from '@patternfly/react-core';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ISO_COUNTRY_CODES } from '../../../src/billing/countries';
import { priceOfSpec, storagePrice } from '../api/pricing';
import type { BillingProfile, PublicCatalog } from '../api/types';
import { AdminSourcesField } from '../components/AdminSourcesField';
import { SourceListEditor } from '../components/SourceListEditor';
import { FieldError, Hint } from '../components/ui';
import { useFormat } from '../format';
import type { Draft, StepId } from './draft';
import {
  adminSourceErrors,
  billingErrors,
  localizeError,
  regionOf,
  sourceErrors,
  storageErrors,
} from './validate';

export type StepProps = {
  catalog: PublicCatalog;
  draft: Draft;
  update: (patch: Partial<Draft>) => void;
  /** Field errors of the API's last refusal, by path; cleared when the field changes. */
  serverErrors: Record<string, string>;
  clearServerError: (prefix: string) => void;
};

function StepIntro({ title, children }: { title: string; children?: React.ReactNode }) {
  return (
    <>
      <Title headingLevel="h2" size="xl">
        {title}
      </Title>
      {children && <Content component="p">{children}</Content>}
    </>
  );
}

export function ProductStep({ draft, update }: StepProps) {
  const { t } = useTranslation();
  return (
    <Stack hasGutter>
      <StepIntro title={t('wizard.product.title')}>{t('wizard.product.intro')}</StepIntro>
      <div className="kh-cards" role="radiogroup" aria-label={t('wizard.product.title')}>
        <Card id="product-iam-keycloak" isSelectable isSelected={draft.product === 'iam-keycloak'}>
          <CardHeader
            selectableActions={{
              selectableActionId: 'product-iam-keycloak-input',
              selectableActionAriaLabelledby: 'product-iam-keycloak-title',
              name: 'product',
              variant: 'single',
              onChange: () => update({ product: 'iam-keycloak' }),
            }}
          >
            <CardTitle id="product-iam-keycloak-title">IAM - Keycloak</CardTitle>
          </CardHeader>
          <CardBody>{t('wizard.product.keycloak')}</CardBody>
        </Card>
      </div>
    </Stack>
  );
}

export function TypeStep({ catalog, draft, update }: StepProps) {
  const { t } = useTranslation();
  const serviceType = catalog.serviceTypes.find((s) => s.id === draft.serviceType);
  return (
    <Stack hasGutter>
      <StepIntro title={t('wizard.type.title')}>{t('wizard.type.intro')}</StepIntro>
      <Form onSubmit={(e) => e.preventDefault()}>
        <FormGroup
          role="radiogroup"
          isStack
          fieldId="serviceType"
          label={t('wizard.type.serviceType')}
          isRequired
        >
          {catalog.serviceTypes.map((type) => (
            <Radio
              key={type.id}
              id={`serviceType-${type.id}`}
              name="serviceType"
              label={type.name}
              isChecked={draft.serviceType === type.id}
              onChange={() => update({ serviceType: type.id, version: type.versions.at(-1) ?? '' })}
            />
          ))}
        </FormGroup>
        <FormGroup label={t('wizard.type.version')} fieldId="version" isRequired>
          <FormSelect id="version" value={draft.version} onChange={(_e, version) => update({ version })}>
            {(serviceType?.versions ?? []).map((version) => (
              <FormSelectOption key={version} value={version} label={version} />
            ))}
          </FormSelect>
          <Hint>{t('wizard.type.versionHint')}</Hint>
        </FormGroup>
      </Form>
    </Stack>
  );
}

export function SizeStep({ catalog, draft, update }: StepProps) {
  const { t } = useTranslation();
  const format = useFormat();
  return (
    <Stack hasGutter>
      <StepIntro title={t('wizard.size.title')} />
      <Alert variant="info" isInline isPlain title={t('wizard.size.hint')} />
      <div className="kh-cards" role="radiogroup" aria-label={t('wizard.size.title')}>
        {catalog.nodeSizes.map((size) => (
          <Card key={size.id} id={`size-${size.id}`} isSelectable isSelected={draft.nodeSize === size.id}>
            <CardHeader
              selectableActions={{
                selectableActionId: `size-${size.id}-input`,
                selectableActionAriaLabelledby: `size-${size.id}-title size-${size.id}-body`,
                name: 'nodeSize',
                variant: 'single',
                onChange: () => update({ nodeSize: size.id }),
              }}
            >
              <CardTitle id={`size-${size.id}-title`}>{size.id}</CardTitle>
            </CardHeader>
            <CardBody id={`size-${size.id}-body`}>
              <div>{t(`wizard.size.family.${size.family}`)}</div>
              <div>
                {t('wizard.size.vcpu', { count: size.vcpu })} · {t('wizard.size.ram', { gb: size.memoryGb })}
              </div>
              <div className="kh-price">
                {t('wizard.size.perHour', { price: format.money(size.pricePerHour, catalog.currency, 4) })}
              </div>
              <div className="kh-muted">
                {t('wizard.size.perMonth', { price: format.money(size.pricePerMonth, catalog.currency) })}
              </div>
            </CardBody>
          </Card>
        ))}
      </div>
    </Stack>
  );
}

export function StorageStep({ catalog, draft, update, serverErrors, clearServerError }: StepProps) {
  const { t } = useTranslation();
  const format = useFormat();
  const { minGb, maxGb, stepGb } = catalog.storage;
  const invalid = storageErrors(catalog, draft.storageGb);
  const error = invalid
    ? localizeError(t, catalog, 'storageGb', invalid)
    : serverErrors.storageGb && localizeError(t, catalog, 'storageGb', serverErrors.storageGb);
  const set = (value: number | null) => {
    clearServerError('storageGb');
    update({ storageGb: value });
  };
  const current = draft.storageGb ?? minGb;
  const snapDown = Math.max(minGb, Math.ceil(current / stepGb) * stepGb - stepGb);
  const snapUp = Math.min(maxGb, Math.floor(current / stepGb) * stepGb + stepGb);
  return (
    <Stack hasGutter>
      <StepIntro title={t('wizard.storage.title')}>{t('wizard.storage.intro', { min: minGb })}</StepIntro>
      <Form onSubmit={(e) => e.preventDefault()}>
        <FormGroup label={t('wizard.storage.label')} fieldId="storageGb" isRequired>
          <NumberInput
            id="storageGb-control"
            inputName="storageGb"
            inputAriaLabel={t('wizard.storage.label')}
            inputProps={{
              id: 'storageGb',
              'aria-invalid': Boolean(error),
              'aria-describedby': 'storageGb-help',
            }}
            minusBtnAriaLabel={t('wizard.storage.less', { step: stepGb })}
            plusBtnAriaLabel={t('wizard.storage.more', { step: stepGb })}
            value={draft.storageGb ?? ''}
            min={minGb}
            max={maxGb}
            unit="GB"
            validated={error ? 'error' : 'default'}
            onMinus={() => set(snapDown)}
            onPlus={() => set(snapUp)}
            onChange={(event) => {
              const text = (event.target as HTMLInputElement).value;
              set(text === '' ? null : Number(text));
            }}
            widthChars={5}
          />
          {error ? (
            <FieldError id="storageGb-help" message={error} />
          ) : (
            <Hint>
              <span id="storageGb-help">
                {t('wizard.storage.rule', { min: minGb, max: maxGb, step: stepGb })}{' '}
                <strong>
                  {t('wizard.storage.price', {
                    price: format.money(storagePrice(catalog, current).perMonth, catalog.currency),
                  })}
                </strong>
              </span>
            </Hint>
          )}
        </FormGroup>
      </Form>
      <Alert variant="warning" isInline title={t('wizard.storage.onlyGrowsTitle')}>
        {t('wizard.storage.onlyGrows')}
      </Alert>
    </Stack>
  );
}

export function SourcesStep({
  catalog,
  draft,
  update,
  serverErrors,
  clearServerError,
  sourceAddress,
}: StepProps & { sourceAddress?: string }) {
  const { t } = useTranslation();
  const region = regionOf(catalog, draft.region);
  const errors = sourceErrors(catalog, draft);
  const sources = draft.trustedSources;
  const entryErrors = sources.map((_s, index) => {
    const raw = errors.entries[index] ?? serverErrors[`trustedSources.${index}`];
    return raw === 'empty' ? t('sources.emptyRow') : raw;
  });
  const listError =
    sources.length === 0
      ? t('wizard.sources.atLeastOne')
      : (errors.list ?? serverErrors.trustedSources) &&
        localizeError(t, catalog, 'trustedSources', (errors.list ?? serverErrors.trustedSources)!);
  const adminErrors = adminSourceErrors(catalog, draft).map((raw, index) => {
    const message = raw ?? serverErrors[`adminSources.${index}`];
    return message === 'empty' ? t('sources.emptyRow') : message;
  });
  // Collapsed unless the customer chose admin sources already (or the API refused them).
  const [adminOpen, setAdminOpen] = useState(
    draft.adminSources !== null || Object.keys(serverErrors).some((path) => path.startsWith('adminSources')),
  );
  return (
    <Stack hasGutter>
      <StepIntro title={t('wizard.sources.title')} />
      <Alert variant="info" isInline title={t('wizard.sources.blockedTitle')}>
        <p>{t('wizard.sources.blocked')}</p>
        <p>{t('wizard.sources.ideal')}</p>
      </Alert>
      <Content component="p">
        {t('wizard.sources.rules', {
          region: region.name,
          v4min: region.trustedSourcePrefixes.ipv4.min,
          v6min: region.trustedSourcePrefixes.ipv6.min,
        })}{' '}
        {region.public ? t('wizard.sources.publicOnly') : t('wizard.sources.privateToo')}
      </Content>
      <Form onSubmit={(e) => e.preventDefault()}>
        <SourceListEditor
          idPrefix="source-"
          value={sources}
          onChange={(trustedSources) => {
            clearServerError('trustedSources');
            update({ trustedSources });
          }}
          errors={entryErrors}
          listError={listError}
          sourceAddress={sourceAddress}
        />
        <ExpandableSection
          toggleText={t('adminSources.section')}
          isExpanded={adminOpen}
          onToggle={(_event, open) => setAdminOpen(open)}
        >
          <Stack hasGutter>
            <Content component="p">{t('adminSources.intro')}</Content>
            <AdminSourcesField
              idPrefix="admin-source-"
              value={draft.adminSources}
              onChange={(adminSources) => {
                clearServerError('adminSources');
                update({ adminSources });
              }}
              errors={adminErrors}
              sourceAddress={sourceAddress}
            />
          </Stack>
        </ExpandableSection>
      </Form>
    </Stack>
  );
}

export function RegionStep({ catalog, draft, update, goTo }: StepProps & { goTo: (step: StepId) => void }) {
  const { t } = useTranslation();
  const region = regionOf(catalog, draft.region);
  const sources = sourceErrors(catalog, draft);
  const sourcesFit = !sources.list && sources.entries.every((e) => e === undefined);
  return (
    <Stack hasGutter>
      <StepIntro title={t('wizard.region.title')}>{t('wizard.region.intro')}</StepIntro>
      <Form onSubmit={(e) => e.preventDefault()}>
        <FormGroup role="radiogroup" isStack fieldId="region" label={t('wizard.region.region')} isRequired>
          {catalog.regions.map((r) => (
            <Radio
              key={r.id}
              id={`region-${r.id}`}
              name="region"
              label={`${r.name} (${r.id})`}
              description={r.zones.map((z) => z.name).join(', ')}
              isChecked={draft.region === r.id}
              onChange={() => update({ region: r.id, zone: r.zones[0]!.id })}
            />
          ))}
        </FormGroup>
        <FormGroup role="radiogroup" isStack fieldId="zone" label={t('wizard.region.zone')} isRequired>
          {region.zones.map((zone) => (
            <Radio
              key={zone.id}
              id={`zone-${zone.id}`}
              name="zone"
              label={`${zone.name} (${zone.id})`}
              isChecked={draft.zone === zone.id}
              onChange={() => update({ zone: zone.id })}
            />
          ))}
        </FormGroup>
      </Form>
      {!sourcesFit && (
        <Alert
          variant="danger"
          isInline
          title={t('wizard.region.sourcesDontFit', { region: region.name })}
          actionLinks={
            <Button variant="link" isInline onClick={() => goTo('sources')}>
              {t('wizard.region.editSources')}
            </Button>
          }
        />
      )}
    </Stack>
  );
}

function useCountryOptions() {
  const { i18n } = useTranslation();
  return useMemo(() => {
    const names = new Intl.DisplayNames([i18n.resolvedLanguage ?? 'en'], { type: 'region' });
    return [...ISO_COUNTRY_CODES]
      .map((code) => ({ code, name: names.of(code) ?? code }))
      .sort((a, b) => a.name.localeCompare(b.name, i18n.resolvedLanguage));
  }, [i18n.resolvedLanguage]);
}

type ProfileFields = Draft['billingProfile'];

/** The fields of a billing profile; used by the wizard (in place) and the billing-profiles page. */
export function BillingProfileFields(props: {
  value: ProfileFields;
  onChange: (value: ProfileFields) => void;
  errors: Record<string, string>;
  idPrefix: string;
}) {
  const { t } = useTranslation();
  const countries = useCountryOptions();
  const field = (
    name: keyof ProfileFields,
    options: { type?: 'email'; autoComplete?: string; optional?: boolean },
  ) => {
    const id = `${props.idPrefix}${name}`;
    const error = props.errors[name];
    return (
      <FormGroup label={t(`billing.fields.${name}`)} fieldId={id} isRequired={!options.optional}>
        <TextInput
          id={id}
          name={name}
          type={options.type ?? 'text'}
          autoComplete={options.autoComplete}
          isRequired={!options.optional}
          value={props.value[name]}
          validated={error ? 'error' : 'default'}
          onChange={(_e, value) => props.onChange({ ...props.value, [name]: value })}
        />
        {error ? <FieldError message={error} /> : name === 'vatId' && <Hint>{t('billing.vatHint')}</Hint>}
      </FormGroup>
    );
  };
  const countryId = `${props.idPrefix}country`;
  return (
    <>
      {field('company', { autoComplete: 'organization' })}
      {field('street', { autoComplete: 'street-address' })}
      {field('postalCode', { autoComplete: 'postal-code' })}
      {field('city', { autoComplete: 'address-level2' })}
      <FormGroup label={t('billing.fields.country')} fieldId={countryId} isRequired>
        <FormSelect
          id={countryId}
          value={props.value.country}
          validated={props.errors.country ? 'error' : 'default'}
          onChange={(_e, country) => props.onChange({ ...props.value, country })}
        >
          {countries.map((c) => (
            <FormSelectOption key={c.code} value={c.code} label={`${c.name} (${c.code})`} />
          ))}
        </FormSelect>
        <FieldError message={props.errors.country} />
      </FormGroup>
      {field('vatId', { optional: true })}
      {field('invoiceEmail', { type: 'email', autoComplete: 'email' })}
    </>
  );
}

export function BillingStep({
  catalog,
  draft,
  update,
  serverErrors,
  clearServerError,
  profiles,
  showErrors,
}: StepProps & { profiles: BillingProfile[]; showErrors: boolean }) {
  const { t } = useTranslation();
  const clientErrors = showErrors ? billingErrors(draft) : {};
  const errors: Record<string, string> = {};
  for (const name of ['company', 'street', 'postalCode', 'city', 'country', 'vatId', 'invoiceEmail']) {
    const path = `billingProfile.${name}`;
    const message = clientErrors[name] ?? serverErrors[path];
    if (message) errors[name] = name === 'vatId' ? message : localizeError(t, catalog, path, message);
  }
  return (
    <Stack hasGutter>
      <StepIntro title={t('wizard.billing.title')}>{t('wizard.billing.intro')}</StepIntro>
      <Form onSubmit={(e) => e.preventDefault()}>
        <FormGroup role="radiogroup" isStack fieldId="billingMode" label={t('wizard.billing.mode')}>
          <Radio
            id="billing-existing"
            name="billingMode"
            label={t('wizard.billing.existing')}
            description={profiles.length === 0 ? t('wizard.billing.noneYet') : undefined}
            isDisabled={profiles.length === 0}
            isChecked={draft.billingMode === 'existing'}
            onChange={() =>
              update({
                billingMode: 'existing',
                billingProfileId: draft.billingProfileId || profiles[0]?.id || '',
              })
            }
          />
          <Radio
            id="billing-new"
            name="billingMode"
            label={t('wizard.billing.new')}
            isChecked={draft.billingMode === 'new'}
            onChange={() => update({ billingMode: 'new' })}
          />
        </FormGroup>
        {draft.billingMode === 'existing' ? (
          <FormGroup label={t('wizard.billing.profile')} fieldId="billingProfileId" isRequired>
            <FormSelect
              id="billingProfileId"
              value={draft.billingProfileId}
              onChange={(_e, billingProfileId) => {
                clearServerError('billingProfileId');
                update({ billingProfileId });
              }}
            >
              {profiles.map((p) => (
                <FormSelectOption
                  key={p.id}
                  value={p.id}
                  label={`${p.company}, ${p.street}, ${p.postalCode} ${p.city} (${p.country})`}
                />
              ))}
            </FormSelect>
            <FieldError
              message={
                serverErrors.billingProfileId &&
                localizeError(t, catalog, 'billingProfileId', serverErrors.billingProfileId)
              }
            />
          </FormGroup>
        ) : (
          <BillingProfileFields
            idPrefix="bp-"
            value={draft.billingProfile}
            errors={errors}
            onChange={(billingProfile) => {
              clearServerError('billingProfile');
              update({ billingProfile });
            }}
          />
        )}
      </Form>
    </Stack>
  );
}

export function SummaryStep({
  catalog,
  draft,
  update,
  profiles,
  goTo,
  serverErrors,
}: StepProps & { profiles: BillingProfile[]; goTo: (step: StepId) => void }) {
  const { t } = useTranslation();
  const format = useFormat();
  const size = catalog.nodeSizes.find((n) => n.id === draft.nodeSize);
  const region = regionOf(catalog, draft.region);
  const zone = region.zones.find((z) => z.id === draft.zone);
  const price = priceOfSpec(catalog, { nodeSize: draft.nodeSize, storageGb: draft.storageGb ?? 0 });
  const profile = profiles.find((p) => p.id === draft.billingProfileId);
  const termsError = serverErrors['acceptTerms.version'] ?? serverErrors.acceptTerms;
  const row = (label: string, value: React.ReactNode, step: StepId) => (
    <DescriptionListGroup>
      <DescriptionListTerm>{label}</DescriptionListTerm>
      <DescriptionListDescription>
        {value}{' '}
        <Button
          variant="link"
          isInline
          onClick={() => goTo(step)}
          aria-label={t('wizard.summary.changeWhat', { what: label })}
        >
          {t('wizard.summary.change')}
        </Button>
      </DescriptionListDescription>
    </DescriptionListGroup>
  );
  const bp = draft.billingProfile;
  return (
    <Stack hasGutter>
      <StepIntro title={t('wizard.summary.title')}>{t('wizard.summary.intro')}</StepIntro>
      <DescriptionList
        isHorizontal
        horizontalTermWidthModifier={{ default: '16rem' }}
        aria-label={t('wizard.summary.title')}
      >
        {row(t('wizard.steps.product'), 'IAM - Keycloak', 'product')}
        {row(
          t('wizard.steps.type'),
          `${catalog.serviceTypes.find((s) => s.id === draft.serviceType)?.name ?? draft.serviceType} ${draft.version}`,
          'type',
        )}
        {row(
          t('wizard.steps.size'),
          size
            ? `${size.id} (${t('wizard.size.vcpu', { count: size.vcpu })}, ${t('wizard.size.ram', { gb: size.memoryGb })})`
            : draft.nodeSize,
          'size',
        )}
        {row(t('wizard.steps.storage'), `${draft.storageGb ?? '–'} GB`, 'storage')}
        {row(
          t('wizard.steps.sources'),
          <span>
            {draft.trustedSources.map((s) => (
              <Label key={s} isCompact style={{ marginRight: 4 }}>
                {s}
              </Label>
            ))}
          </span>,
          'sources',
        )}
        {draft.adminSources !== null &&
          row(
            t('adminSources.listLabel'),
            draft.adminSources.length === 0 ? (
              t('adminSources.noneShort')
            ) : (
              <span>
                {draft.adminSources.map((s) => (
                  <Label key={s} isCompact style={{ marginRight: 4 }}>
                    {s}
                  </Label>
                ))}
              </span>
            ),
            'sources',
          )}
        {row(t('wizard.steps.region'), `${region.name} / ${zone?.name ?? draft.zone}`, 'region')}
        {row(
          t('wizard.steps.billing'),
          draft.billingMode === 'existing'
            ? profile
              ? `${profile.company}, ${profile.city}`
              : '–'
            : `${t('wizard.billing.newShort')}: ${bp.company}, ${bp.street}, ${bp.postalCode} ${bp.city} (${bp.country})${bp.vatId ? `, ${bp.vatId}` : ''}, ${bp.invoiceEmail}`,
          'billing',
        )}
      </DescriptionList>
      <Card isCompact>
        <CardBody>
          <DescriptionList isHorizontal aria-label={t('wizard.summary.price')}>
            <DescriptionListGroup>
              <DescriptionListTerm>{t('wizard.summary.perHour')}</DescriptionListTerm>
              <DescriptionListDescription className="kh-price" data-testid="price-per-hour">
                {format.money(price?.perHour, catalog.currency, 4)}
              </DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>{t('wizard.summary.perMonth')}</DescriptionListTerm>
              <DescriptionListDescription className="kh-price" data-testid="price-per-month">
                {format.money(price?.perMonth, catalog.currency)}
              </DescriptionListDescription>
            </DescriptionListGroup>
          </DescriptionList>
          <Content component="small" className="kh-muted">
            {t('wizard.summary.billingNote', { hours: catalog.hoursPerMonth })}
          </Content>
        </CardBody>
      </Card>
      <Checkbox
        id="acceptTerms"
        isChecked={draft.termsAccepted}
        onChange={(_e, termsAccepted) => update({ termsAccepted })}
        label={t('wizard.summary.terms', { version: catalog.terms.version })}
        description={
          <a href={catalog.terms.url} target="_blank" rel="noreferrer">
            {t('wizard.summary.termsLink', { version: catalog.terms.version })}
          </a>
        }
        isRequired
      />
      {termsError && <FieldError message={localizeError(t, catalog, 'acceptTerms.version', termsError)} />}
    </Stack>
  );
}
