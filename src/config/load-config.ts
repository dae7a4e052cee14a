import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { packageRoot } from '../platform/package-root.js';
import { configSchema, type Config } from './config-schema.js';

const defaultConfigPath = path.join(packageRoot, 'config', 'default.yaml');

/** The environment variables Keyhouse reads; nothing else in the code reads process.env. */
export type Environment = {
  KEYHOUSE_CONFIG?: string | undefined;
  PORT?: string | undefined;
  DATA_DIR?: string | undefined;
  DATABASE_URL?: string | undefined;
  KEYCLOAK_HOME?: string | undefined;
  JAVA_HOME?: string | undefined;
  KEYHOUSE_SECRET_KEY?: string | undefined;
  /** Comma-separated, e.g. "api,worker". */
  KEYHOUSE_ROLES?: string | undefined;
  /** Basic-auth credentials of the Open Service Broker API; without both the broker is off. */
  KEYHOUSE_OSB_USERNAME?: string | undefined;
  KEYHOUSE_OSB_PASSWORD?: string | undefined;
  /** The SMTP server of outgoing mail, e.g. smtp://user:password@mail.example.com:587. */
  KEYHOUSE_SMTP_URL?: string | undefined;
  /** The portal's public URL, for links in mails. */
  KEYHOUSE_PUBLIC_URL?: string | undefined;
};

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`Invalid configuration (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Tree = Record<string, unknown>;
const isTree = (value: unknown): value is Tree =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Objects merge key by key; everything else (lists included) is replaced whole. */
function merge(base: Tree, override: Tree): Tree {
  const result: Tree = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = result[key];
    result[key] = isTree(current) && isTree(value) ? merge(current, value) : value;
  }
  return result;
}

function readYaml(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [`cannot read the file: ${(error as Error).message}`]);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new ConfigError(file, [`not valid YAML: ${(error as Error).message}`]);
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isTree(parsed)) throw new ConfigError(file, ['the file must contain a YAML mapping at the top level']);
  return parsed;
}

export function describeIssues(issues: z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const where = issue.path.length ? issue.path.join('.') : '(top level)';
    if (issue.code === 'unrecognized_keys')
      return `${where}: unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    return `${where}: ${issue.message}`;
  });
}

function environmentOverrides(env: Environment): { tree: Tree; problems: string[] } {
  const tree: Tree = {};
  const problems: string[] = [];
  if (env.PORT !== undefined && env.PORT !== '') {
    const port = Number(env.PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      problems.push(`PORT: "${env.PORT}" is not a port number`);
    else tree.server = { port };
  }
  if (env.DATA_DIR) tree.dataDir = env.DATA_DIR;
  if (env.DATABASE_URL) tree.database = { url: env.DATABASE_URL };
  if (env.KEYCLOAK_HOME || env.JAVA_HOME) {
    tree.keycloak = {
      ...(env.KEYCLOAK_HOME ? { home: env.KEYCLOAK_HOME } : {}),
      ...(env.JAVA_HOME ? { javaHome: env.JAVA_HOME } : {}),
    };
  }
  if (env.KEYHOUSE_SECRET_KEY) tree.secretKey = env.KEYHOUSE_SECRET_KEY;
  if (env.KEYHOUSE_ROLES) tree.roles = env.KEYHOUSE_ROLES.split(',').map((role) => role.trim());
  if (env.KEYHOUSE_OSB_USERNAME || env.KEYHOUSE_OSB_PASSWORD) {
    tree.osb = {
      ...(env.KEYHOUSE_OSB_USERNAME ? { username: env.KEYHOUSE_OSB_USERNAME } : {}),
      ...(env.KEYHOUSE_OSB_PASSWORD ? { password: env.KEYHOUSE_OSB_PASSWORD } : {}),
    };
  }
  if (env.KEYHOUSE_SMTP_URL) tree.mail = { smtpUrl: env.KEYHOUSE_SMTP_URL };
  if (env.KEYHOUSE_PUBLIC_URL) tree.portal = { publicUrl: env.KEYHOUSE_PUBLIC_URL };
  return { tree, problems };
}

/** Reads defaults, the optional file and the environment once, and validates the result. Throws ConfigError. */
export function loadConfig(env: Environment, cwd = process.cwd()): Config {
  let tree = readYaml(defaultConfigPath);
  const source = env.KEYHOUSE_CONFIG ? path.resolve(cwd, env.KEYHOUSE_CONFIG) : 'built-in defaults';
  if (env.KEYHOUSE_CONFIG) tree = merge(tree, readYaml(source));
  const overrides = environmentOverrides(env);
  if (overrides.problems.length) throw new ConfigError('environment', overrides.problems);
  tree = merge(tree, overrides.tree);

  const result = configSchema.safeParse(tree);
  if (!result.success) throw new ConfigError(source, describeIssues(result.error.issues));
  return { ...result.data, dataDir: path.resolve(cwd, result.data.dataDir) };
}
