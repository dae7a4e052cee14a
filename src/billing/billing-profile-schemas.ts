import { z } from 'zod';
import { coded, codedIssue } from '../platform/messages.js';
import { textSchema } from '../platform/text-schemas.js';
import { ISO_COUNTRY_CODES, normaliseVatId, vatIdProblem } from './countries.js';

/** A billing profile as entered in the portal, the API and the CLI (browser-safe). */
export const billingProfileInputSchema = z
  .strictObject({
    company: textSchema({ max: 120 }),
    street: textSchema({ max: 120 }),
    postalCode: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9][A-Za-z0-9 -]{1,10}$/, coded('billing.postalCode')),
    city: textSchema({ max: 80 }),
    country: z
      .string()
      .trim()
      .transform((c) => c.toUpperCase())
      .refine((c) => ISO_COUNTRY_CODES.has(c), coded('billing.country')),
    vatId: z
      .string()
      .max(30)
      .transform(normaliseVatId)
      .optional()
      .transform((v) => (v === '' ? undefined : v)),
    invoiceEmail: z.email(coded('format.email')).max(254, coded('text.tooLong', { max: 254 })),
  })
  .superRefine((profile, ctx) => {
    if (profile.vatId === undefined || !ISO_COUNTRY_CODES.has(profile.country)) return;
    const problem = vatIdProblem(profile.country, profile.vatId);
    if (problem) ctx.addIssue(codedIssue(problem.code, problem.params, ['vatId']));
  });
export type BillingProfileInput = z.output<typeof billingProfileInputSchema>;

export const billingProfileSchema = z.object({
  id: z.uuid(),
  company: z.string(),
  street: z.string(),
  postalCode: z.string(),
  city: z.string(),
  country: z.string(),
  vatId: z.string().nullable(),
  invoiceEmail: z.string(),
  createdAt: z.string(),
});
export type BillingProfile = z.infer<typeof billingProfileSchema>;
