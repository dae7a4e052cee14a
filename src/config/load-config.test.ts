import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../platform/package-root.js';
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

  it('reads the Kubernetes example: the two seed regions with their zones, cluster settings per region', () => {
    const config = loadConfig({ KEYHOUSE_CONFIG: path.join(packageRoot, 'config/examples/kubernetes.yaml') });
    expect(config.catalog.regions.map((r) => [r.id, r.driver, r.zones.map((z) => z.id)])).toEqual([
      ['de-north', 'kubernetes', ['de-north-1', 'de-north-2']],
      ['de-west', 'kubernetes', ['de-west-1', 'de-west-2']],
    ]);
    expect(config.kubernetes['de-north']).toMatchObject({
      cluster: { inCluster: true },
      namespacePrefix: 'kh-',
      zones: { 'de-north-1': 'de-north-1a', 'de-north-2': 'de-north-1b' },
      exposure: { type: 'LoadBalancer', domain: 'de-north.keycloak.example' },
    });
    expect(config.kubernetes['de-west']!.cluster).toEqual({
      kubeconfig: '/etc/keyhouse/de-west.kubeconfig',
      context: 'de-west',
    });
  });

  it('names what a Kubernetes region lacks: cluster settings, a zone label, an image per catalog version', () => {
    const region = (id: string) =>
      `    - { id: ${id}, name: ${id}, driver: kubernetes, public: true, zones: [{ id: ${id}-1, name: one }] }\n`;
    const file = configFile(
      'catalog:\n  regions:\n' +
        region('north') +
        region('west') +
        'kubernetes:\n' +
        '  north:\n' +
        '    cluster: { kubeconfig: /etc/kube.yaml }\n' +
        '    storageClass: ssd\n' +
        '    zones: { north-2: b }\n' +
        "    keycloakImages: { '26.5.6': quay.io/keycloak/keycloak:26.5.6 }\n" +
        '    postgresImage: ghcr.io/cloudnative-pg/postgresql:17.6\n' +
        '    exposure: { domain: north.example }\n' +
        '    backup: { method: volumeSnapshot, snapshotClass: csi }\n' +
        '  south: { cluster: { inCluster: true } }\n',
    );
    const problems = problemsOf(() => loadConfig({ KEYHOUSE_CONFIG: file }));
    expect(problems).toEqual(
      expect.arrayContaining([
        'kubernetes.south.storageClass: Invalid input: expected string, received undefined',
      ]),
    );
    const withoutSouth = configFile(
      readFileSync(file, 'utf8').replace('  south: { cluster: { inCluster: true } }\n', ''),
    );
    expect(problemsOf(() => loadConfig({ KEYHOUSE_CONFIG: withoutSouth })).sort()).toEqual([
      'catalog.regions.1.driver: a kubernetes region needs its cluster settings under kubernetes.west',
      'kubernetes.north.keycloakImages: no image for Keycloak 26.7.3 of the catalog',
      'kubernetes.north.zones.north-2: region "north" has no zone "north-2"',
      'kubernetes.north.zones: no topology.kubernetes.io/zone value for zone "north-1"',
    ]);
  });

  it('refuses a warm pool in a Kubernetes region (warm pools are for local regions)', () => {
    const example = readFileSync(path.join(packageRoot, 'config/examples/kubernetes.yaml'), 'utf8');
    const withPool = example.replace(
      /(- id: de-north\n)/,
      "$1      warmPool: [{ version: '26.5.6', nodeSize: b2-4, count: 1 }]\n",
    );
    expect(withPool).not.toBe(example);
    expect(problemsOf(() => loadConfig({ KEYHOUSE_CONFIG: configFile(withPool) }))).toEqual([
      'catalog.regions.0.warmPool: warm pools are for local regions only; a kubernetes region provisions every order cold',
    ]);
  });
});
