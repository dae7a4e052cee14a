import https from 'node:https';

/**
 * The last gate before DONE: the customer's admin obtains a token from the instance at its public URL, over TLS with
 * the instance's certificate — the way the customer will. The connection goes to `connectTo` with the instance's
 * host name as SNI and Host, so no DNS is needed (the local edge: loopback; a Kubernetes instance: its Service).
 */
export type LoginCheck = { ok: true } | { ok: false; message: string };

function postForm(
  url: URL,
  connectTo: string,
  ca: string,
  body: string,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: connectTo,
        port: url.port,
        servername: url.hostname,
        path: url.pathname,
        method: 'POST',
        ca,
        headers: {
          host: url.host,
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
        },
        timeout: timeoutMs,
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', reject);
    request.end(body);
  });
}

export async function verifyAdminLogin(options: {
  url: string;
  /** The address to connect to, e.g. the edge on this host. */
  connectTo: string;
  /** The certificate authority of the instance's certificate (PEM). */
  ca: string;
  username: string;
  password: string;
  /** The edge applies a new route within a second; allow for it. */
  deadlineMs?: number;
}): Promise<LoginCheck> {
  const tokenUrl = new URL('/realms/master/protocol/openid-connect/token', options.url);
  const body = new URLSearchParams({
    grant_type: 'password',
    client_id: 'admin-cli',
    username: options.username,
    password: options.password,
  }).toString();
  const deadline = Date.now() + (options.deadlineMs ?? 15_000);
  let last = 'no attempt';
  while (Date.now() < deadline) {
    try {
      const response = await postForm(tokenUrl, options.connectTo, options.ca, body, 5_000);
      if (response.status === 200 && response.body.includes('access_token')) return { ok: true };
      last = `token endpoint answered ${response.status}`;
      if (response.status === 401) break;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { ok: false, message: `The admin could not log in at the instance's address (${last}).` };
}
