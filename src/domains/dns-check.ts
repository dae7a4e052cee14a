import { Resolver } from 'node:dns/promises';
import { errnoOf } from '../platform/errno.js';

/**
 * Does the customer's host name point at the instance? Either a CNAME to the instance's own host name (what the
 * portal asks for), or, at a zone apex where no CNAME is allowed, the same addresses as that host name (ALIAS or
 * ANAME records, flattened by the DNS provider). Asks the configured resolvers, or the system's.
 */
export type DnsCheck = { ok: true; via: 'cname' | 'addresses' } | { ok: false; message: string };

const NO_RECORD = new Set(['ENODATA', 'ENOTFOUND', 'ENONAME', 'NOTFOUND', 'ENOTIMP']);
const normal = (name: string) => name.toLowerCase().replace(/\.$/, '');

export async function checkDomainDns(options: {
  hostname: string;
  /** The instance's own host name, e.g. kc-1a2b3c4d.keyhouse.example. */
  target: string;
  /** `ip` or `ip:port`; empty for the system's resolvers. */
  servers: readonly string[];
}): Promise<DnsCheck> {
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  if (options.servers.length) resolver.setServers([...options.servers]);
  const target = normal(options.target);
  const lookup = async (work: () => Promise<string[]>) => {
    try {
      return await work();
    } catch (error) {
      if (NO_RECORD.has(errnoOf(error) ?? '')) return [];
      throw error;
    }
  };
  const cnames = (await lookup(() => resolver.resolveCname(options.hostname))).map(normal);
  if (cnames.includes(target)) return { ok: true, via: 'cname' };
  if (cnames.length)
    return {
      ok: false,
      message: `${options.hostname} is a CNAME to ${cnames.join(', ')}, not to ${target}.`,
    };
  const addresses = async (name: string) =>
    [
      ...(await lookup(() => resolver.resolve4(name))),
      ...(await lookup(() => resolver.resolve6(name))),
    ].sort();
  const [mine, theirs] = await Promise.all([addresses(options.hostname), addresses(target)]);
  if (mine.length && theirs.length && mine.join() === theirs.join()) return { ok: true, via: 'addresses' };
  return {
    ok: false,
    message: mine.length
      ? `${options.hostname} points to ${mine.join(', ')}; create a CNAME record to ${target} instead.`
      : `No DNS record for ${options.hostname} yet; create a CNAME record to ${target} (DNS changes can take a while).`,
  };
}
