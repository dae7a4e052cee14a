import http from 'node:http';
import type { Logger } from 'pino';
import { displayAddress } from './source-matcher.js';

/**
 * The HTTP/1.1 reverse proxy behind each edge listener: streams request and response bodies both ways over a
 * keep-alive agent and tells the instance who asked and how (X-Forwarded-*).
 */
export type ProxyTarget = { host: string; port: number; hostname: string; listenPort: number };

// Hop-by-hop headers (RFC 9110 section 7.6.1) belong to one connection and are never forwarded.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
// The edge is where the client's identity is known; whatever a client claims in these is dropped, not appended to.
const CLIENT_CLAIMS = new Set([
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-real-ip',
]);

function connectionTokens(headers: http.IncomingHttpHeaders | http.OutgoingHttpHeaders): Set<string> {
  const value = headers.connection;
  const text = Array.isArray(value) ? value.join(',') : String(value ?? '');
  return new Set(
    text
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter(Boolean),
  );
}

export function forwardedRequestHeaders(
  request: http.IncomingMessage,
  target: ProxyTarget,
): http.OutgoingHttpHeaders {
  const listed = connectionTokens(request.headers);
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || CLIENT_CLAIMS.has(name) || listed.has(name)) continue;
    headers[name] = value;
  }
  const host = request.headers.host ?? `${target.hostname}:${target.listenPort}`;
  headers.host = host;
  headers['x-forwarded-for'] = displayAddress(request.socket.remoteAddress);
  headers['x-forwarded-proto'] = 'https';
  headers['x-forwarded-host'] = host;
  headers['x-forwarded-port'] = String(target.listenPort);
  return headers;
}

function responseHeaders(upstream: http.IncomingMessage): http.OutgoingHttpHeaders {
  const listed = connectionTokens(upstream.headers);
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    headers[name] = value;
  }
  return headers;
}

/** A plain answer from the edge itself (the instance never saw the request). */
function answer(response: http.ServerResponse, status: number, text: string): void {
  if (response.headersSent) {
    // Part of the instance's answer is already on the wire: cutting the connection is the only honest signal.
    response.destroy();
    return;
  }
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  response.end(`${text}\n`);
}

export function createProxyHandler(options: {
  /** Read per request, so a changed upstream applies to the next request. */
  target: () => ProxyTarget;
  agent: http.Agent;
  logger: Logger;
  /** An upstream that sends no byte for this long is given up (Keycloak answers in well under a second). */
  upstreamTimeoutMs?: number;
}): (request: http.IncomingMessage, response: http.ServerResponse) => void {
  const timeoutMs = options.upstreamTimeoutMs ?? 120_000;
  return (request, response) => {
    const target = options.target();
    const upstream = http.request({
      host: target.host,
      port: target.port,
      method: request.method,
      path: request.url,
      headers: forwardedRequestHeaders(request, target),
      agent: options.agent,
    });
    upstream.setTimeout(timeoutMs, () => upstream.destroy(new Error('upstream timed out')));
    upstream.on('response', (upstreamResponse) => {
      response.writeHead(
        upstreamResponse.statusCode ?? 502,
        upstreamResponse.statusMessage,
        responseHeaders(upstreamResponse),
      );
      upstreamResponse.pipe(response);
      upstreamResponse.on('error', () => response.destroy());
    });
    upstream.on('error', (error) => {
      options.logger.warn(
        { hostname: target.hostname, upstream: `${target.host}:${target.port}`, err: error.message },
        'edge: upstream failed',
      );
      answer(response, 502, 'Bad gateway: the instance did not answer.');
    });
    // The client went away before the answer was complete: stop the upstream work too.
    response.on('close', () => {
      if (!response.writableFinished) upstream.destroy();
    });
    request.on('error', () => upstream.destroy());
    request.pipe(upstream);
  };
}
