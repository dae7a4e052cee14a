import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { prometheusFiles, renderPrometheusConfig, renderTargets } from './prometheus-files.js';

describe('the embedded Prometheus files', () => {
  const files = prometheusFiles('/data');

  it('scrape the discovered instances and the exporter', () => {
    const config = parse(
      renderPrometheusConfig({ files, scrapeIntervalSeconds: 15, exporterPort: 9491 }),
    ) as {
      global: { scrape_interval: string };
      scrape_configs: {
        job_name: string;
        file_sd_configs?: { files: string[] }[];
        static_configs?: object[];
      }[];
    };
    expect(config.global.scrape_interval).toBe('15s');
    expect(config.scrape_configs.map((c) => c.job_name)).toEqual(['keycloak', 'keyhouse']);
    expect(config.scrape_configs[0]!.file_sd_configs).toEqual([
      { files: ['/data/prometheus/targets/*.json'] },
    ]);
    expect(config.scrape_configs[1]!.static_configs).toEqual([{ targets: ['127.0.0.1:9491'] }]);
  });

  it('name each target by its instance, in a stable order', () => {
    const targets = renderTargets([
      { instanceId: 'b', host: '127.0.0.1', port: 19003 },
      { instanceId: 'a', host: '127.0.0.1', port: 19001 },
    ]);
    expect(JSON.parse(targets)).toEqual([
      { targets: ['127.0.0.1:19001'], labels: { keyhouse_instance: 'a' } },
      { targets: ['127.0.0.1:19003'], labels: { keyhouse_instance: 'b' } },
    ]);
  });
});
