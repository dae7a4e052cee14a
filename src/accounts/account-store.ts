import type { Queryable } from '../db/database.js';
import { toPage, type Page, type PageQuery } from '../platform/pagination.js';
import type { ApiToken, Invitation, Organization, User } from './account-schemas.js';
import type { AccountRole, OperatorPrincipal, OperatorRole, Principal, Role } from './roles.js';
import type { Language } from './account-schemas.js';

/** SQL of the accounts module. Every function takes a Queryable, so it runs on the pool or inside a transaction. */

const USER_COLUMNS = `u.id, u.email, u.role, u.language, u.totp_enabled_at IS NOT NULL AS "twoFactorEnabled",
  u.created_at AS "createdAt"`;
const ORGANIZATION_COLUMNS = `o.id, o.name, o.customer_number AS "customerNumber",
  o.require_two_factor AS "requireTwoFactor", o.created_at AS "createdAt"`;
const TOKEN_COLUMNS = `t.id, t.name, t.created_at AS "createdAt", t.last_used_at AS "lastUsedAt"`;
const INVITATION_COLUMNS = `i.id, i.email, i.role, i.created_at AS "createdAt", i.expires_at AS "expiresAt"`;

/** PostgreSQL's unique_violation on the named constraint or index, e.g. two sign-ups with one e-mail at once. */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  return (
    error instanceof Error &&
    'code' in error &&
    error.code === '23505' &&
    'constraint' in error &&
    error.constraint === constraint
  );
}

/**
 * Keyset pagination in (created_at, id) order; `alias` is the table alias of the listed rows. Rows listed here get
 * their created_at from the service's clock, in milliseconds like the cursor: a database-made timestamp has
 * microseconds, and the row at a page's end would come again on the next page.
 */
async function pageOf<T extends { id: string; createdAt: string }>(
  db: Queryable,
  sql: { from: string; columns: string; alias: string; params: unknown[] },
  page: PageQuery,
): Promise<Page<T>> {
  const after = page.cursor;
  const params = [...sql.params, page.limit + 1];
  let afterClause = '';
  if (after) {
    params.push(after.createdAt, after.id);
    afterClause = `AND (${sql.alias}.created_at, ${sql.alias}.id) > ($${params.length - 1}, $${params.length})`;
  }
  const rows = await db.query<T>(
    `SELECT ${sql.columns} FROM ${sql.from} ${afterClause}
     ORDER BY ${sql.alias}.created_at, ${sql.alias}.id LIMIT $${sql.params.length + 1}`,
    params,
  );
  return toPage(rows.rows, page.limit);
}

// Organisations and users.

export async function insertOrganization(
  db: Queryable,
  organization: { id: string; name: string; createdAt: Date },
): Promise<Organization> {
  const result = await db.query<Organization>(
    `INSERT INTO organizations AS o (id, name, customer_number, created_at)
     VALUES ($1, $2, 'kd' || nextval('customer_number_seq'), $3)
     RETURNING ${ORGANIZATION_COLUMNS}`,
    [organization.id, organization.name, organization.createdAt],
  );
  return result.rows[0]!;
}

export async function findOrganization(db: Queryable, id: string): Promise<Organization | undefined> {
  const result = await db.query<Organization>(
    `SELECT ${ORGANIZATION_COLUMNS} FROM organizations o WHERE o.id = $1`,
    [id],
  );
  return result.rows[0];
}

/** Violates the unique index `users_email` when the address has an account already. */
export async function insertUser(
  db: Queryable,
  user: {
    id: string;
    /** Null for the provider's operators. */
    organizationId: string | null;
    email: string;
    passwordHash: string;
    role: AccountRole;
    /** Of the user's e-mails; English unless known. */
    language?: Language;
    createdAt: Date;
  },
): Promise<User> {
  const result = await db.query<User>(
    `INSERT INTO users AS u (id, organization_id, email, password_hash, role, language, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     RETURNING ${USER_COLUMNS}`,
    [
      user.id,
      user.organizationId,
      user.email,
      user.passwordHash,
      user.role,
      user.language ?? 'en',
      user.createdAt,
    ],
  );
  return result.rows[0]!;
}

/** A user with what sign-in needs; `organizationId` is null for operators. */
export type UserWithCredentials = User & { organizationId: string | null; passwordHash: string };

