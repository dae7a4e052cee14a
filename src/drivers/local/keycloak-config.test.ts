import { describe, expect, it } from 'vitest';
import {
  databasePoolSize,
  escapeConfValue,
  heapMegabytes,
  renderKeycloakSettings,
  type KeycloakSettingsInput,
} from './keycloak-config.js';

const input = (overrides: Partial<KeycloakSettingsInput> = {}): KeycloakSettingsInput => ({
  instance: {
    name: 'kc-1a2b3c4d',
    nodeSize: { id: 'b2-4', vcpu: 2, memoryGb: 4 },
    secrets: { adminPassword: 'unused-here', databasePassword: 'db-secret' },
  },
  ports: { httpPort: 19000, managementPort: 19001 },
  publicUrl: 'https://kc-1a2b3c4d.localhost:18001',
  database: { host: '127.0.0.1', port: 54329, name: 'kc_1a2b3c4d', user: 'kc_1a2b3c4d' },
  logFile: '/data/instances/kc-1a2b3c4d/logs/keycloak.log',
  javaHome: '/usr/lib/jvm/java-17',
  maxHeapMb: 1024,
  responseTimeBuckets: true,
  hostCpus: 8,
  ...overrides,
});

describe('Keycloak settings of an instance', () => {
  it('renders keycloak.conf for a loopback instance behind the edge', () => {
    const { conf, env } = renderKeycloakSettings(input());
    const options = Object.fromEntries(
      conf
        .split('\n')
        .filter((line) => line && !line.startsWith('#'))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(options).toEqual({
      'db-url': 'jdbc:postgresql://127.0.0.1:54329/kc_1a2b3c4d',
      'db-username': 'kc_1a2b3c4d',
      'db-password': 'db-secret',
      'db-pool-max-size': '8',
      'http-enabled': 'true',
      'http-host': '127.0.0.1',
      'http-port': '19000',
      'http-management-port': '19001',
      hostname: 'https://kc-1a2b3c4d.localhost:18001',
      'proxy-headers': 'xforwarded',
      'proxy-trusted-addresses': '127.0.0.1',
      cache: 'local',
      log: 'file',
      'log-file': '/data/instances/kc-1a2b3c4d/logs/keycloak.log',
      'http-metrics-slos': '5,10,25,50,100,250,500,1000,2500,5000,10000',
    });
    expect(env).toEqual({
      JAVA_OPTS_KC_HEAP: '-Xms64m -Xmx1024m',
      JAVA_OPTS_APPEND: '-XX:ActiveProcessorCount=2',
    });
  });

  it('changes its hash exactly when the process would have to restart', () => {
    const base = renderKeycloakSettings(input()).hash;
    expect(renderKeycloakSettings(input()).hash).toBe(base);
    expect(
      renderKeycloakSettings(input({ ports: { httpPort: 19002, managementPort: 19003 } })).hash,
    ).not.toBe(base);
    expect(renderKeycloakSettings(input({ javaHome: '/usr/lib/jvm/java-21' })).hash).not.toBe(base);
    // A home made before the metrics settings keeps its process until a restart makes the home again.
    const older = renderKeycloakSettings(input({ responseTimeBuckets: false }));
    expect(older.conf).not.toContain('http-metrics-slos');
    expect(older.hash).not.toBe(base);
    const bigger = input();
    bigger.instance = { ...bigger.instance, nodeSize: { id: 'b4-8', vcpu: 4, memoryGb: 8 } };
    expect(renderKeycloakSettings(bigger).hash).not.toBe(base);
  });

  it('escapes values for a properties file with ${} expressions', () => {
    expect(escapeConfValue('plain-Value_1')).toBe('plain-Value_1');
    expect(escapeConfValue('a\\b')).toBe('a\\\\b');
    expect(escapeConfValue('p${x}q')).toBe('p\\\\${x}q');
    expect(escapeConfValue('$$ and $ alone')).toBe('$$ and $ alone');
    expect(escapeConfValue('line\nbreak')).toBe('line\\nbreak');
    expect(escapeConfValue(' leading')).toBe('\\ leading');
    expect(escapeConfValue('#!=:"\'')).toBe('#!=:"\'');
  });

  it('sizes heap and pool from the node, within modest bounds', () => {
    expect(heapMegabytes(4, 1024)).toBe(1024);
    expect(heapMegabytes(1, 1024)).toBe(512);
    expect(heapMegabytes(32, 1024)).toBe(1024);
    expect(heapMegabytes(32, 4096)).toBe(4096);
    expect(heapMegabytes(0.25, 1024)).toBe(256);
    expect(databasePoolSize(1)).toBe(5);
    expect(databasePoolSize(2)).toBe(8);
    expect(databasePoolSize(16)).toBe(20);
  });

  it('never gives an instance more CPUs than the host has', () => {
    const many = input({ hostCpus: 2 });
    many.instance = { ...many.instance, nodeSize: { id: 'b8-16', vcpu: 8, memoryGb: 16 } };
    expect(renderKeycloakSettings(many).env.JAVA_OPTS_APPEND).toBe('-XX:ActiveProcessorCount=2');
  });
});
