import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { allocatePorts, isPortFree, PortRangeExhaustedError } from './port-allocation.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

function listen(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    servers.push(server);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
}

describe('port allocation', () => {
  it('takes the lowest distinct ports that are neither recorded nor in use', async () => {
    const busy = new Set([19001]);
    const ports = await allocatePorts({
      range: { from: 19000, to: 19010 },
      taken: new Set([19000, 19002]),
      count: 2,
      isFree: async (port) => !busy.has(port),
    });
    expect(ports).toEqual([19003, 19004]);
  });

  it('fails clearly when the range is used up', async () => {
    await expect(
      allocatePorts({
        range: { from: 19000, to: 19002 },
        taken: new Set([19000]),
        count: 3,
        isFree: async () => true,
      }),
    ).rejects.toBeInstanceOf(PortRangeExhaustedError);
  });

  it('sees a real listener on loopback', async () => {
    const port = await listen();
    expect(await isPortFree(port)).toBe(false);
    const [chosen] = await allocatePorts({
      range: { from: port, to: port + 20 },
      taken: new Set(),
      count: 1,
    });
    expect(chosen).not.toBe(port);
  });
});
