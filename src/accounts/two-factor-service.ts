import { randomBytes } from 'node:crypto';
import * as OTPAuth from 'otpauth';
import QRCode from 'qrcode';
import type { Database, Queryable } from '../db/database.js';
import { ConflictError, NotFoundError, UnauthenticatedError, ValidationError } from '../platform/errors.js';
import type { SecretBox } from '../platform/secret-box.js';
import type { TotpEnrolment } from './account-schemas.js';
import { fieldError } from '../platform/field-errors.js';
import { hashPassword, verifyPassword } from './password-hashing.js';
import * as store from './two-factor-store.js';

/**
 * Two-factor sign-in with TOTP (RFC 6238: 30-second steps, 6 digits, SHA-1, what every authenticator app speaks),
 * through the `otpauth` library. The secret is sealed at rest; each code is accepted once; ten recovery codes,
 * hashed like passwords, each sign in once instead of a code.
 */
const ISSUER = 'Keyhouse';
const PERIOD_SECONDS = 30;
const RECOVERY_CODE_COUNT = 10;
/** One step of clock drift either way, as the RFC recommends. */
const WINDOW = 1;

/** What a login learns from the second factor. */
type SecondFactorVerdict = 'not-enrolled' | 'accepted' | 'missing' | 'wrong';

const totpOf = (secret: string, label: string) =>
  new OTPAuth.TOTP({
    issuer: ISSUER,
    label,
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD_SECONDS,
    secret: OTPAuth.Secret.fromBase32(secret),
  });

/** k7m2q-x9d4w: 10 characters of a 32-letter alphabet without look-alikes (50 bits). */
function newRecoveryCode(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  const bytes = randomBytes(10);
  const code = [...bytes].map((b) => alphabet[b % alphabet.length]).join('');
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}
const normaliseRecoveryCode = (code: string) => code.toLowerCase().replace(/[\s-]/g, '');

export function createTwoFactorService({
  db,
  secretBox,
  now,
}: {
  db: Database;
  secretBox: SecretBox;
  now: () => Date;
}) {
  /** Checks a code against the secret and accepts its step once; false for a wrong or replayed code. */
  async function acceptCode(tx: Queryable, userId: string, sealedSecret: string, code: string) {
    const totp = totpOf(secretBox.open(sealedSecret), userId);
    const timestamp = now().getTime();
    const delta = totp.validate({ token: code, timestamp, window: WINDOW });
    if (delta === null) return false;
    const step = Math.floor(timestamp / 1000 / PERIOD_SECONDS) + delta;
    return store.acceptTotpStep(tx, userId, step);
  }

  async function newRecoveryCodes(tx: Queryable, userId: string): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const hashes = await Promise.all(codes.map((code) => hashPassword(normaliseRecoveryCode(code))));
    await store.replaceRecoveryCodes(tx, userId, hashes);
    return codes;
  }

  return {
    /** Step 1: a new secret for the app. It only counts once confirmed with a code from the app. */
    async beginEnrolment(user: { userId: string; email: string }): Promise<TotpEnrolment> {
      const secret = new OTPAuth.Secret({ size: 20 }).base32;
      if (!(await store.storePendingTotpSecret(db.pool, user.userId, secretBox.seal(secret)))) {
        throw new ConflictError('Two-factor sign-in is already on; turn it off first to set up a new app.');
      }
      const otpauthUrl = totpOf(secret, user.email).toString();
      const qrCodeSvg = await QRCode.toString(otpauthUrl, { type: 'svg', margin: 1 });
      return { secret, otpauthUrl, qrCodeSvg };
    },

    /** Step 2: the first code from the app turns two-factor sign-in on; answers the recovery codes, once. */
    async confirmEnrolment(tx: Queryable, userId: string, code: string): Promise<string[]> {
      // Locked, so two confirmations at once hand out one set of recovery codes, not two of which one is void.
      const state = await store.findTotpState(tx, userId, { forUpdate: true });
      if (!state?.sealedSecret) throw new NotFoundError('Two-factor set-up');
      if (state.enabled) throw new ConflictError('Two-factor sign-in is already on.');
      if (!(await acceptCode(tx, userId, state.sealedSecret, code))) {
        throw new ValidationError([fieldError('code', 'account.totpCodeWrong')]);
      }
      await store.enableTotp(tx, userId, now());
      return newRecoveryCodes(tx, userId);
    },

    /**
     * Off again (the caller has checked the password, under the login limit); refused where the organisation
     * requires it.
     */
    async disable(tx: Queryable, user: { userId: string; requiredByOrganization: boolean }): Promise<void> {
      if (user.requiredByOrganization) {
        throw new ConflictError('Your organisation requires two-factor sign-in; it cannot be turned off.');
      }
      await store.disableTotp(tx, user.userId);
    },

    /** Ten new recovery codes; the old ones stop working. */
    async regenerateRecoveryCodes(tx: Queryable, userId: string): Promise<string[]> {
      const state = await store.findTotpState(tx, userId, { forUpdate: true });
      if (!state?.enabled) throw new ConflictError('Turn on two-factor sign-in first.');
      return newRecoveryCodes(tx, userId);
    },

    /** At sign-in, after the password was right. */
    async verifyAtLogin(
      tx: Queryable,
      userId: string,
      presented: { totpCode?: string; recoveryCode?: string },
    ): Promise<SecondFactorVerdict> {
      const state = await store.findTotpState(tx, userId);
      if (!state?.enabled || !state.sealedSecret) return 'not-enrolled';
      if (presented.totpCode !== undefined) {
        return (await acceptCode(tx, userId, state.sealedSecret, presented.totpCode)) ? 'accepted' : 'wrong';
      }
      if (presented.recoveryCode !== undefined) {
        const code = normaliseRecoveryCode(presented.recoveryCode);
        for (const candidate of await store.listUnusedRecoveryCodes(tx, userId)) {
          if (await verifyPassword(candidate.codeHash, code))
            return (await store.useRecoveryCode(tx, candidate.id, now())) ? 'accepted' : 'wrong';
        }
        return 'wrong';
      }
      return 'missing';
    },
  };
}
export type TwoFactorService = ReturnType<typeof createTwoFactorService>;

/** The refusal of a sign-in that needs the second factor: the client asks for a code and sends the login again. */
export const twoFactorRequiredError = () =>
  new UnauthenticatedError('Enter the code from your authenticator app, or a recovery code.', {
    twoFactorRequired: true,
  });
