import { z } from 'zod';
import { coded } from '../platform/messages.js';
import { textSchema } from '../platform/text-schemas.js';
import { accountRoleSchema, roleSchema } from './roles.js';

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

/** The languages of the portal and of e-mails. */
export const languageSchema = z.enum(['de', 'en']);
export type Language = z.infer<typeof languageSchema>;

/** A code from an authenticator app: six digits (spaces as the apps show them are dropped). */
export const totpCodeSchema = z
  .string()
  .max(20)
  .transform((code) => code.replace(/\s/g, ''))
  .pipe(z.string().regex(/^\d{6}$/, coded('account.totpCode')));

/** A recovery code as handed out: 10 characters in two groups, e.g. k7m2q-x9d4w. */
export const recoveryCodeSchema = z
  .string()
  .max(40)
  .transform((code) => code.trim().toLowerCase().replace(/[\s-]/g, ''))
  .pipe(z.string().regex(/^[a-z0-9]{10}$/, coded('account.recoveryCode')));

/**
 * Sign-in. With two-factor sign-in on, the first attempt (password only) is answered 401 `two-factor-required`;
 * the client asks for the code and sends the same request with `totpCode` or `recoveryCode`.
 */
export const loginRequestSchema = z.strictObject({
  email: emailSchema,
  password: presentedPasswordSchema,
  totpCode: totpCodeSchema.optional(),
  recoveryCode: recoveryCodeSchema.optional(),
});
export type LoginRequest = z.infer<typeof loginRequestSchema>;

const timestampSchema = z.iso.datetime({ offset: true });

export const userSchema = z.object({
  id: z.uuid(),
  email: z.string(),
  role: accountRoleSchema,
  /** The language of the user's e-mails. */
  language: languageSchema,
  twoFactorEnabled: z.boolean(),
  createdAt: timestampSchema,
});
export type User = z.infer<typeof userSchema>;

export const organizationSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  /** The customer's number, e.g. kd500001; also the name of the first realm of every instance. */
  customerNumber: z.string(),
  /** The organisation's admins require two-factor sign-in of every member. */
  requireTwoFactor: z.boolean(),
  createdAt: timestampSchema,
});
export type Organization = z.infer<typeof organizationSchema>;

/**
 * Answer of sign-up, login and invitation acceptance; cookie-authenticated writes send `csrfToken` as x-csrf-token.
 * `organization` is null for the provider's operators, who belong to none.
 */
export const sessionResponseSchema = z.object({
  user: userSchema,
  organization: organizationSchema.nullable(),
  csrfToken: z.string(),
});
export type SessionResponse = z.infer<typeof sessionResponseSchema>;

/** Who am I: for a session also its CSRF token, so the portal survives a page reload. */
export const whoAmISchema = z.object({
  user: userSchema,
  organization: organizationSchema.nullable(),
  /** The organisation requires two-factor sign-in and this user has not set it up: nothing else works until then. */
  mustEnrolTwoFactor: z.boolean(),
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

/** `language`: of the invitation e-mail; the inviting admin's language when not given. */
export const createInvitationRequestSchema = z.strictObject({
  email: emailSchema,
  role: roleSchema,
  language: languageSchema.optional(),
});
export type CreateInvitationRequest = z.infer<typeof createInvitationRequestSchema>;

export const invitationSchema = z.object({
  id: z.uuid(),
  email: z.string(),
  role: roleSchema,
  createdAt: timestampSchema,
  expiresAt: timestampSchema,
});
export type Invitation = z.infer<typeof invitationSchema>;

/**
 * The link goes to the invitee by e-mail; it is also shown to the inviting admin once (to pass on if the mail does
 * not arrive). Its token is in this answer and the mail only.
 */
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

/** A secret token of a link we mail (password reset): 32 random bytes, base64url. */
export const linkTokenSchema = z
  .string()
  .min(40)
  .max(100)
  .regex(/^[A-Za-z0-9_-]+$/, coded('account.linkToken'));

/** Asks for a reset link; answered the same way whether or not the address has an account. */
export const passwordResetRequestSchema = z.strictObject({ email: emailSchema });
export type PasswordResetRequest = z.infer<typeof passwordResetRequestSchema>;

export const passwordResetConfirmSchema = z.strictObject({
  token: linkTokenSchema,
  password: newPasswordSchema,
});
export type PasswordResetConfirm = z.infer<typeof passwordResetConfirmSchema>;

export const memberPatchSchema = z.strictObject({ role: roleSchema });
export type MemberPatch = z.infer<typeof memberPatchSchema>;

export const preferencesSchema = z.strictObject({ language: languageSchema });
export type Preferences = z.infer<typeof preferencesSchema>;

export const organizationPatchSchema = z.strictObject({ requireTwoFactor: z.boolean() });
export type OrganizationPatch = z.infer<typeof organizationPatchSchema>;

export const sessionSummarySchema = z.object({
  id: z.uuid(),
  createdAt: timestampSchema,
  lastSeenAt: timestampSchema.nullable(),
  expiresAt: timestampSchema,
  userAgent: z.string().nullable(),
  sourceAddress: z.string().nullable(),
  /** The session this request comes with. */
  current: z.boolean(),
});
export type SessionSummary = z.infer<typeof sessionSummarySchema>;

/** Step 1 of setting up two-factor sign-in: the secret to put into an authenticator app (not active yet). */
export const totpEnrolmentSchema = z.object({
  secret: z.string(),
  otpauthUrl: z.string(),
  /** The otpauth URL as a QR code (SVG), for the app's camera. */
  qrCodeSvg: z.string(),
});
export type TotpEnrolment = z.infer<typeof totpEnrolmentSchema>;

export const totpConfirmSchema = z.strictObject({ code: totpCodeSchema });
export type TotpConfirm = z.infer<typeof totpConfirmSchema>;

/** Shown once: each code signs in once instead of a code from the app. */
export const recoveryCodesSchema = z.object({ recoveryCodes: z.array(z.string()) });

/** Turning two-factor sign-in off takes the password again. */
export const totpDisableSchema = z.strictObject({ password: presentedPasswordSchema });
