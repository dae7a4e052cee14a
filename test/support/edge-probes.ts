import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';

/** Polls `condition` until it holds or `timeoutMs` pass; returns the time it took. No fixed sleeps. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await condition()) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`Not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

/** A TCP port that was free a moment ago (the kernel picks it). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export type RawProbe = {
  /** Bytes the server sent, counted on the TCP socket (so TLS handshake bytes count too). */
  bytesReceived: number;
  /** The TLS handshake completed. */
  secured: boolean;
  error: string | null;
};

/**
 * Connects, offers a TLS handshake and reports how many bytes came back before the connection ended. A refused
 * source sees 0 bytes and no handshake; an allowed one a completed handshake (then the probe hangs up itself).
 */
export function probeTls(options: {
  host: string;
  port: number;
  servername: string;
  ca: string;
}): Promise<RawProbe> {
  return new Promise((resolve) => {
    const raw = net.connect({ host: options.host, port: options.port });
    let secured = false;
    let error: string | null = null;
    const timer = setTimeout(() => raw.destroy(new Error('probe timed out')), 5_000);
    raw.once('connect', () => {
      const secure = tls.connect({ socket: raw, servername: options.servername, ca: options.ca });
      secure.once('secureConnect', () => {
        secured = true;
        secure.end();
      });
      secure.on('error', (e: Error) => {
        error ??= (e as NodeJS.ErrnoException).code ?? e.message;
      });
    });
    raw.on('error', (e: Error) => {
      error ??= (e as NodeJS.ErrnoException).code ?? e.message;
    });
    raw.once('close', () => {
      clearTimeout(timer);
      resolve({ bytesReceived: raw.bytesRead, secured, error });
    });
  });
}

export type ProxiedAnswer = {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  socket: net.Socket;
  reusedSocket: boolean;
};

/** GET over TLS to 127.0.0.1:port with SNI and Host of `hostname`, trusting only `ca`. */
export function httpsGet(options: {
  port: number;
  hostname: string;
  ca: string;
  path?: string;
  agent?: https.Agent;
  headers?: Record<string, string>;
  host?: string;
}): Promise<ProxiedAnswer> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: options.host ?? '127.0.0.1',
        port: options.port,
        path: options.path ?? '/',
        servername: options.hostname,
        ca: options.ca,
        agent: options.agent ?? false,
        headers: { host: `${options.hostname}:${options.port}`, ...options.headers },
      },
      (response) => {
        // Captured now: a kept-alive socket is detached from the response when it goes back to the agent.
        const socket = response.socket;
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            socket,
            reusedSocket: request.reusedSocket,
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end();
  });
}

/** An upstream standing in for Keycloak: answers with what it received. */
export async function startEchoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      response.setHeader('content-type', 'application/json');
      response.end(
        JSON.stringify({
          method: request.method,
          url: request.url,
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
