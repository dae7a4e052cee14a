import {
  Card,
  CardBody,
  CardTitle,
  Content,
  Grid,
  GridItem,
  Stack,
  ToggleGroup,
  ToggleGroupItem,
} from '@patternfly/react-core';
import {
  Chart,
  ChartArea,
  ChartAxis,
  ChartGroup,
  ChartVoronoiContainer,
} from '@patternfly/react-charts/victory';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { InstanceMetrics, MetricSeriesName, MetricsRange } from '../../../src/metrics/metrics-schemas';
import { api } from '../api/client';
import type { Instance } from '../api/types';
import { Loading, ProblemAlert } from '../components/ui';

const MB = 1024 * 1024;

/** Each chart: its series, a scale into the unit shown, and the number of decimals. */
const CHARTS: { series: MetricSeriesName; scale: number; decimals: number }[] = [
  { series: 'requestsPerSecond', scale: 1, decimals: 2 },
  { series: 'logins', scale: 1, decimals: 0 },
  { series: 'failedLogins', scale: 1, decimals: 0 },
  { series: 'tokensIssued', scale: 1, decimals: 0 },
  { series: 'responseTimeP95Ms', scale: 1, decimals: 0 },
  { series: 'heapUsedBytes', scale: MB, decimals: 0 },
  { series: 'cpuPercent', scale: 1, decimals: 1 },
  { series: 'databaseBytes', scale: MB, decimals: 1 },
];

function MetricChart(props: {
  metrics: InstanceMetrics;
  series: MetricSeriesName;
  scale: number;
  decimals: number;
}) {
  const { t, i18n } = useTranslation();
  const locale = i18n.resolvedLanguage === 'de' ? 'de-DE' : 'en-GB';
  const points = props.metrics.series[props.series]
    .filter(([, value]) => value !== null)
    .map(([time, value]) => ({ x: new Date(time), y: value! / props.scale }));
  const number = (value: number) =>
    new Intl.NumberFormat(locale, { maximumFractionDigits: props.decimals }).format(value);
  const latest = points.at(-1)?.y;
  const time = new Intl.DateTimeFormat(
    locale,
    props.metrics.range === 'hour' ? { timeStyle: 'short' } : { dateStyle: 'short', timeStyle: 'short' },
  );
  const title = t(`metrics.series.${props.series}`);
  return (
    <Card isFullHeight data-testid={`metric-${props.series}`}>
      <CardTitle component="h3">
        {title}{' '}
        <span className="kh-muted" data-testid={`metric-${props.series}-latest`}>
          {latest === undefined ? '–' : `${number(latest)} ${t(`metrics.unit.${props.series}`)}`}
        </span>
      </CardTitle>
      <CardBody>
        {points.length === 0 ? (
          <Content component="p" className="kh-muted">
            {t('metrics.noData')}
          </Content>
        ) : (
          <div style={{ height: 180 }}>
            <Chart
              ariaTitle={title}
              ariaDesc={t('metrics.chartDescription', {
                title,
                range: t(`metrics.range.${props.metrics.range}`),
              })}
              containerComponent={
                <ChartVoronoiContainer
                  labels={({ datum }: { datum: { x: Date; y: number } }) =>
                    `${time.format(datum.x)}: ${number(datum.y)}`
                  }
                  constrainToVisibleArea
                />
              }
              height={180}
              padding={{ bottom: 40, left: 60, right: 20, top: 10 }}
              scale={{ x: 'time', y: 'linear' }}
              domain={{ x: [new Date(props.metrics.from), new Date(props.metrics.to)] }}
              minDomain={{ y: 0 }}
            >
              <ChartAxis tickFormat={(tick: Date) => time.format(tick)} tickCount={4} />
              <ChartAxis dependentAxis showGrid tickFormat={(tick: number) => number(tick)} tickCount={3} />
              <ChartGroup>
                <ChartArea data={points} interpolation="monotoneX" />
              </ChartGroup>
            </Chart>
          </div>
        )}
      </CardBody>
    </Card>
  );
}

/** The instance's metrics over the last hour, day or week, from Prometheus (refreshed every 15 s). */
export function MetricsTab({ instance }: { instance: Instance }) {
  const { t, i18n } = useTranslation();
  const [range, setRange] = useState<MetricsRange>('hour');
  const query = useQuery({
    queryKey: ['instance', instance.id, 'metrics', range],
    queryFn: () =>
      api<InstanceMetrics>(
        'GET',
        `/api/v1/instances/${encodeURIComponent(instance.id)}/metrics?range=${range}`,
      ),
    refetchInterval: 15_000,
  });
  const number = (value: number) =>
    new Intl.NumberFormat(i18n.resolvedLanguage === 'de' ? 'de-DE' : 'en-GB').format(value);
  return (
    <Stack hasGutter>
      <ToggleGroup aria-label={t('metrics.rangeLabel')}>
        {(['hour', 'day', 'week'] as const).map((r) => (
          <ToggleGroupItem
            key={r}
            text={t(`metrics.range.${r}`)}
            buttonId={`metrics-range-${r}`}
            isSelected={range === r}
            onChange={() => setRange(r)}
          />
        ))}
      </ToggleGroup>
      {query.error ? (
        <ProblemAlert error={query.error} />
      ) : !query.data ? (
        <Loading />
      ) : (
        <>
          <Content component="p" data-testid="metrics-totals">
            {t('metrics.totals', {
              range: t(`metrics.range.${range}`),
              logins: number(query.data.totals.logins),
              failedLogins: number(query.data.totals.failedLogins),
              tokensIssued: number(query.data.totals.tokensIssued),
            })}
          </Content>
          <Grid hasGutter>
            {CHARTS.map((chart) => (
              <GridItem md={6} xl={3} key={chart.series}>
                <MetricChart metrics={query.data} {...chart} />
              </GridItem>
            ))}
          </Grid>
        </>
      )}
    </Stack>
  );
}
