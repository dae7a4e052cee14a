import { describe, expect, it } from 'vitest';
import { parseServersState } from './edge-upstream.js';

// As HAProxy 2.6.12 (Debian 12) answers `show servers state i-abc`.
const SHOWN = [
  '1',
  '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port',
  '1 i-abc 1 keycloak 127.0.0.1 2 0 1 1 2 1 0 2 0 0 0 0 - 28112 - 0 0 - - 0',
  '',
].join('\n');

describe('parseServersState', () => {
  it('reads each server’s port by its name', () => {
    expect(parseServersState(SHOWN)).toEqual(new Map([['keycloak', 28112]]));
  });

  it('answers nothing for an unknown backend', () => {
    expect(parseServersState("Can't find backend.\n")).toEqual(new Map());
  });
});
