import { randomUUID } from 'node:crypto';
import { recordAudit } from '../audit/audit-store.js';
import type { Database, Queryable } from '../db/database.js';
import {
  ConflictError,
  NotFoundError,
  UnauthenticatedError,
  UnprocessableError,
} from '../platform/errors.js';
import type { Page, PageQuery } from '../platform/pagination.js';
import type { SecretBox } from '../platform/secret-box.js';
import { queueMail } from '../mail/mail-outbox-store.js';
import type {
  AcceptInvitationRequest,
  ApiToken,
  CreatedApiToken,
  CreatedInvitation,
  CreateInvitationRequest,
  CreateTokenRequest,
  Invitation,
  Language,
  LoginRequest,
  Organization,
  SessionResponse,
  SignupRequest,
  User,
  WhoAmI,
} from './account-schemas.js';
import * as store from './account-store.js';
import { hashPassword, verifyAgainstDummy, verifyPassword } from './password-hashing.js';
import { createLoginThrottle, DEFAULT_LOGIN_THROTTLE, rateLimitedError } from './login-throttle.js';
import type { Actor, Principal } from './roles.js';
import { csrfTokenOf, newSecret, sha256Hex } from './secret-tokens.js';
import { twoFactorRequiredError, type TwoFactorService } from './two-factor-service.js';

const SESSION_LIFETIME_MS = 12 * 60 * 60 * 1000;
const INVITATION_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;
/** Enough for every script and pipeline of a user; a bound so a leaked session cannot mint tokens without end. */
const MAX_ACTIVE_TOKENS_PER_USER = 50;
const API_TOKEN_PREFIX = 'kh_';

/** A started session: the answer for the client plus the cookie value, which the HTTP adapter sets. */
export type SessionGrant = SessionResponse & { sessionToken: string; expiresAt: Date };

export type AccountServiceDependencies = {
  db: Database;
  now: () => Date;
  twoFactor: TwoFactorService;
  /** Seals the token of an invitation link in the mail outbox. */
  secretBox: SecretBox;
};

function signedIn(actor: Actor): Principal {
  if (!actor.principal) throw new UnauthenticatedError();
  return actor.principal;
}

/** The invitation, if it can still be accepted at `at`; otherwise the refusal for the person holding the link. */
function acceptable(
  invitation: store.InvitationForAcceptance | undefined,
  at: Date,
): store.InvitationForAcceptance {
  if (!invitation) throw new NotFoundError('Invitation');
  if (invitation.acceptedAt !== null) {
    throw new ConflictError(
      'This invitation has already been used; sign in with its e-mail address instead.',
    );
  }
  if (Date.parse(invitation.expiresAt) <= at.getTime()) {
    throw new UnprocessableError(
      `This invitation expired at ${invitation.expiresAt}; ask your administrator for a new one.`,
    );
  }
  return invitation;
}

/** A customer or an operator: the account routes (session, second factor, sessions) serve both. */
function accountOf(actor: Actor): { userId: string } {
  const account = actor.principal ?? actor.operator;
  if (!account) throw new UnauthenticatedError();
  return account;
}

const emailTakenError = () =>
  new ConflictError('This e-mail address already has a Keyhouse account; sign in instead.');

