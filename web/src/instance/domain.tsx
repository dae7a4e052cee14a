import {
  Alert,
  Button,
  Content,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Flex,
  Form,
  FormGroup,
  Label,
  Radio,
  Stack,
  TextArea,
} from '@patternfly/react-core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import type { CustomDomain, DomainRequest } from '../../../src/domains/domain-schemas';
import { api, ApiError } from '../api/client';
import { keys } from '../api/queries';
import { useCan } from '../api/session';
import type { Instance } from '../api/types';
import { FieldError, Loading, ProblemAlert, TextField } from '../components/ui';
import { useFormat } from '../format';
import { localizeMessage } from '../messages';
import { useRunningOrder } from './changes';

const statusColor = {
  'pending-dns': 'orange',
  'dns-verified': 'blue',
  active: 'green',
  failed: 'red',
} as const;

/**
 * The instance's own domain: the host name with an uploaded certificate (checked on the server, each refusal at its
 * field) or one by ACME, the DNS record to create, the check that serves it (a change order), removal.
 */
export function DomainTab({ instance }: { instance: Instance }) {
  const { t } = useTranslation();
  const format = useFormat();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const mayChange = useCan('instances:change');
  const running = useRunningOrder(instance.id);
  const path = `/api/v1/instances/${encodeURIComponent(instance.id)}/domain`;
  const queryKey = ['instance', instance.id, 'domain'];
  const domain = useQuery({
    queryKey,
    // No domain yet is an answer, not an error.
    queryFn: () =>
      api<CustomDomain>('GET', path).catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 404) return null;
        throw error;
      }),
  });
  const [hostname, setHostname] = useState('');
  const [source, setSource] = useState<'upload' | 'acme'>('upload');
  const [chain, setChain] = useState('');
  const [key, setKey] = useState('');
  const followOrder = (orderId: string | null | undefined) => {
    void queryClient.invalidateQueries({ queryKey });
    void queryClient.invalidateQueries({ queryKey: keys.instance(instance.id) });
    if (orderId) {
      void queryClient.invalidateQueries({ queryKey: ['orders'] });
      void navigate(`/orders/${orderId}`);
    }
  };
  const save = useMutation({
    mutationFn: (body: DomainRequest) => api<CustomDomain>('PUT', path, { body }),
    onSuccess: () => {
      setChain('');
      setKey('');
      void queryClient.invalidateQueries({ queryKey });
    },
  });
  const check = useMutation({
    mutationFn: () => api<CustomDomain>('POST', `${path}/check`, { body: {} }),
    onSuccess: (checked) => followOrder(checked.orderId),
  });
  const remove = useMutation({
    mutationFn: () => api<{ orderId: string | null }>('DELETE', path),
    onSuccess: (removed) => followOrder(removed.orderId),
  });
  const fieldError = (field: string) =>
    save.error instanceof ApiError
      ? save.error.fieldErrors.find((e) => e.path === field)?.message
      : undefined;
  const busy = Boolean(running) || instance.status !== 'running';
  const current = domain.data;
  const port = instance.url ? new URL(instance.url).port : '';

  if (domain.error) return <ProblemAlert error={domain.error} />;
  if (current === undefined) return <Loading />;
  return (
    <Stack hasGutter>
      {current && (
        <>
          <DescriptionList isHorizontal aria-label={t('domain.title')}>
            <DescriptionListGroup>
              <DescriptionListTerm>{t('domain.hostname')}</DescriptionListTerm>
              <DescriptionListDescription>
                <Flex gap={{ default: 'gapSm' }}>
                  {current.status === 'active' && port ? (
                    <a
                      href={`https://${current.hostname}:${port}/`}
                    >{`https://${current.hostname}:${port}`}</a>
                  ) : (
                    current.hostname
                  )}
                  <Label isCompact color={statusColor[current.status]} data-testid="domain-status">
                    {t(`domain.status.${current.status}`)}
                  </Label>
                </Flex>
              </DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>{t('domain.dnsRecord')}</DescriptionListTerm>
              <DescriptionListDescription>
                <code data-testid="domain-dns-record">{`${current.hostname}. CNAME ${current.cnameTarget}.`}</code>
              </DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>{t('domain.certificate')}</DescriptionListTerm>
              <DescriptionListDescription>
                {current.certificate
                  ? t('domain.certificateFacts', {
                      names: current.certificate.names.join(', '),
                      issuer: current.certificate.issuer,
                      notAfter: format.dateTime(current.certificate.notAfter),
                    })
                  : t(current.status === 'dns-verified' ? 'domain.acmeObtaining' : 'domain.acmePending')}
              </DescriptionListDescription>
            </DescriptionListGroup>
          </DescriptionList>
          {current.certificate?.expiresSoon && (
            <Alert
              variant={current.source === 'acme' ? 'info' : 'warning'}
              isInline
              title={t(current.source === 'acme' ? 'domain.expiresSoonAcme' : 'domain.expiresSoon')}
            />
          )}
          {current.message && (
            <Alert
              variant={current.status === 'failed' ? 'danger' : 'info'}
              isInline
              data-testid="domain-message"
              title={localizeMessage({
                message: current.message,
                code: current.messageCode ?? undefined,
                params: current.messageParams ?? undefined,
              })}
            />
          )}
          {check.error && <ProblemAlert error={check.error} />}
          {remove.error && <ProblemAlert error={remove.error} />}
          {mayChange && (
            <Flex>
              <Button
                variant="primary"
                isDisabled={busy || check.isPending}
                isLoading={check.isPending}
                onClick={() => check.mutate()}
              >
                {t('domain.check')}
              </Button>
              <Button
                variant="secondary"
                isDanger
                isDisabled={busy || remove.isPending}
                onClick={() => remove.mutate()}
              >
                {t('domain.remove')}
              </Button>
            </Flex>
          )}
        </>
      )}
      {!current && <Content component="p">{t('domain.none')}</Content>}
      {mayChange && (
        <Form
          aria-label={t('domain.formTitle')}
          onSubmit={(event) => {
            event.preventDefault();
            if (save.isPending) return;
            save.mutate({
              hostname,
              certificate:
                source === 'acme'
                  ? { source: 'acme' }
                  : { source: 'upload', certificateChainPem: chain, privateKeyPem: key },
            });
          }}
        >
          <Content component="h3">{current ? t('domain.replaceTitle') : t('domain.formTitle')}</Content>
          <TextField
            id="domain-hostname"
            label={t('domain.hostname')}
            autoComplete="off"
            value={hostname}
            onChange={setHostname}
            error={fieldError('hostname')}
            hint={t('domain.hostnameHint')}
          />
          <FormGroup role="radiogroup" label={t('domain.source')} fieldId="domain-source" isInline>
            <Radio
              id="domain-source-upload"
              name="domain-source"
              label={t('domain.sourceUpload')}
              isChecked={source === 'upload'}
              onChange={() => setSource('upload')}
            />
            <Radio
              id="domain-source-acme"
              name="domain-source"
              label={t('domain.sourceAcme')}
              isChecked={source === 'acme'}
              onChange={() => setSource('acme')}
            />
          </FormGroup>
          {source === 'upload' && (
            <>
              <FormGroup label={t('domain.chain')} isRequired fieldId="domain-chain">
                <TextArea
                  id="domain-chain"
                  value={chain}
                  onChange={(_event, value) => setChain(value)}
                  rows={6}
                  validated={fieldError('certificate.certificateChainPem') ? 'error' : 'default'}
                />
                <FieldError message={fieldError('certificate.certificateChainPem')} />
              </FormGroup>
              <FormGroup label={t('domain.key')} isRequired fieldId="domain-key">
                <TextArea
                  id="domain-key"
                  value={key}
                  onChange={(_event, value) => setKey(value)}
                  rows={4}
                  validated={fieldError('certificate.privateKeyPem') ? 'error' : 'default'}
                />
                <FieldError message={fieldError('certificate.privateKeyPem')} />
              </FormGroup>
            </>
          )}
          {save.error && !(save.error instanceof ApiError && save.error.fieldErrors.length) && (
            <ProblemAlert error={save.error} />
          )}
          <div>
            <Button type="submit" isDisabled={save.isPending} isLoading={save.isPending}>
              {t('domain.save')}
            </Button>
          </div>
        </Form>
      )}
    </Stack>
  );
}
