import { recordAudit } from '../audit/audit-store.js';
import type { Database } from '../db/database.js';
import { NotFoundError, UnauthenticatedError } from '../platform/errors.js';
import type { SessionSummary, TotpEnrolment } from './account-schemas.js';
import * as store from './account-store.js';
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

    async confirmTwoFactor(actor: Actor, code: string): Promise<string[]> {
      const account = accountOf(actor);
      const codes = await twoFactor.confirmEnrolment(account.userId, code);
      await recordAudit(db.pool, actor, {
        action: 'auth.two-factor.enable',
        targetType: 'user',
        targetId: account.userId,
      });
      return codes;
    },

    async disableTwoFactor(actor: Actor, password: string): Promise<void> {
      const account = accountOf(actor);
      const user = await store.findUserByEmail(db.pool, account.email);
      if (!user) throw new UnauthenticatedError();
      const organization = user.organizationId
        ? await store.findOrganization(db.pool, user.organizationId)
        : undefined;
      await twoFactor.disable(
        {
          userId: user.id,
          passwordHash: user.passwordHash,
          requiredByOrganization: organization?.requireTwoFactor ?? false,
        },
        password,
      );
      await recordAudit(db.pool, actor, {
        action: 'auth.two-factor.disable',
        targetType: 'user',
        targetId: user.id,
      });
    },

    async regenerateRecoveryCodes(actor: Actor): Promise<string[]> {
      const account = accountOf(actor);
      const codes = await twoFactor.regenerateRecoveryCodes(account.userId);
      await recordAudit(db.pool, actor, {
        action: 'auth.recovery-codes.regenerate',
        targetType: 'user',
        targetId: account.userId,
      });
      return codes;
    },
  };
}
export type AccountSecurityService = ReturnType<typeof createAccountSecurityService>;
