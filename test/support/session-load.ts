import https from 'node:https';
import type { LoadResult } from './token-load.js';

/**
 * A signed-in user's traffic: userinfo calls through the edge with the session's access token, at a fixed rate, each
 * on a new connection (so a moment without a listener would show). Keycloak answers userinfo only while the user
 * session behind the token exists, so every 200 also says the session is still there. A call fails when it errors,
 * times out (30 s), or answers anything but 200 with the user's `sub`.
 */
export type SessionLoad = { ok(): number; stop(): Promise<LoadResult> };

export type EdgeTarget = { url: string; ca: string };

/** One HTTPS request to the edge at 127.0.0.1 with the instance's name for SNI and Host. */
export function edgeRequest(
  target: EdgeTarget,
  options: { path: string; method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; text: string }> {
  const url = new URL(options.path, target.url);
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: '127.0.0.1',
        port: url.port,
        path: url.pathname + url.search,
        method: options.method,
        servername: url.hostname,
        ca: target.ca,
        agent: false,
        timeout: 30_000,
        headers: {
          host: url.host,
          ...(options.body === undefined
            ? {}
            : {
                'content-type': 'application/x-www-form-urlencoded',
                'content-length': String(Buffer.byteLength(options.body)),
              }),
          ...options.headers,
        },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error('timed out after 30 s')));
    request.on('error', reject);
    request.end(options.body);
  });
}

export function startSessionLoad(options: {
  target: EdgeTarget;
  realm: string;
  accessToken: string;
  /** The user's id: userinfo's `sub`. */
  subject: string;
  perSecond: number;
}): SessionLoad {
  const path = `/realms/${options.realm}/protocol/openid-connect/userinfo`;
  const started = performance.now();
  let sent = 0;
  let ok = 0;
  const failures: LoadResult['failures'] = [];
  const inFlight = new Set<Promise<void>>();
  const one = async () => {
    try {
      const answer = await edgeRequest(options.target, {
        path,
        method: 'GET',
        headers: { authorization: `Bearer ${options.accessToken}` },
      });
      if (answer.status === 200 && answer.text.includes(`"sub":"${options.subject}"`)) ok++;
      else
        failures.push({
          at: new Date().toISOString(),
          what: `HTTP ${answer.status}: ${answer.text.slice(0, 200)}`,
        });
    } catch (error) {
      failures.push({ at: new Date().toISOString(), what: (error as Error).message });
    }
  };
  // Paced by the wall clock (timers fire late on a loaded machine), at most 2 s worth in flight.
  const timer = setInterval(
    () => {
      const due = Math.floor(((performance.now() - started) / 1000) * options.perSecond) - sent;
      for (let i = 0; i < due && inFlight.size < options.perSecond * 2; i++) {
        sent++;
        const pending = one();
        inFlight.add(pending);
        void pending.then(() => inFlight.delete(pending));
      }
    },
    1000 / options.perSecond / 2,
  );
  return {
    ok: () => ok,
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
      const seconds = (performance.now() - started) / 1000;
      return { sent, ok, failures, seconds, tokensPerSecond: ok / seconds };
    },
  };
}
