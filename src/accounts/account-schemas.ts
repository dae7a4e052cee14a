import { z } from 'zod';
import { coded } from '../platform/messages.js';
import { textSchema } from '../platform/text-schemas.js';
import { roleSchema } from './roles.js';

/**
 * Shapes of the accounts module, shared by the REST API and the portal's forms. Browser-safe: zod only, no node
 * imports.
 */

/** E-mail addresses are compared lower-cased; 254 is the longest address SMTP can carry. */
export const emailSchema = z
  .email(coded('account.email'))
  .max(254, coded('text.tooLong', { max: 254 }))
  .toLowerCase();

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 200;

/** A new password: length is what makes a password strong, so we ask for length and nothing else. */
export const newPasswordSchema = z
  .string()
  .min(PASSWORD_MIN_LENGTH, coded('text.tooShort', { min: PASSWORD_MIN_LENGTH }))
  .max(PASSWORD_MAX_LENGTH, coded('text.tooLong', { max: PASSWORD_MAX_LENGTH }));

/** A password presented at sign-in: rules are not repeated here, a wrong one is simply wrong. */
const presentedPasswordSchema = z.string().min(1).max(PASSWORD_MAX_LENGTH);

export const organizationNameSchema = textSchema({ max: 120 });

export const signupRequestSchema = z.strictObject({
  email: emailSchema,
  password: newPasswordSchema,
  organizationName: organizationNameSchema,
});
export type SignupRequest = z.infer<typeof signupRequestSchema>;

export const loginRequestSchema = z.strictObject({
  email: emailSchema,
  password: presentedPasswordSchema,
});
export type LoginRequest = z.infer<typeof loginRequestSchema>;

const timestampSchema = z.iso.datetime({ offset: true });

export const userSchema = z.object({
  id: z.uuid(),
  email: z.string(),
  role: roleSchema,
  createdAt: timestampSchema,
});
export type User = z.infer<typeof userSchema>;

export const organizationSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  /** The customer's number, e.g. kd500001; also the name of the first realm of every instance. */
  customerNumber: z.string(),
  createdAt: timestampSchema,
});
export type Organization = z.infer<typeof organizationSchema>;

/** Answer of sign-up, login and invitation acceptance; cookie-authenticated writes send `csrfToken` as x-csrf-token. */
export const sessionResponseSchema = z.object({
  user: userSchema,
  organization: organizationSchema,
  csrfToken: z.string(),
});
export type SessionResponse = z.infer<typeof sessionResponseSchema>;

/** Who am I: for a session also its CSRF token, so the portal survives a page reload. */
export const whoAmISchema = z.object({
  user: userSchema,
  organization: organizationSchema,
  csrfToken: z.string().optional(),
  /** The address the request came from, as Keyhouse sees it: the portal offers it as a trusted source. */
  sourceAddress: z.string().optional(),
});
export type WhoAmI = z.infer<typeof whoAmISchema>;

export const tokenNameSchema = textSchema({ max: 80 });

export const createTokenRequestSchema = z.strictObject({ name: tokenNameSchema });
export type CreateTokenRequest = z.infer<typeof createTokenRequestSchema>;

export const apiTokenSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  createdAt: timestampSchema,
  lastUsedAt: timestampSchema.nullable(),
});
export type ApiToken = z.infer<typeof apiTokenSchema>;

/** The secret is in this answer only; Keyhouse keeps just its hash. */
export const createdApiTokenSchema = apiTokenSchema.omit({ lastUsedAt: true }).extend({ token: z.string() });
export type CreatedApiToken = z.infer<typeof createdApiTokenSchema>;

export const createInvitationRequestSchema = z.strictObject({ email: emailSchema, role: roleSchema });
export type CreateInvitationRequest = z.infer<typeof createInvitationRequestSchema>;

export const invitationSchema = z.object({
  id: z.uuid(),
  email: z.string(),
  role: roleSchema,
  createdAt: timestampSchema,
  expiresAt: timestampSchema,
});
export type Invitation = z.infer<typeof invitationSchema>;

/** The link is shown to the inviting admin (there is no mail server); its token is in this answer only. */
export const createdInvitationSchema = invitationSchema.extend({ invitationUrl: z.string() });
export type CreatedInvitation = z.infer<typeof createdInvitationSchema>;

/** Secrets we hand out (session, CSRF, API and invitation tokens) are 32 random bytes, base64url. */
export const invitationTokenSchema = z
  .string()
  .min(20)
  .max(100)
  .regex(/^[A-Za-z0-9_-]+$/, coded('account.invitationToken'));

export const acceptInvitationRequestSchema = z.strictObject({ password: newPasswordSchema });
export type AcceptInvitationRequest = z.infer<typeof acceptInvitationRequestSchema>;
