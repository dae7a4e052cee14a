import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import {
  coded,
  codedIssue,
  renderMessage,
  type CodedMessage,
  type MessageCode,
  type MessageParams,
} from '../platform/messages.js';

/**
 * Trusted sources: the IPv4/IPv6 addresses and CIDR ranges that may reach an instance. Everything else is refused
 * by the edge before TLS. This file is browser-safe: the portal validates with the same rules as the API.
 */

export const MAX_TRUSTED_SOURCES = 50;

export type PrefixBounds = { min: number; max: number };
export type SourcePolicy = {
  /** Public regions accept only public unicast sources; the local region also loopback and private ranges. */
  public: boolean;
  trustedSourcePrefixes: { ipv4: PrefixBounds; ipv6: PrefixBounds };
};

export type SourceCheck = { ok: true; cidr: string } | ({ ok: false; message: string } & CodedMessage);

const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');
const PRIVATE_RANGES = new Set(['loopback', 'private', 'uniqueLocal']);

/** A refusal of an entry: the English text and its code. */
const refusal = (code: MessageCode, params: MessageParams): SourceCheck => ({
  ok: false,
  message: renderMessage(code, params),
  code,
  params,
});

function describeRange(range: string): string {
  const names: Record<string, string> = {
    private: 'a private range',
    loopback: 'loopback',
    uniqueLocal: 'a unique-local (private) range',
    multicast: 'multicast',
    linkLocal: 'link-local',
    broadcast: 'broadcast',
    unspecified: 'the unspecified address',
    carrierGradeNat: 'carrier-grade NAT (not routable)',
    reserved: 'a reserved or documentation range',
  };
  return names[range] ?? `a special-purpose range (${range})`;
}

function parse(entry: string): { address: ipaddr.IPv4 | ipaddr.IPv6; prefix: number | null } | SourceCheck {
  const [addressText = '', prefixText, ...rest] = entry.split('/');
  if (rest.length > 0) return refusal('sources.slashes', { entry });
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  if (ipaddr.IPv4.isValidFourPartDecimal(addressText)) address = ipaddr.IPv4.parse(addressText);
  else if (ipaddr.IPv6.isValid(addressText) && !addressText.includes('%'))
    address = ipaddr.IPv6.parse(addressText);
  else return refusal('sources.notAnAddress', { entry });
  if (address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress()) {
    return refusal('sources.ipv4Mapped', { entry, ipv4: address.toIPv4Address().toString() });
  }
  if (prefixText === undefined) return { address, prefix: null };
  if (!/^\d{1,3}$/.test(prefixText)) return refusal('sources.prefixNotNumber', { entry });
  const prefix = Number(prefixText);
  const bits = address.kind() === 'ipv4' ? 32 : 128;
  if (prefix > bits) return refusal('sources.prefixTooLong', { entry, bits });
  return { address, prefix };
}

/** Checks one entry and returns its canonical CIDR (a bare address becomes /32 or /128). */
export function checkTrustedSource(rawEntry: string, policy: SourcePolicy): SourceCheck {
  const entry = rawEntry.trim();
  const parsed = parse(entry);
  if ('ok' in parsed) return parsed;
  const { address } = parsed;
  const v4 = address.kind() === 'ipv4';
  const bits = v4 ? 32 : 128;
  const prefix = parsed.prefix ?? bits;

  if (prefix === 0) {
    return refusal('sources.wholeInternet', { entry });
  }
  const cidrText = `${address.toString()}/${prefix}`;
  const network = v4
    ? ipaddr.IPv4.networkAddressFromCIDR(cidrText)
    : ipaddr.IPv6.networkAddressFromCIDR(cidrText);
  if (network.toString() !== address.toString()) {
    return refusal('sources.hostBits', {
      entry,
      network: `${network.toString()}/${prefix}`,
      address: address.toString(),
    });
  }
  const bounds = v4 ? policy.trustedSourcePrefixes.ipv4 : policy.trustedSourcePrefixes.ipv6;
  if (prefix < bounds.min || prefix > bounds.max) {
    return refusal('sources.prefixBounds', {
      entry,
      family: v4 ? 'IPv4' : 'IPv6',
      min: bounds.min,
      max: bounds.max,
    });
  }

  const last = v4
    ? ipaddr.IPv4.broadcastAddressFromCIDR(cidrText)
    : ipaddr.IPv6.broadcastAddressFromCIDR(cidrText);
  for (const edge of [network, last]) {
    const range = edge.range();
    if (range === 'unicast') {
      if (edge instanceof ipaddr.IPv6 && !edge.match(GLOBAL_UNICAST_V6)) {
        return refusal('sources.notGlobalIpv6', { entry });
      }
      continue;
    }
    if (!policy.public && PRIVATE_RANGES.has(range)) continue;
    // `range` is ipaddr.js's name of the range; the portal translates it (messages.sourceRanges in de.ts).
    return refusal(policy.public ? 'sources.rangePublicOnly' : 'sources.rangeLocal', {
      entry,
      range: describeRange(range),
      rangeKind: range,
    });
  }
  return { ok: true, cidr: `${network.toString()}/${prefix}` };
}

