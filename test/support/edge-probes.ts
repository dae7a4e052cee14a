import http from 'node:http';
import http2 from 'node:http2';
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
  localAddress?: string;
}): Promise<RawProbe> {
  return new Promise((resolve) => {
    const raw = net.connect({ host: options.host, port: options.port, localAddress: options.localAddress });
    let secured = false;
    let error: string | null = null;
    const timer = setTimeout(() => raw.destroy(new Error('probe timed out')), 5_000);
    raw.once('connect', () => {
      const secure = tls.connect({ socket: raw, servername: options.servername, ca: options.ca });
      secure.once('secureConnect', () => {
        secured = true;
        // Seen what counts; hanging up at once (HAProxy waits for a request on a half-closed connection).
        secure.destroy();
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

/** A request over TLS to 127.0.0.1:port with SNI and Host of `hostname`, trusting only `ca`; GET by default. */
export function httpsGet(options: {
  port: number;
  hostname: string;
  ca: string;
  path?: string;
  agent?: https.Agent;
  headers?: Record<string, string>;
  host?: string;
  /** The source address on this host, e.g. 127.0.0.2 (any 127.x works on loopback). */
  localAddress?: string;
  /** A form POST instead of a GET. */
  form?: Record<string, string>;
}): Promise<ProxiedAnswer> {
  const body = options.form ? new URLSearchParams(options.form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        method: body === undefined ? 'GET' : 'POST',
        host: options.host ?? '127.0.0.1',
        port: options.port,
        path: options.path ?? '/',
        servername: options.hostname,
        ca: options.ca,
        agent: options.agent ?? false,
        localAddress: options.localAddress,
        headers: {
          host: `${options.hostname}:${options.port}`,
          ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
          ...options.headers,
        },
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
    request.end(body);
  });
}

/**
 * An upstream standing in for Keycloak: answers with what it received. A path ending in `/hold` starts an answer
 * and never finishes it (a long request in flight); `holding` counts those still open.
 */
export async function startEchoServer(): Promise<{
  port: number;
  holding(): number;
  close(): Promise<void>;
}> {
  let holding = 0;
  const server = http.createServer((request, response) => {
    if (request.url?.endsWith('/hold')) {
      holding++;
      response.once('close', () => holding--);
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('holding\n');
      return;
    }
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
    holding: () => holding,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A GET over HTTP/2 (ALPN h2) with SNI of `hostname`; answers status, the negotiated protocol and the body. */
export async function http2Get(options: {
  port: number;
  hostname: string;
  ca: string;
  path: string;
}): Promise<{ status: number; alpn: string | false; body: string }> {
  const session = http2.connect(`https://${options.hostname}:${options.port}`, {
    ca: options.ca,
    servername: options.hostname,
    // <name>.localhost need not resolve here: loopback, with SNI and :authority of the instance's name.
    lookup: (_hostname, lookupOptions, callback) => {
      if ((lookupOptions as { all?: boolean }).all) {
        (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [
          { address: '127.0.0.1', family: 4 },
        ]);
      } else callback(null, '127.0.0.1', 4);
    },
  });
  try {
    await new Promise<void>((resolve, reject) => {
      session.once('connect', () => resolve());
      session.once('error', reject);
    });
    const alpn = session.alpnProtocol ?? false;
    return await new Promise((resolve, reject) => {
      const stream = session.request({ ':path': options.path });
      let status = 0;
      let body = '';
      stream.setEncoding('utf8');
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (chunk: string) => (body += chunk));
      stream.on('end', () => resolve({ status, alpn, body }));
      stream.on('error', reject);
    });
  } finally {
    session.close();
  }
}
