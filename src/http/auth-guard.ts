import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Language } from '../accounts/account-schemas.js';
import type { SessionIdentity } from '../accounts/account-store.js';
import {
  can,
  operatorCan,
  type Actor,
  type OperatorPermission,
  type OperatorPrincipal,
  type Permission,
  type Principal,
  type SignedInActor,
} from '../accounts/roles.js';
import { ForbiddenError, UnauthenticatedError } from '../platform/errors.js';
import { pathOf, sendProblem } from './problem.js';

export const SESSION_COOKIE = 'keyhouse_session';

/** What the accounts module answers for a presented credential. */
export type Authenticator = {
  sessionIdentity(sessionToken: string): Promise<SessionIdentity | undefined>;
  tokenPrincipal(apiToken: string): Promise<Principal | undefined>;
};

declare module 'fastify' {
  interface FastifyRequest {
    /** A customer, signed in by session or API token. */
    principal: Principal | undefined;
    /** A provider operator, signed in by session (operators have no API tokens). */
    operator: OperatorPrincipal | undefined;
    csrfTokenHash: string | undefined;
    /** The id of the session of this request's cookie. */
    sessionId: string | undefined;
  }
  interface FastifyContextConfig {
    /** The permission a route requires; routes without one are public. */
    permission?: Permission;
    /** An operator route: everybody but an operator gets the 404 of an unknown route. */
    operatorPermission?: OperatorPermission;
    /** Any signed-in account, customer or operator (own session, second factor, sessions). */
    account?: true;
    /** Stays open to a member who must set up a second factor before anything else. */
    duringTwoFactorEnrolment?: true;
  }
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

function sameHash(presented: string, expectedHash: string): boolean {
  const a = Buffer.from(sha256(presented), 'hex');
  const b = Buffer.from(expectedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The service broker's paths: it authenticates platforms itself (src/http/routes/osb-routes.ts). */
export const isBrokerPath = (url: string) => /^\/osb(\/|\?|$)/.test(url);

/** Resolves the principal of every request from its bearer token or session cookie (once, in onRequest). */
export function authenticateRequest(authenticator: Authenticator) {
  return async (request: FastifyRequest) => {
    request.principal = undefined;
    request.operator = undefined;
    request.csrfTokenHash = undefined;
    request.sessionId = undefined;
    if (isBrokerPath(request.url)) return;
    const authorization = request.headers.authorization;
    if (authorization !== undefined) {
      const match = /^Bearer ([A-Za-z0-9_-]{10,200})$/.exec(authorization);
      const principal = match ? await authenticator.tokenPrincipal(match[1]!) : undefined;
      // A wrong token is an error even on public routes: the caller meant to authenticate.
      if (!principal) throw new UnauthenticatedError('The API token is invalid or revoked.');
      request.principal = principal;
      return;
    }
    const sessionToken = request.cookies[SESSION_COOKIE];
    if (sessionToken && sessionToken.length <= 200) {
      const session = await authenticator.sessionIdentity(sessionToken);
      request.principal = session?.principal;
      request.operator = session?.operator;
      request.csrfTokenHash = session?.csrfTokenHash;
      request.sessionId = session?.sessionId;
    }
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function checkCsrf(request: FastifyRequest, via: 'session' | 'token') {
  if (via !== 'session' || SAFE_METHODS.has(request.method)) return;
  const presented = request.headers['x-csrf-token'];
  if (
    typeof presented !== 'string' ||
    !request.csrfTokenHash ||
    !sameHash(presented, request.csrfTokenHash)
  ) {
    throw new ForbiddenError('The x-csrf-token header is missing or wrong; sign in again to get a new one.');
  }
}

/** The answer of the not-found handler, word for word: an operator route does not exist for anyone else. */
export function sendNoRoute(request: FastifyRequest, reply: FastifyReply) {
  return sendProblem(request, reply, {
    status: 404,
    type: 'not-found',
    title: 'Not found',
    detail: `No route ${request.method} ${pathOf(request.url)}.`,
  });
}

/**
 * Answers every request for an operator route that does not come from an operator with the unknown route's 404,
 * before its body is parsed or validated (a 400 or 415 would tell that the route exists). Runs in onRequest, after
 * authenticateRequest.
 */
export async function hideOperatorRoutes(request: FastifyRequest, reply: FastifyReply) {
  if (request.routeOptions.config.operatorPermission && !request.operator) return sendNoRoute(request, reply);
}

/** Enforces the route's permission and, for cookie-authenticated writes, the CSRF token. */
export async function authorizeRequest(request: FastifyRequest, _reply: FastifyReply) {
  const { permission, operatorPermission, account, duringTwoFactorEnrolment } = request.routeOptions.config;
  if (operatorPermission) {
    const operator = request.operator;
    // hideOperatorRoutes has answered everybody else already.
    if (!operator) throw new UnauthenticatedError();
    checkCsrf(request, operator.via);
    if (!operatorCan(operator.role, operatorPermission))
      throw new ForbiddenError(`Your role "${operator.role}" may only read.`);
    return;
  }
  if (!permission && !account) return;
  if (account && request.operator) return checkCsrf(request, request.operator.via);
  const principal = request.principal;
  if (!principal) throw new UnauthenticatedError();
  checkCsrf(request, principal.via);
  if (principal.mustEnrolTwoFactor && !duringTwoFactorEnrolment) {
    throw new ForbiddenError(
      'Your organisation requires two-factor sign-in: set it up first (Account → Security).',
    );
  }
  if (permission && !can(principal.role, permission)) {
    throw new ForbiddenError(`Your role "${principal.role}" may not do this.`);
  }
}

export function actorOf(request: FastifyRequest): Actor {
  const userAgent = request.headers['user-agent'];
  return {
    principal: request.principal,
    operator: request.operator,
    requestId: request.id,
    sourceAddress: request.ip,
    userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 300) : undefined,
  };
}

/** For operator routes: the operator is guaranteed by authorizeRequest. */
export function operatorActorOf(request: FastifyRequest): Actor & { operator: OperatorPrincipal } {
  const operator = request.operator;
  if (!operator) throw new UnauthenticatedError();
  return { ...actorOf(request), operator };
}

/** The language a browser asks for (Accept-Language), for a new account's e-mails: German or English. */
export function languageOf(request: FastifyRequest): Language {
  const header = request.headers['accept-language'];
  const first = typeof header === 'string' ? header.split(',')[0]?.trim().toLowerCase() : undefined;
  return first?.startsWith('de') ? 'de' : 'en';
}

/** For routes with a permission: the principal is guaranteed by authorizeRequest. */
export function signedInActorOf(request: FastifyRequest): SignedInActor {
  const principal = request.principal;
  if (!principal) throw new UnauthenticatedError();
  return { principal, requestId: request.id, sourceAddress: request.ip };
}
