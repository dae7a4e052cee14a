import ipaddr from 'ipaddr.js';

/**
 * Does an address fall into one of a route's sources? HAProxy makes this check on every connection; Keyhouse needs
 * it to validate routes before they reach HAProxy and to pick the open streams a narrowed allowlist no longer
 * admits (their sources as `show sess` reports them). Validation and canonicalisation of what customers type happen
 * before the sources reach the edge (see src/access/trusted-sources.ts).
 */
export type SourceMatcher = {
  readonly cidrs: readonly string[];
  /** Entries that did not parse; they allow nothing (fail closed) and are reported so an operator can fix them. */
  readonly rejected: readonly string[];
  allows(remoteAddress: string | undefined): boolean;
};

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * Normalises an address as Node reports it on a socket. A dual-stack listener ("::") reports IPv4 clients as
 * IPv4-mapped IPv6 (::ffff:192.0.2.1); trusted sources are written in IPv4, so those are unwrapped.
 */
export function normalizeRemoteAddress(address: string | undefined): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (!address || !ipaddr.isValid(address)) return undefined;
  const parsed = ipaddr.parse(address);
  if (parsed instanceof ipaddr.IPv6 && parsed.isIPv4MappedAddress()) return parsed.toIPv4Address();
  return parsed;
}

export function compileSourceMatcher(cidrs: readonly string[]): SourceMatcher {
  const ranges: Range[] = [];
  const rejected: string[] = [];
  for (const cidr of cidrs) {
    try {
      const range = ipaddr.parseCIDR(cidr);
      // A mapped IPv6 range would never match (addresses are unwrapped above); express it in IPv4 instead.
      if (range[0] instanceof ipaddr.IPv6 && range[0].isIPv4MappedAddress() && range[1] >= 96) {
        ranges.push([range[0].toIPv4Address(), range[1] - 96]);
      } else {
        ranges.push(range);
      }
    } catch {
      rejected.push(cidr);
    }
  }
  return {
    cidrs: [...cidrs],
    rejected,
    allows(remoteAddress) {
      const address = normalizeRemoteAddress(remoteAddress);
      if (!address) return false;
      return ranges.some(
        ([network, prefix]) => network.kind() === address.kind() && address.match(network, prefix),
      );
    },
  };
}
