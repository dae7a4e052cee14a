import { createSocket, type RemoteInfo } from 'node:dgram';
import { once } from 'node:events';
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

export async function startTestDnsServer(): Promise<TestDnsServer> {
  const zone: TestDnsServer['zone'] = new Map();
  const socket = createSocket('udp4');
  socket.on('message', (message: Buffer, remote: RemoteInfo) => {
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
    const response = dnsPacket.encode({
      type: 'response',
      id: query.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (known ? 0 : 3), // rcode 3: NXDOMAIN
      questions: query.questions,
      answers,
    });
    socket.send(response, remote.port, remote.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return {
    address: `127.0.0.1:${socket.address().port}`,
    zone,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
