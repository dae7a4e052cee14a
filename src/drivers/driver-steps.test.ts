import i18next from 'i18next';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { orderSchema } from '../orders/order-schemas.js';
import { deMessages } from '../platform/de-messages.js';
import { message, messageParts, renderStepMessage, type StepMessage } from '../platform/messages.js';
import { outcomeOf, stepper, StepFailure } from './driver-steps.js';

/** The German catalogue, read the way the portal's i18next reads it (namespace `messages`). */
async function german() {
  const i18n = i18next.createInstance();
  await i18n.init({
    lng: 'de',
    resources: { de: { messages: deMessages } },
    interpolation: { escapeValue: false },
    showSupportNotice: false,
  });
  return (parts: { code: string; params: Record<string, string | number> }[]) =>
    parts.map((p) => i18n.t(p.code, { ns: 'messages', keySeparator: false, ...p.params })).join('; ');
}

describe('a coded permanent failure', () => {
  it('reaches the order as its English text and its parts, which say it in German', async () => {
    const reported: { name: string; state: string; note?: StepMessage }[] = [];
    const step = stepper(pino({ level: 'silent' }), async (name, state, note) => {
      reported.push({ name, state, note });
    });
    const reason = message('failure.upgradeRolledBack', { version: '26.7.3', previous: '26.5.6' });
    const result = await outcomeOf(() =>
      step('keycloak-ready', () => Promise.reject(new StepFailure('permanent', reason, 'probe timed out'))),
    );

    // The driver's answer keeps the code; the step's note is the same coded reason.
    expect(result).toEqual({ outcome: 'permanent-error', reason, detail: 'probe timed out' });
    expect(reported.at(-1)).toEqual({ name: 'keycloak-ready', state: 'failed', note: reason });

    // What transitionOrder stores: the English text, and the parts the API answers as failureReasonParts.
    const failed = result as { reason: StepMessage };
    const text = renderStepMessage(failed.reason);
    expect(text).toBe(
      'Keycloak 26.7.3 did not become ready; your instance runs Keycloak 26.5.6 again, with its data from the ' +
        'backup taken before the upgrade.',
    );
    const parts = orderSchema.shape.failureReasonParts.parse(messageParts(failed.reason));
    expect(parts).toEqual([reason]);

    expect((await german())(parts!)).toBe(
      'Keycloak 26.7.3 wurde nicht bereit; Ihre Instanz läuft wieder mit Keycloak 26.5.6 und den Daten aus der ' +
        'Sicherung vor dem Upgrade.',
    );
  });

  it('keeps plain words plain: no parts, the text as it is', () => {
    expect(messageParts('Keycloak said: out of memory')).toBeNull();
    expect(orderSchema.shape.failureReasonParts.parse(null)).toBeNull();
  });
});
