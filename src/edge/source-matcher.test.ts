import { describe, expect, it } from 'vitest';
import { compileSourceMatcher } from './source-matcher.js';

describe('compileSourceMatcher', () => {
  it('matches IPv4 CIDRs at their borders', () => {
    const matcher = compileSourceMatcher(['192.0.2.0/24', '198.51.100.7/32']);
    expect(matcher.allows('192.0.2.0')).toBe(true);
    expect(matcher.allows('192.0.2.255')).toBe(true);
    expect(matcher.allows('192.0.3.0')).toBe(false);
    expect(matcher.allows('198.51.100.7')).toBe(true);
    expect(matcher.allows('198.51.100.8')).toBe(false);
  });

  it('unwraps IPv4-mapped IPv6 addresses from dual-stack listeners', () => {
    const matcher = compileSourceMatcher(['127.0.0.1/32', '10.1.0.0/16']);
    expect(matcher.allows('::ffff:127.0.0.1')).toBe(true);
    expect(matcher.allows('::FFFF:10.1.200.3')).toBe(true);
    expect(matcher.allows('::ffff:127.0.0.2')).toBe(false);
  });

  it('keeps IPv4 and IPv6 apart', () => {
    const matcher = compileSourceMatcher(['2001:db8::/32']);
    expect(matcher.allows('2001:db8:0:1::5')).toBe(true);
    expect(matcher.allows('2001:db9::1')).toBe(false);
    expect(matcher.allows('32.1.13.184')).toBe(false);
    expect(compileSourceMatcher(['127.0.0.1/32']).allows('::1')).toBe(false);
  });

  it('treats a mapped IPv6 range like its IPv4 equivalent', () => {
    const matcher = compileSourceMatcher(['::ffff:192.0.2.0/120']);
    expect(matcher.allows('192.0.2.77')).toBe(true);
    expect(matcher.allows('192.0.3.1')).toBe(false);
  });

  it('fails closed: garbage entries, empty lists and unknown addresses allow nothing', () => {
    const matcher = compileSourceMatcher(['not-a-cidr', '10.0.0.0/8']);
    expect(matcher.rejected).toEqual(['not-a-cidr']);
    expect(matcher.allows('10.9.9.9')).toBe(true);
    expect(matcher.allows(undefined)).toBe(false);
    expect(matcher.allows('')).toBe(false);
    expect(matcher.allows('garbage')).toBe(false);
    expect(compileSourceMatcher([]).allows('127.0.0.1')).toBe(false);
  });
});