/** Only users who can sign in: removed members are not found. */
export async function findUserByEmail(
  db: Queryable,
  email: string,
): Promise<UserWithCredentials | undefined> {
  const result = await db.query<UserWithCredentials>(
    `SELECT ${USER_COLUMNS}, u.organization_id AS "organizationId", u.password_hash AS "passwordHash"
     FROM users u WHERE u.email = $1 AND u.removed_at IS NULL`,
    [email],
  );
  return result.rows[0];
}

export async function findUser(
  db: Queryable,
  id: string,
): Promise<(User & { organizationId: string | null }) | undefined> {
  const result = await db.query<User & { organizationId: string | null }>(
    `SELECT ${USER_COLUMNS}, u.organization_id AS "organizationId" FROM users u
      WHERE u.id = $1 AND u.removed_at IS NULL`,
    [id],
  );
  return result.rows[0];
}

export function listMembers(db: Queryable, organizationId: string, page: PageQuery): Promise<Page<User>> {
  return pageOf<User>(
    db,
    {
      columns: USER_COLUMNS,
      from: 'users u WHERE u.organization_id = $1 AND u.removed_at IS NULL',
      alias: 'u',
      params: [organizationId],
    },
    page,
  );
}

// Sessions. The role is read from the user on every request, so a changed role takes effect at once.

