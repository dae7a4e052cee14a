import { createServer } from 'node:net';

/** True when nothing listens on host:port right now (we could bind it ourselves). */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export class PortRangeExhaustedError extends Error {
  constructor(range: { from: number; to: number }) {
    super(`No free ports left in the Keycloak port range ${range.from}-${range.to}.`);
    this.name = 'PortRangeExhaustedError';
  }
}

/**
 * The lowest `count` distinct ports of the range that no other instance has recorded (`taken`) and nothing listens
 * on. Recorded ports count as taken even while their instance is stopped, so a restart finds its ports again.
 */
export async function allocatePorts(options: {
  range: { from: number; to: number };
  taken: ReadonlySet<number>;
  count: number;
  isFree?: (port: number) => Promise<boolean>;
}): Promise<number[]> {
  const isFree = options.isFree ?? isPortFree;
  const ports: number[] = [];
  for (let port = options.range.from; port <= options.range.to && ports.length < options.count; port++) {
    if (options.taken.has(port)) continue;
    if (await isFree(port)) ports.push(port);
  }
  if (ports.length < options.count) throw new PortRangeExhaustedError(options.range);
  return ports;
}
