import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { can, type Actor, type Permission, type Principal, type SignedInActor } from '../accounts/roles.js';
import { ForbiddenError, UnauthenticatedError } from '../platform/errors.js';

export const SESSION_COOKIE = 'keyhouse_session';

/** What the accounts module answers for a presented credential. */
export type Authenticator = {
  sessionPrincipal(
    sessionToken: string,
  ): Promise<{ principal: Principal; csrfTokenHash: string } | undefined>;
  tokenPrincipal(apiToken: string): Promise<Principal | undefined>;
};

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | undefined;
    csrfTokenHash: string | undefined;
  }
  interface FastifyContextConfig {
    /** The permission a route requires; routes without one are public. */
    permission?: Permission;
  }
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

function sameHash(presented: string, expectedHash: string): boolean {
  const a = Buffer.from(sha256(presented), 'hex');
  const b = Buffer.from(expectedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

const BROKER_PATHS = /^\/osb(\/|\?|$)/;

/** Resolves the principal of every request from its bearer token or session cookie (once, in onRequest). */
export function authenticateRequest(authenticator: Authenticator) {
  return async (request: FastifyRequest) => {
    request.principal = undefined;
    request.csrfTokenHash = undefined;
    // The service broker authenticates platforms itself (HTTP basic auth, src/http/routes/osb-routes.ts).
    if (BROKER_PATHS.test(request.url)) return;
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
      const session = await authenticator.sessionPrincipal(sessionToken);
      request.principal = session?.principal;
      request.csrfTokenHash = session?.csrfTokenHash;
    }
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Enforces the route's permission and, for cookie-authenticated writes, the CSRF token. */
export async function authorizeRequest(request: FastifyRequest, _reply: FastifyReply) {
  const permission = request.routeOptions.config.permission;
  if (!permission) return;
  const principal = request.principal;
  if (!principal) throw new UnauthenticatedError();
  if (principal.via === 'session' && !SAFE_METHODS.has(request.method)) {
    const presented = request.headers['x-csrf-token'];
    if (
      typeof presented !== 'string' ||
      !request.csrfTokenHash ||
      !sameHash(presented, request.csrfTokenHash)
    ) {
      throw new ForbiddenError(
        'The x-csrf-token header is missing or wrong; sign in again to get a new one.',
      );
    }
  }
  if (!can(principal.role, permission)) {
    throw new ForbiddenError(`Your role "${principal.role}" may not do this.`);
  }
}

export function actorOf(request: FastifyRequest): Actor {
  return { principal: request.principal, requestId: request.id, sourceAddress: request.ip };
}

/** For routes with a permission: the principal is guaranteed by authorizeRequest. */
export function signedInActorOf(request: FastifyRequest): SignedInActor {
  const principal = request.principal;
  if (!principal) throw new UnauthenticatedError();
  return { principal, requestId: request.id, sourceAddress: request.ip };
}