export function createAccountService({ db, now, twoFactor, secretBox }: AccountServiceDependencies) {
  const throttle = createLoginThrottle(DEFAULT_LOGIN_THROTTLE);

  async function startSession(
    tx: Queryable,
    actor: Actor,
    user: User,
    organization: Organization | null,
  ): Promise<SessionGrant> {
    const sessionToken = newSecret();
    const csrfToken = csrfTokenOf(sessionToken);
    const createdAt = now();
    const expiresAt = new Date(createdAt.getTime() + SESSION_LIFETIME_MS);
    await store.insertSession(tx, {
      tokenHash: sha256Hex(sessionToken),
      userId: user.id,
      csrfTokenHash: sha256Hex(csrfToken),
      createdAt,
      expiresAt,
      userAgent: actor.userAgent,
      sourceAddress: actor.sourceAddress,
    });
    return { user, organization, csrfToken, sessionToken, expiresAt };
  }

  const principalOfUser = (user: User, organizationId: string): Principal => ({
    userId: user.id,
    organizationId,
    email: user.email,
    role: user.role as Principal['role'],
    via: 'session',
  });

  /** Creates a user; a concurrent sign-up with the same address loses on the unique index. */
  async function insertUserOnce(tx: Queryable, user: Parameters<typeof store.insertUser>[1]): Promise<User> {
    try {
      return await store.insertUser(tx, user);
    } catch (error) {
      if (store.isUniqueViolation(error, 'users_email')) throw emailTakenError();
      throw error;
    }
  }

  /** The user's organisation; null for operators, who have none. */
  async function organizationOf(tx: Queryable, organizationId: string | null): Promise<Organization | null> {
    if (organizationId === null) return null;
    const organization = await store.findOrganization(tx, organizationId);
    // Users reference their organisation by foreign key; a miss means the data is broken, not the request.
    if (!organization) throw new Error(`organization ${organizationId} of a user is missing`);
    return organization;
  }

  return {
    /** A new organisation with its first user, an admin, signed in at once. */
    async signUp(actor: Actor, request: SignupRequest, language: Language): Promise<SessionGrant> {
      if (await store.findUserByEmail(db.pool, request.email)) throw emailTakenError();
      const passwordHash = await hashPassword(request.password);
      return db.transaction(async (tx) => {
        const createdAt = now();
        const organization = await store.insertOrganization(tx, {
          id: randomUUID(),
          name: request.organizationName,
          createdAt,
        });
        const user = await insertUserOnce(tx, {
          id: randomUUID(),
          organizationId: organization.id,
          email: request.email,
          passwordHash,
          role: 'admin',
          language,
          createdAt,
        });
        const grant = await startSession(tx, actor, user, organization);
        await recordAudit(
          tx,
          { ...actor, principal: principalOfUser(user, organization.id) },
          {
            action: 'auth.signup',
            targetType: 'organization',
            targetId: organization.id,
            details: { customerNumber: organization.customerNumber, organizationName: organization.name },
          },
        );
        return grant;
      });
    },

    /**
     * Every refusal looks the same whether or not the account exists: one message, and an unknown address costs the
     * time of a real password check.
     */
    async logIn(actor: Actor, request: LoginRequest): Promise<SessionGrant> {
      const attempt = { email: request.email, address: actor.sourceAddress, now: now() };
      const anonymous = { ...actor, label: request.email };
      const verdict = await throttle.reserve(db, attempt);
      if (!verdict.allowed) {
        await recordAudit(db.pool, anonymous, {
          action: 'auth.login',
          outcome: 'failure',
          details: { reason: 'rate-limited', limitedBy: verdict.limitedBy },
        });
        throw rateLimitedError(verdict.retryAfterSeconds);
      }

      const user = await store.findUserByEmail(db.pool, request.email);
      let passwordMatches = false;
      if (user) passwordMatches = await verifyPassword(user.passwordHash, request.password);
      else await verifyAgainstDummy(request.password);

      if (!user || !passwordMatches) {
        // The reservation stays: it is this failure's count.
        await recordAudit(db.pool, anonymous, {
          action: 'auth.login',
          outcome: 'failure',
          organizationId: user?.organizationId ?? undefined,
          details: { reason: 'invalid-credentials' },
        });
        throw new UnauthenticatedError('The e-mail address or the password is wrong.');
      }

      const { organizationId, passwordHash: _passwordHash, ...publicUser } = user;
      const signedInActor: Actor =
        organizationId === null
          ? {
              ...actor,
              operator: { userId: user.id, email: user.email, role: user.role as 'operator', via: 'session' },
            }
          : { ...actor, principal: principalOfUser(publicUser, organizationId) };
      // The second factor comes after the password: a wrong code keeps the reservation, so it counts as a failed
      // sign-in like a wrong password. A missing code is neither a failure nor a sign-in: the attempt's count goes
      // back, but the counters stay (clearing them would let whoever knows the password guess codes without limit).
      const refusal = await db.transaction(async (tx) => {
        const verdict = await twoFactor.verifyAtLogin(tx, user.id, request);
        if (verdict === 'accepted' || verdict === 'not-enrolled') return undefined;
        if (verdict === 'missing') await throttle.giveBack(tx, attempt);
        await recordAudit(tx, signedInActor, {
          action: 'auth.login',
          outcome: 'failure',
          targetType: 'user',
          targetId: user.id,
          details: { reason: verdict === 'wrong' ? 'wrong-second-factor' : 'second-factor-required' },
        });
        return verdict;
      });
      if (refusal === 'missing') throw twoFactorRequiredError();
      if (refusal === 'wrong') {
        throw new UnauthenticatedError('The code is wrong or was used already.', { twoFactorRequired: true });
      }
      return db.transaction(async (tx) => {
        await throttle.release(tx, attempt);
        await throttle.forgetExpired(tx, attempt.now);
        await store.deleteExpiredSessions(tx, user.id, attempt.now);
        const grant = await startSession(tx, actor, publicUser, await organizationOf(tx, organizationId));
        await recordAudit(tx, signedInActor, { action: 'auth.login', targetType: 'user', targetId: user.id });
        return grant;
      });
    },

    /** Ends the session of this cookie; requests with an API token have none to end. */
    async logOut(actor: Actor, sessionToken: string | undefined): Promise<void> {
      if (sessionToken === undefined) return;
      await db.transaction(async (tx) => {
        if (await store.deleteSession(tx, sha256Hex(sessionToken))) {
          await recordAudit(tx, actor, {
            action: 'auth.logout',
            targetType: 'user',
            targetId: (actor.principal ?? actor.operator)?.userId,
          });
        }
      });
    },

    async whoAmI(actor: Actor, sessionToken: string | undefined): Promise<WhoAmI> {
      const account = actor.principal ?? actor.operator;
      if (!account) throw new UnauthenticatedError();
      const user = await store.findUser(db.pool, account.userId);
      if (!user) throw new UnauthenticatedError();
      const { organizationId, ...publicUser } = user;
      return {
        user: publicUser,
        organization: await organizationOf(db.pool, organizationId),
        mustEnrolTwoFactor: actor.principal?.mustEnrolTwoFactor ?? false,
        csrfToken: account.via === 'session' && sessionToken ? csrfTokenOf(sessionToken) : undefined,
        sourceAddress: actor.sourceAddress.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, ''),
      };
    },

    // The Authenticator of src/http/auth-guard.ts.
    sessionIdentity(sessionToken: string) {
      return store.findSessionIdentity(db.pool, sha256Hex(sessionToken), now());
    },

    async tokenPrincipal(apiToken: string): Promise<Principal | undefined> {
      if (!apiToken.startsWith(API_TOKEN_PREFIX)) return undefined;
      const tokenHash = sha256Hex(apiToken);
      const principal = await store.findTokenPrincipal(db.pool, tokenHash);
      if (principal) await store.touchApiToken(db.pool, tokenHash, now());
      return principal;
    },

    /** An API token of the signed-in user, acting with the user's role. The secret is returned this once. */
    async createApiToken(actor: Actor, request: CreateTokenRequest): Promise<CreatedApiToken> {
      const principal = signedIn(actor);
      const token = API_TOKEN_PREFIX + newSecret();
      return db.transaction(async (tx) => {
        // Serialises concurrent creations of one user, so the bound below holds.
        await tx.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [principal.userId]);
        if ((await store.countActiveApiTokens(tx, principal.userId)) >= MAX_ACTIVE_TOKENS_PER_USER) {
          throw new ConflictError(
            `You have ${MAX_ACTIVE_TOKENS_PER_USER} active API tokens; revoke one you no longer use first.`,
          );
        }
        const created = await store.insertApiToken(tx, {
          id: randomUUID(),
          userId: principal.userId,
          name: request.name,
          tokenHash: sha256Hex(token),
          createdAt: now(),
        });
        await recordAudit(tx, actor, {
          action: 'token.create',
          targetType: 'api-token',
          targetId: created.id,
          details: { name: created.name },
        });
        return { id: created.id, name: created.name, createdAt: created.createdAt, token };
      });
    },

    listApiTokens(actor: Actor, page: PageQuery): Promise<Page<ApiToken>> {
      return store.listApiTokens(db.pool, signedIn(actor).userId, page);
    },

    /** Only the user's own tokens; any other id, including another organisation's, is not found. */
    async revokeApiToken(actor: Actor, tokenId: string): Promise<void> {
      const principal = signedIn(actor);
      await db.transaction(async (tx) => {
        const revoked = await store.revokeApiToken(tx, { id: tokenId, userId: principal.userId, now: now() });
        if (!revoked) throw new NotFoundError('API token');
        await recordAudit(tx, actor, {
          action: 'token.revoke',
          targetType: 'api-token',
          targetId: tokenId,
          details: { name: revoked.name },
        });
      });
    },

    /** The language of the user's e-mails (the portal sends it when the user switches). */
    async setLanguage(actor: Actor, language: Language): Promise<void> {
      await store.updateUserLanguage(db.pool, accountOf(actor).userId, language);
    },

    listMembers(actor: Actor, page: PageQuery): Promise<Page<User>> {
      return store.listMembers(db.pool, signedIn(actor).organizationId, page);
    },

    /**
     * The link goes to the invitee by e-mail (in `request.language`, else the inviting admin's), and comes back to the
     * admin once, to pass on by hand should the mail not arrive.
     */
    async createInvitation(actor: Actor, request: CreateInvitationRequest): Promise<CreatedInvitation> {
      const principal = signedIn(actor);
      const inviter = await store.findUser(db.pool, principal.userId);
      const language = request.language ?? inviter?.language ?? 'en';
      if (await store.findUserByEmail(db.pool, request.email)) {
        throw new ConflictError(`${request.email} already has a Keyhouse account.`);
      }
      const token = newSecret();
      const createdAt = now();
      return db.transaction(async (tx) => {
        const invitation = await store.insertInvitation(tx, {
          id: randomUUID(),
          organizationId: principal.organizationId,
          email: request.email,
          role: request.role,
          tokenHash: sha256Hex(token),
          invitedBy: principal.userId,
          language,
          createdAt,
          expiresAt: new Date(createdAt.getTime() + INVITATION_LIFETIME_MS),
        });
        const organization = await organizationOf(tx, principal.organizationId);
        await queueMail(tx, {
          recipient: invitation.email,
          language,
          data: {
            kind: 'invitation',
            organizationName: organization!.name,
            role: invitation.role,
            invitedBy: principal.email,
          },
          sealedSecret: secretBox.seal(token),
          dedupeKey: `invitation:${invitation.id}`,
        });
        await recordAudit(tx, actor, {
          action: 'invitation.create',
          targetType: 'invitation',
          targetId: invitation.id,
          details: { email: invitation.email, role: invitation.role },
        });
        return { ...invitation, invitationUrl: `/invitations/${token}` };
      });
    },

    listPendingInvitations(actor: Actor, page: PageQuery): Promise<Page<Invitation>> {
      return store.listPendingInvitations(db.pool, signedIn(actor).organizationId, now(), page);
    },

    /**
     * Creates the invited user in the inviting organisation with the invited role, and signs them in. The token is
     * checked before the password is hashed, so a made-up link costs a lookup, not an argon2 hash.
     */
    async acceptInvitation(
      actor: Actor,
      invitationToken: string,
      request: AcceptInvitationRequest,
    ): Promise<SessionGrant> {
      const tokenHash = sha256Hex(invitationToken);
      acceptable(await store.findInvitationByTokenHash(db.pool, tokenHash), now());
      // Hashed before the transaction, so the invitation row is not locked for the duration of argon2.
      const passwordHash = await hashPassword(request.password);
      return db.transaction(async (tx) => {
        const at = now();
        // Checked again under the row lock: another acceptance may have won in the meantime.
        const invitation = acceptable(
          await store.findInvitationByTokenHash(tx, tokenHash, { forUpdate: true }),
          at,
        );
        const user = await insertUserOnce(tx, {
          id: randomUUID(),
          organizationId: invitation.organizationId,
          email: invitation.email,
          passwordHash,
          role: invitation.role,
          language: invitation.language,
          createdAt: at,
        });
        await store.markInvitationAccepted(tx, invitation.id, at);
        const grant = await startSession(
          tx,
          actor,
          user,
          await organizationOf(tx, invitation.organizationId),
        );
        await recordAudit(
          tx,
          { ...actor, principal: principalOfUser(user, invitation.organizationId) },
          {
            action: 'invitation.accept',
            targetType: 'invitation',
            targetId: invitation.id,
            details: { email: user.email, role: user.role },
          },
        );
        return grant;
      });
    },
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
