import net from 'node:net';

/**
 * HAProxy's runtime API, spoken through the master CLI (the `-S` socket of master-worker mode). One connection per
 * request: the command goes out, the socket is half-closed, and the answer is everything until HAProxy closes it.
 * `@!<pid>` routes a request to one worker, current or leaving (Management Guide 9.4). Several commands go in one
 * request separated by ";" after a `@!<pid>;` prefix.
 */
export class HaproxyCliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HaproxyCliError';
  }
}

export type HaproxyProcessTable = {
  masterPid: number;
  /** Reloads the master has done, and how many of them failed (it then keeps the previous workers). */
  reloads: number;
  failedReloads: number;
  /** Workers on the current configuration (one, unless a reload is under way). */
  workers: number[];
  /** Workers of earlier configurations still finishing their connections. */
  oldWorkers: number[];
};

/** One stream as `show sess` lists it. Idle keep-alive connections between requests have none. */
export type HaproxyStream = { id: string; frontend: string; source: string | undefined };

// Lines of a command's request are limited by HAProxy's buffer (tune.bufsize, 16 kB by default).
const MAX_REQUEST_CHARS = 8_000;

export function parseShowProc(text: string): HaproxyProcessTable {
  const table: HaproxyProcessTable = {
    masterPid: 0,
    reloads: 0,
    failedReloads: 0,
    workers: [],
    oldWorkers: [],
  };
  let section: 'workers' | 'oldWorkers' | 'other' = 'other';
  for (const line of text.split('\n')) {
    if (line.startsWith('# workers')) section = 'workers';
    else if (line.startsWith('# old workers')) section = 'oldWorkers';
    else if (line.startsWith('#')) section = 'other';
    const master = /^(\d+)\s+master\s+(\d+)\s+\[failed:\s*(\d+)\]/.exec(line);
    if (master) {
      table.masterPid = Number(master[1]);
      table.reloads = Number(master[2]);
      table.failedReloads = Number(master[3]);
      continue;
    }
    const worker = /^(\d+)\s+worker\s/.exec(line);
    if (worker && section !== 'other') table[section].push(Number(worker[1]));
  }
  if (!table.masterPid) throw new HaproxyCliError(`"show proc" answered no master: ${text.slice(0, 200)}`);
  return table;
}

/** `0x55d…: proto=tcpv4 src=192.0.2.1:5678 fe=i-… be=…` → id, frontend and source address (port removed). */
export function parseShowSess(text: string): HaproxyStream[] {
  const streams: HaproxyStream[] = [];
  for (const line of text.split('\n')) {
    const match = /^(0x[0-9a-f]+): .*?\bsrc=(\S+) fe=(\S+)/.exec(line);
    if (!match) continue;
    const [, id, src, frontend] = match as unknown as [string, string, string, string];
    // IPv4 "192.0.2.1:5678", IPv6 "2001:db8::1:5678" (no brackets), or "unix:1" for the CLI itself.
    const colon = src.lastIndexOf(':');
    const address = colon > 0 ? src.slice(0, colon) : undefined;
    streams.push({ id, frontend, source: address === 'unix' ? undefined : address });
  }
  return streams;
}

/** `show stat` CSV → one record per line, keyed by the header's field names. */
export function parseShowStat(text: string): Record<string, string>[] {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const header = lines.shift()?.replace(/^#\s*/, '').split(',') ?? [];
  return lines.map((line) => {
    const values = line.split(',');
    return Object.fromEntries(header.map((name, i) => [name, values[i] ?? '']));
  });
}

export type HaproxyCli = {
  readonly socketPath: string;
  /** A request to the master itself (show proc, reload). */
  master(command: string): Promise<string>;
  /** One command on one worker; answers its output. */
  worker(pid: number, command: string): Promise<string>;
  /**
   * Commands that answer nothing when they succeed (add/commit acl, shutdown session): sent in as few requests as
   * fit, and any answer is an error.
   */
  silent(pid: number, commands: readonly string[]): Promise<void>;
  processes(): Promise<HaproxyProcessTable>;
};

export function createHaproxyCli(socketPath: string, options: { timeoutMs?: number } = {}): HaproxyCli {
  const timeoutMs = options.timeoutMs ?? 10_000;

  function request(text: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(socketPath);
      const chunks: Buffer[] = [];
      socket.setTimeout(timeoutMs, () =>
        socket.destroy(new HaproxyCliError(`HAProxy's master CLI did not answer within ${timeoutMs} ms.`)),
      );
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.once('error', reject);
      socket.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.end(text.endsWith('\n') ? text : `${text}\n`);
    });
  }

  /** `separator` " " routes one command; ";" makes the prefix apply to every command after it. */
  async function toWorker(pid: number, separator: ' ' | '; ', text: string): Promise<string> {
    const answer = await request(`@!${pid}${separator}${text}`);
    if (answer.startsWith("Can't find the target PID")) {
      throw new HaproxyCliError(`HAProxy worker ${pid} is gone.`);
    }
    return answer;
  }

  return {
    socketPath,
    master: request,
    worker: (pid, command) => toWorker(pid, ' ', command),
    async silent(pid, commands) {
      const batches: string[][] = [[]];
      let size = 0;
      for (const command of commands) {
        if (size + command.length > MAX_REQUEST_CHARS && batches.at(-1)!.length) {
          batches.push([]);
          size = 0;
        }
        batches.at(-1)!.push(command);
        size += command.length + 2;
      }
      for (const batch of batches) {
        if (!batch.length) continue;
        const answer = await toWorker(pid, '; ', batch.join('; '));
        if (answer.trim() !== '') {
          throw new HaproxyCliError(
            `HAProxy worker ${pid} refused "${batch[0]}…": ${answer.trim().slice(0, 300)}`,
          );
        }
      }
    },
    async processes() {
      return parseShowProc(await request('show proc'));
    },
  };
}
