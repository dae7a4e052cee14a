import https from 'node:https';

/**
 * A customer's traffic while the control plane is restarted: client-credentials token requests through the edge at
 * a fixed rate, each on a new connection (a new TCP and TLS handshake every time, so a moment without a listener
 * would show), open loop (the next request does not wait for the previous one) up to a bound of requests in
 * flight: on a machine so loaded that Keycloak answers slowly, requests wait for a free slot instead of piling up
 * until Keycloak's own database pool gives out. A request fails when it errors, times out (30 s), or answers
 * anything but 200 with an access token.
 */
export type LoadResult = {
  sent: number;
  ok: number;
  failures: { at: string; what: string }[];
  seconds: number;
  /** Successful token responses per second over the whole run. */
  tokensPerSecond: number;
};

export type TokenLoad = { ok(): number; stop(): Promise<LoadResult> };

export function startTokenLoad(options: {
  /** The instance's URL, https://<host name>:<port>; connections go to 127.0.0.1 with its name for SNI and Host. */
  url: string;
  realm: string;
  clientId: string;
  clientSecret: string;
  ca: string;
  perSecond: number;
  /** At most this many requests at once (default 2 s worth). */
  maxInFlight?: number;
}): TokenLoad {
  const maxInFlight = options.maxInFlight ?? options.perSecond * 2;
  const url = new URL(`/realms/${options.realm}/protocol/openid-connect/token`, options.url);
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: options.clientId,
    client_secret: options.clientSecret,
  }).toString();
  const started = performance.now();
  let sent = 0;
  let ok = 0;
  const failures: LoadResult['failures'] = [];
  const inFlight = new Set<Promise<void>>();

  const one = () =>
    new Promise<void>((resolve) => {
      const fail = (what: string) => {
        failures.push({ at: new Date().toISOString(), what });
        resolve();
      };
      const request = https.request(
        {
          host: '127.0.0.1',
          port: url.port,
          path: url.pathname,
          method: 'POST',
          servername: url.hostname,
          ca: options.ca,
          agent: false,
          timeout: 30_000,
          headers: {
            host: url.host,
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': Buffer.byteLength(body),
          },
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => {
            if (response.statusCode === 200 && text.includes('"access_token"')) {
              ok++;
              resolve();
            } else fail(`HTTP ${response.statusCode}: ${text.slice(0, 200)}`);
          });
          response.on('error', (error) => fail(`response: ${error.message}`));
        },
      );
      request.on('timeout', () => request.destroy(new Error('timed out after 30 s')));
      request.on('error', (error: NodeJS.ErrnoException) =>
        fail(`${error.code ?? ''} ${error.message}`.trim()),
      );
      request.end(body);
    });

  // Paced by the wall clock, not by the timer's count: on a loaded machine timers fire late, and the requests due
  // meanwhile go out at the next tick.
  const timer = setInterval(
    () => {
      const due = Math.floor(((performance.now() - started) / 1000) * options.perSecond) - sent;
      for (let i = 0; i < due && inFlight.size < maxInFlight; i++) {
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
