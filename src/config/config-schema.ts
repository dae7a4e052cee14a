import { z } from 'zod';
import { catalogSchema } from '../catalog/catalog-schemas.js';

export const configSchema = z.strictObject({
  server: z.strictObject({
    host: z.string().min(1).max(255),
    port: z.int().min(0).max(65535),
    trustProxy: z.boolean(),
  }),
  dataDir: z.string().min(1).max(4096),
  database: z.strictObject({
    url: z
      .string()
      .max(2048)
      .regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// URL')
      .nullable(),
    embeddedPort: z.int().min(1024).max(65535),
  }),
  catalog: catalogSchema,
});

export type Config = z.infer<typeof configSchema>;
