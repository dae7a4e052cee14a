import ipaddr from 'ipaddr.js';

/**
 * The edge's per-connection check: does a socket's remote address fall into one of a route's trusted sources?
 * Validation and canonicalisation of what customers type happen before the sources reach the edge (see
 * src/access/trusted-sources.ts); here the list is compiled once per route version so that the hot path (every
 * accepted TCP connection) parses only the remote address.
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

/** The form the edge logs and compares: "192.0.2.1", never "::ffff:192.0.2.1". */
export function displayAddress(remoteAddress: string | undefined): string {
  return normalizeRemoteAddress(remoteAddress)?.toString() ?? String(remoteAddress);
}
