import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './load-config.js';

function configFile(text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-config-'));
  const file = path.join(dir, 'keyhouse.yaml');
  writeFileSync(file, text);
  return file;
}

function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('has working defaults: port 8080, ./data, embedded database, one local region', () => {
    const config = loadConfig({}, '/srv/keyhouse');
    expect(config.server.port).toBe(8080);
    expect(config.dataDir).toBe('/srv/keyhouse/data');
    expect(config.database.url).toBeNull();
    expect(config.catalog.regions.map((r) => r.id)).toEqual(['local']);
    expect(config.catalog.storage).toMatchObject({ minGb: 50, maxGb: 200, stepGb: 50 });
  });

  it('lets the environment override the file', () => {
    const file = configFile('server:\n  port: 9000\ndataDir: /var/lib/kh\n');
    const config = loadConfig({
      KEYHOUSE_CONFIG: file,
      PORT: '9100',
      DATA_DIR: '/tmp/kh',
      DATABASE_URL: 'postgres://u@db/kh',
    });
    expect(config.server.port).toBe(9100);
    expect(config.dataDir).toBe('/tmp/kh');
    expect(config.database.url).toBe('postgres://u@db/kh');
  });

  it('names every wrong key with its path', () => {
    const file = configFile(
      [
        'server:',
        '  port: "eighty"',
        '  colour: blue',
        'catalog:',
        '  storage:',
        '    minGb: 75',
        'bogus: 1',
      ].join('\n'),
    );
    const problems = problemsOf(() => loadConfig({ KEYHOUSE_CONFIG: file }));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^server\.port: /),
        expect.stringMatching(/^server: unknown key\(s\) "colour"/),
        expect.stringMatching(/^\(top level\): unknown key\(s\) "bogus"/),
        expect.stringMatching(/^catalog\.storage\.stepGb: minGb and maxGb must be multiples/),
      ]),
    );
  });

  it('explains unreadable files, bad YAML and a bad PORT', () => {
    expect(problemsOf(() => loadConfig({ KEYHOUSE_CONFIG: '/nonexistent/keyhouse.yaml' }))[0]).toMatch(
      /cannot read/,
    );
    expect(problemsOf(() => loadConfig({ KEYHOUSE_CONFIG: configFile('server: [') }))[0]).toMatch(
      /not valid YAML/,
    );
    expect(problemsOf(() => loadConfig({ PORT: 'http' }))[0]).toMatch(/PORT: "http" is not a port number/);
    expect(problemsOf(() => loadConfig({ DATABASE_URL: 'mysql://x' }))[0]).toMatch(/^database\.url: /);
  });

  it('has no warm pool unless configured, and checks a configured one against the catalog', () => {
    expect(loadConfig({}).catalog.regions[0]!.warmPool).toEqual([]);
    const pool = (entries: string) =>
      configFile(
        'catalog:\n  regions:\n    - id: local\n      name: Local\n      driver: local\n      public: false\n' +
          '      zones: [{ id: local-1, name: Host }]\n      capacity: { maxInstances: 4, concurrentOrders: 1 }\n' +
          `      warmPool: ${entries}\n`,
      );
    const config = loadConfig({ KEYHOUSE_CONFIG: pool("[{ version: '26.7.3', nodeSize: b2-4, count: 2 }]") });
    expect(config.catalog.regions[0]!.warmPool).toEqual([{ version: '26.7.3', nodeSize: 'b2-4', count: 2 }]);
    expect(
      problemsOf(() =>
        loadConfig({
          KEYHOUSE_CONFIG: pool(
            "[{ version: '9.9.9', nodeSize: b2-4, count: 1 }, { version: '26.7.3', nodeSize: x9, count: 1 }," +
              " { version: '26.7.3', nodeSize: x9, count: 2 }]",
          ),
        }),
      ),
    ).toEqual(
      expect.arrayContaining([
        'catalog.regions.0.warmPool.0.version: not a version of the catalog',
        'catalog.regions.0.warmPool.1.nodeSize: not a node size of the catalog',
        'catalog.regions.0.warmPool.2: a second pool of 26.7.3 x9',
        'catalog.regions.0.warmPool: 4 pool members leave no room for orders in capacity.maxInstances 4',
      ]),
    );
  });

  it('refuses duplicate catalog ids', () => {
    const file = configFile(
      'catalog:\n  nodeSizes:\n    - { id: b2-4, family: basic, vcpu: 2, memoryGb: 4, pricePerHour: "0.11" }\n' +
        '    - { id: b2-4, family: basic, vcpu: 2, memoryGb: 4, pricePerHour: "0.12" }\n',
    );
    expect(problemsOf(() => loadConfig({ KEYHOUSE_CONFIG: file }))).toContainEqual(
      'catalog.nodeSizes.1.id: duplicate id "b2-4"',
    );
  });
});
