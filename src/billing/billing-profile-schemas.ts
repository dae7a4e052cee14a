import { z } from 'zod';
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
      .regex(/^[A-Za-z0-9][A-Za-z0-9 -]{1,10}$/, 'a postal code of 2 to 11 letters and digits'),
    city: textSchema({ max: 80 }),
    country: z
      .string()
      .trim()
      .transform((c) => c.toUpperCase())
      .refine((c) => ISO_COUNTRY_CODES.has(c), 'an ISO 3166 country code such as DE'),
    vatId: z
      .string()
      .max(30)
      .transform(normaliseVatId)
      .optional()
      .transform((v) => (v === '' ? undefined : v)),
    invoiceEmail: z.email('an e-mail address').max(254),
  })
  .superRefine((profile, ctx) => {
    if (profile.vatId === undefined || !ISO_COUNTRY_CODES.has(profile.country)) return;
    const problem = vatIdProblem(profile.country, profile.vatId);
    if (problem) ctx.addIssue({ code: 'custom', path: ['vatId'], message: problem });
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
