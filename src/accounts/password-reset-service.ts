import { randomUUID } from 'node:crypto';
import { recordAudit } from '../audit/audit-store.js';
import type { Database, Queryable } from '../db/database.js';
import { queueMail } from '../mail/mail-outbox-store.js';
import { UnprocessableError } from '../platform/errors.js';
import type { SecretBox } from '../platform/secret-box.js';
import type { PasswordResetConfirm, PasswordResetRequest } from './account-schemas.js';
import * as accounts from './account-store.js';
import { hashPassword } from './password-hashing.js';
import type { Actor } from './roles.js';
import {
  findPasswordReset,
  insertPasswordReset,
  lockAndCountRecentResets,
  spendPasswordResets,
} from './password-reset-store.js';
import { newSecret, sha256Hex } from './secret-tokens.js';

/**
 * Password reset by e-mail: a single-use token, valid 30 minutes, of which only the hash is stored. The token travels
 * in the mail (sealed in the outbox until sent) and in the link's fragment, which browsers never send to a server:
 * it reaches Keyhouse only in the body of the confirming POST, so no request log ever holds it.
 */
const PASSWORD_RESET_MINUTES = 30;
/**
 * Reset mails per address within PASSWORD_RESET_MINUTES: enough for a mail that got lost, too few to flood somebody's
 * mailbox through a form that anybody may fill in.
 */
const MAX_RESET_MAILS = 3;

/** The reset of a link, if it can still be used; otherwise the refusal for the person holding the link. */
function usable<T extends { expired: boolean; used: boolean }>(reset: T | undefined): T {
  if (!reset) {
    throw new UnprocessableError('This reset link is not valid. Ask for a new one.', {
      reason: 'reset-link-unknown',
    });
  }
  if (reset.used) {
    throw new UnprocessableError('This reset link was used already. Ask for a new one.', {
      reason: 'reset-link-used',
    });
  }
  if (reset.expired) {
    throw new UnprocessableError(
      `This reset link expired (it is valid ${PASSWORD_RESET_MINUTES} minutes). Ask for a new one.`,
      { reason: 'reset-link-expired' },
    );
  }
  return reset;
}

export function createPasswordResetService({
  db,
  secretBox,
  now,
}: {
  db: Database;
  secretBox: SecretBox;
  now: () => Date;
}) {
  /** Queues a reset mail for an existing user; used by the request below and for new operators. */
  async function issue(tx: Queryable, user: { id: string; email: string; language: 'de' | 'en' }) {
    const token = newSecret();
    const createdAt = now();
    const id = randomUUID();
    await insertPasswordReset(tx, {
      id,
      userId: user.id,
      tokenHash: sha256Hex(token),
      createdAt,
      expiresAt: new Date(createdAt.getTime() + PASSWORD_RESET_MINUTES * 60_000),
    });
    await queueMail(tx, {
      recipient: user.email,
      language: user.language,
      data: { kind: 'password-reset', validMinutes: PASSWORD_RESET_MINUTES },
      sealedSecret: secretBox.seal(token),
      dedupeKey: `password-reset:${id}`,
    });
  }

  return {
    issue,

    /**
     * The same answer (nothing) whether or not the address has an account, and about the same time: the lookup is
     * one indexed query either way, the mail is sent later by the outbox.
     */
    async request(actor: Actor, request: PasswordResetRequest): Promise<void> {
      await db.transaction(async (tx) => {
        const user = await accounts.findUserByEmail(tx, request.email);
        // Over the bound the answer is the same (nothing): it must not tell whether the address has an account.
        const since = new Date(now().getTime() - PASSWORD_RESET_MINUTES * 60_000);
        const exhausted = user
          ? (await lockAndCountRecentResets(tx, user.id, since)) >= MAX_RESET_MAILS
          : false;
        await recordAudit(
          tx,
          { ...actor, label: request.email },
          {
            action: 'auth.password-reset.request',
            organizationId: user?.organizationId ?? undefined,
            targetType: 'user',
            targetId: user?.id,
            outcome: user && !exhausted ? 'success' : 'failure',
            details: !user ? { reason: 'unknown-address' } : exhausted ? { reason: 'too-many-mails' } : {},
          },
        );
        if (user && !exhausted) await issue(tx, user);
      });
    },

    /**
     * Sets the new password; the token is spent, every session of the user ends. The token is checked before the
     * password is hashed (a made-up token costs no argon2 run) and again under the lock.
     */
    async confirm(actor: Actor, request: PasswordResetConfirm): Promise<void> {
      const tokenHash = sha256Hex(request.token);
      usable(await findPasswordReset(db.pool, tokenHash, now()));
      const passwordHash = await hashPassword(request.password);
      await db.transaction(async (tx) => {
        const reset = usable(await findPasswordReset(tx, tokenHash, now(), { forUpdate: true }));
        const { userId } = reset;
        await spendPasswordResets(tx, userId, now());
        await accounts.updatePasswordHash(tx, userId, passwordHash);
        await accounts.deleteSessionsOfUser(tx, userId);
        const user = await accounts.findUser(tx, userId);
        await recordAudit(
          tx,
          { ...actor, label: user?.email },
          {
            action: 'auth.password-reset',
            organizationId: user?.organizationId ?? undefined,
            targetType: 'user',
            targetId: userId,
          },
        );
      });
    },
  };
}
export type PasswordResetService = ReturnType<typeof createPasswordResetService>;
