import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Secrets at rest (customer admin passwords, instance database passwords): AES-256-GCM with a key from
 * KEYHOUSE_SECRET_KEY or, by default, a key file created in the data dir on first start. The ciphertext carries a
 * version prefix so that the key can be rotated later.
 */
export type SecretBox = {
  seal(plaintext: string): string;
  open(sealed: string): string;
};

const VERSION = 'v1';

function keyFrom(configuredKey: string | null, dataDir: string): Buffer {
  if (configuredKey !== null) {
    const key = Buffer.from(configuredKey, 'base64');
    if (key.length !== 32)
      throw new Error('KEYHOUSE_SECRET_KEY must be 32 bytes in base64 (openssl rand -base64 32).');
    return key;
  }
  const file = path.join(dataDir, 'secrets', 'secret.key');
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // 'wx': two processes starting at once must not overwrite each other's key.
    try {
      writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return keyFrom(readFileSync(file, 'utf8').trim(), dataDir);
}

export function createSecretBox(options: { secretKey: string | null; dataDir: string }): SecretBox {
  const key = keyFrom(options.secretKey, options.dataDir);
  return {
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [
        VERSION,
        iv.toString('base64url'),
        cipher.getAuthTag().toString('base64url'),
        body.toString('base64url'),
      ].join('.');
    },
    open(sealed) {
      const [version, iv, tag, body] = sealed.split('.');
      if (version !== VERSION || !iv || !tag || body === undefined) throw new Error('not a sealed secret');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    },
  };
}
