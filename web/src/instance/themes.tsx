import {
  Alert,
  Button,
  FileUpload,
  Flex,
  Form,
  FormGroup,
  FormHelperText,
  HelperText,
  HelperTextItem,
  Label,
  Stack,
  Content,
} from '@patternfly/react-core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import type { InstanceThemes, ThemeVersion } from '../../../src/themes/theme-schemas';
import { api, ApiError } from '../api/client';
import { keys } from '../api/queries';
import { useCan } from '../api/session';
import type { Instance, Order } from '../api/types';
import { Loading, ProblemAlert, SimpleTable } from '../components/ui';
import { useFormat } from '../format';
import { uuid } from '../uuid';
import { useRunningOrder } from './changes';

/** The file as base64, for the JSON upload. */
function base64Of(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ''));
    reader.onerror = () => reject(reader.error ?? new Error('unreadable file'));
    reader.readAsDataURL(file);
  });
}

/** Login themes: upload (checked on the server), the versions of each theme, deploy and remove as orders. */
export function ThemesTab({ instance }: { instance: Instance }) {
  const { t } = useTranslation();
  const format = useFormat();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const mayChange = useCan('instances:change');
  const running = useRunningOrder(instance.id);
  const [file, setFile] = useState<File | null>(null);
  const path = `/api/v1/instances/${encodeURIComponent(instance.id)}`;
  const themes = useQuery({
    queryKey: ['instance', instance.id, 'themes'],
    queryFn: () => api<InstanceThemes>('GET', `${path}/themes`),
  });
  const upload = useMutation({
    mutationFn: async (chosen: File) =>
      api<ThemeVersion>('POST', `${path}/themes`, {
        body: { fileName: chosen.name, archive: await base64Of(chosen) },
      }),
    onSuccess: () => {
      setFile(null);
      void queryClient.invalidateQueries({ queryKey: ['instance', instance.id, 'themes'] });
    },
  });
  const order = useMutation({
    mutationFn: (body: object) => api<Order>('POST', `${path}/orders`, { body, idempotencyKey: uuid() }),
    onSuccess: (placed) => {
      void queryClient.invalidateQueries({ queryKey: ['orders'] });
      void queryClient.invalidateQueries({ queryKey: keys.instance(instance.id) });
      void navigate(`/orders/${placed.id}`);
    },
  });
  const archiveError =
    upload.error instanceof ApiError
      ? upload.error.fieldErrors.find((e) => e.path === 'archive')?.message
      : undefined;
  const busy = Boolean(running) || instance.status !== 'running' || order.isPending;

  return (
    <Stack hasGutter>
      <Alert variant="info" isInline title={t('themes.codeNotAllowedTitle')}>
        {t('themes.codeNotAllowed')}
      </Alert>
      {mayChange && (
        <Form
          onSubmit={(event) => {
            event.preventDefault();
            if (file && !upload.isPending) upload.mutate(file);
          }}
        >
          <FormGroup label={t('themes.archive')} fieldId="theme-archive">
            <FileUpload
              id="theme-archive"
              filename={file?.name ?? ''}
              filenamePlaceholder={t('themes.choose')}
              browseButtonText={t('themes.browse')}
              clearButtonText={t('themes.clear')}
              accept=".zip,.jar"
              onFileInputChange={(_event, chosen) => {
                upload.reset();
                setFile(chosen);
              }}
              onClearClick={() => setFile(null)}
              validated={archiveError ? 'error' : 'default'}
            />
            <FormHelperText>
              <HelperText>
                <HelperTextItem variant={archiveError ? 'error' : 'default'} data-testid="theme-archive-help">
                  {archiveError ?? t('themes.archiveHint')}
                </HelperTextItem>
              </HelperText>
            </FormHelperText>
          </FormGroup>
          {upload.error && !archiveError && <ProblemAlert error={upload.error} />}
          {upload.data && (
            <Alert
              variant="success"
              isInline
              title={t('themes.uploaded', { name: upload.data.name, version: upload.data.version })}
            />
          )}
          <div>
            <Button type="submit" isDisabled={!file || upload.isPending} isLoading={upload.isPending}>
              {t('themes.upload')}
            </Button>
          </div>
        </Form>
      )}
      {order.error && <ProblemAlert error={order.error} />}
      {themes.error ? (
        <ProblemAlert error={themes.error} />
      ) : !themes.data ? (
        <Loading />
      ) : themes.data.themes.length === 0 ? (
        <Content component="p">{t('themes.none')}</Content>
      ) : (
        <SimpleTable
          label={t('themes.title')}
          columns={[
            t('themes.name'),
            t('themes.version'),
            t('themes.types'),
            t('themes.uploadedAt'),
            t('themes.actions'),
          ]}
          rows={themes.data.themes.flatMap((theme) =>
            theme.versions.map((version) => {
              const deployed = theme.deployedVersion === version.version;
              return {
                key: `${theme.name}-${version.version}`,
                cells: [
                  theme.name,
                  <Flex key="v" gap={{ default: 'gapSm' }}>
                    {version.version}
                    {deployed && (
                      <Label isCompact color="green">
                        {t('themes.deployed')}
                      </Label>
                    )}
                  </Flex>,
                  version.types.join(', '),
                  format.dateTime(version.uploadedAt),
                  mayChange ? (
                    deployed ? (
                      <Button
                        key="a"
                        variant="secondary"
                        isDanger
                        isDisabled={busy}
                        onClick={() => order.mutate({ type: 'theme-remove', name: theme.name })}
                      >
                        {t('themes.remove', { name: theme.name })}
                      </Button>
                    ) : (
                      <Button
                        key="a"
                        variant="secondary"
                        isDisabled={busy}
                        onClick={() =>
                          order.mutate({ type: 'theme-deploy', name: theme.name, version: version.version })
                        }
                      >
                        {t('themes.deploy', { name: theme.name, version: version.version })}
                      </Button>
                    )
                  ) : (
                    ''
                  ),
                ],
              };
            }),
          )}
        />
      )}
      <Content component="p" className="kh-muted">
        {t('themes.pickInKeycloak')}
      </Content>
    </Stack>
  );
}