/** Canonical CIDRs of `entries` with their positions, each checked against the region's rules; duplicates refused. */
function canonicalSources(
  entries: string[],
  policy: SourcePolicy,
  ctx: z.RefinementCtx,
): { index: number; cidr: string }[] {
  const canonical: { index: number; cidr: string }[] = [];
  const firstIndex = new Map<string, number>();
  entries.forEach((entry, index) => {
    const check = checkTrustedSource(entry, policy);
    if (!check.ok) {
      ctx.addIssue(codedIssue(check.code, check.params, [index]));
      return;
    }
    const earlier = firstIndex.get(check.cidr);
    if (earlier !== undefined) {
      ctx.addIssue(codedIssue('sources.repeated', { entry, first: earlier + 1 }, [index]));
      return;
    }
    firstIndex.set(check.cidr, index);
    canonical.push({ index, cidr: check.cidr });
  });
  return canonical;
}

/**
 * The zod schema of a trusted-source list for one region: 1 to 50 entries, each valid, no duplicates (after
 * canonicalisation, so "192.0.2.1" and "192.0.2.1/32" are the same). Parses to canonical CIDRs.
 */
export function trustedSourcesSchema(policy: SourcePolicy) {
  return z
    .array(z.string().max(64), coded('sources.list'))
    .min(1, coded('sources.atLeastOne'))
    .max(MAX_TRUSTED_SOURCES, coded('sources.atMost', { max: MAX_TRUSTED_SOURCES }))
    .transform((entries, ctx) => canonicalSources(entries, policy, ctx).map(({ cidr }) => cidr));
}

/** Does the canonical range `cidr` lie wholly inside one of the canonical ranges `sources`? */
export function isWithinSources(cidr: string, sources: readonly string[]): boolean {
  const [network, prefix] = ipaddr.parseCIDR(cidr);
  return sources.some((source) => {
    const [outer, outerPrefix] = ipaddr.parseCIDR(source);
    return outer.kind() === network.kind() && outerPrefix <= prefix && network.match(outer, outerPrefix);
  });
}

/**
 * Admin sources: the sources that may also use the admin console and the admin REST API (/admin/) through the
 * edge; the other trusted sources get logins and tokens only. The same rules per entry as trusted sources, each
 * within `trustedSources` (an admin has to be able to connect at all), at most 50; an empty list means nobody
 * administers the instance through the edge. Parses to canonical CIDRs.
 */
export function adminSourcesSchema(policy: SourcePolicy, trustedSources: readonly string[]) {
  return z
    .array(z.string().max(64), coded('sources.list'))
    .max(MAX_TRUSTED_SOURCES, coded('sources.adminAtMost', { max: MAX_TRUSTED_SOURCES }))
    .transform((entries, ctx) =>
      canonicalSources(entries, policy, ctx).map(({ index, cidr }) => {
        if (!isWithinSources(cidr, trustedSources)) {
          ctx.addIssue(codedIssue('sources.adminNotTrusted', { entry: entries[index] ?? cidr }, [index]));
        }
        return cidr;
      }),
    );
}

/** Does `address` (as seen on a socket, IPv4-mapped IPv6 included) fall into one of the canonical CIDRs? */
export function isTrustedAddress(address: string, cidrs: readonly string[]): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed instanceof ipaddr.IPv6 && parsed.isIPv4MappedAddress()) parsed = parsed.toIPv4Address();
  return cidrs.some((cidr) => {
    const range = ipaddr.parseCIDR(cidr);
    return range[0].kind() === parsed.kind() && parsed.match(range);
  });
}
