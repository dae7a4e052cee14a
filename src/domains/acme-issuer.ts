import acme from 'acme-client';

/**
 * Certificates for custom domains from an ACME directory (Let's Encrypt by default), by the HTTP-01 challenge: the
 * directory asks for `http://<domain>/.well-known/acme-challenge/<token>`, which reaches the edge (the customer's
 * CNAME points there) and is answered from the challenges Keyhouse publishes (acme-challenges.ts). Renewal is the
 * same call, 30 days before expiry.
 */

/** Where the edge finds what to answer for a token; published before the directory validates, withdrawn after. */
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
  /** For the directory's expiry notices; optional. */
  email?: string;
  hostname: string;
  challenges: Http01Challenges;
  /**
   * acme-client first fetches the challenge itself through public DNS; where this host cannot (tests with their own
   * DNS server) the directory's validation is the only one.
   */
  skipOwnCheck?: boolean;
}): Promise<IssuedCertificate> {
  const client = new acme.Client({ directoryUrl: options.directoryUrl, accountKey: options.accountKeyPem });
  const [key, csr] = await acme.crypto.createCsr({ altNames: [options.hostname] });
  const chainPem = await client.auto({
    csr,
    email: options.email,
    termsOfServiceAgreed: true,
    challengePriority: ['http-01'],
    skipChallengeVerification: options.skipOwnCheck ?? false,
    challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
      if (challenge.type !== 'http-01') throw new Error(`unexpected challenge ${challenge.type}`);
      await options.challenges.publish(options.hostname, challenge.token, keyAuthorization);
    },
    challengeRemoveFn: async (_authz, challenge) => {
      await options.challenges.withdraw(options.hostname, challenge.token);
    },
  });
  return { chainPem, keyPem: key.toString() };
}
