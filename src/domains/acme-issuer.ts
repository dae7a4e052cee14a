import acme from 'acme-client';

/**
 * Certificates for custom domains from an ACME directory (Let's Encrypt by default), by the HTTP-01 challenge: the
 * directory asks for `http://<domain>/.well-known/acme-challenge/<token>`, which reaches the edge (the customer's
 * CNAME points there) and is answered from the challenges Keyhouse publishes (acme-store.ts, acme-certificates.ts).
 * Renewal is the same call, 30 days before expiry.
 */

/**
 * Where the edge finds what to answer for a token: `publish` resolves once the edge answers it (the directory
 * validates once, right after); `withdraw` after the validation.
 */
export type Http01Challenges = {
  publish(hostname: string, token: string, keyAuthorization: string): Promise<void>;
  withdraw(hostname: string, token: string): Promise<void>;
};

export type IssuedCertificate = { chainPem: string; keyPem: string };

/** A new ACME account key (ECDSA P-256), kept by the caller (sealed) and used for every order. */
export async function createAcmeAccountKey(): Promise<string> {
  return (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
}

export async function obtainCertificate(options: {
  directoryUrl: string;
  accountKeyPem: string;
  /** The account's URL at the directory, kept from the first order (null: registered by this call). */
  accountUrl: string | null;
  /** For the directory's expiry notices; optional. */
  email?: string;
  hostname: string;
  challenges: Http01Challenges;
}): Promise<IssuedCertificate & { accountUrl: string }> {
  const client = new acme.Client({
    directoryUrl: options.directoryUrl,
    accountKey: options.accountKeyPem,
    accountUrl: options.accountUrl ?? undefined,
  });
  const accountUrl = options.accountUrl ?? (await register(client, options.email));
  const [key, csr] = await acme.crypto.createCsr({ altNames: [options.hostname] });
  const chainPem = await client.auto({
    csr,
    termsOfServiceAgreed: true,
    challengePriority: ['http-01'],
    // acme-client's own check goes through public DNS to port 80; `publish` has asked the edge itself already.
    skipChallengeVerification: true,
    challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
      if (challenge.type !== 'http-01') throw new Error(`unexpected challenge ${challenge.type}`);
      await options.challenges.publish(options.hostname, challenge.token, keyAuthorization);
    },
    challengeRemoveFn: async (_authz, challenge) => {
      await options.challenges.withdraw(options.hostname, challenge.token);
    },
  });
  return { chainPem, keyPem: key.toString(), accountUrl };
}

/**
 * Registers the account key and answers its URL, kept by the caller: with it, later orders skip registration. A key
 * the directory knows already (registered, then a crash before its URL was kept) is answered with HTTP 200 and its
 * URL, after which acme-client asks for an update; a directory refuses that when there is nothing to update (no
 * e-mail address), which is no reason to fail: the URL is known by then.
 */
async function register(client: acme.Client, email: string | undefined): Promise<string> {
  try {
    await client.createAccount({
      termsOfServiceAgreed: true,
      ...(email ? { contact: [`mailto:${email}`] } : {}),
    });
  } catch (error) {
    if (!accountUrlOf(client)) throw error;
  }
  return client.getAccountUrl();
}

function accountUrlOf(client: acme.Client): string | undefined {
  try {
    return client.getAccountUrl();
  } catch (error) {
    // acme-client throws when no URL is known yet: that is the answer here.
    if (error instanceof Error) return undefined;
    throw error;
  }
}
