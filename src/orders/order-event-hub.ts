import pg from 'pg';
import type { Logger } from 'pino';
import { ORDER_EVENTS_CHANNEL } from './order-status.js';

/**
 * Fans out PostgreSQL notifications of order changes (status and steps, from any process) to the server-sent event
 * streams of this process, over one LISTEN connection that is re-established when it drops.
 */
export type OrderEventHub = {
  subscribe(orderId: string, onChange: () => void): () => void;
  close(): Promise<void>;
};

export function createOrderEventHub(options: { databaseUrl: string; logger: Logger }): OrderEventHub {
  const subscribers = new Map<string, Set<() => void>>();
  let client: pg.Client | undefined;
  let closed = false;
  let connecting: Promise<void> | undefined;

  const connect = (): Promise<void> => {
    connecting ??= (async () => {
      const next = new pg.Client({ connectionString: options.databaseUrl });
      next.on('notification', (message) => {
        for (const notify of subscribers.get(message.payload ?? '') ?? []) notify();
      });
      next.on('error', (error) => {
        options.logger.warn({ err: error }, 'order event connection lost; reconnecting');
        client = undefined;
        connecting = undefined;
        if (!closed && subscribers.size)
          setTimeout(() => void connect().catch(() => undefined), 1000).unref();
      });
      await next.connect();
      await next.query(`LISTEN ${ORDER_EVENTS_CHANNEL}`);
      client = next;
    })().catch((error: unknown) => {
      connecting = undefined;
      throw error;
    });
    return connecting;
  };

  return {
    subscribe(orderId, onChange) {
      let set = subscribers.get(orderId);
      if (!set) subscribers.set(orderId, (set = new Set()));
      set.add(onChange);
      // Streams fall back to their periodic refresh while the connection is away.
      if (!client)
        void connect().catch((error: unknown) => options.logger.warn({ err: error }, 'LISTEN failed'));
      return () => {
        set.delete(onChange);
        if (!set.size) subscribers.delete(orderId);
      };
    },
    async close() {
      closed = true;
      await client?.end().catch(() => undefined);
    },
  };
}
