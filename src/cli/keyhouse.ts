#!/usr/bin/env node
import { createWriteStream, readFileSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { InstanceBackups } from '../backups/backup-schemas.js';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { z } from 'zod';
import type { PublicCatalog } from '../catalog/catalog-service.js';
import { domainRequestSchema, type CustomDomain } from '../domains/domain-schemas.js';
import { logQuerySchema, type LogEntry, type LogPage } from '../instances/instance-log-schemas.js';
import type { Instance } from '../instances/instance-schemas.js';
import { metricsQuerySchema, type InstanceMetrics } from '../metrics/metrics-schemas.js';
import { themeUploadSchema, type InstanceThemes, type ThemeVersion } from '../themes/theme-schemas.js';
import { changeOrderRequestSchema, createOrderRequestSchema, type Order } from '../orders/order-schemas.js';
import type { Environment as ServerEnvironment } from '../config/load-config.js';
import { fieldErrorsOf } from '../platform/field-errors.js';
import { ApiRefusal, createApiClient, LocalRefusal, type ApiClient } from './api-client.js';
import { credentialsPath, readCredentials, writeCredentials } from './credentials-file.js';

/**
 * keyhouse: the command line client of the REST API. Configuration: KEYHOUSE_URL and KEYHOUSE_TOKEN, or what
 * `keyhouse login` stored. Exit codes: 0 done, 1 refused by the API (or an order failed), 2 wrong usage.
 */
const USAGE = `Usage: keyhouse <command> [options]

Commands:
  login --url <url> (--token <token> | --email <email> [--password-stdin])
  catalog
  order create --node-size <id> --storage-gb <n> --trusted-source <cidr>... --region <id> [--zone <id>]
               [--admin-source <cidr>...] [--service-type keycloak] [--version <v>] --billing-profile-id <id>
               --accept-terms [--wait]
  orders list [--status <s>] [--instance-id <id>] | orders show <id> | orders watch <id>
  instances list | instances show <id>
  credentials <instance-id>
  sources set|add|remove <instance-id> <cidr>... [--wait]
  admin-sources set <instance-id> <cidr>... | admin-sources none|reset <instance-id> [--wait]
  scale <instance-id> --node-size <id> [--wait]
  storage <instance-id> --storage-gb <n> [--wait]
  restart <instance-id> [--wait]
  upgrade <instance-id> --version <v> [--wait]
  delete <instance-id> --confirm-name <instance name> [--wait]
  logs <instance-id> [--search <text>] [--since <30m|6h|2d|RFC 3339>] [--limit <n>] [--follow]
  metrics <instance-id> [--range hour|day|week]
  themes list <instance-id> | themes upload <instance-id> <file.zip|file.jar> [--deploy] [--wait]
  themes deploy <instance-id> --name <theme> --version <n> [--wait] | themes remove <instance-id> --name <theme> [--wait]
  domain show|check|remove <instance-id>
  domain set <instance-id> --hostname <name> (--certificate <chain.pem> --key <key.pem> | --acme)
  backups list <instance-id>
  backups create <instance-id> [--wait]
  backups restore <instance-id> --backup-id <id> --confirm-name <instance name> [--wait]
  backups policy <instance-id> [--retention <n>] [--time-zone <tz>] [--backup-window-start <hour>]
                 [--maintenance-day <weekday>] [--maintenance-start <hour>] [--wait]
  backups key <instance-id> --public-key-file <file>
  backups download <instance-id> <backup-id> --out <file>
  (restore into a new instance: order create … --restore-from-instance <id> --restore-from-backup <id>)
  realms export <instance-id> --realm <name> [--include-users] [--wait]
  realms download <export-order-id> --out <file>
  realms import <instance-id> --export-order-id <id> [--realm-name <name>] [--wait]
  tickets list | tickets create --subject <text> --message <text> [--order-id <id>] [--instance-id <id>]
  admin create-operator --email <email> [--role operator|operator-read-only] [--password-stdin]
               (on the server: works on Keyhouse's database, see keyhouse admin --help)

Global options: --output table|json (default table), --url <url>, --token <token>
Environment: KEYHOUSE_URL, KEYHOUSE_TOKEN`;

class UsageError extends Error {}

type Environment = {
  KEYHOUSE_URL?: string;
  KEYHOUSE_TOKEN?: string;
  HOME?: string;
  XDG_CONFIG_HOME?: string;
  /** What `keyhouse admin` hands to the server's configuration loader. */
  server: ServerEnvironment;
};

type Output = 'table' | 'json';
type Io = { out: (text: string) => void; err: (text: string) => void; stdin: () => Promise<string> };

const globalOptions = {
  output: { type: 'string', default: 'table' },
  url: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

// ---- output --------------------------------------------------------------------------------------------------------

function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cell = (value: unknown) =>
    value === null || value === undefined ? '-' : Array.isArray(value) ? value.join(',') : String(value);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((c) => c.toUpperCase())),
    ...rows.map((r) => line(columns.map((c) => cell(r[c])))),
  ].join('\n');
}

