// The baseline: a bare Fastify hello-world on the same machine.
import Fastify from 'fastify';

const app = Fastify();
app.post('/hello', async () => ({ hello: 'world' }));
console.log(await app.listen({ host: '127.0.0.1', port: 0 }));
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
