import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import {
  checkTrustedSource,
  isTrustedAddress,
  trustedSourcesSchema,
  type SourcePolicy,
} from './trusted-sources.js';

const localPolicy: SourcePolicy = {
  public: false,
  trustedSourcePrefixes: { ipv4: { min: 24, max: 32 }, ipv6: { min: 48, max: 128 } },
};
const publicPolicy: SourcePolicy = { ...localPolicy, public: true };

const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
/** Public unicast IPv4 addresses (first octet chosen outside every special range). */
const publicV4 = fc
  .tuple(fc.constantFrom(1, 8, 23, 45, 77, 91, 130, 151, 185, 212), fc.nat(255), fc.nat(255), fc.nat(255))
  .map((o) => o.join('.'));

const message = (entry: string, policy = localPolicy) => {
  const check = checkTrustedSource(entry, policy);
  return check.ok ? undefined : check.message;
};

describe('trusted sources', () => {
  it('turns a bare address into a single-host range', () => {
    expect(checkTrustedSource('93.184.216.34', publicPolicy)).toEqual({ ok: true, cidr: '93.184.216.34/32' });
    expect(checkTrustedSource('2A00:1450:4001::1', publicPolicy)).toEqual({
      ok: true,
      cidr: '2a00:1450:4001::1/128',
    });
  });

  it('names the correct network when host bits are set', () => {
    expect(message('203.0.113.7/24')).toContain('203.0.113.0/24');
    expect(message('2a00:1450:4001:1::/48', publicPolicy)).toContain('2a00:1450:4001::/48');
  });

  it('refuses "any" rules in both families', () => {
    expect(message('0.0.0.0/0')).toMatch(/whole Internet/);
    expect(message('::/0')).toMatch(/whole Internet/);
  });

  it('enforces the region prefix bounds', () => {
    expect(message('93.184.0.0/16', publicPolicy)).toMatch(/between \/24 and \/32/);
    expect(message('2a00:1450::/32', publicPolicy)).toMatch(/between \/48 and \/128/);
    const wide = {
      ...publicPolicy,
      trustedSourcePrefixes: { ...publicPolicy.trustedSourcePrefixes, ipv4: { min: 16, max: 32 } },
    };
    expect(checkTrustedSource('93.184.0.0/16', wide)).toEqual({ ok: true, cidr: '93.184.0.0/16' });
  });

  it('accepts private and loopback sources only in the local region', () => {
    for (const entry of ['127.0.0.1', '10.1.2.0/24', '192.168.1.10', '::1', 'fd00:1:2::/48']) {
      expect(checkTrustedSource(entry, localPolicy).ok).toBe(true);
      expect(message(entry, publicPolicy)).toMatch(/accepts only public unicast/);
    }
  });

  it('refuses special-purpose ranges everywhere', () => {
    for (const entry of [
      '224.0.0.1',
      '169.254.1.1',
      '255.255.255.255',
      '100.64.0.1',
      'ff02::1',
      'fe80::1',
      '::',
    ]) {
      expect(message(entry)).toBeDefined();
    }
  });

  it('refuses malformed input with a readable message', () => {
    expect(message('1.2.3')).toMatch(/not an IPv4 or IPv6 address/);
    expect(message('0x7f.0.0.1')).toMatch(/not an IPv4 or IPv6 address/);
    expect(message('1.2.3.4/33')).toMatch(/above \/32/);
    expect(message('1.2.3.4/x')).toMatch(/not a number/);
    expect(message('1.2.3.4/24/1')).toMatch(/more than one/);
    expect(message('::ffff:1.2.3.4')).toMatch(/write it as 1.2.3.4/);
  });

  it('property: every public address is accepted as itself, /32', () => {
    fc.assert(
      fc.property(publicV4, (address) => {
        expect(checkTrustedSource(address, publicPolicy)).toEqual({ ok: true, cidr: `${address}/32` });
      }),
    );
  });

  it('property: an accepted range is canonical, within bounds, and accepted again unchanged', () => {
    fc.assert(
      fc.property(v4, fc.integer({ min: 0, max: 32 }), (octets, prefix) => {
        const entry = `${octets.join('.')}/${prefix}`;
        const check = checkTrustedSource(entry, localPolicy);
        if (!check.ok) return;
        const [network, length] = ipaddr.parseCIDR(check.cidr);
        expect(length).toBeGreaterThanOrEqual(24);
        expect(ipaddr.IPv4.networkAddressFromCIDR(check.cidr).toString()).toBe(network.toString());
        expect(checkTrustedSource(check.cidr, localPolicy)).toEqual(check);
      }),
    );
  });

  it('property: host bits set are always refused, naming the network that contains the address', () => {
    fc.assert(
      fc.property(publicV4, fc.integer({ min: 24, max: 31 }), (address, prefix) => {
        const network = ipaddr.IPv4.networkAddressFromCIDR(`${address}/${prefix}`).toString();
        const check = checkTrustedSource(`${address}/${prefix}`, publicPolicy);
        if (network === address) expect(check.ok).toBe(true);
        else
          expect(check).toMatchObject({
            ok: false,
            code: 'sources.hostBits',
            message: expect.stringContaining(`${network}/${prefix}`),
          });
      }),
    );
  });

  it('property: an accepted range matches exactly the addresses inside it', () => {
    fc.assert(
      fc.property(publicV4, fc.integer({ min: 24, max: 32 }), v4, (address, prefix, probe) => {
        const cidr = `${ipaddr.IPv4.networkAddressFromCIDR(`${address}/${prefix}`).toString()}/${prefix}`;
        const probeText = probe.join('.');
        const inside = ipaddr.IPv4.parse(probeText).match(ipaddr.parseCIDR(cidr) as [ipaddr.IPv4, number]);
        expect(isTrustedAddress(probeText, [cidr])).toBe(inside);
        expect(isTrustedAddress(`::ffff:${probeText}`, [cidr])).toBe(inside);
      }),
    );
  });

  it('lists: 1 to 50 entries, duplicates after canonicalisation refused with the entry they repeat', () => {
    const schema = trustedSourcesSchema(publicPolicy);
    expect(schema.safeParse([]).success).toBe(false);
    const fifty = Array.from({ length: 50 }, (_, i) => `93.184.216.${i}`);
    expect(schema.parse(fifty)).toHaveLength(50);
    expect(schema.safeParse([...fifty, '93.184.216.99']).success).toBe(false);
    const duplicate = schema.safeParse(['93.184.216.34', '93.184.216.34/32']);
    expect(duplicate.success).toBe(false);
    expect(duplicate.error?.issues[0]).toMatchObject({
      path: [1],
      message: expect.stringContaining('entry 1'),
    });
  });
});
