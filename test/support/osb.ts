import type { LightMyRequestResponse } from 'fastify';
import type { Config } from '../../src/config/config-schema.js';
import { OSB_SERVICE_ID, planIdOf } from '../../src/osb/osb-schemas.js';
import type { TestKeyhouse } from './test-keyhouse.js';

export const OSB_USERNAME = 'platform';
export const OSB_PASSWORD = 'broker-password-for-tests';

/** Turns the broker on in a test configuration. */
export function enableBroker(config: Config) {
  config.osb.username = OSB_USERNAME;
  config.osb.password = OSB_PASSWORD;
}

export const basicAuth = (username = OSB_USERNAME, password = OSB_PASSWORD) =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

/** `cloudfoundry <base64 {"user_id": …}>`, as Cloud Foundry sends it. */
export const originatingIdentity = (userId: string) =>
  `cloudfoundry ${Buffer.from(JSON.stringify({ user_id: userId })).toString('base64')}`;

export const osbHeaders = (extra: Record<string, string> = {}) => ({
  authorization: basicAuth(),
  'x-broker-api-version': '2.17',
  ...extra,
});

/** A request to the broker with valid credentials and version unless `headers` replaces them. */
export function osb(
  keyhouse: TestKeyhouse,
  method: 'GET' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  options: { payload?: object; headers?: Record<string, string> } = {},
): Promise<LightMyRequestResponse> {
  return keyhouse.request({
    method,
    url: `/osb/v2${url}`,
    headers: options.headers ?? osbHeaders(),
    ...(options.payload ? { payload: options.payload } : {}),
  });
}

/** The query of a deprovision or unbind: service_id and plan_id are mandatory there. */
export const deleteQuery = (nodeSize = 'b2-4', acceptsIncomplete = true) =>
  `?${acceptsIncomplete ? 'accepts_incomplete=true&' : ''}service_id=${OSB_SERVICE_ID}&plan_id=${planIdOf(nodeSize)}`;

export function provisionBody(
  organizationGuid: string,
  parameters: Record<string, unknown> = { trustedSources: ['127.0.0.1'] },
  nodeSize = 'b2-4',
) {
  return {
    service_id: OSB_SERVICE_ID,
    plan_id: planIdOf(nodeSize),
    organization_guid: organizationGuid,
    space_guid: 'space-1',
    context: {
      platform: 'cloudfoundry',
      organization_guid: organizationGuid,
      space_guid: 'space-1',
      organization_name: 'Platform Org',
    },
    parameters,
  };
}
