import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../../src/db/database.js';
import { updateInstanceRuntime } from '../../src/instances/instance-store.js';
import { startMailSender, type MailSender } from '../../src/mail/mail-sender.js';
import { transitionOrder } from '../../src/orders/order-status.js';
import { packageRoot } from '../../src/platform/package-root.js';
import { createLogger } from '../../src/platform/logger.js';
import { message } from '../../src/platform/messages.js';
import {
  bearerHeaders,
  signInOperator,
  testSecretBox,
  uniqueEmail,
  type SignedInUser,
} from '../support/accounts.js';
import { exampleOrder } from '../support/orders.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';
import { TEST_PASSWORD } from '../support/accounts.js';

// E-mail through a real SMTP server (the `smtp-server` package in this process): every kind of mail arrives once, in
// the recipient's language, as text and HTML; mails wait while the server is down; a sender killed between the
// server's acceptance and its own record does not send again.

let keyhouse: TestKeyhouse;
let smtp: TestSmtpServer;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  keyhouse = await startTestKeyhouse(
    (config) => {
      config.mail.smtpUrl = smtp.url;
      config.portal.publicUrl = 'https://portal.keyhouse.test';
    },
    { mail: { dispatchIntervalMs: 200, retryBaseMs: 300 } },
  );
});
afterAll(async () => {
  await keyhouse?.stop();
  await smtp?.stop();
});

async function signUpIn(language: 'de' | 'en'): Promise<SignedInUser & { token: string }> {
  const email = uniqueEmail('mail');
  const response = await keyhouse.request({
    method: 'POST',
    url: '/api/v1/auth/signup',
    payload: { email, password: TEST_PASSWORD, organizationName: 'Beispiel GmbH' },
    headers: { 'accept-language': language === 'de' ? 'de-DE,de;q=0.9,en;q=0.8' : 'en-GB' },
  });
  expect(response.statusCode).toBe(201);
  const body = response.json();
  const cookie = `keyhouse_session=${response.cookies[0]!.value}`;
  const sessionHeaders = { cookie, 'x-csrf-token': body.csrfToken };
  const created = await keyhouse.request({
    method: 'POST',
    url: '/api/v1/tokens',
    headers: sessionHeaders,
    payload: { name: 'mail test' },
  });
  return {
    ...body,
    email,
    password: TEST_PASSWORD,
    cookie,
    sessionHeaders,
    token: created.json().token,
    createApiToken: async () => created.json().token,
  };
}

/** What the reconciler does to finish an order: processing, then done or failed, each in its transaction. */
async function finishOrder(orderId: string, outcome: 'done' | 'failed') {
  await transitionOrder(keyhouse.db.pool, orderId, 'new', 'processing');
  await keyhouse.db.transaction(async (tx) => {
    if (outcome === 'done') await transitionOrder(tx, orderId, 'processing', 'done');
    else
      await transitionOrder(tx, orderId, 'processing', 'failed', {
        reason: message('failure.keycloakNotReadyInTime'),
        operatorDetail: 'test',
      });
  });
}

