import pino, { type Logger } from 'pino';

/** Structured JSON logs. Credentials never reach a log line, wherever they appear in a logged object. */
export const redactedPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
  '*.csrfToken',
  '*.secret',
  '*.adminPassword',
  '*.databasePassword',
];

/**
 * Path segments that are secrets themselves: the token of an invitation link (the portal page
 * `/invitations/<token>` and the API's `/api/v1/invitations/<token>/accept`). Whoever reads it can accept.
 */
const SECRET_PATH_SEGMENTS = [/(\/invitations\/)[^/?#]+/g];

/** The URL as it may be logged: secret path segments replaced, the rest kept for reading the log. */
export function redactUrl(url: string): string {
  return SECRET_PATH_SEGMENTS.reduce((redacted, pattern) => redacted.replace(pattern, '$1[redacted]'), url);
}

type LoggedRequest = {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
};

export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      redact: { paths: redactedPaths, censor: '[redacted]' },
      // Replaces Fastify's request serializer (ours wins), so that no request line carries a secret URL.
      serializers: {
        req: (req: LoggedRequest) => ({
          method: req.method,
          url: req.url === undefined ? undefined : redactUrl(req.url),
          host: req.host,
          remoteAddress: req.ip,
          remotePort: req.socket?.remotePort,
        }),
      },
    },
    options.destination,
  );
}
