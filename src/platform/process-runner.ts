import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';

export type CommandResult = { code: number; signal: NodeJS.Signals | null; tail: string };

/**
 * Runs a command to completion, keeping the last lines of its output for error messages, optionally copying the
 * whole output to a log file and handing each line to `onLine` (progress logging).
 */
export function runCommand(
  file: string,
  args: string[],
  options: {
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    logFile?: string;
    onLine?: (line: string) => void;
    tailLines?: number;
    /** Aborting kills the command (SIGTERM); the promise then rejects with an AbortError. */
    signal?: AbortSignal;
  } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env,
      signal: options.signal,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
    const lines: string[] = [];
    let partial = '';
    const onData = (chunk: Buffer) => {
      log?.write(chunk);
      partial += chunk.toString();
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (lines.length > (options.tailLines ?? 30)) lines.shift();
        options.onLine?.(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (error) => {
      log?.end();
      reject(error);
    });
    child.on('close', (code, signal) => {
      if (partial) lines.push(partial);
      const finish = () => resolve({ code: code ?? 1, signal, tail: lines.join('\n') });
      if (log) log.end(finish);
      else finish();
    });
  });
}
