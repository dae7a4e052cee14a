import { recordAudit } from '../audit/audit-store.js';
import type { Database } from '../db/database.js';
import { ConflictError, NotFoundError, UnauthenticatedError, ValidationError } from '../platform/errors.js';
import { fieldError } from '../platform/field-errors.js';
import type { SessionSummary, TotpEnrolment } from './account-schemas.js';
import * as store from './account-store.js';
import { createLoginThrottle, DEFAULT_LOGIN_THROTTLE, rateLimitedError } from './login-throttle.js';
import { verifyPassword } from './password-hashing.js';
import type { Actor } from './roles.js';
import type { TwoFactorService } from './two-factor-service.js';

/**
 * What every signed-in user (customer or operator) does with their own account: sessions, second factor.
 */
export function createAccountSecurityService({
  db,
  now,
  twoFactor,
}: {
  db: Database;
  now: () => Date;
  twoFactor: TwoFactorService;
}) {
  const throttle = createLoginThrottle(DEFAULT_LOGIN_THROTTLE);

  function accountOf(actor: Actor) {
    const account = actor.principal ?? actor.operator;
    if (!account) throw new UnauthenticatedError();
    return account;
  }

  return {
    async listSessions(actor: Actor, currentSessionId: string | undefined): Promise<SessionSummary[]> {
      const sessions = await store.listSessions(db.pool, accountOf(actor).userId, now());
      return sessions.map((session) => ({ ...session, current: session.id === currentSessionId }));
    },

    /** Ends one of the user's own sessions (another device's, or this one); other users' ids are not found. */
    revokeSession(actor: Actor, sessionId: string): Promise<void> {
      const account = accountOf(actor);
      return db.transaction(async (tx) => {
        if (!(await store.deleteSessionById(tx, account.userId, sessionId)))
          throw new NotFoundError('Session');
        await recordAudit(tx, actor, {
          action: 'auth.session.revoke',
          targetType: 'session',
          targetId: sessionId,
        });
      });
    },

    async beginTwoFactor(actor: Actor): Promise<TotpEnrolment> {
      const account = accountOf(actor);
      return twoFactor.beginEnrolment({ userId: account.userId, email: account.email });
    },

    confirmTwoFactor(actor: Actor, code: string): Promise<string[]> {
      const account = accountOf(actor);
      return db.transaction(async (tx) => {
        const codes = await twoFactor.confirmEnrolment(tx, account.userId, code);
        await recordAudit(tx, actor, {
          action: 'auth.two-factor.enable',
          targetType: 'user',
          targetId: account.userId,
        });
        return codes;
      });
    },

    /**
     * The password is checked under the login limit (reserved before it is checked, like a sign-in): a stolen
     * session must not become a way to guess the password without limit.
     */
    async disableTwoFactor(actor: Actor, password: string): Promise<void> {
      const account = accountOf(actor);
      const user = await store.findUserByEmail(db.pool, account.email);
      if (!user) throw new UnauthenticatedError();
      const organization = user.organizationId
        ? await store.findOrganization(db.pool, user.organizationId)
        : undefined;
      const requiredByOrganization = organization?.requireTwoFactor ?? false;
      if (requiredByOrganization) {
        throw new ConflictError('Your organisation requires two-factor sign-in; it cannot be turned off.');
      }
      const attempt = { email: user.email, address: actor.sourceAddress, now: now() };
      const verdict = await throttle.reserve(db, attempt);
      if (!verdict.allowed) throw rateLimitedError(verdict.retryAfterSeconds);
      // A wrong password keeps the reservation: it counts as a failed sign-in.
      if (!(await verifyPassword(user.passwordHash, password))) {
        throw new ValidationError([fieldError('password', 'account.passwordWrong')]);
      }
      await db.transaction(async (tx) => {
        await throttle.release(tx, attempt);
        await twoFactor.disable(tx, { userId: user.id, requiredByOrganization });
        await recordAudit(tx, actor, {
          action: 'auth.two-factor.disable',
          targetType: 'user',
          targetId: user.id,
        });
      });
    },

    regenerateRecoveryCodes(actor: Actor): Promise<string[]> {
      const account = accountOf(actor);
      return db.transaction(async (tx) => {
        const codes = await twoFactor.regenerateRecoveryCodes(tx, account.userId);
        await recordAudit(tx, actor, {
          action: 'auth.recovery-codes.regenerate',
          targetType: 'user',
          targetId: account.userId,
        });
        return codes;
      });
    },
  };
}
export type AccountSecurityService = ReturnType<typeof createAccountSecurityService>;
