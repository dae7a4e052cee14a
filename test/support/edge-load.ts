import https from 'node:https';

/**
 * A customer's traffic through the edge while something changes behind it (a control-plane restart, a scale or
 * restart order): HTTPS requests to the edge at 127.0.0.1 with the instance's name for SNI and Host, each on a new
 * connection (a new TCP and TLS handshake every time, so a moment without a listener would show). Every failure is
 * kept with its cause (the status and the start of the body, or the socket error's code and how far the request
 * got) and its time, so that a failed request can be placed among the order's steps (`failureReport`).
 */
export type EdgeTarget = { url: string; ca: string };

export type LoadFailure = {
  /** When the failure was seen (ISO, with milliseconds). */
  at: string;
  /** When the failed request was sent (ISO, with milliseconds). */
  sentAt: string;
  what: string;
};

export type LoadResult = {
  sent: number;
  ok: number;
  failures: LoadFailure[];
  seconds: number;
  /** Successful answers per second over the whole run. */
  tokensPerSecond: number;
};

export type EdgeLoad = { ok(): number; stop(): Promise<LoadResult> };

type EdgeRequest = {
  path: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** A form body (application/x-www-form-urlencoded). */
  body?: string;
  timeoutMs?: number;
};

/** Why a request failed before it had an answer, and how far it got: the part that tells a refused connection from
 * a request that was in flight when its Keycloak went away. */
export class EdgeRequestError extends Error {
  constructor(
    readonly code: string,
    readonly phase: 'connecting' | 'TLS handshake' | 'sending' | 'awaiting the answer' | 'reading the answer',
    cause: Error,
  ) {
    super(`${code} while ${phase}: ${cause.message}`, { cause });
  }
}

/** One HTTPS request to the edge; rejects with an `EdgeRequestError`. */
export function edgeRequest(
  target: EdgeTarget,
  options: EdgeRequest,
): Promise<{ status: number; text: string }> {
  const url = new URL(options.path, target.url);
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    let phase: EdgeRequestError['phase'] = 'connecting';
    const fail = (error: NodeJS.ErrnoException) =>
      reject(new EdgeRequestError(error.code ?? 'ERROR', phase, error));
    const request = https.request(
      {
        host: '127.0.0.1',
        port: url.port,
        path: url.pathname + url.search,
        method: options.method,
        servername: url.hostname,
        ca: target.ca,
        agent: false,
        timeout: timeoutMs,
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
        phase = 'reading the answer';
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
        response.on('error', fail);
      },
    );
    request.on('socket', (socket) => {
      socket.once('connect', () => (phase = 'TLS handshake'));
      socket.once('secureConnect', () => (phase = 'sending'));
    });
    request.on('finish', () => {
      if (phase === 'sending') phase = 'awaiting the answer';
    });
    request.on('timeout', () =>
      request.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'TIMEOUT' })),
    );
    request.on('error', fail);
    request.end(options.body);
  });
}

/**
 * Sends `request` until `stop()`, either paced (`perSecond`, open loop: the next request does not wait for the
 * previous one, up to `maxInFlight`, default 2 s worth, so that on a machine so loaded that Keycloak answers slowly
 * requests wait for a free slot instead of piling up) or back to back (one at a time, each as soon as the previous
 * one answered). A request counts as ok when `accepted` says so of its answer.
 */