describe('every kind of mail, in the recipient’s language', () => {
  it('sends order done and failed, change order done, invitation, reset, ticket replies: each once', async () => {
    const german = await signUpIn('de');
    const english = await signUpIn('en');
    const operator = await signInOperator(keyhouse);
    const headers = bearerHeaders(german.token);

    const placed = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/orders',
      headers,
      payload: exampleOrder(keyhouse.config),
    });
    const order = placed.json();
    await finishOrder(order.id, 'done');
    await updateInstanceRuntime(keyhouse.db.pool, order.instanceId, { status: 'running', url: 'https://x' });
    const instanceName = (
      await keyhouse.request({ url: `/api/v1/instances/${order.instanceId}`, headers })
    ).json().name as string;
    const restart = await keyhouse.request({
      method: 'POST',
      url: `/api/v1/instances/${order.instanceId}/orders`,
      headers,
      payload: { type: 'restart' },
    });
    expect(restart.statusCode).toBe(201);
    await finishOrder(restart.json().id, 'done');
    const second = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/orders',
      headers,
      payload: exampleOrder(keyhouse.config),
    });
    await finishOrder(second.json().id, 'failed');

    const invitee = uniqueEmail('invitee');
    await keyhouse.request({
      method: 'POST',
      url: '/api/v1/invitations',
      headers,
      payload: { email: invitee, role: 'technician' },
    });
    await keyhouse.request({
      method: 'POST',
      url: '/api/v1/auth/password-reset',
      payload: { email: english.email },
    });

    const ticket = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/tickets',
      headers,
      payload: { subject: 'Bestellung fehlgeschlagen', message: 'Bitte helfen', orderId: second.json().id },
    });
    const ticketId = ticket.json().id as string;
    const operatorReply = await keyhouse.request({
      method: 'POST',
      url: `/api/v1/ops/tickets/${ticketId}/replies`,
      headers: operator.sessionHeaders,
      payload: { message: 'We restarted the node; please try again.' },
    });
    expect(operatorReply.statusCode).toBe(201);
    const customerReply = await keyhouse.request({
      method: 'POST',
      url: `/api/v1/tickets/${ticketId}/replies`,
      headers,
      payload: { message: 'Danke, jetzt geht es.' },
    });
    expect(customerReply.statusCode).toBe(201);

    const created = await smtp.waitFor(
      german.email,
      (m) => m.subject === `Ihre Instanz ${instanceName} ist fertig`,
    );
    expect(created.text).toContain('Zugangsdaten anzeigen');
    expect(created.html).toContain(`https://portal.keyhouse.test/orders/${order.id}`);
    expect(created.language).toBe('de');
    const changed = await smtp.waitFor(
      german.email,
      (m) => m.subject === `Neustart für ${instanceName} ist fertig`,
    );
    expect(changed.text).toContain('abgeschlossen');
    const failed = await smtp.waitFor(german.email, (m) =>
      /^Bestellung für kc-[0-9a-f]{8} fehlgeschlagen$/.test(m.subject),
    );
    // The coded reason in German, as the portal shows it.
    expect(failed.text).toContain('Grund: Keycloak ist nicht rechtzeitig bereit geworden.');
    expect(failed.text).toContain('Bitte eröffnen Sie ein Ticket');
    const invitation = await smtp.waitFor(
      invitee,
      (m) => m.subject === 'Einladung zu Beispiel GmbH bei Keyhouse',
    );
    expect(invitation.text).toMatch(/https:\/\/portal\.keyhouse\.test\/invitations\/[A-Za-z0-9_-]{40,}/);
    const reset = await smtp.waitFor(english.email, (m) => m.subject === 'Reset your password');
    expect(reset.html).toContain('<a href="https://portal.keyhouse.test/reset-password#token=');
    const toCustomer = await smtp.waitFor(german.email, (m) =>
      m.subject.startsWith('Neue Antwort zu Ticket #'),
    );
    expect(toCustomer.text).toContain('We restarted the node; please try again.');
    expect(toCustomer.html).toContain(`/tickets/${ticketId}`);
    const toOperator = await smtp.waitFor(operator.email, (m) =>
      m.subject.startsWith('New reply on ticket #'),
    );
    expect(toOperator.text).toContain('Danke, jetzt geht es.');
    expect(toOperator.html).toContain(`/ops/tickets/${ticketId}`);

    // Once each: the outbox has sent everything, and nothing arrived twice.
    await expect
      .poll(
        async () =>
          (await keyhouse.db.pool.query(`SELECT 1 FROM mail_outbox WHERE state <> 'sent'`)).rowCount,
      )
      .toBe(0);
    const arrived = smtp.received.map((m) => `${m.to} ${m.subject}`);
    expect(new Set(arrived).size).toBe(arrived.length);
    for (const mail of [created, changed, failed, invitation, reset, toCustomer, toOperator]) {
      expect(mail.text.length).toBeGreaterThan(50);
      expect(mail.html).toMatch(/^<!doctype html>/);
    }
  });
});

