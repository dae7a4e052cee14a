import { describe, expect, it } from 'vitest';
import { renderStepMessage } from '../../platform/messages.js';
import { isPatchUpgrade } from '../../orders/order-schemas.js';
import { verdictOf } from './update-compatibility.js';

describe('isPatchUpgrade', () => {
  it('is a newer release of the same major.minor only', () => {
    expect(isPatchUpgrade('26.5.5', '26.5.6')).toBe(true);
    expect(isPatchUpgrade('26.5.6', '26.5.10')).toBe(true);
    expect(isPatchUpgrade('26.5.6', '26.7.3')).toBe(false);
    expect(isPatchUpgrade('26.5.6', '27.5.7')).toBe(false);
    expect(isPatchUpgrade('26.5.6', '26.5.6')).toBe(false);
    expect(isPatchUpgrade('26.5.6', '26.5.5')).toBe(false);
  });
});

describe('verdictOf (kc.sh update-compatibility check)', () => {
  it('exit code 0: a rolling update', () => {
    const verdict = verdictOf({ code: 0, tail: '[OK] Rolling Update is available.' }, '26.5.5', '26.5.6');
    expect(verdict.rolling).toBe(true);
    expect(renderStepMessage(verdict.note)).toBe(
      'Keycloak allows a rolling update from 26.5.5 to 26.5.6: the new version starts beside the running one',
    );
  });

  it('exit code 3: in place, with what Keycloak named as incompatible', () => {
    // As Keycloak answers without rolling-updates:v2, which takes any version change for incompatible.
    const tail =
      '[database] Provider is compatible.\n' +
      "[keycloak] Rolling Update is not available. 'keycloak.version' is incompatible: 26.5.5 -> 26.7.3.";
    const verdict = verdictOf({ code: 3, tail }, '26.5.5', '26.7.3');
    expect(verdict).toMatchObject({ rolling: false, detail: tail });
    expect(renderStepMessage(verdict.note)).toBe(
      "no rolling update ('keycloak.version' is incompatible: 26.5.5 -> 26.7.3): Keycloak stops for the upgrade",
    );
  });

  it('any other exit code: in place, never a failed order because of the check', () => {
    const verdict = verdictOf({ code: 1, tail: 'ERROR: file not found' }, '26.5.5', '26.5.6');
    expect(verdict.rolling).toBe(false);
    expect(verdict.note).toMatchObject({ code: 'step.upgradeCheckFailed', params: { code: 1 } });
  });
});

describe('verdictOf with several incompatibilities', () => {
  it('names the first, without Keycloak’s brackets', () => {
    // As Keycloak 26.7.3 answers for metadata of 26.5.5.
    const tail =
      'Aggregated incompatible results:\n' +
      "Optional[[cacheEmbedded] Rolling Update is not available. 'cacheEmbedded.loginFailuresOwners' is incompatible: null -> 2.]\n" +
      "Optional[[cacheEmbedded] Rolling Update is not available. 'cacheEmbedded.version' is incompatible: 15.0.19.Final -> 16.0.]\n";
    expect(verdictOf({ code: 3, tail }, '26.5.5', '26.7.3').note).toMatchObject({
      params: { why: "'cacheEmbedded.loginFailuresOwners' is incompatible: null -> 2" },
    });
  });
});
