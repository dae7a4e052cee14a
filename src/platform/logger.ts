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

export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    { level: options.level ?? 'info', redact: { paths: redactedPaths, censor: '[redacted]' } },
    options.destination,
  );
}
