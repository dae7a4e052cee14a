import { z } from 'zod';

/**
 * Login themes as the API, the portal and the CLI see them. Browser-safe (only zod); the archive's own rules are
 * checked on the server (theme-archive.ts), before anything is stored.
 */

/** At most 5 MB of archive, as base64. */
const MAX_ARCHIVE_BASE64 = Math.ceil((5 * 1024 * 1024) / 3) * 4;

export const themeNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, '1 to 63 lower-case letters, digits, dots, dashes or underscores');

/** A theme version an instance runs; the instance's spec lists them (`themes`). */
export const themeRefSchema = z.object({ name: themeNameSchema, version: z.int().min(1) });
export type ThemeRef = z.infer<typeof themeRefSchema>;

/** At most this many themes deployed on one instance. */
export const MAX_DEPLOYED_THEMES = 10;

export const themeUploadSchema = z.strictObject({
  /** For the audit trail and the list: the file the customer chose. */
  fileName: z.string().max(255).optional(),
  /** The zip or JAR, base64-encoded (at most 5 MB before encoding). */
  archive: z.base64('the archive as base64').max(MAX_ARCHIVE_BASE64, 'at most 5 MB'),
});
export type ThemeUpload = z.infer<typeof themeUploadSchema>;

export const themeVersionSchema = z.object({
  name: z.string(),
  version: z.int(),
  fileName: z.string().nullable(),
  types: z.array(z.string()),
  sizeBytes: z.int(),
  unpackedBytes: z.int(),
  fileCount: z.int(),
  sha256: z.string(),
  uploadedAt: z.string(),
});
export type ThemeVersion = z.infer<typeof themeVersionSchema>;

export const instanceThemesSchema = z.object({
  themes: z.array(
    z.object({
      name: z.string(),
      /** The version the instance runs (or is being deployed); null when none is. */
      deployedVersion: z.int().nullable(),
      /** Newest first. */
      versions: z.array(themeVersionSchema),
    }),
  ),
});
export type InstanceThemes = z.infer<typeof instanceThemesSchema>;