describe('SMTP server down', () => {
  it('keeps the mail in the outbox and sends it once the server is back', async () => {
    const user = await signUpIn('en');
    await smtp.stop();
    await keyhouse.request({
      method: 'POST',
      url: '/api/v1/auth/password-reset',
      payload: { email: user.email },
    });
    const row = () =>
      keyhouse.db.pool
        .query<{ state: string; attempts: number; last_error: string | null }>(
          `SELECT state, attempts, last_error FROM mail_outbox WHERE recipient = $1`,
          [user.email],
        )
        .then((result) => result.rows[0]);
    await expect
      .poll(async () => (await row())?.attempts ?? 0, { timeout: 15_000 })
      .toBeGreaterThanOrEqual(2);
    const waiting = (await row())!;
    expect(waiting.state === 'pending' || waiting.state === 'sending').toBe(true);
    expect(waiting.last_error).toMatch(/ECONNREFUSED|connect/i);
    const metrics = await keyhouse.request({ url: '/metrics' });
    expect(metrics.body).toMatch(/keyhouse_mail_outbox\{state="pending"\} [1-9]/);

    await smtp.start();
    await smtp.waitFor(user.email, (m) => m.subject === 'Reset your password');
    await expect.poll(async () => (await row())?.state).toBe('sent');
    expect(smtp.to(user.email)).toHaveLength(1);
  });
});

describe('a sender killed between the SMTP server’s acceptance and its own record', () => {
  it('does not send the mail again; it becomes unconfirmed for an operator, who may resend it', async () => {
    // A Keyhouse without a sender of its own: the mail goes out through a child process that dies right after the
    // SMTP server said 250.
    const quiet = await startTestKeyhouse((config) => {
      config.mail.smtpUrl = null;
    });
    let sender: MailSender | undefined;
    const db = connectDatabase(quiet.databaseUrl, { max: 2 });
    try {
      const email = uniqueEmail('killed');
      const operator = await signInOperator(quiet);
      await quiet.request({
        method: 'POST',
        url: '/api/v1/auth/signup',
        payload: { email, password: TEST_PASSWORD, organizationName: 'Beispiel GmbH' },
      });
      await quiet.request({ method: 'POST', url: '/api/v1/auth/password-reset', payload: { email } });

      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'test/support/mail-sender-process.ts',
          quiet.databaseUrl,
          smtp.url,
          quiet.config.dataDir,
        ],
        { cwd: packageRoot, stdio: ['ignore', 'ignore', 'inherit'] },
      );
      const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
        child.once('exit', (_c, s) => resolve(s)),
      );
      expect(signal).toBe('SIGKILL');
      const arrived = smtp.to(email);
      expect(arrived).toHaveLength(1);
      const state = () =>
        db.pool
          .query<{ state: string; message_id: string }>(
            `SELECT state, message_id FROM mail_outbox WHERE recipient = $1`,
            [email],
          )
          .then((result) => result.rows[0]!);
      expect(await state()).toEqual({ state: 'sending', message_id: arrived[0]!.messageId });

      // The next sender finds it: not sent again, but unconfirmed.
      sender = await startMailSender({
        databaseUrl: quiet.databaseUrl,
        db,
        smtpUrl: smtp.url,
        from: 'Keyhouse <noreply@keyhouse.test>',
        portalUrl: 'https://portal.keyhouse.test',
        secretBox: testSecretBox(quiet),
        logger: createLogger({ level: 'silent' }),
        dispatchIntervalMs: 200,
        sendingLeaseSeconds: 1,
      });
      await expect.poll(async () => (await state()).state, { timeout: 10_000 }).toBe('unconfirmed');
      await sender.dispatch();
      expect(smtp.to(email)).toHaveLength(1);

      const outbox = await quiet.request({
        url: '/api/v1/ops/mail?state=unconfirmed',
        headers: { cookie: operator.cookie },
      });
      const [unconfirmed] = outbox.json().items;
      expect(unconfirmed).toMatchObject({ recipient: email, messageId: arrived[0]!.messageId });
      const resend = await quiet.request({
        method: 'POST',
        url: `/api/v1/ops/mail/${unconfirmed.id}/resend`,
        headers: operator.sessionHeaders,
      });
      expect(resend.statusCode).toBe(204);
      await expect.poll(() => smtp.to(email).length).toBe(2);
      await expect.poll(async () => (await state()).state).toBe('sent');
    } finally {
      await sender?.stop();
      await db.close();
      await quiet.stop();
    }
  });
});