export async function insertSession(
  db: Queryable,
  session: {
    tokenHash: string;
    userId: string;
    csrfTokenHash: string;
    createdAt: Date;
    expiresAt: Date;
    userAgent: string | undefined;
    sourceAddress: string;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO sessions (token_hash, user_id, csrf_token_hash, created_at, expires_at, user_agent, source_address,
                           last_seen_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $4)`,
    [
      session.tokenHash,
      session.userId,
      session.csrfTokenHash,
      session.createdAt,
      session.expiresAt,
      session.userAgent?.slice(0, 300) ?? null,
      session.sourceAddress,
    ],
  );
}

/** Whose session a cookie is: a customer's (with their organisation) or an operator's. */
export type SessionIdentity = {
  sessionId: string;
  csrfTokenHash: string;
} & ({ principal: Principal; operator?: undefined } | { principal?: undefined; operator: OperatorPrincipal });

export async function findSessionIdentity(
  db: Queryable,
  tokenHash: string,
  now: Date,
): Promise<SessionIdentity | undefined> {
  // last_seen_at is written at most once a minute, so a busy portal does not write on every request.
  const result = await db.query<{
    sessionId: string;
    userId: string;
    organizationId: string | null;
    email: string;
    role: AccountRole;
    csrfTokenHash: string;
    mustEnrolTwoFactor: boolean;
  }>(
    `WITH found AS (
       SELECT s.id AS "sessionId", u.id AS "userId", u.organization_id AS "organizationId", u.email, u.role,
              s.csrf_token_hash AS "csrfTokenHash",
              COALESCE(o.require_two_factor AND u.totp_enabled_at IS NULL, false) AS "mustEnrolTwoFactor",
              s.last_seen_at
         FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN organizations o ON o.id = u.organization_id
        WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.removed_at IS NULL
     ), touched AS (
       UPDATE sessions SET last_seen_at = $2
        WHERE token_hash = $1 AND EXISTS (
          SELECT 1 FROM found WHERE last_seen_at IS NULL OR last_seen_at < $2::timestamptz - interval '1 minute')
     )
     SELECT "sessionId", "userId", "organizationId", email, role, "csrfTokenHash", "mustEnrolTwoFactor" FROM found`,
    [tokenHash, now],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  const { sessionId, csrfTokenHash, organizationId, mustEnrolTwoFactor, ...who } = row;
  if (organizationId === null) {
    return { sessionId, csrfTokenHash, operator: { ...who, role: who.role as OperatorRole, via: 'session' } };
  }
  return {
    sessionId,
    csrfTokenHash,
    principal: {
      ...who,
      role: who.role as Role,
      organizationId,
      via: 'session',
      ...(mustEnrolTwoFactor ? { mustEnrolTwoFactor } : {}),
    },
  };
}

export type SessionSummary = {
  id: string;
  createdAt: string;
  lastSeenAt: string | null;
  expiresAt: string;
  userAgent: string | null;
  sourceAddress: string | null;
};

export async function listSessions(db: Queryable, userId: string, now: Date): Promise<SessionSummary[]> {
  const result = await db.query<SessionSummary>(
    `SELECT s.id, s.created_at AS "createdAt", s.last_seen_at AS "lastSeenAt", s.expires_at AS "expiresAt",
            s.user_agent AS "userAgent", s.source_address AS "sourceAddress"
       FROM sessions s WHERE s.user_id = $1 AND s.expires_at > $2
      ORDER BY s.created_at DESC LIMIT 100`,
    [userId, now],
  );
  return result.rows;
}

/** Deletes one of the user's sessions by id; false when the user has none with this id. */
export async function deleteSessionById(db: Queryable, userId: string, id: string): Promise<boolean> {
  const result = await db.query('DELETE FROM sessions WHERE id = $1 AND user_id = $2', [id, userId]);
  return result.rowCount === 1;
}

/** Signs a user out everywhere (password reset, removal), except the session `keep` if given. */
export async function deleteSessionsOfUser(db: Queryable, userId: string, keep?: string): Promise<void> {
  await db.query('DELETE FROM sessions WHERE user_id = $1 AND ($2::uuid IS NULL OR id <> $2)', [
    userId,
    keep ?? null,
  ]);
}

/** Deletes the session and answers whether it existed. */
export async function deleteSession(db: Queryable, tokenHash: string): Promise<boolean> {
  const result = await db.query('DELETE FROM sessions WHERE token_hash = $1', [tokenHash]);
  return result.rowCount === 1;
}

/** Housekeeping at each sign-in, so expired sessions do not pile up. */
export async function deleteExpiredSessions(db: Queryable, userId: string, now: Date): Promise<void> {
  await db.query('DELETE FROM sessions WHERE user_id = $1 AND expires_at <= $2', [userId, now]);
}

// API tokens.

export async function insertApiToken(
  db: Queryable,
  token: { id: string; userId: string; name: string; tokenHash: string; createdAt: Date },
): Promise<ApiToken> {
  const result = await db.query<ApiToken>(
    `INSERT INTO api_tokens AS t (id, user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)
     RETURNING ${TOKEN_COLUMNS}`,
    [token.id, token.userId, token.name, token.tokenHash, token.createdAt],
  );
  return result.rows[0]!;
}

export async function countActiveApiTokens(db: Queryable, userId: string): Promise<number> {
  const result = await db.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL',
    [userId],
  );
  return result.rows[0]!.count;
}

/** API tokens belong to customers only; a member's tokens stop with their removal. */
export async function findTokenPrincipal(db: Queryable, tokenHash: string): Promise<Principal | undefined> {
  const result = await db.query<Omit<Principal, 'via'>>(
    `SELECT u.id AS "userId", u.organization_id AS "organizationId", u.email, u.role
     FROM api_tokens t JOIN users u ON u.id = t.user_id
     WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.removed_at IS NULL AND u.organization_id IS NOT NULL`,
    [tokenHash],
  );
  const row = result.rows[0];
  return row && { ...row, via: 'token' };
}

/** Records use at most once a minute, so a busy script does not write on every request. */
export async function touchApiToken(db: Queryable, tokenHash: string, now: Date): Promise<void> {
  await db.query(
    `UPDATE api_tokens SET last_used_at = $2
     WHERE token_hash = $1 AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - interval '1 minute')`,
    [tokenHash, now],
  );
}

export function listApiTokens(db: Queryable, userId: string, page: PageQuery): Promise<Page<ApiToken>> {
  return pageOf<ApiToken>(
    db,
    {
      columns: TOKEN_COLUMNS,
      from: 'api_tokens t WHERE t.user_id = $1 AND t.revoked_at IS NULL',
      alias: 't',
      params: [userId],
    },
    page,
  );
}

/** Compare-and-set: revokes the user's own active token; false when there is none with this id. */
export async function revokeApiToken(
  db: Queryable,
  token: { id: string; userId: string; now: Date },
): Promise<{ name: string } | undefined> {
  const result = await db.query<{ name: string }>(
    `UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING name`,
    [token.id, token.userId, token.now],
  );
  return result.rows[0];
}

// Invitations.

export async function insertInvitation(
  db: Queryable,
  invitation: {
    id: string;
    organizationId: string;
    email: string;
    role: Role;
    tokenHash: string;
    invitedBy: string;
    language: Language;
    createdAt: Date;
    expiresAt: Date;
  },
): Promise<Invitation> {
  const result = await db.query<Invitation>(
    `INSERT INTO invitations AS i (id, organization_id, email, role, token_hash, invited_by, created_at, expires_at,
                                   language)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     RETURNING ${INVITATION_COLUMNS}`,
    [
      invitation.id,
      invitation.organizationId,
      invitation.email,
      invitation.role,
      invitation.tokenHash,
      invitation.invitedBy,
      invitation.createdAt,
      invitation.expiresAt,
      invitation.language,
    ],
  );
  return result.rows[0]!;
}

export function listPendingInvitations(
  db: Queryable,
  organizationId: string,
  now: Date,
  page: PageQuery,
): Promise<Page<Invitation>> {
  return pageOf<Invitation>(
    db,
    {
      columns: INVITATION_COLUMNS,
      from: 'invitations i WHERE i.organization_id = $1 AND i.accepted_at IS NULL AND i.expires_at > $2',
      alias: 'i',
      params: [organizationId, now],
    },
    page,
  );
}

export type InvitationForAcceptance = Invitation & {
  organizationId: string;
  acceptedAt: string | null;
  language: Language;
};

/**
 * The invitation of a token; `forUpdate` locks its row until the end of the transaction, so two acceptances cannot
 * both create a user.
 */
export async function findInvitationByTokenHash(
  db: Queryable,
  tokenHash: string,
  options: { forUpdate?: boolean } = {},
): Promise<InvitationForAcceptance | undefined> {
  const result = await db.query<InvitationForAcceptance>(
    `SELECT ${INVITATION_COLUMNS}, i.organization_id AS "organizationId", i.accepted_at AS "acceptedAt", i.language
     FROM invitations i WHERE i.token_hash = $1${options.forUpdate ? ' FOR UPDATE' : ''}`,
    [tokenHash],
  );
  return result.rows[0];
}

export async function markInvitationAccepted(db: Queryable, id: string, now: Date): Promise<void> {
  await db.query('UPDATE invitations SET accepted_at = $2 WHERE id = $1 AND accepted_at IS NULL', [id, now]);
}

// Members: removal and roles (members-service.ts), preferences.

/**
 * Locks the organisation's active members until the end of the transaction and answers them: changes that must
 * keep one admin (removal, demotion) serialise here, so two admins demoting each other at once cannot both win.
 */
export async function lockMembers(
  db: Queryable,
  organizationId: string,
): Promise<(User & { organizationId: string })[]> {
  const result = await db.query<User & { organizationId: string }>(
    `SELECT ${USER_COLUMNS}, u.organization_id AS "organizationId" FROM users u
      WHERE u.organization_id = $1 AND u.removed_at IS NULL ORDER BY u.id FOR UPDATE`,
    [organizationId],
  );
  return result.rows;
}

export async function updateMemberRole(db: Queryable, userId: string, role: Role): Promise<void> {
  await db.query('UPDATE users SET role = $2 WHERE id = $1', [userId, role]);
}

/** The member can no longer sign in: sessions end, API tokens are revoked, the address is free again. */
export async function removeMember(db: Queryable, userId: string, now: Date): Promise<void> {
  await db.query('UPDATE users SET removed_at = $2 WHERE id = $1 AND removed_at IS NULL', [userId, now]);
  await db.query('DELETE FROM sessions WHERE user_id = $1', [userId]);
  await db.query('UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL', [
    userId,
    now,
  ]);
}

export async function updateUserLanguage(db: Queryable, userId: string, language: Language): Promise<void> {
  await db.query('UPDATE users SET language = $2 WHERE id = $1', [userId, language]);
}

export async function updatePasswordHash(db: Queryable, userId: string, passwordHash: string): Promise<void> {
  await db.query('UPDATE users SET password_hash = $2 WHERE id = $1', [userId, passwordHash]);
}

export async function setRequireTwoFactor(db: Queryable, organizationId: string, required: boolean) {
  const result = await db.query<Organization>(
    `UPDATE organizations o SET require_two_factor = $2 WHERE o.id = $1 RETURNING ${ORGANIZATION_COLUMNS}`,
    [organizationId, required],
  );
  return result.rows[0];
}
