import { Button, Flex, Label, SearchInput, Stack, Switch, Content } from '@patternfly/react-core';
import { DownloadIcon } from '@patternfly/react-icons';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { LogEntry, LogPage } from '../../../src/instances/instance-log-schemas';
import { api } from '../api/client';
import type { Instance } from '../api/types';
import { Loading, ProblemAlert } from '../components/ui';
import { useFormat } from '../format';

/** How many entries the page keeps while following. */
const KEEP = 500;

const levelColor = (level: string) =>
  level === 'ERROR' || level === 'FATAL' ? 'red' : level === 'WARN' ? 'orange' : 'grey';

/** The instance's Keycloak log: the newest entries of the last 7 days, a search, a live tail and a download. */
export function LogsTab({ instance }: { instance: Instance }) {
  const { t } = useTranslation();
  const format = useFormat();
  const base = `/api/v1/instances/${encodeURIComponent(instance.id)}/logs`;
  const [typed, setTyped] = useState('');
  const [search, setSearch] = useState('');
  const [follow, setFollow] = useState(false);
  const [live, setLive] = useState<LogEntry[]>([]);
  const [connected, setConnected] = useState(false);
  const query = useQuery({
    queryKey: ['instance', instance.id, 'logs', search],
    queryFn: () =>
      api<LogPage>('GET', `${base}?limit=200${search ? `&search=${encodeURIComponent(search)}` : ''}`),
  });

  useEffect(() => {
    setLive([]);
    setConnected(false);
    if (!follow) return;
    const source = new EventSource(`${base}/stream`);
    source.onopen = () => setConnected(true);
    // EventSource reconnects by itself; until then the tail is not live.
    source.onerror = () => setConnected(false);
    source.addEventListener('entries', (event) => {
      const { entries } = JSON.parse((event as MessageEvent<string>).data) as { entries: LogEntry[] };
      const matching = entries.filter((e) => !search || e.text.toLowerCase().includes(search.toLowerCase()));
      if (matching.length) setLive((before) => [...before, ...matching].slice(-KEEP));
    });
    return () => {
      source.close();
      setConnected(false);
    };
  }, [follow, base, search]);

  const entries = [...(query.data?.entries ?? []), ...live].slice(-KEEP);
  return (
    <Stack hasGutter>
      <Content component="p" className="kh-muted">
        {t('logs.intro')}
      </Content>
      <Flex gap={{ default: 'gapMd' }} alignItems={{ default: 'alignItemsCenter' }}>
        <SearchInput
          aria-label={t('logs.search')}
          placeholder={t('logs.search')}
          value={typed}
          onChange={(_event, value) => setTyped(value)}
          onSearch={(_event, value) => setSearch(value.trim())}
          onClear={() => {
            setTyped('');
            setSearch('');
          }}
        />
        <Switch
          id="logs-follow"
          label={t('logs.follow')}
          isChecked={follow}
          onChange={(_event, checked) => setFollow(checked)}
        />
        {follow && (
          <Label color={connected ? 'green' : 'grey'} isCompact data-testid="logs-live">
            {connected ? t('logs.live') : t('logs.connecting')}
          </Label>
        )}
        <Button
          component="a"
          href={`${base}/download${search ? `?search=${encodeURIComponent(search)}` : ''}`}
          download
          variant="link"
          icon={<DownloadIcon />}
        >
          {t('logs.download')}
        </Button>
      </Flex>
      {query.error ? (
        <ProblemAlert error={query.error} />
      ) : query.isPending ? (
        <Loading />
      ) : entries.length === 0 ? (
        <Content component="p">{t('logs.none')}</Content>
      ) : (
        // Focusable, so that keyboard users can scroll the log (it scrolls on its own).
        <div
          className="kh-log"
          role="log"
          tabIndex={0}
          aria-label={t('logs.title')}
          aria-live={follow ? 'polite' : 'off'}
        >
          {query.data?.truncated && <div className="kh-muted">{t('logs.truncated')}</div>}
          {entries.map((entry, index) => (
            <div className="kh-log-entry" key={`${entry.time}-${index}`} data-testid="log-entry">
              <span className="kh-log-time">{format.dateTime(entry.time)}</span>{' '}
              <Label isCompact color={levelColor(entry.level)}>
                {entry.level}
              </Label>{' '}
              <span className="kh-log-text">{entry.text.replace(/^\S+ \S+ +\S+ +/, '')}</span>
            </div>
          ))}
        </div>
      )}
    </Stack>
  );
}
