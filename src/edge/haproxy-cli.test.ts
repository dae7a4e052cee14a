import { describe, expect, it } from 'vitest';
import { parseShowProc, parseShowSess, parseShowStat } from './haproxy-cli.js';

// Answers as HAProxy 2.6 gives them (Management Guide 9.3/9.4), captured from Debian's 2.6.12.
describe("HAProxy's runtime API answers", () => {
  it('reads the master, its workers and the leaving ones from "show proc"', () => {
    const table = parseShowProc(
      [
        '#<PID>          <type>          <reloads>       <uptime>        <version>      ',
        '16593           master          8 [failed: 1]   0d00h12m49s     2.6.12-1+deb12u4',
        '# workers',
        '10857           worker          0               0d00h00m02s     2.6.12-1+deb12u4',
        '# old workers',
        '10801           worker          1               0d00h00m09s     2.6.12-1+deb12u4',
        '# programs',
        '',
      ].join('\n'),
    );
    expect(table).toEqual({
      masterPid: 16593,
      reloads: 8,
      failedReloads: 1,
      workers: [10857],
      oldWorkers: [10801],
    });
    expect(() => parseShowProc('Unknown command')).toThrow(/no master/);
  });

  it('reads stream ids, frontends and source addresses (IPv4, IPv6, the CLI itself) from "show sess"', () => {
    const streams = parseShowSess(
      [
        '0x7f7b140282c0: proto=sockpair src=unix:1 fe=GLOBAL be=<NONE> srv=<none> ts=00 epoch=0 age=0s calls=1',
        '0x556af25cb5e0: proto=tcpv4 src=192.0.2.7:40412 fe=i-5d1f be=i-5d1f srv=keycloak ts=00 epoch=0x1 age=2s',
        '0x556af25cb9a0: proto=tcpv6 src=2001:db8::7:51234 fe=i-5d1f be=i-5d1f srv=keycloak ts=00 age=0s',
        '',
      ].join('\n'),
    );
    expect(streams).toEqual([
      { id: '0x7f7b140282c0', frontend: 'GLOBAL', source: undefined },
      { id: '0x556af25cb5e0', frontend: 'i-5d1f', source: '192.0.2.7' },
      { id: '0x556af25cb9a0', frontend: 'i-5d1f', source: '2001:db8::7' },
    ]);
  });

  it('keys "show stat" CSV rows by the header', () => {
    const rows = parseShowStat('# pxname,svname,dcon,req_tot\ni-1,FRONTEND,3,17\ni-1,keycloak,,\n');
    expect(rows[0]).toEqual({ pxname: 'i-1', svname: 'FRONTEND', dcon: '3', req_tot: '17' });
    expect(rows).toHaveLength(2);
  });
});
