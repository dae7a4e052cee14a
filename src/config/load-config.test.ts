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
