import { describe, expect, it } from 'vitest';
import { orderTypeSchema, type OrderType } from '../orders/order-schemas.js';
import type { MailData } from './mail-schemas.js';
import { renderMail } from './mail-templates.js';

type OrderFinished = Extract<MailData, { kind: 'order-finished' }>;

const context = { portalUrl: 'https://portal.example', secret: 'S3cr3t-token_value' };

const samples: MailData[] = [
  {
    kind: 'order-finished',
    orderId: '5d0c7a8e-3f9b-4c55-8f0e-6a7f1d2b9c01',
    orderType: 'create',
    status: 'done',
    attempt: 1,
    instanceName: 'kc-1a2b3c4d',
    failureReason: null,
  },
  {
    kind: 'order-finished',
    orderId: '5d0c7a8e-3f9b-4c55-8f0e-6a7f1d2b9c01',
    orderType: 'scale',
    status: 'failed',
    attempt: 2,
    instanceName: 'kc-1a2b3c4d',
    failureReason: 'Keycloak did not <start>.',
  },
  {
    kind: 'ticket-reply',
    ticketId: '0b6f4c1e-8f8a-4a39-9a43-1f1c1f0e2a11',
    number: 100001,
    subject: 'Hilfe & Fragen',
    from: 'operator',
    excerpt: 'Line one\nline <two>',
  },
  { kind: 'invitation', organizationName: 'Beispiel GmbH', role: 'technician', invitedBy: 'ada@beispiel.de' },
  { kind: 'password-reset', validMinutes: 30 },
];

describe('mail templates', () => {
  it('renders every kind in German and English, as text and HTML with the same content', () => {
    for (const data of samples) {
      const de = renderMail(data, 'de', context);
      const en = renderMail(data, 'en', context);
      expect(de.subject).not.toBe(en.subject);
      expect(de.text).toMatch(/^Guten Tag,/);
      expect(en.text).toMatch(/^Hello,/);
      expect(de.html).toContain('<html lang="de">');
      expect(en.html).toContain('<html lang="en">');
      expect(de.text).toContain('Ihr Keyhouse-Team');
    }
  });

  it('names every order type in German with its own article', () => {
    const finished = (orderType: OrderType, status: 'done' | 'failed') =>
      renderMail({ ...(samples[1] as OrderFinished), orderType, status, failureReason: null }, 'de', context);
    expect(finished('restart', 'done').subject).toBe('Neustart für kc-1a2b3c4d ist fertig');
    expect(finished('restart', 'done').text).toContain(
      'Der Neustart für Ihre Instanz kc-1a2b3c4d ist abgeschlossen',
    );
    expect(finished('upgrade', 'failed').subject).toBe('Upgrade für kc-1a2b3c4d fehlgeschlagen');
    expect(finished('upgrade', 'failed').text).toContain(
      'Leider ist das Upgrade für Ihre Instanz kc-1a2b3c4d',
    );
    expect(finished('backup', 'failed').text).toContain('Leider ist die Sicherung für Ihre Instanz');
    for (const orderType of orderTypeSchema.options.filter((type) => type !== 'create')) {
      const done = finished(orderType, 'done').text;
      expect(done, orderType).toMatch(
        /^(Der|Die|Das) \p{Lu}[^\n]* für Ihre Instanz kc-1a2b3c4d ist abgeschlossen/mu,
      );
      expect(finished(orderType, 'failed').text, orderType).toMatch(/Leider ist (der|die|das) \p{Lu}/u);
    }
  });

  it('gives a coded failure reason in the recipient’s language, and plain words as they are', () => {
    const failed =
      (failureReason: string, failureReasonParts: OrderFinished['failureReasonParts']) =>
      (language: 'de' | 'en') =>
        renderMail({ ...(samples[1] as OrderFinished), failureReason, failureReasonParts }, language, context)
          .text;
    const gaveUp = failed('The upgrade order did not complete after several attempts.', [
      { code: 'failure.orderGaveUp', params: { orderType: 'upgrade' } },
    ]);
    expect(gaveUp('de')).toContain(
      'Grund: Der Auftrag (Upgrade) ist auch nach mehreren Versuchen nicht abgeschlossen.',
    );
    expect(gaveUp('en')).toContain('Reason: The upgrade order did not complete after several attempts.');
    // An operator's own words, and a code this catalogue does not know (a newer server): the English as sent.
    expect(failed('Hardware fault in the rack.', null)('de')).toContain('Grund: Hardware fault in the rack.');
    expect(failed('Something new.', [{ code: 'failure.fromTheFuture', params: {} }])('de')).toContain(
      'Grund: Something new.',
    );
  });

  it('escapes what customers and operators wrote in the HTML part', () => {
    const failed = renderMail(samples[1]!, 'en', context);
    expect(failed.text).toContain('Reason: Keycloak did not <start>.');
    expect(failed.html).toContain('Keycloak did not &lt;start&gt;.');
    const reply = renderMail(samples[2]!, 'de', context);
    expect(reply.html).toContain('Hilfe &amp; Fragen');
    expect(reply.html).toContain('Line one<br>line &lt;two&gt;');
  });

  it('puts the reset token in the fragment of the link, and the invitation token in its path', () => {
    expect(renderMail(samples[4]!, 'en', context).text).toContain(
      'https://portal.example/reset-password#token=S3cr3t-token_value',
    );
    expect(renderMail(samples[3]!, 'de', context).text).toContain(
      'https://portal.example/invitations/S3cr3t-token_value',
    );
  });

  it('links an operator to the console and a customer to the ticket page', () => {
    expect(renderMail(samples[2]!, 'en', context).text).toContain('https://portal.example/tickets/');
    const toOperator = renderMail(
      { ...(samples[2] as Extract<MailData, { kind: 'ticket-reply' }>), from: 'customer' },
      'en',
      context,
    );
    expect(toOperator.text).toContain('https://portal.example/ops/tickets/');
  });
});
