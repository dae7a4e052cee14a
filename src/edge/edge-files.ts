import { X509Certificate } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { EdgeFileLayout } from './haproxy-config.js';
import type { LocalCa } from './local-ca.js';

/**
 * The files HAProxy reads, under <dataDir>/edge: its configuration, one certificate file per host name (key and
 * chain, mode 0600), two pattern files per instance (trusted and admin sources, one CIDR a line) and the two map
 * files of the plain-HTTP listener (ACME challenges, https redirects). Every write
 * goes to a temporary file first and is renamed into place, so HAProxy (re)loading at any moment reads either the
 * old or the new content, never half of one.
 */
export type EdgeFiles = EdgeFileLayout & {
  directory: string;
  configFile: string;
  pidFile: string;
  logFile: string;
  /** Writes `content` unless the file already holds exactly that; true when it wrote. */
  write(file: string, content: string, mode?: number): boolean;
  read(file: string): string | undefined;
  /** Pattern and certificate files that belong to none of the given instances and host names. */
  removeAllBut(keep: { instanceIds: Iterable<string>; hostnames: Iterable<string> }): string[];
};

export function edgeFiles(dataDir: string): EdgeFiles {
  const directory = path.join(dataDir, 'edge');
  // The runtime API names pattern and certificate files by path, in commands split at spaces and ";".
  if (/[\s;#\\"'$]/.test(directory)) {
    throw new Error(
      `HAProxy's runtime API cannot name files under ${JSON.stringify(directory)}: use a DATA_DIR without spaces, ` +
        'quotes, "$", "#", ";" or backslashes.',
    );
  }
  const sources = path.join(directory, 'sources');
  const certs = path.join(directory, 'certs');
  for (const dir of [directory, sources, certs]) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const masterSocket = path.join(directory, 'master.sock');
  // sockaddr_un holds 108 bytes including the terminating zero.
  if (Buffer.byteLength(masterSocket) > 107) {
    throw new Error(
      `The data dir path is too long for HAProxy's control socket ${masterSocket}; use a shorter DATA_DIR.`,
    );
  }
  const read = (file: string): string | undefined => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  };
  return {
    directory,
    configFile: path.join(directory, 'haproxy.cfg'),
    pidFile: path.join(directory, 'haproxy.pid'),
    logFile: path.join(dataDir, 'logs', 'haproxy.log'),
    masterSocket,
    certificateFile: (hostname) => path.join(certs, `${hostname}.pem`),
    acmeChallengesMap: path.join(directory, 'acme-challenges.map'),
    httpsRedirectsMap: path.join(directory, 'https-redirects.map'),
    trustedSourcesFile: (instanceId) => path.join(sources, `${instanceId}.trusted`),
    adminSourcesFile: (instanceId) => path.join(sources, `${instanceId}.admin`),
    read,
    write(file, content, mode = 0o600) {
      if (read(file) === content) return false;
      const staging = `${file}.${process.pid}.tmp`;
      writeFileSync(staging, content, { mode });
      renameSync(staging, file);
      return true;
    },
    removeAllBut(keep) {
      const ids = new Set(keep.instanceIds);
      const hostnames = new Set(keep.hostnames);
      const removed: string[] = [];
      for (const name of readdirSync(sources)) {
        if (!ids.has(name.replace(/\.(trusted|admin)$/, ''))) removed.push(path.join(sources, name));
      }
      for (const name of readdirSync(certs)) {
        if (!hostnames.has(name.replace(/\.pem$/, ''))) removed.push(path.join(certs, name));
      }
      for (const file of removed) rmSync(file, { force: true });
      return removed;
    },
  };
}

/** A pattern file's content: one canonical CIDR a line, in the route's order. */
export function patternFile(cidrs: readonly string[]): string {
  return cidrs.map((cidr) => `${cidr}\n`).join('');
}

/** A map file's content: `<key> <value>` a line (neither contains white space; the callers' schemas ensure it). */
export function mapFile(entries: readonly (readonly [string, string])[]): string {
  return entries.map(([key, value]) => `${key} ${value}\n`).join('');
}

export type InstalledCertificate = { file: string; pem: string; serial: string; notAfter: Date };

/**
 * The certificate file of `hostname`: kept while it is valid for the name, issued by this CA and not within
 * `renewBeforeMs` of its end; otherwise a new one from the CA replaces it (`renewed`).
 */
export async function ensureCertificate(options: {
  files: EdgeFiles;
  ca: LocalCa;
  hostname: string;
  now: Date;
  renewBeforeMs: number;
}): Promise<{ certificate: InstalledCertificate; renewed: boolean }> {
  const { files, ca, hostname } = options;
  const file = files.certificateFile(hostname);
  const existing = files.read(file);
  if (existing) {
    const installed = inspect(file, existing);
    const caCert = new X509Certificate(ca.certificatePem);
    if (
      installed &&
      installed.x509.checkHost(hostname) !== undefined &&
      installed.x509.checkIssued(caCert) &&
      installed.x509.verify(caCert.publicKey) &&
      installed.certificate.notAfter.getTime() - options.now.getTime() > options.renewBeforeMs
    ) {
      return { certificate: installed.certificate, renewed: false };
    }
  }
  const issued = await ca.issueServerCertificate(hostname);
  const pem = `${issued.certPem.trim()}\n${issued.keyPem.trim()}\n`;
  files.write(file, pem);
  const installed = inspect(file, pem);
  if (!installed) throw new Error(`The certificate issued for ${hostname} cannot be read back.`);
  return { certificate: installed.certificate, renewed: existing !== undefined };
}

/**
 * The certificate file of a customer's own domain: the chain and key as src/domains checked and stored them. A
 * renewed or replaced certificate rewrites the file (and is swapped into the running workers like a renewed one).
 */
export function writeCustomCertificate(options: {
  files: EdgeFiles;
  hostname: string;
  chainPem: string;
  keyPem: string;
}): InstalledCertificate {
  const file = options.files.certificateFile(options.hostname);
  const pem = `${options.chainPem.trim()}\n${options.keyPem.trim()}\n`;
  options.files.write(file, pem);
  const installed = inspect(file, pem);
  if (!installed) throw new Error(`The certificate stored for ${options.hostname} cannot be read.`);
  return installed.certificate;
}

function inspect(
  file: string,
  pem: string,
): { certificate: InstalledCertificate; x509: X509Certificate } | undefined {
  const block = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (!block) return undefined;
  try {
    const x509 = new X509Certificate(block);
    return {
      x509,
      certificate: { file, pem, serial: x509.serialNumber.toUpperCase(), notAfter: new Date(x509.validTo) },
    };
  } catch (error) {
    if (error instanceof Error && 'code' in error) return undefined; // not a parseable certificate: replaced
    throw error;
  }
}
