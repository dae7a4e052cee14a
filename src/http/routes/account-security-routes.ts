import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  memberPatchSchema,
  organizationPatchSchema,
  organizationSchema,
  passwordResetConfirmSchema,
  passwordResetRequestSchema,
  preferencesSchema,
  recoveryCodesSchema,
  sessionSummarySchema,
  totpConfirmSchema,
  totpDisableSchema,
  totpEnrolmentSchema,
  userSchema,
} from '../../accounts/account-schemas.js';
import type { AccountSecurityService } from '../../accounts/account-security-service.js';
import type { AccountService } from '../../accounts/account-service.js';
import type { MemberService } from '../../accounts/member-service.js';
import type { PasswordResetService } from '../../accounts/password-reset-service.js';
import { actorOf, signedInActorOf } from '../auth-guard.js';
import { problemResponses } from '../problem.js';

/**
 * Account security: password reset, members (role, removal), two-factor sign-in, sessions, preferences. The account
 * routes serve customers and operators alike; the member routes are the admins'.
 */
export function accountSecurityRoutes(services: {
  accounts: AccountService;
  passwordResets: PasswordResetService;
  members: MemberService;
  security: AccountSecurityService;
}): FastifyPluginAsyncZod {
  const { accounts, passwordResets, members, security } = services;
  const own = { account: true, duringTwoFactorEnrolment: true } as const;
  const tags = ['accounts'];
  return async (app) => {
    app.post(
      '/api/v1/auth/password-reset',
      {
        schema: {
          operationId: 'requestPasswordReset',
          summary:
            'Mail a reset link (valid 30 minutes, once); answered alike whether or not the address exists',
          tags,
          security: [],
          body: passwordResetRequestSchema,
          response: { 202: z.null(), ...problemResponses(400, 415) },
        },
      },
      async (request, reply) => {
        await passwordResets.request(actorOf(request), request.body);
        return reply.status(202).send(null);
      },
    );

    app.post(
      '/api/v1/auth/password-reset/confirm',
      {
        schema: {
          operationId: 'confirmPasswordReset',
          summary: 'Set a new password with the token from the reset link; ends every session of the account',
          tags,
          security: [],
          body: passwordResetConfirmSchema,
          response: { 204: z.null(), ...problemResponses(400, 422) },
        },
      },
      async (request, reply) => {
        await passwordResets.confirm(actorOf(request), request.body);
        return reply.status(204).send(null);
      },
    );

    app.put(
      '/api/v1/auth/preferences',
      {
        config: own,
        schema: {
          operationId: 'setPreferences',
          summary: 'The language of your e-mails (the portal sends its language)',
          tags,
          body: preferencesSchema,
          response: { 204: z.null(), ...problemResponses(400, 401, 403) },
        },
      },
      async (request, reply) => {
        await accounts.setLanguage(actorOf(request), request.body.language);
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/api/v1/auth/sessions',
      {
        config: own,
        schema: {
          operationId: 'listSessions',
          summary: 'Your active sessions (browsers signed in), newest first',
          tags,
          response: { 200: z.object({ items: z.array(sessionSummarySchema) }), ...problemResponses(401) },
        },
      },
      async (request) => ({ items: await security.listSessions(actorOf(request), request.sessionId) }),
    );

    app.delete(
      '/api/v1/auth/sessions/:id',
      {
        config: own,
        schema: {
          operationId: 'revokeSession',
          summary: 'Sign out one of your sessions',
          tags,
          params: z.object({ id: z.uuid() }),
          response: { 204: z.null(), ...problemResponses(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        await security.revokeSession(actorOf(request), request.params.id);
        return reply.status(204).send(null);
      },
    );

    app.post(
      '/api/v1/auth/two-factor',
      {
        config: own,
        schema: {
          operationId: 'beginTwoFactor',
          summary: 'Start setting up two-factor sign-in: a secret (and QR code) for an authenticator app',
          tags,
          response: { 201: totpEnrolmentSchema, ...problemResponses(401, 403, 409) },
        },
      },
      async (request, reply) => reply.status(201).send(await security.beginTwoFactor(actorOf(request))),
    );

    app.post(
      '/api/v1/auth/two-factor/confirm',
      {
        config: own,
        schema: {
          operationId: 'confirmTwoFactor',
          summary: 'Turn two-factor sign-in on with a first code; answers ten recovery codes (shown once)',
          tags,
          body: totpConfirmSchema,
          response: { 200: recoveryCodesSchema, ...problemResponses(400, 401, 403, 404, 409) },
        },
      },
      async (request) => ({
        recoveryCodes: await security.confirmTwoFactor(actorOf(request), request.body.code),
      }),
    );

    app.post(
      '/api/v1/auth/two-factor/disable',
      {
        config: own,
        schema: {
          operationId: 'disableTwoFactor',
          summary: 'Turn two-factor sign-in off (needs the password; not where the organisation requires it)',
          tags,
          body: totpDisableSchema,
          response: { 204: z.null(), ...problemResponses(400, 401, 403, 409) },
        },
      },
      async (request, reply) => {
        await security.disableTwoFactor(actorOf(request), request.body.password);
        return reply.status(204).send(null);
      },
    );

    app.post(
      '/api/v1/auth/two-factor/recovery-codes',
      {
        config: own,
        schema: {
          operationId: 'regenerateRecoveryCodes',
          summary: 'Ten new recovery codes; the earlier ones stop working',
          tags,
          response: { 200: recoveryCodesSchema, ...problemResponses(401, 403, 409) },
        },
      },
      async (request) => ({ recoveryCodes: await security.regenerateRecoveryCodes(actorOf(request)) }),
    );

    app.patch(
      '/api/v1/members/:id',
      {
        config: { permission: 'members:manage' },
        schema: {
          operationId: 'changeMemberRole',
          summary: "Change a member's role (admins; the last admin cannot be demoted)",
          tags,
          params: z.object({ id: z.uuid() }),
          body: memberPatchSchema,
          response: { 200: userSchema, ...problemResponses(400, 401, 403, 404, 409) },
        },
      },
      async (request) => members.changeRole(signedInActorOf(request), request.params.id, request.body),
    );

    app.delete(
      '/api/v1/members/:id',
      {
        config: { permission: 'members:manage' },
        schema: {
          operationId: 'removeMember',
          summary: 'Remove a member, or yourself (admins; the last admin cannot leave)',
          tags,
          params: z.object({ id: z.uuid() }),
          response: { 204: z.null(), ...problemResponses(400, 401, 403, 404, 409) },
        },
      },
      async (request, reply) => {
        await members.remove(signedInActorOf(request), request.params.id);
        return reply.status(204).send(null);
      },
    );

    app.patch(
      '/api/v1/organization',
      {
        config: { permission: 'members:manage' },
        schema: {
          operationId: 'updateOrganization',
          summary: 'Require two-factor sign-in of every member (admins)',
          tags,
          body: organizationPatchSchema,
          response: { 200: organizationSchema, ...problemResponses(400, 401, 403) },
        },
      },
      async (request) => members.setRequireTwoFactor(signedInActorOf(request), request.body.requireTwoFactor),
    );
  };
}
