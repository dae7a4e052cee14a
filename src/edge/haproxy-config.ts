import { createHash } from 'node:crypto';
import net from 'node:net';

/**
 * Renders HAProxy's configuration from the edge routes: one `listen` section per instance on its own port. The
 * output depends on nothing but the input (routes sorted, no timestamps), so an unchanged route table renders the
 * same text and causes no reload. Allowlists are not in the text but in one pattern file per list, which the
 * runtime API replaces live; the text only changes when instances come or go, or with a new Keyhouse release.
 *
 * What every instance's section does, in this order:
 *   1. `tcp-request connection reject` for sources outside the trusted sources: the socket is closed right after
 *      accept(), before any TLS byte, so a refused source learns nothing.
 *   2. TLS with the instance's certificate from the local CA, or, when the client names the customer's own domain
 *      (SNI), with the certificate uploaded or obtained for it; HTTP/2 and HTTP/1.1 by ALPN.
 *   3. The trusted sources again on every request, so a source removed from the list cannot go on using a
 *      connection it opened before (the connection is closed without an answer).
 *   4. A request-rate limit per source address (a stick table per instance): 429 with Retry-After above it.
 *   5. Keycloak's exposed-path recommendations: /metrics and /health never; /realms/, /resources/, /.well-known/
 *      and /robots.txt for the trusted sources; everything else (/admin/, the admin REST API, the welcome page)
 *      only for the admin sources. Dot segments are refused for everyone, so no path reaches what a prefix hides.
 *   6. X-Forwarded-For/-Proto/-Host/-Port set by the edge; whatever a client sent in them is dropped first.
 */
export type EdgeFrontend = {
  instanceId: string;
  hostname: string;
  listenPort: number;
  upstreamHost: string;
  upstreamPort: number;
  /** The customer's own host name, served on the same port once its certificate file is in place. */
  customHostname?: string;
};

/** Where the files of a frontend live; the pattern files' paths are also their names in the runtime API. */
export type EdgeFileLayout = {
  masterSocket: string;
  certificateFile(hostname: string): string;
  trustedSourcesFile(instanceId: string): string;
  adminSourcesFile(instanceId: string): string;
  /** `<host name>/<token> <key authorization>` a line: the ACME HTTP-01 answers of the plain-HTTP listener. */
  acmeChallengesMap: string;
  /** `<host name> https://<host name>:<port>` a line: where the plain-HTTP listener sends a known host name. */
  httpsRedirectsMap: string;
};

export type EdgeRenderOptions = {
  listenHost: string;
  rateLimit: { requests: number; windowSeconds: number };
  layout: EdgeFileLayout;
  /** Keyhouse's release: a new release reloads the edge onto the configuration it renders. */
  keyhouseVersion: string;
  /** The plain-HTTP listener's port (ACME HTTP-01 challenges, redirects to https); absent: none. */
  httpPort?: number;
};

export type RenderedConfig = { text: string; fingerprint: string };

/** Paths open to every trusted source (Keycloak's "exposed path recommendations"). */
const PUBLIC_PREFIXES = ['/realms/', '/resources/', '/.well-known/'];
const PUBLIC_PATHS = ['/robots.txt'];
const NEVER_EXPOSED = ['/metrics', '/health'];
/** Headers only the edge may set: a client's claims are dropped, not appended to (Keycloak trusts the first). */
const CLIENT_CLAIMS = [
  'Forwarded',
  'X-Forwarded-For',
  'X-Forwarded-Host',
  'X-Forwarded-Proto',
  'X-Forwarded-Port',
  'X-Real-IP',
];

export function frontendName(instanceId: string): string {
  return `i-${instanceId}`;
}

