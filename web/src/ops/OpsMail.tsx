import { Content, PageSection, Stack } from '@patternfly/react-core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api } from '../api/client';
import { providerKeys, useOpsMail } from '../api/provider-queries';
import { ConfirmButton } from '../components/ConfirmButton';
import { Empty, PageHeader, ProblemAlert, QueryContent, SimpleTable } from '../components/ui';
import { useFormat } from '../format';
import { useOperatorMayAct } from './useOperator';

/** The e-mail outbox: what waits, what went out, and mails whose sending is unconfirmed (resend after checking). */
export default function OpsMail() {
  const { t } = useTranslation();
  const format = useFormat();
  const queryClient = useQueryClient();
  const mayAct = useOperatorMayAct();
  const mail = useOpsMail();
  const resend = useMutation({
    mutationFn: (id: string) => api<null>('POST', `/api/v1/ops/mail/${encodeURIComponent(id)}/resend`),
    onSettled: () => queryClient.invalidateQueries({ queryKey: providerKeys.opsMail }),
  });
  return (
    <>
      <PageHeader title={t('provider.ops.mail')} />
      <PageSection>
        <Stack hasGutter>
          <ProblemAlert error={resend.error} />
          <QueryContent
            query={mail}
            isEmpty={(data) => data.items.length === 0}
            empty={<Empty title={t('provider.ops.none')} />}
          >
            {(data) => (
              <>
                <Content component="p">{t('provider.ops.mailCounts', data.counts)}</Content>
                <SimpleTable
                  label={t('provider.ops.mail')}
                  columns={[
                    t('provider.ops.kind'),
                    t('provider.ops.recipient'),
                    t('provider.ops.status'),
                    t('provider.ops.messageId'),
                    t('provider.ops.created'),
                    '',
                  ]}
                  rows={data.items.map((item) => ({
                    key: item.id,
                    cells: [
                      item.kind,
                      `${item.recipient} (${item.language})`,
                      item.lastError ? `${item.state}: ${item.lastError}` : item.state,
                      item.messageId ?? '–',
                      format.dateTime(item.createdAt),
                      mayAct && item.state === 'unconfirmed' ? (
                        <ConfirmButton
                          key="resend"
                          size="sm"
                          variant="secondary"
                          label={t('provider.ops.resend')}
                          question={item.messageId}
                          onConfirm={() => resend.mutate(item.id)}
                        />
                      ) : null,
                    ],
                  }))}
                />
              </>
            )}
          </QueryContent>
        </Stack>
      </PageSection>
    </>
  );
}
