import { randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import pg from 'pg';
import PgBoss from 'pg-boss';
import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import type { SecretBox } from '../platform/secret-box.js';
import {
  claimMail,
  listDueMailIds,
  MAIL_OUTBOX_CHANNEL,
  markAbandonedMailsUnconfirmed,
  markMailRetry,
  markMailSent,
} from './mail-outbox-store.js';
import { mailDataSchema } from './mail-schemas.js';
import { renderMail } from './mail-templates.js';

/**
 * Sends the outbox through an SMTP server, with durable jobs (pg-boss queue `mail`, one job per due mail).
 *
 * - Never lost: a mail the SMTP server does not take (down, refusing, timing out) goes back to `pending` with
 *   back-off and is sent when the server is back; the outbox row survives any crash.
 * - Never twice: the Message-ID is recorded and the mail marked `sending` before the SMTP conversation starts. If the
 *   sender dies before it records the server's answer, the mail stays `sending`; after the lease it becomes
 *   `unconfirmed` and is not sent again by itself (an operator checks it by its Message-ID and may resend it).
 */
export type MailSender = {
  /** Looks for due mails now (also runs on NOTIFY and on a timer). */
  dispatch(): Promise<number>;
  stop(): Promise<void>;
};

/** Only tests: where the sender can be made to fail on purpose. */
export type MailTestFaults = {
  /** Called after the SMTP server accepted a mail and before the outbox records it (e.g. to SIGKILL the process). */
  afterSmtpAccepted?(mailId: string): void;
};

const QUEUE = 'mail';
/** Longer than the SMTP timeouts below together, so a live sender's mail is never taken for abandoned. */
const SENDING_LEASE_SECONDS = 120;
const SMTP_TIMEOUT_MS = 20_000;

/** With the default base: 15 s, 30 s, 1 min … at most 15 min between attempts. */
const retryDelayMs = (attempts: number, baseMs = 15_000) =>
  Math.min(15 * 60_000, baseMs * 2 ** Math.max(0, attempts - 1));

export async function startMailSender(options: {
  databaseUrl: string;
  db: Database;
  smtpUrl: string;
  from: string;
  portalUrl: string;
  secretBox: SecretBox;
  logger: Logger;
  dispatchIntervalMs?: number;
  /** The first retry's delay (doubling after that); tests shorten it. */
  retryBaseMs?: number;
  /** How long a mail may be `sending` before it counts as abandoned; tests shorten it. */
  sendingLeaseSeconds?: number;
  testFaults?: MailTestFaults;
}): Promise<MailSender> {
  const { db } = options;
  const logger = options.logger.child({ component: 'mail-sender' });
  // The URL carries the SMTP password: it is handed to nodemailer and never logged.
  const transport = nodemailer.createTransport({
    url: options.smtpUrl,
    connectionTimeout: SMTP_TIMEOUT_MS,
    greetingTimeout: SMTP_TIMEOUT_MS,
    socketTimeout: SMTP_TIMEOUT_MS,
  });
  const messageIdHost = new URL(options.portalUrl).hostname || 'keyhouse.invalid';

  async function send(mailId: string): Promise<void> {
    const messageId = `<${randomUUID()}@${messageIdHost}>`;
    const mail = await claimMail(db.pool, mailId, messageId);
    if (!mail) return;
    const data = mailDataSchema.parse(mail.data);
    const secret = mail.sealedSecret ? options.secretBox.open(mail.sealedSecret) : null;
    const rendered = renderMail(data, mail.language, { portalUrl: options.portalUrl, secret });
    let response: string;
    try {
      const info = await transport.sendMail({
        from: options.from,
        to: mail.recipient,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        messageId,
        headers: { 'Content-Language': mail.language },
      });
      response = info.response;
    } catch (error) {
      const retryAfterMs = retryDelayMs(mail.attempts, options.retryBaseMs);
      logger.warn(
        { mailId, kind: data.kind, err: error, retryAfterMs },
        'SMTP server did not take the mail; will retry',
      );
      await markMailRetry(db.pool, mailId, (error as Error).message, retryAfterMs);
      return;
    }
    options.testFaults?.afterSmtpAccepted?.(mailId);
    await markMailSent(db.pool, mailId, response);
    logger.info({ mailId, kind: data.kind, messageId }, 'mail sent');
  }

  const boss = new PgBoss({ connectionString: options.databaseUrl, max: 2, schema: 'pgboss' });
  boss.on('error', (error) => logger.error({ err: error }, 'mail queue error'));
  await boss.start();
  await boss.createQueue(QUEUE, {
    name: QUEUE,
    policy: 'short',
    retryLimit: 3,
    retryDelay: 5,
    expireInMinutes: 5,
  });
  const workerId = await boss.work<{ mailId: string }>(
    QUEUE,
    { batchSize: 1, pollingIntervalSeconds: 2 },
    async ([job]) => {
      if (job) await send(job.data.mailId);
    },
  );

  async function dispatch(): Promise<number> {
    const abandoned = await markAbandonedMailsUnconfirmed(
      db.pool,
      options.sendingLeaseSeconds ?? SENDING_LEASE_SECONDS,
    );
    if (abandoned)
      logger.warn({ mails: abandoned }, 'mails left sending by a stopped sender are unconfirmed');
    const due = await listDueMailIds(db.pool, 100);
    for (const mailId of due) await boss.send(QUEUE, { mailId }, { singletonKey: mailId });
    if (due.length) boss.notifyWorker(workerId);
    return due.length;
  }

  // Woken by every queued mail (NOTIFY is delivered on commit), and by a timer for retries that come due.
  const listener = new pg.Client({ connectionString: options.databaseUrl });
  let stopped = false;
  let dispatching: Promise<unknown> = Promise.resolve();
  const wake = () => {
    dispatching = dispatching
      .then(dispatch)
      .catch((error: unknown) => logger.error({ err: error }, 'dispatching mails failed'));
  };
  listener.on('notification', wake);
  listener.on('error', (error) => logger.error({ err: error }, 'mail listener lost its connection'));
  await listener.connect();
  await listener.query(`LISTEN ${MAIL_OUTBOX_CHANNEL}`);
  const timer = setInterval(wake, options.dispatchIntervalMs ?? 5_000);
  timer.unref();
  wake();

  return {
    dispatch,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await listener
        .end()
        .catch((error: unknown) => logger.warn({ err: error }, 'closing the mail listener'));
      await dispatching;
      await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
      transport.close();
    },
  };
}
