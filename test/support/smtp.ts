import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { expect } from 'vitest';

/** A mail as it arrived at the test's SMTP server. */
export type ReceivedMail = {
  to: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
  language: string | undefined;
  parsed: ParsedMail;
};

/**
 * A real SMTP server in this process (the `smtp-server` package, plain SMTP on loopback, no auth): what Keyhouse's
 * mail sender hands it arrives here, parsed. It can be stopped and started again on the same port, to play an SMTP
 * server that is down for a while.
 */
export async function startTestSmtpServer() {
  const received: ReceivedMail[] = [];
  const create = () =>
    new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, _session, callback) {
        simpleParser(stream)
          .then((parsed) => {
            received.push({
              to: Array.isArray(parsed.to) ? parsed.to[0]!.text : (parsed.to?.text ?? ''),
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              html: typeof parsed.html === 'string' ? parsed.html : '',
              messageId: parsed.messageId ?? '',
              language: parsed.headers.get('content-language') as string | undefined,
              parsed,
            });
            callback();
          })
          .catch((error: unknown) => callback(error as Error));
      },
    });
  let server = create();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  let running = true;

  const stop = async () => {
    if (!running) return;
    running = false;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };

  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    received,
    /** Mails to this address so far. */
    to: (address: string) => received.filter((mail) => mail.to === address),
    /** Waits (with a deadline) until a mail to `address` matching `predicate` has arrived, and answers it. */
    async waitFor(
      address: string,
      predicate: (mail: ReceivedMail) => boolean = () => true,
      timeoutMs = 20_000,
    ) {
      await expect
        .poll(() => received.some((mail) => mail.to === address && predicate(mail)), { timeout: timeoutMs })
        .toBe(true);
      return received.find((mail) => mail.to === address && predicate(mail))!;
    },
    stop,
    /** Starts again on the same port after `stop`. */
    async start() {
      if (running) return;
      server = create();
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      running = true;
    },
  };
}
export type TestSmtpServer = Awaited<ReturnType<typeof startTestSmtpServer>>;

/** The secret of a link in a mail's text, e.g. the reset token after `#token=`. */
export function linkToken(mail: ReceivedMail, marker: RegExp): string {
  const match = marker.exec(mail.text);
  if (!match?.[1]) throw new Error(`no link matching ${marker} in:\n${mail.text}`);
  return match[1];
}