function details(record: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(record).map((k) => k.length));
  return Object.entries(record)
    .map(([key, value]) => {
      const text =
        value === null || value === undefined
          ? '-'
          : typeof value === 'object'
            ? Array.isArray(value) && value.every((v) => typeof v !== 'object')
              ? value.join(', ')
              : JSON.stringify(value)
            : String(value);
      return `${key.padEnd(width)}  ${text}`;
    })
    .join('\n');
}

function describeOrder(order: Order): string {
  const steps = order.steps.map(
    (s) => `  ${s.status.padEnd(7)} ${s.name}${s.message ? `: ${s.message}` : ''}`,
  );
  return [
    `order ${order.id} (${order.type}) ${order.status.toUpperCase()}`,
    `instance ${order.instanceId}, ${order.price.perMonth} ${order.price.currency}/month`,
    ...(order.failureReason ? [`failure: ${order.failureReason}`] : []),
    ...steps,
  ].join('\n');
}

// ---- commands ------------------------------------------------------------------------------------------------------

type Context = {
  api: () => ApiClient;
  output: Output;
  io: Io;
  env: Environment;
  positionals: string[];
  values: Record<string, string | boolean | string[] | undefined>;
};

const str = (ctx: Context, name: string) => {
  const value = ctx.values[name];
  return typeof value === 'string' ? value : undefined;
};
const required = (ctx: Context, name: string) => {
  const value = str(ctx, name);
  if (value === undefined) throw new UsageError(`--${name} is required`);
  return value;
};
const positional = (ctx: Context, index: number, what: string) => {
  const value = ctx.positionals[index];
  if (value === undefined) throw new UsageError(`${what} is missing`);
  return value;
};
const integer = (ctx: Context, name: string) => {
  const text = required(ctx, name);
  if (!/^\d{1,6}$/.test(text)) throw new UsageError(`--${name} must be a whole number`);
  return Number(text);
};

function print(ctx: Context, value: unknown, asTable: () => string) {
  ctx.io.out(ctx.output === 'json' ? JSON.stringify(value, null, 2) : asTable());
}

/** Field errors of a shared schema, in the server's words (path: message). */
function check<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new LocalRefusal('The request has invalid fields.', fieldErrorsOf(parsed.error.issues));
}

/** Follows an order until it is done or failed: server-sent events, falling back to polling. */
/** The `data` of each server-sent event of a streaming response, as it arrives. */
async function* serverSentData(response: Response): AsyncIterable<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .map((line) => line.slice(6))
        .join('\n');
      if (data) yield data;
    }
  }
}

