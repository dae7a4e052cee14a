import { createReadStream, statSync } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as delay } from 'node:timers/promises';
import type { LogEntry, LogPage } from '../../instances/instance-log-schemas.js';
import { isNotFound } from '../../platform/errno.js';
import type { InstanceLogSource, LogRead, LogTarget } from '../driver.js';
import { keycloakLogFile } from './instance-files.js';

/**
 * The Keycloak log of a local instance: `logs/keycloak.log`, which Keycloak's file handler (Quarkus) rotates into
 * `keycloak.log.1` … by size. Entries start with Keycloak's default file format,
 * `2026-12-03 05:34:21,863 INFO  [category] (thread) message`, in the host's time zone (Keycloak runs on this host,
 * with this host's zone); lines that do not start so (stack traces) belong to the entry before them.
 */

const ENTRY_START = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}),(\d{3}) +([A-Z]+) /;
const REDACTED = '[redacted]';

/** Cuts the instance's secrets out of a text (Keycloak logs none of them by default; this guards the rest). */
export function redactSecrets(text: string, secrets: LogTarget['secrets']): string {
  let result = text;
  for (const secret of [secrets.adminPassword, secrets.databasePassword]) {
    if (secret.length >= 8) result = result.split(secret).join(REDACTED);
  }
  return result;
}

/**
 * Turns lines into entries: `push` each line, `flush` at the end; `onEntry` gets each finished entry. Keycloak's
 * times carry no zone: `zone` says whose they are (this host's, or UTC for a container, which has no zone set).
 */
export function createLogParser(onEntry: (entry: LogEntry) => void, zone: 'host' | 'utc' = 'host') {
  let current: LogEntry | null = null;
  return {
    push(line: string) {
      const start = ENTRY_START.exec(line);
      if (start) {
        if (current) onEntry(current);
        // No zone in Keycloak's format: local time where Keycloak ran.
        const time = new Date(`${start[1]}T${start[2]}.${start[3]}${zone === 'utc' ? 'Z' : ''}`);
        current = { time: time.toISOString(), level: start[4]!, text: line };
      } else if (current) {
        current.text += `\n${line}`;
      } else if (line !== '') {
        // A continuation whose entry began before what we read (a tail that starts mid-entry).
        current = { time: new Date(0).toISOString(), level: 'INFO', text: line };
      }
    },
    flush() {
      if (current) onEntry(current);
      current = null;
    },
  };
}

/** The instance's log files, oldest first (keycloak.log.5 … keycloak.log.1, keycloak.log). */
export async function logFilesOf(logFile: string): Promise<string[]> {
  const base = path.basename(logFile);
  let names: string[];
  try {
    names = await readdir(path.dirname(logFile));
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const rotated = names
    .map((name) => ({ name, index: new RegExp(`^${base.replace(/\./g, '\\.')}\\.(\\d+)$`).exec(name)?.[1] }))
    .filter((file): file is { name: string; index: string } => file.index !== undefined)
    .sort((a, b) => Number(b.index) - Number(a.index))
    .map((file) => path.join(path.dirname(logFile), file.name));
  return names.includes(base) ? [...rotated, logFile] : rotated;
}

/**
 * A read's page, from the log's lines pushed oldest first: the newest `limit` entries from `since` on that contain
 * `search` (any case), the instance's secrets cut out. Any backend's log (a file here, a pod's log on Kubernetes).
 */
export function createLogPage(target: LogTarget, query: LogRead, zone: 'host' | 'utc' = 'host') {
  const since = query.since.getTime();
  const needle = query.search?.toLowerCase();
  const kept: LogEntry[] = [];
  let matched = 0;
  const parser = createLogParser((entry) => {
    if (Date.parse(entry.time) < since) return;
    const text = redactSecrets(entry.text, target.secrets);
    if (needle !== undefined && !text.toLowerCase().includes(needle)) return;
    matched++;
    kept.push({ ...entry, text });
    if (kept.length > query.limit) kept.shift();
  }, zone);
  return {
    push: (line: string) => parser.push(line),
    page(): LogPage {
      parser.flush();
      return { entries: kept, truncated: matched > query.limit };
    },
  };
}

/** The newest `limit` entries from `since` on that contain `search` (any case), oldest first. */
export async function readInstanceLog(logFile: string, target: LogTarget, query: LogRead): Promise<LogPage> {
  const since = query.since.getTime();
  const page = createLogPage(target, query);
  for (const file of await logFilesOf(logFile)) {
    try {
      // A file last written before `since` holds nothing newer.
      if ((await stat(file)).mtimeMs < since) continue;
      const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
      for await (const line of lines) page.push(line);
    } catch (error) {
      if (!isNotFound(error)) throw error; // else rotated away while we read: its lines are in the next file
    }
  }
  return page.page();
}

/** Size and inode of the log file; null while there is none (not written yet, or between rotation and the next). */
function fileMark(logFile: string): { size: number; ino: number } | null {
  try {
    const { size, ino } = statSync(logFile);
    return { size, ino };
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

/**
 * The entries appended to the log from now on (from the call, not from the first read), in batches, until `signal`
 * aborts. Polls the file's size (a rotation shows as another inode or a smaller size: reading starts over at the
 * new file's beginning).
 */
export function followInstanceLog(
  logFile: string,
  target: LogTarget,
  signal: AbortSignal,
  pollMs = 500,
): AsyncIterable<LogEntry[]> {
  return followFrom(fileMark(logFile), logFile, target, signal, pollMs);
}

async function* followFrom(
  start: { size: number; ino: number } | null,
  logFile: string,
  target: LogTarget,
  signal: AbortSignal,
  pollMs: number,
): AsyncIterable<LogEntry[]> {
  let position = start?.size ?? 0;
  let inode = start?.ino ?? 0;
  let remainder = '';
  // Keeps a character whose bytes a read split until the rest comes.
  let decoder = new StringDecoder('utf8');
  while (!signal.aborted) {
    try {
      await delay(pollMs, undefined, { signal });
    } catch (error) {
      if ((error as Error).name === 'AbortError') return;
      throw error;
    }
    const now = fileMark(logFile);
    if (!now) continue;
    if (now.ino !== inode || now.size < position) {
      inode = now.ino;
      position = 0;
      remainder = '';
      decoder = new StringDecoder('utf8');
    }
    if (now.size === position) continue;
    const handle = await open(logFile, 'r');
    let chunk: string;
    try {
      const buffer = Buffer.alloc(now.size - position);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      position += bytesRead;
      chunk = remainder + decoder.write(buffer.subarray(0, bytesRead));
    } finally {
      await handle.close();
    }
    const lines = chunk.split('\n');
    remainder = lines.pop()!;
    const batch: LogEntry[] = [];
    const parser = createLogParser((entry) =>
      batch.push({ ...entry, text: redactSecrets(entry.text, target.secrets) }),
    );
    for (const line of lines) parser.push(line);
    // Keycloak writes an entry with its stack trace at once: what this poll read is complete.
    parser.flush();
    if (batch.length) yield batch;
  }
}

/** The local instances' logs: files under `instancesDir`, readable by any role on this host (same data dir). */
export function createLocalLogSource(instancesDir: string): InstanceLogSource {
  return {
    readLog: (instance, query) =>
      readInstanceLog(keycloakLogFile(instancesDir, instance.name), instance, query),
    followLog: (instance, signal) =>
      followInstanceLog(keycloakLogFile(instancesDir, instance.name), instance, signal),
  };
}
