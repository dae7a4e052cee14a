import { randomBytes } from 'node:crypto';
import type { SecretBox } from '../platform/secret-box.js';

/**
 * An instance's secrets: its customer admin's and its database role's passwords. Stored sealed in
 * `instances.secrets`; this is the one place that knows their shape.
 */
export type InstanceSecrets = { adminPassword: string; databasePassword: string };

export function generateInstanceSecrets(): InstanceSecrets {
  return {
    adminPassword: randomBytes(24).toString('base64url'),
    databasePassword: randomBytes(24).toString('base64url'),
  };
}

export const sealInstanceSecrets = (box: SecretBox, secrets: InstanceSecrets): string =>
  box.seal(JSON.stringify(secrets));

export const openInstanceSecrets = (box: SecretBox, sealed: string): InstanceSecrets =>
  JSON.parse(box.open(sealed)) as InstanceSecrets;