async function watchOrder(ctx: Context, orderId: string): Promise<Order> {
  const api = ctx.api();
  let last = '';
  const show = (order: Order) => {
    const text = ctx.output === 'json' ? JSON.stringify(order) : describeOrder(order);
    if (text !== last) ctx.io.err(text);
    last = text;
  };
  const finished = (order: Order) => order.status === 'done' || order.status === 'failed';
  const controller = new AbortController();
  try {
    const response = await api.stream(`/api/v1/orders/${orderId}/events`, controller.signal);
    for await (const data of serverSentData(response)) {
      const order = JSON.parse(data) as Order;
      show(order);
      if (finished(order)) {
        controller.abort();
        return order;
      }
    }
  } catch (error) {
    if (error instanceof ApiRefusal) throw error;
    // The stream broke off: polling takes over.
  }
  for (;;) {
    const order = await api.get<Order>(`/api/v1/orders/${orderId}`);
    show(order);
    if (finished(order)) return order;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
}

async function placed(ctx: Context, order: Order): Promise<number> {
  if (ctx.values.wait) {
    const final = await watchOrder(ctx, order.id);
    print(ctx, final, () => describeOrder(final));
    return final.status === 'done' ? 0 : 1;
  }
  print(ctx, order, () => describeOrder(order));
  return 0;
}

async function changeOrder(
  ctx: Context,
  instanceId: string,
  change: Record<string, unknown>,
): Promise<number> {
  const api = ctx.api();
  const [catalog, instance] = await Promise.all([
    api.get<PublicCatalog>('/api/v1/catalog'),
    api.get<Instance>(`/api/v1/instances/${encodeURIComponent(instanceId)}`),
  ]);
  const {
    name,
    deletionProtection,
    serviceType,
    version,
    nodeSize,
    storageGb,
    trustedSources,
    adminSources,
    region,
    zone,
    themes,
  } = instance;
  const schema = changeOrderRequestSchema(catalog, {
    name,
    deletionProtection,
    spec: { serviceType, version, nodeSize, storageGb, trustedSources, adminSources, region, zone, themes },
  });
  const body = check(schema, change);
  return placed(ctx, await api.post<Order>(`/api/v1/instances/${instance.id}/orders`, body));
}

const commands: Record<
  string,
  { options?: ParseArgsConfig['options']; run: (ctx: Context) => Promise<number>; auth?: false }
> = {
  catalog: {
    auth: false,
    async run(ctx) {
      const catalog = await ctx.api().get<PublicCatalog>('/api/v1/catalog');
      print(ctx, catalog, () =>
        [
          table(catalog.nodeSizes, ['id', 'family', 'vcpu', 'memoryGb', 'pricePerHour', 'pricePerMonth']),
          '',
          `storage: ${catalog.storage.minGb}–${catalog.storage.maxGb} GB in steps of ${catalog.storage.stepGb} GB, ` +
            `${catalog.storage.pricePerStepPerMonth} ${catalog.currency} per step and month`,
          `versions: ${catalog.serviceTypes.map((s) => `${s.id} ${s.versions.join(', ')}`).join('; ')}`,
          `regions: ${catalog.regions.map((r) => `${r.id} (${r.zones.map((z) => z.id).join(', ')})`).join('; ')}`,
          `terms: ${catalog.terms.version} ${catalog.terms.url}`,
        ].join('\n'),
      );
      return 0;
    },
  },
  'order create': {
    options: {
      'service-type': { type: 'string' },
      version: { type: 'string' },
      'node-size': { type: 'string' },
      'storage-gb': { type: 'string' },
      'trusted-source': { type: 'string', multiple: true },
      'admin-source': { type: 'string', multiple: true },
      region: { type: 'string' },
      zone: { type: 'string' },
      'billing-profile-id': { type: 'string' },
      'accept-terms': { type: 'boolean' },
      'idempotency-key': { type: 'string' },
      'restore-from-instance': { type: 'string' },
      'restore-from-backup': { type: 'string' },
      wait: { type: 'boolean' },
    },
    async run(ctx) {
      const api = ctx.api();
      const catalog = await api.get<PublicCatalog>('/api/v1/catalog');
      if (!ctx.values['accept-terms']) {
        throw new UsageError(`--accept-terms is required: read the terms ${catalog.terms.url} first`);
      }
      const serviceType = str(ctx, 'service-type') ?? catalog.serviceTypes[0]!.id;
      const storage = str(ctx, 'storage-gb');
      const request = {
        serviceType,
        version:
          str(ctx, 'version') ?? catalog.serviceTypes.find((s) => s.id === serviceType)?.versions.at(-1),
        nodeSize: str(ctx, 'node-size'),
        storageGb: storage === undefined ? undefined : /^\d{1,6}$/.test(storage) ? Number(storage) : storage,
        trustedSources: (ctx.values['trusted-source'] as string[] | undefined) ?? [],
        // Absent: every trusted source may also administer the instance.
        adminSources: ctx.values['admin-source'] as string[] | undefined,
        region: str(ctx, 'region'),
        zone: str(ctx, 'zone'),
        billingProfileId: str(ctx, 'billing-profile-id'),
        acceptTerms: { version: catalog.terms.version },
        ...(str(ctx, 'restore-from-instance') || str(ctx, 'restore-from-backup')
          ? {
              restoreFrom: {
                instanceId: str(ctx, 'restore-from-instance'),
                backupId: str(ctx, 'restore-from-backup'),
              },
            }
          : {}),
      };
      check(createOrderRequestSchema(catalog), request);
      const key = str(ctx, 'idempotency-key');
      const order = await api.post<Order>('/api/v1/orders', request, key ? { 'idempotency-key': key } : {});
      return placed(ctx, order);
    },
  },
  'orders list': {
    options: { status: { type: 'string' }, 'instance-id': { type: 'string' } },
    async run(ctx) {
      const query = new URLSearchParams();
      if (str(ctx, 'status')) query.set('status', str(ctx, 'status')!);
      if (str(ctx, 'instance-id')) query.set('instanceId', str(ctx, 'instance-id')!);
      const page = await ctx.api().get<{ items: Order[] }>(`/api/v1/orders?${query}`);
      print(ctx, page.items, () =>
        table(
          page.items.map((o) => ({ ...o, perMonth: o.price.perMonth })),
          ['id', 'type', 'status', 'instanceId', 'perMonth', 'createdAt'],
        ),
      );
      return 0;
    },
  },
  'orders show': {
    async run(ctx) {
      const order = await ctx
        .api()
        .get<Order>(`/api/v1/orders/${encodeURIComponent(positional(ctx, 0, 'order id'))}`);
      print(ctx, order, () => describeOrder(order));
      return 0;
    },
  },
  'orders watch': {
    async run(ctx) {
      const order = await watchOrder(ctx, encodeURIComponent(positional(ctx, 0, 'order id')));
      print(ctx, order, () => describeOrder(order));
      return order.status === 'done' ? 0 : 1;
    },
  },
  'instances list': {
    async run(ctx) {
      const page = await ctx.api().get<{ items: Instance[] }>('/api/v1/instances');
      print(ctx, page.items, () =>
        table(page.items, ['id', 'name', 'status', 'version', 'nodeSize', 'storageGb', 'region', 'url']),
      );
      return 0;
    },
  },
  'instances show': {
    async run(ctx) {
      const instance = await ctx
        .api()
        .get<Instance>(`/api/v1/instances/${encodeURIComponent(positional(ctx, 0, 'instance id'))}`);
      print(ctx, instance, () =>
        details({ ...instance, adminSources: instance.adminSources ?? '(all trusted sources)' }),
      );
      return 0;
    },
  },
  credentials: {
    async run(ctx) {
      const id = encodeURIComponent(positional(ctx, 0, 'instance id'));
      const credentials = await ctx
        .api()
        .post<{ username: string; password: string }>(`/api/v1/instances/${id}/credentials/reveal`, {});
      print(ctx, credentials, () => details(credentials));
      return 0;
    },
  },
  sources: {
    options: { wait: { type: 'boolean' } },
    async run(ctx) {
      const action = positional(ctx, 0, 'set, add or remove');
      const instanceId = positional(ctx, 1, 'instance id');
      const given = ctx.positionals.slice(2);
      if (!['set', 'add', 'remove'].includes(action))
        throw new UsageError('sources set|add|remove <instance-id> <cidr>...');
      if (given.length === 0) throw new UsageError('name at least one address or CIDR range');
      const instance = await ctx.api().get<Instance>(`/api/v1/instances/${encodeURIComponent(instanceId)}`);
      const bare = (cidr: string) => cidr.replace(/\/(32|128)$/, '');
      const removing = new Set(given.map(bare));
      const trustedSources =
        action === 'set'
          ? given
          : action === 'add'
            ? [
                ...instance.trustedSources,
                ...given.filter((g) => !instance.trustedSources.map(bare).includes(bare(g))),
              ]
            : instance.trustedSources.filter((s) => !removing.has(bare(s)) && !removing.has(s));
      return changeOrder(ctx, instanceId, { type: 'trusted-sources', trustedSources });
    },
  },
  'admin-sources': {
    options: { wait: { type: 'boolean' } },
    async run(ctx) {
      const action = positional(ctx, 0, 'set, none or reset');
      const instanceId = positional(ctx, 1, 'instance id');
      const given = ctx.positionals.slice(2);
      if (action === 'set' && given.length === 0)
        throw new UsageError('name at least one address or CIDR range');
      if (action !== 'set' && ((action !== 'none' && action !== 'reset') || given.length > 0)) {
        throw new UsageError(
          'admin-sources set <instance-id> <cidr>... | admin-sources none|reset <instance-id>',
        );
      }
      // none: nobody administers through the edge; reset: every trusted source may again.
      const adminSources = action === 'set' ? given : action === 'none' ? [] : null;
      return changeOrder(ctx, instanceId, { type: 'admin-sources', adminSources });
    },
  },
  scale: {
    options: { 'node-size': { type: 'string' }, wait: { type: 'boolean' } },
    run: (ctx) =>
      changeOrder(ctx, positional(ctx, 0, 'instance id'), {
        type: 'scale',
        nodeSize: required(ctx, 'node-size'),
      }),
  },
  storage: {
    options: { 'storage-gb': { type: 'string' }, wait: { type: 'boolean' } },
    run: (ctx) =>
      changeOrder(ctx, positional(ctx, 0, 'instance id'), {
        type: 'storage',
        storageGb: integer(ctx, 'storage-gb'),
      }),
  },
  restart: {
    options: { wait: { type: 'boolean' } },
    run: (ctx) => changeOrder(ctx, positional(ctx, 0, 'instance id'), { type: 'restart' }),
  },
  upgrade: {
    options: { version: { type: 'string' }, wait: { type: 'boolean' } },
    run: (ctx) =>
      changeOrder(ctx, positional(ctx, 0, 'instance id'), {
        type: 'upgrade',
        version: required(ctx, 'version'),
      }),
  },
  delete: {
    options: { 'confirm-name': { type: 'string' }, wait: { type: 'boolean' } },
    run: (ctx) =>
      changeOrder(ctx, positional(ctx, 0, 'instance id'), {
        type: 'delete',
        confirmName: required(ctx, 'confirm-name'),
      }),
  },
  logs: {
    options: {
      search: { type: 'string' },
      since: { type: 'string' },
      limit: { type: 'string' },
      follow: { type: 'boolean', short: 'f' },
    },
    async run(ctx) {
      const instanceId = encodeURIComponent(positional(ctx, 0, 'instance id'));
      const since = str(ctx, 'since');
      const query = check(logQuerySchema, {
        search: str(ctx, 'search'),
        since: since && /^\d+[mhd]$/.test(since) ? sinceAgo(since) : since,
        limit: str(ctx, 'limit') ?? (ctx.values.follow ? '20' : undefined),
      });
      const params = new URLSearchParams(
        Object.entries(query).flatMap(([key, value]): [string, string][] =>
          value === undefined ? [] : [[key, String(value)]],
        ),
      );
      const api = ctx.api();
      const show = (entries: LogEntry[]) => {
        for (const entry of entries) {
          if (query.search && !entry.text.toLowerCase().includes(query.search.toLowerCase())) continue;
          ctx.io.out(ctx.output === 'json' ? JSON.stringify(entry) : entry.text);
        }
      };
      const page = await api.get<LogPage>(`/api/v1/instances/${instanceId}/logs?${params}`);
      show(page.entries);
      if (!ctx.values.follow) return 0;
      // Until interrupted (Ctrl-C ends the process).
      const response = await api.stream(
        `/api/v1/instances/${instanceId}/logs/stream`,
        new AbortController().signal,
      );
      for await (const data of serverSentData(response))
        show((JSON.parse(data) as { entries: LogEntry[] }).entries);
      return 0;
    },
  },
  metrics: {
    options: { range: { type: 'string' } },
    async run(ctx) {
      const instanceId = encodeURIComponent(positional(ctx, 0, 'instance id'));
      const { range } = check(metricsQuerySchema, { range: str(ctx, 'range') });
      const metrics = await ctx
        .api()
        .get<InstanceMetrics>(`/api/v1/instances/${instanceId}/metrics?range=${range}`);
      const latest = (name: keyof InstanceMetrics['series']) =>
        metrics.series[name].filter(([, value]) => value !== null).at(-1)?.[1] ?? null;
      print(ctx, metrics, () =>
        details({
          range: `${metrics.from} – ${metrics.to} (every ${metrics.stepSeconds} s)`,
          logins: metrics.totals.logins,
          failedLogins: metrics.totals.failedLogins,
          tokensIssued: metrics.totals.tokensIssued,
          requestsPerSecond: latest('requestsPerSecond')?.toFixed(2),
          responseTimeP95Ms: latest('responseTimeP95Ms')?.toFixed(0),
          heapUsedMb: ((latest('heapUsedBytes') ?? 0) / 1024 ** 2).toFixed(0),
          cpuPercent: latest('cpuPercent')?.toFixed(1),
          databaseMb: ((latest('databaseBytes') ?? 0) / 1024 ** 2).toFixed(1),
        }),
      );
      return 0;
    },
  },
  'themes list': {
    async run(ctx) {
      const instanceId = encodeURIComponent(positional(ctx, 0, 'instance id'));
      const listed = await ctx.api().get<InstanceThemes>(`/api/v1/instances/${instanceId}/themes`);
      const rows = listed.themes.flatMap((theme) =>
        theme.versions.map((v) => ({
          ...v,
          deployed: v.version === theme.deployedVersion ? 'yes' : '',
        })),
      );
      print(ctx, listed, () =>
        table(rows, ['name', 'version', 'deployed', 'types', 'fileName', 'uploadedAt']),
      );
      return 0;
    },
  },
  'themes upload': {
    options: { deploy: { type: 'boolean' }, wait: { type: 'boolean' } },
    async run(ctx) {
      const instanceId = positional(ctx, 0, 'instance id');
      const file = positional(ctx, 1, 'theme archive (zip or jar)');
      const archive = await readFile(file);
      const body = check(themeUploadSchema, {
        fileName: path.basename(file),
        archive: archive.toString('base64'),
      });
      const version = await ctx
        .api()
        .post<ThemeVersion>(`/api/v1/instances/${encodeURIComponent(instanceId)}/themes`, body);
      ctx.io.err(`uploaded ${version.name} version ${version.version} (${version.types.join(', ')})`);
      if (!ctx.values.deploy) {
        print(ctx, version, () => details(version));
        return 0;
      }
      return changeOrder(ctx, instanceId, {
        type: 'theme-deploy',
        name: version.name,
        version: version.version,
      });
    },
  },
  'themes deploy': {
    options: { name: { type: 'string' }, version: { type: 'string' }, wait: { type: 'boolean' } },
    run: (ctx) =>
      changeOrder(ctx, positional(ctx, 0, 'instance id'), {
        type: 'theme-deploy',
        name: required(ctx, 'name'),
        version: Number(required(ctx, 'version')),
      }),
  },
  'themes remove': {
    options: { name: { type: 'string' }, wait: { type: 'boolean' } },
    run: (ctx) =>
      changeOrder(ctx, positional(ctx, 0, 'instance id'), {
        type: 'theme-remove',
        name: required(ctx, 'name'),
      }),
  },
  'domain show': {
    async run(ctx) {
      const domain = await ctx.api().get<CustomDomain>(`/api/v1/instances/${instancePath(ctx)}/domain`);
      print(ctx, domain, () => describeDomain(domain));
      return 0;
    },
  },
  'domain set': {
    options: {
      hostname: { type: 'string' },
      certificate: { type: 'string' },
      key: { type: 'string' },
      acme: { type: 'boolean' },
    },
    async run(ctx) {
      const certificate = ctx.values.acme
        ? { source: 'acme' }
        : {
            source: 'upload',
            certificateChainPem: await readFile(required(ctx, 'certificate'), 'utf8'),
            privateKeyPem: await readFile(required(ctx, 'key'), 'utf8'),
          };
      const body = check(domainRequestSchema, { hostname: required(ctx, 'hostname'), certificate });
      const domain = await ctx.api().put<CustomDomain>(`/api/v1/instances/${instancePath(ctx)}/domain`, body);
      print(ctx, domain, () => describeDomain(domain));
      return 0;
    },
  },
  'domain check': {
    async run(ctx) {
      const domain = await ctx
        .api()
        .post<CustomDomain>(`/api/v1/instances/${instancePath(ctx)}/domain/check`, {});
      print(ctx, domain, () => describeDomain(domain));
      return domain.status === 'pending-dns' || domain.status === 'failed' ? 1 : 0;
    },
  },
  'domain remove': {
    async run(ctx) {
      const removed = await ctx
        .api()
        .delete<{ orderId: string | null }>(`/api/v1/instances/${instancePath(ctx)}/domain`);
      ctx.io.err(
        removed.orderId
          ? `custom domain removed; order ${removed.orderId} brings Keycloak back to its own host name`
          : 'custom domain removed; the instance answers at its own host name',
      );
      return 0;
    },
  },
  'backups list': {
    async run(ctx) {
      const id = encodeURIComponent(positional(ctx, 0, 'instance id'));
      const backups = await ctx.api().get<InstanceBackups>(`/api/v1/instances/${id}/backups`);
      const { policy } = backups;
      print(ctx, backups, () =>
        [
          `retention: ${policy.retention} nightly backups (+${backups.retentionPricePerMonth} EUR/month); ` +
            `backup window ${policy.backupWindow.startHour}:00 for 2 h, maintenance ${policy.maintenanceWindow.day} ` +
            `${policy.maintenanceWindow.startHour}:00 for 2.5 h (${policy.timeZone})`,
          `next backup window: ${backups.nextBackupWindow.start}; next maintenance: ${backups.nextMaintenanceWindow.start}` +
            (backups.nextPatch ? `, patch to ${backups.nextPatch.version}` : ''),
          `download key: ${backups.encryptionKey ? backups.encryptionKey.fingerprint : 'none (downloads need one)'}`,
          '',
          table(backups.items, ['id', 'kind', 'night', 'status', 'sizeBytes', 'durationMs', 'createdAt']),
        ].join('\n'),
      );
      return 0;
    },
  },
  'backups create': {
    options: { wait: { type: 'boolean' } },
    run: (ctx) => changeOrder(ctx, positional(ctx, 0, 'instance id'), { type: 'backup' }),
  },
  'backups restore': {
    options: {
      'backup-id': { type: 'string' },
      'confirm-name': { type: 'string' },
      wait: { type: 'boolean' },
    },
    run: (ctx) =>
      changeOrder(ctx, positional(ctx, 0, 'instance id'), {
        type: 'restore',
        backupId: required(ctx, 'backup-id'),
        confirmName: required(ctx, 'confirm-name'),
      }),
  },
  'backups policy': {
    options: {
      retention: { type: 'string' },
      'time-zone': { type: 'string' },
      'backup-window-start': { type: 'string' },
      'maintenance-day': { type: 'string' },
      'maintenance-start': { type: 'string' },
      wait: { type: 'boolean' },
    },
    async run(ctx) {
      const instanceId = positional(ctx, 0, 'instance id');
      const { policy } = await ctx
        .api()
        .get<InstanceBackups>(`/api/v1/instances/${encodeURIComponent(instanceId)}/backups`);
      const given = (name: string) => (str(ctx, name) === undefined ? undefined : integer(ctx, name));
      return changeOrder(ctx, instanceId, {
        type: 'backup-policy',
        policy: {
          retention: given('retention') ?? policy.retention,
          timeZone: str(ctx, 'time-zone') ?? policy.timeZone,
          backupWindow: { startHour: given('backup-window-start') ?? policy.backupWindow.startHour },
          maintenanceWindow: {
            day: str(ctx, 'maintenance-day') ?? policy.maintenanceWindow.day,
            startHour: given('maintenance-start') ?? policy.maintenanceWindow.startHour,
          },
        },
      });
    },
  },
  'backups key': {
    options: { 'public-key-file': { type: 'string' } },
    async run(ctx) {
      const id = encodeURIComponent(positional(ctx, 0, 'instance id'));
      const publicKey = readFileSync(required(ctx, 'public-key-file'), 'utf8');
      const key = await ctx
        .api()
        .put<Record<string, unknown>>(`/api/v1/instances/${id}/backup-key`, { publicKey });
      print(ctx, key, () => details(key));
      return 0;
    },
  },
  'backups download': {
    options: { out: { type: 'string' } },
    async run(ctx) {
      const id = encodeURIComponent(positional(ctx, 0, 'instance id'));
      const backupId = encodeURIComponent(positional(ctx, 1, 'backup id'));
      const out = required(ctx, 'out');
      const response = await ctx.api().download(`/api/v1/instances/${id}/backups/${backupId}/download`);
      // Written to a new file only (never over an existing one), streamed.
      await pipeline(
        Readable.fromWeb(response.body as NodeReadableStream),
        createWriteStream(out, { flags: 'wx' }),
      );
      ctx.io.err(`written ${out} (OpenPGP-encrypted; decrypt with your private key, e.g. gpg --decrypt)`);
      return 0;
    },
  },
  'realms export': {
    options: { realm: { type: 'string' }, 'include-users': { type: 'boolean' }, wait: { type: 'boolean' } },
    run: (ctx) =>
      changeOrder(ctx, positional(ctx, 0, 'instance id'), {
        type: 'realm-export',
        realm: required(ctx, 'realm'),
        includeUsers: ctx.values['include-users'] === true,
      }),
  },
  'realms download': {
    options: { out: { type: 'string' } },
    async run(ctx) {
      const orderId = encodeURIComponent(positional(ctx, 0, 'export order id'));
      const out = required(ctx, 'out');
      const response = await ctx.api().download(`/api/v1/orders/${orderId}/realm-export`);
      await pipeline(
        Readable.fromWeb(response.body as NodeReadableStream),
        createWriteStream(out, { flags: 'wx' }),
      );
      ctx.io.err(`written ${out}`);
      return 0;
    },
  },
  'realms import': {
    options: {
      'export-order-id': { type: 'string' },
      'realm-name': { type: 'string' },
      wait: { type: 'boolean' },
    },
    run: (ctx) =>
      changeOrder(ctx, positional(ctx, 0, 'instance id'), {
        type: 'realm-import',
        exportOrderId: required(ctx, 'export-order-id'),
        ...(str(ctx, 'realm-name') ? { realmName: str(ctx, 'realm-name') } : {}),
      }),
  },
  'tickets list': {
    async run(ctx) {
      const page = await ctx.api().get<{ items: Record<string, unknown>[] }>('/api/v1/tickets');
      print(ctx, page.items, () =>
        table(page.items, ['number', 'status', 'subject', 'orderId', 'createdAt']),
      );
      return 0;
    },
  },
  'tickets create': {
    options: {
      subject: { type: 'string' },
      message: { type: 'string' },
      'order-id': { type: 'string' },
      'instance-id': { type: 'string' },
    },
    async run(ctx) {
      const ticket = await ctx.api().post<Record<string, unknown>>('/api/v1/tickets', {
        subject: required(ctx, 'subject'),
        message: required(ctx, 'message'),
        orderId: str(ctx, 'order-id'),
        instanceId: str(ctx, 'instance-id'),
      });
      print(ctx, ticket, () => details(ticket));
      return 0;
    },
  },
};
// "tickets" alone lists them.
commands.tickets = commands['tickets list']!;
commands.themes = commands['themes list']!;
commands.domain = commands['domain show']!;

function instancePath(ctx: Context) {
  return encodeURIComponent(positional(ctx, 0, 'instance id'));
}

function describeDomain(domain: CustomDomain): string {
  return details({
    hostname: domain.hostname,
    dnsRecord: `${domain.hostname}. CNAME ${domain.cnameTarget}.`,
    status: domain.status,
    message: domain.message,
    certificate: domain.certificate
      ? `${domain.certificate.names.join(', ')}, valid until ${domain.certificate.notAfter}` +
        (domain.certificate.expiresSoon
          ? domain.source === 'acme'
            ? ' (renewed by Keyhouse before then)'
            : ' (expires within 30 days)'
          : '')
      : domain.source === 'acme'
        ? domain.status === 'dns-verified'
          ? "being obtained by ACME through the edge's port 80; the domain is served then"
          : 'by ACME, once DNS points here'
        : null,
    order: domain.orderId
      ? `${domain.orderId} (serves the domain; keyhouse orders watch ${domain.orderId})`
      : null,
  });
}

/** `30m`, `6h`, `2d` before now, as RFC 3339. */
function sinceAgo(ago: string): string {
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[ago.slice(-1) as 'm' | 'h' | 'd'];
  return new Date(Date.now() - Number(ago.slice(0, -1)) * unit).toISOString();
}

async function login(args: string[], env: Environment, io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...globalOptions,
      email: { type: 'string' },
      'password-stdin': { type: 'boolean' },
    },
    strict: true,
  });
  const url = values.url || env.KEYHOUSE_URL;
  if (!url) throw new UsageError('--url (or KEYHOUSE_URL) is required');
  let token = values.token;
  if (!token) {
    if (!values.email) throw new UsageError('--token <token> or --email <email> is required');
    if (!values['password-stdin']) throw new UsageError('--password-stdin is required with --email');
    const password = (await io.stdin()).replace(/\r?\n$/, '');
    const response = await fetch(`${url.replace(/\/+$/, '')}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: values.email, password }),
    });
    if (!response.ok) throw new ApiRefusal(response.status, (await response.json()) as never);
    const { csrfToken } = (await response.json()) as { csrfToken: string };
    const cookie = (response.headers.get('set-cookie') ?? '').split(';')[0]!;
    const session = createApiClient({ url, cookie });
    token = (
      await session.post<{ token: string }>(
        '/api/v1/tokens',
        { name: `keyhouse CLI on ${hostname()}`.slice(0, 80) },
        { 'x-csrf-token': csrfToken },
      )
    ).token;
  }
  const check = createApiClient({ url, token });
  const whoami = await check.get<{ user: { email: string }; organization: { customerNumber: string } }>(
    '/api/v1/auth/session',
  );
  const file = credentialsPath(env);
  writeCredentials(file, { url, token });
  io.out(
    `Signed in as ${whoami.user.email} (${whoami.organization.customerNumber}); token stored in ${file}`,
  );
  return 0;
}

export async function main(argv: string[], env: Environment, io: Io): Promise<number> {
  const [first, second] = argv;
  if (!first || first === '--help' || first === '-h' || first === 'help') {
    io.out(USAGE);
    return first ? 0 : 2;
  }
  try {
    if (first === 'login') return await login(argv.slice(1), env, io);
    if (first === 'admin') {
      // Loaded only here: the API client needs none of the server's modules.
      const { runAdmin } = await import('./admin.js');
      return await runAdmin(argv.slice(1), env.server, io);
    }
    const twoWords = second && commands[`${first} ${second}`] ? `${first} ${second}` : undefined;
    const name = twoWords ?? first;
    const command = commands[name];
    if (!command) throw new UsageError(`unknown command "${argv.slice(0, 2).join(' ')}"`);
    const { values, positionals } = parseArgs({
      args: argv.slice(twoWords ? 2 : 1),
      options: { ...globalOptions, ...command.options },
      allowPositionals: true,
      strict: true,
    });
    const output = values.output;
    if (output !== 'table' && output !== 'json') throw new UsageError('--output is table or json');
    const stored = readCredentials(credentialsPath(env));
    const url = (values.url as string | undefined) ?? (env.KEYHOUSE_URL || stored?.url);
    const token = (values.token as string | undefined) ?? (env.KEYHOUSE_TOKEN || stored?.token);
    const ctx: Context = {
      api: () => {
        if (!url) throw new UsageError('set KEYHOUSE_URL (or run keyhouse login)');
        if (!token && command.auth !== false)
          throw new UsageError('set KEYHOUSE_TOKEN (or run keyhouse login)');
        return createApiClient({ url, token });
      },
      output,
      io,
      env,
      positionals,
      values: values as Context['values'],
    };
    return await command.run(ctx);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`keyhouse: ${(error as Error).message}\n(keyhouse --help lists the commands)`);
      return 2;
    }
    if (error instanceof ApiRefusal || error instanceof LocalRefusal) {
      const problem =
        error instanceof ApiRefusal ? error.problem : { detail: error.message, errors: error.errors };
      const title = error instanceof ApiRefusal ? `${error.status} ${problem.title ?? ''}`.trim() : 'refused';
      io.err(`keyhouse: ${title}: ${problem.detail ?? error.message}`);
      for (const field of problem.errors ?? []) io.err(`  ${field.path}: ${field.message}`);
      return 1;
    }
    io.err(`keyhouse: ${(error as Error).message}`);
    return 1;
  }
}

// Run as a program (also through npm's bin symlink), not when imported.
const invokedAs = process.argv[1] ? realpathSync(process.argv[1]) : undefined;
if (invokedAs === fileURLToPath(import.meta.url)) {
  const io: Io = {
    out: (text) => process.stdout.write(text + '\n'),
    err: (text) => process.stderr.write(text + '\n'),
    stdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
  const { KEYHOUSE_URL, KEYHOUSE_TOKEN, HOME, XDG_CONFIG_HOME } = process.env;
  process.exitCode = await main(
    process.argv.slice(2),
    { KEYHOUSE_URL, KEYHOUSE_TOKEN, HOME, XDG_CONFIG_HOME, server: process.env },
    io,
  );
}