export function startEdgeLoad(options: {
  target: EdgeTarget;
  request: EdgeRequest;
  accepted(answer: { status: number; text: string }): boolean;
  pace: { perSecond: number; maxInFlight?: number } | 'back-to-back';
}): EdgeLoad {
  const started = performance.now();
  let sent = 0;
  let ok = 0;
  let running = true;
  const failures: LoadFailure[] = [];
  const inFlight = new Set<Promise<void>>();

  const one = async () => {
    const sentAt = new Date().toISOString();
    sent++;
    let what: string;
    try {
      const answer = await edgeRequest(options.target, options.request);
      if (options.accepted(answer)) {
        ok++;
        return;
      }
      what = `HTTP ${answer.status}: ${answer.text.slice(0, 200)}`;
    } catch (error) {
      what = (error as Error).message;
    }
    failures.push({ at: new Date().toISOString(), sentAt, what });
  };
  const track = (pending: Promise<void>) => {
    inFlight.add(pending);
    void pending.then(() => inFlight.delete(pending));
  };

  let timer: NodeJS.Timeout | undefined;
  const pace = options.pace;
  if (pace === 'back-to-back') {
    track(
      (async () => {
        while (running) await one();
      })(),
    );
  } else {
    const maxInFlight = pace.maxInFlight ?? pace.perSecond * 2;
    // Paced by the wall clock, not by the timer's count: on a loaded machine timers fire late, and the requests due
    // meanwhile go out at the next tick.
    timer = setInterval(
      () => {
        const due = Math.floor(((performance.now() - started) / 1000) * pace.perSecond) - sent;
        for (let i = 0; i < due && inFlight.size < maxInFlight; i++) track(one());
      },
      1000 / pace.perSecond / 2,
    );
  }

  return {
    ok: () => ok,
    async stop() {
      running = false;
      clearInterval(timer);
      await Promise.all(inFlight);
      const seconds = (performance.now() - started) / 1000;
      return { sent, ok, failures, seconds, tokensPerSecond: ok / seconds };
    },
  };
}

/** Client-credentials token requests; ok is a 200 with an access token. */
export function startTokenLoad(options: {
  target: EdgeTarget;
  realm: string;
  clientId: string;
  clientSecret: string;
  perSecond: number;
  maxInFlight?: number;
}): EdgeLoad {
  return startEdgeLoad({
    target: options.target,
    request: {
      path: `/realms/${options.realm}/protocol/openid-connect/token`,
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: options.clientId,
        client_secret: options.clientSecret,
      }).toString(),
    },
    accepted: (answer) => answer.status === 200 && answer.text.includes('"access_token"'),
    pace: { perSecond: options.perSecond, maxInFlight: options.maxInFlight },
  });
}

/**
 * A signed-in user's userinfo calls with the session's access token. Keycloak answers userinfo only while the user
 * session behind the token exists, so every 200 with the user's `sub` also says the session is still there.
 */
export function startSessionLoad(options: {
  target: EdgeTarget;
  realm: string;
  accessToken: string;
  /** The user's id: userinfo's `sub`. */
  subject: string;
  perSecond: number;
}): EdgeLoad {
  return startEdgeLoad({
    target: options.target,
    request: {
      path: `/realms/${options.realm}/protocol/openid-connect/userinfo`,
      method: 'GET',
      headers: { authorization: `Bearer ${options.accessToken}` },
    },
    accepted: (answer) => answer.status === 200 && answer.text.includes(`"sub":"${options.subject}"`),
    pace: { perSecond: options.perSecond },
  });
}

type TimedStep = { name: string; startedAt: string; finishedAt: string | null };

/**
 * The failures, each placed among the order's steps: the steps running when it was sent and when it failed, and
 * its time relative to the edge switch; e.g. `sent 10:02:03.120 (edge-switch +0.4 s, in edge-switch), failed
 * +0.9 s (in keycloak-drain): ECONNRESET while awaiting the answer: socket hang up`.
 */
export function failureReport(failures: LoadFailure[], steps: TimedStep[] = []): string {
  if (!failures.length) return 'none failed';
  const time = (iso: string) => Date.parse(iso);
  const during = (at: number) => {
    const running = steps.filter(
      (step) => time(step.startedAt) <= at && (step.finishedAt === null || at <= time(step.finishedAt)),
    );
    return running.length ? `in ${running.map((step) => step.name).join(', ')}` : 'between steps';
  };
  const seconds = (ms: number) => `${ms >= 0 ? '+' : ''}${(ms / 1000).toFixed(1)} s`;
  const switched = steps.find((step) => step.name === 'edge-switch');
  return failures
    .map((failure) => {
      const sent = time(failure.sentAt);
      const failed = time(failure.at);
      const relative = switched ? `edge-switch ${seconds(sent - time(switched.startedAt))}, ` : '';
      return (
        `sent ${failure.sentAt.slice(11, 23)} (${relative}${during(sent)}), ` +
        `failed ${seconds(failed - sent)} (${during(failed)}): ${failure.what}`
      );
    })
    .join('\n');
}
