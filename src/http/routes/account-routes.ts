import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  acceptInvitationRequestSchema,
  apiTokenSchema,
  createdApiTokenSchema,
  createdInvitationSchema,
  createInvitationRequestSchema,
  createTokenRequestSchema,
  invitationSchema,
  invitationTokenSchema,
  loginRequestSchema,
  sessionResponseSchema,
  signupRequestSchema,
  userSchema,
  whoAmISchema,
} from '../../accounts/account-schemas.js';
import type { AccountService, SessionGrant } from '../../accounts/account-service.js';
import { pageQuerySchema, pageSchema } from '../../platform/pagination.js';
import { actorOf, languageOf, SESSION_COOKIE } from '../auth-guard.js';
import { problemSchema } from '../problem.js';

const cookieOptions = (request: FastifyRequest) => ({
  httpOnly: true,
  sameSite: 'lax' as const,
  path: '/',
  // Behind TLS (directly or via a trusted proxy) the cookie never travels in clear; plain HTTP on loopback still works.
  secure: request.protocol === 'https',
});

/** Sets the session cookie and answers the client part of the grant. */
function startSession(request: FastifyRequest, reply: FastifyReply, grant: SessionGrant) {
  reply.setCookie(SESSION_COOKIE, grant.sessionToken, {
    ...cookieOptions(request),
    expires: grant.expiresAt,
  });
  return { user: grant.user, organization: grant.organization, csrfToken: grant.csrfToken };
}

const problems = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema };

export function accountRoutes(accounts: AccountService): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/api/v1/auth/signup',
      {
        schema: {
          operationId: 'signUp',
          summary: 'Create an organisation with its first admin and sign in',
          tags: ['accounts'],
          security: [],
          body: signupRequestSchema,
          response: { 201: sessionResponseSchema, 409: problemSchema, ...problems },
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(
            startSession(
              request,
              reply,
              await accounts.signUp(actorOf(request), request.body, languageOf(request)),
            ),
          ),
    );

    app.post(
      '/api/v1/auth/login',
      {
        schema: {
          operationId: 'logIn',
          summary:
            'Sign in with e-mail and password (and totpCode or recoveryCode when two-factor sign-in is on); starts a session cookie',
          tags: ['accounts'],
          security: [],
          body: loginRequestSchema,
          response: { 200: sessionResponseSchema, 429: problemSchema, ...problems },
        },
      },
      async (request, reply) =>
        startSession(request, reply, await accounts.logIn(actorOf(request), request.body)),
    );

    app.post(
      '/api/v1/auth/logout',
      {
        config: { account: true, duringTwoFactorEnrolment: true },
        schema: {
          operationId: 'logOut',
          summary: 'End the current session and clear its cookie',
          tags: ['accounts'],
          response: { 204: z.null(), ...problems },
        },
      },
      async (request, reply) => {
        await accounts.logOut(actorOf(request), request.cookies[SESSION_COOKIE]);
        return reply.clearCookie(SESSION_COOKIE, cookieOptions(request)).status(204).send(null);
      },
    );

    app.get(
      '/api/v1/auth/session',
      {
        config: { account: true, duringTwoFactorEnrolment: true },
        schema: {
          operationId: 'getSession',
          summary:
            'Who is signed in: user with role, organisation with customer number, CSRF token of a session',
          tags: ['accounts'],
          response: { 200: whoAmISchema, ...problems },
        },
      },
      async (request) => accounts.whoAmI(actorOf(request), request.cookies[SESSION_COOKIE]),
    );

    app.post(
      '/api/v1/tokens',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'createApiToken',
          summary: 'Create an API token for the signed-in user (the secret is shown once)',
          tags: ['accounts'],
          body: createTokenRequestSchema,
          response: { 201: createdApiTokenSchema, 409: problemSchema, ...problems },
        },
      },
      async (request, reply) =>
        reply.status(201).send(await accounts.createApiToken(actorOf(request), request.body)),
    );

    app.get(
      '/api/v1/tokens',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'listApiTokens',
          summary: "The signed-in user's active API tokens, without secrets",
          tags: ['accounts'],
          querystring: pageQuerySchema,
          response: { 200: pageSchema(apiTokenSchema), ...problems },
        },
      },
      async (request) => accounts.listApiTokens(actorOf(request), request.query),
    );

    app.delete(
      '/api/v1/tokens/:id',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'revokeApiToken',
          summary: 'Revoke one of your API tokens',
          tags: ['accounts'],
          params: z.object({ id: z.uuid() }),
          response: { 204: z.null(), ...problems },
        },
      },
      async (request, reply) => {
        await accounts.revokeApiToken(actorOf(request), request.params.id);
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/api/v1/members',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'listMembers',
          summary: 'The users of your organisation with their roles',
          tags: ['accounts'],
          querystring: pageQuerySchema,
          response: { 200: pageSchema(userSchema), ...problems },
        },
      },
      async (request) => accounts.listMembers(actorOf(request), request.query),
    );

    app.post(
      '/api/v1/invitations',
      {
        config: { permission: 'members:manage' },
        schema: {
          operationId: 'createInvitation',
          summary: 'Invite a user into your organisation with a role; answers the invitation link to pass on',
          tags: ['accounts'],
          body: createInvitationRequestSchema,
          response: { 201: createdInvitationSchema, 409: problemSchema, ...problems },
        },
      },
      async (request, reply) =>
        reply.status(201).send(await accounts.createInvitation(actorOf(request), request.body)),
    );

    app.get(
      '/api/v1/invitations',
      {
        config: { permission: 'members:manage' },
        schema: {
          operationId: 'listInvitations',
          summary: 'Invitations of your organisation that are neither accepted nor expired',
          tags: ['accounts'],
          querystring: pageQuerySchema,
          response: { 200: pageSchema(invitationSchema), ...problems },
        },
      },
      async (request) => accounts.listPendingInvitations(actorOf(request), request.query),
    );

    app.post(
      '/api/v1/invitations/:token/accept',
      {
        schema: {
          operationId: 'acceptInvitation',
          summary: 'Accept an invitation by choosing a password; creates the user and signs in',
          tags: ['accounts'],
          security: [],
          params: z.object({ token: invitationTokenSchema }),
          body: acceptInvitationRequestSchema,
          response: { 201: sessionResponseSchema, 409: problemSchema, 422: problemSchema, ...problems },
        },
      },
      async (request, reply) => {
        const grant = await accounts.acceptInvitation(actorOf(request), request.params.token, request.body);
        return reply.status(201).send(startSession(request, reply, grant));
      },
    );
  };
}