/** A double-quoted configuration word: HAProxy expands `$` and `\` inside double quotes, so both are escaped. */
function quote(value: string): string {
  if (/[\r\n\0]/.test(value))
    throw new Error(`A configuration value must not contain line breaks: ${JSON.stringify(value)}`);
  return `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

/** `ipv4@`/`ipv6@` make the address family explicit, so an IPv6 address's colons never read as a port. */
function address(host: string, port: number): string {
  const family = net.isIP(host);
  if (family === 4) return `ipv4@${host}:${port}`;
  if (family === 6) return `ipv6@${host}:${port}`;
  return `${host}:${port}`;
}

/** Binds a port on `listenHost`; "::" means every address, IPv4 on its own socket (IPv4 source addresses stay IPv4). */
function bindLines(listenHost: string, port: number, suffix: string): string[] {
  if (listenHost === '::')
    return [`bind ipv4@0.0.0.0:${port}${suffix}`, `bind ipv6@:::${port} v6only${suffix}`];
  return [`bind ${address(listenHost, port)}${suffix}`];
}

/**
 * `crt` once per certificate file: HAProxy picks the one whose names match the client's SNI, and the first (the
 * instance's own) for any other name or none.
 */
function binds(listenHost: string, port: number, crts: readonly string[]): string[] {
  return bindLines(
    listenHost,
    port,
    ` ssl ${crts.map((crt) => `crt ${quote(crt)}`).join(' ')} alpn h2,http/1.1`,
  );
}

/**
 * The plain-HTTP listener (port 80 in production), public by nature: an ACME directory validating a customer's
 * domain comes from anywhere. It has no server: HAProxy answers everything itself, so nothing on it reaches
 * Keycloak, whatever the allowlists say.
 *   1. `GET /.well-known/acme-challenge/<token>` for `<host>`: 200 with the key authorization Keyhouse published
 *      (the map file, swapped in through the runtime API), else 404.
 *   2. A host name the edge serves (an instance's own, a custom domain): 301 to its https:// address and port.
 *   3. Anything else: the connection is closed without an answer.
 */
function httpSection(port: number, options: EdgeRenderOptions): string[] {
  // Unquoted inside the rules' own quotes and braces: edge-files.ts refuses paths with spaces, quotes, "$" or "#".
  const challenges = options.layout.acmeChallengesMap;
  const redirects = options.layout.httpsRedirectsMap;
  return [
    'frontend http',
    '  description "ACME HTTP-01 challenges; redirects to https"',
    ...bindLines(options.listenHost, port, '').map((line) => `  ${line}`),
    // The Host header without a port, in lower case: pebble and browsers send "name:port" off port 80.
    '  http-request set-var(txn.host) req.hdr(host),field(1,:),lower',
    '  acl acme_challenge path_reg ^/[.]well-known/acme-challenge/[A-Za-z0-9_-]+$',
    '  http-request set-var(txn.acme_token) path,field(4,/) if acme_challenge',
    '  http-request set-var(txn.acme_key) var(txn.host),concat(/,txn.acme_token,) if acme_challenge',
    `  http-request return status 200 content-type text/plain lf-string "%[var(txn.acme_key),map(${challenges})]" if acme_challenge { var(txn.acme_key),map(${challenges}) -m found }`,
    '  http-request return status 404 content-type text/plain string "No such challenge." if acme_challenge',
    `  http-request redirect code 301 location "%[var(txn.host),map(${redirects})]%[pathq]" if { var(txn.host),map(${redirects}) -m found }`,
    '  http-request reject',
    '',
  ];
}

function section(frontend: EdgeFrontend, options: EdgeRenderOptions): string[] {
  const { layout, rateLimit } = options;
  const { instanceId, listenPort } = frontend;
  return [
    `listen ${frontendName(instanceId)}`,
    `  description ${quote([frontend.hostname, frontend.customHostname].filter(Boolean).join(' '))}`,
    ...binds(
      options.listenHost,
      listenPort,
      [frontend.hostname, ...(frontend.customHostname ? [frontend.customHostname] : [])].map((name) =>
        layout.certificateFile(name),
      ),
    ).map((line) => `  ${line}`),
    `  acl trusted src -f ${quote(layout.trustedSourcesFile(instanceId))}`,
    `  acl admin_source src -f ${quote(layout.adminSourcesFile(instanceId))}`,
    `  acl public_path path_beg ${PUBLIC_PREFIXES.join(' ')}`,
    `  acl public_path path ${PUBLIC_PATHS.join(' ')}`,
    `  acl never_exposed path ${NEVER_EXPOSED.join(' ')}`,
    `  acl never_exposed path_beg ${NEVER_EXPOSED.map((p) => `${p}/`).join(' ')}`,
    '  acl dot_segment path_sub /../ /./',
    '  acl dot_segment path_end /.. /.',
    '  acl dot_segment path_sub -i %2e',
    '  tcp-request connection reject if !trusted',
    '  http-request reject if !trusted',
    `  stick-table type ipv6 size 50k expire ${rateLimit.windowSeconds * 2}s store http_req_rate(${rateLimit.windowSeconds}s)`,
    '  http-request track-sc0 src',
    `  http-request return status 429 content-type text/plain string "Too many requests from your address; retry later." hdr Retry-After ${rateLimit.windowSeconds} if { sc_http_req_rate(0) gt ${rateLimit.requests} }`,
    '  http-request deny deny_status 400 if dot_segment',
    '  http-request deny deny_status 404 if never_exposed',
    '  http-request deny deny_status 403 if !public_path !admin_source',
    ...CLIENT_CLAIMS.map((header) => `  http-request del-header ${header}`),
    '  http-request set-header X-Forwarded-For %[src]',
    '  http-request set-header X-Forwarded-Proto https',
    '  http-request set-header X-Forwarded-Host %[req.hdr(host)] if { req.hdr(host) -m found }',
    `  http-request set-header X-Forwarded-Port ${listenPort}`,
    `  server keycloak ${address(frontend.upstreamHost, frontend.upstreamPort)}`,
    '',
  ];
}

export function renderHaproxyConfig(
  frontends: readonly EdgeFrontend[],
  options: EdgeRenderOptions,
): RenderedConfig {
  const sorted = [...frontends].sort((a, b) => a.listenPort - b.listenPort);
  const body = [
    'defaults',
    '  mode http',
    // A reload must not fail a request: idle client connections stay open until their next request, which the
    // old worker answers with "Connection: close" (HTTP/2: GOAWAY), instead of being closed under the client.
    '  option idle-close-on-response',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout client-fin 5s',
    '  timeout http-request 10s',
    '  timeout http-keep-alive 30s',
    '  timeout server 120s',
    '  retries 3',
    '',
    ...sorted.flatMap((frontend) => section(frontend, options)),
    ...(options.httpPort === undefined ? [] : httpSection(options.httpPort, options)),
  ].join('\n');
  const fingerprint = createHash('sha256')
    .update(`${options.keyhouseVersion}\n${body}`)
    .digest('hex')
    .slice(0, 16);
  const text = [
    '# Rendered by Keyhouse from the edge routes in PostgreSQL; changes here are overwritten.',
    'global',
    // Read back through "show info" when a Keyhouse adopts a running HAProxy: equal means nothing to reload.
    `  description keyhouse-edge ${options.keyhouseVersion} ${fingerprint}`,
    // Old workers finish their requests after a reload; this bounds how long one may take.
    '  hard-stop-after 5m',
    '  stats timeout 1m',
    '  ssl-default-bind-options ssl-min-ver TLSv1.2',
    // The built-in HTTP client is unused here; verifying would load the system's CA bundle at every start and
    // reload (200 ms of a 270 ms reload on the test machine).
    '  httpclient.ssl.verify none',
    '',
    body,
  ].join('\n');
  return { text, fingerprint };
}

/** The fingerprint a running HAProxy was loaded with, from its `show info` (undefined if not ours). */
export function loadedFingerprint(showInfo: string): string | undefined {
  return /^description: keyhouse-edge \S+ ([0-9a-f]{16})\s*$/im.exec(showInfo)?.[1];
}
