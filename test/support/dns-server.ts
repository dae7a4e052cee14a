import { createSocket, type RemoteInfo } from 'node:dgram';
import { once } from 'node:events';
import { createServer } from 'node:net';
import dnsPacket from 'dns-packet';

/**
 * A small authoritative DNS server on loopback UDP for tests (custom domains, pebble's ACME validation): answers A
 * and CNAME records from `zone`, following CNAMEs inside it; names outside the zone are NXDOMAIN. The zone can be
 * changed while it runs (a customer creating the record).
 */
export type TestDnsServer = {
  /** `127.0.0.1:<port>`, for resolvers and pebble's -dnsserver. */
  address: string;
  zone: Map<string, { A?: string[]; CNAME?: string }>;
  close(): Promise<void>;
};

/** UDP takes a free port, TCP the same number: taken over TCP by another process now and then, then again. */
export async function startTestDnsServer(): Promise<TestDnsServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt === 10) throw error;
    }
  }
}

async function startOnce(): Promise<TestDnsServer> {
  const zone: TestDnsServer['zone'] = new Map();
  const socket = createSocket('udp4');
  const answer = (message: Buffer): Buffer => {
    const query = dnsPacket.decode(message);
    const question = query.questions?.[0];
    const answers: dnsPacket.Answer[] = [];
    let name = question?.name.toLowerCase() ?? '';
    let known = zone.has(name);
    for (let hops = 0; question && zone.has(name) && hops < 8; hops++) {
      const record = zone.get(name)!;
      if (record.CNAME && question.type !== 'CNAME') {
        answers.push({ type: 'CNAME', name, ttl: 5, data: record.CNAME });
        name = record.CNAME;
        continue;
      }
      if (question.type === 'CNAME' && record.CNAME)
        answers.push({ type: 'CNAME', name, ttl: 5, data: record.CNAME });
      if (question.type === 'A')
        for (const a of record.A ?? []) answers.push({ type: 'A', name, ttl: 5, data: a });
      break;
    }
    known ||= answers.length > 0;
    return dnsPacket.encode({
      type: 'response',
      id: query.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (known ? 0 : 3), // rcode 3: NXDOMAIN
      questions: query.questions,
      answers,
    });
  };
  socket.on('message', (message: Buffer, remote: RemoteInfo) =>
    socket.send(answer(message), remote.port, remote.address),
  );
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const port = socket.address().port;
  // The same over TCP (pebble's resolver asks over TCP): each message with a two-byte length before it.
  const tcp = createServer((connection) => {
    let buffered = Buffer.alloc(0);
    connection.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const message = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + message.length);
        const response = answer(Buffer.from(message));
        const length = Buffer.alloc(2);
        length.writeUInt16BE(response.length);
        connection.write(Buffer.concat([length, response]));
      }
    });
    connection.on('error', () => connection.destroy());
  });
  tcp.listen(port, '127.0.0.1');
  try {
    await once(tcp, 'listening');
  } catch (error) {
    socket.close();
    throw error;
  }
  return {
    address: `127.0.0.1:${port}`,
    zone,
    close: async () => {
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}
