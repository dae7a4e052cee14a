import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { PROBLEM_BASE } from './problem.js';

/**
 * Answers a request that Node's HTTP parser refused before Fastify saw it (headers over 16 KB, a broken request
 * line, a timeout) with a problem document, then closes the connection. The request never reached a route, so
 * the document also carries `description`, the member the service broker's clients read (OSB error format).
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const known: Record<string, { status: number; type: string; title: string; detail: string }> = {
    HPE_HEADER_OVERFLOW: {
      status: 431,
      type: 'headers-too-large',
      title: 'Request headers too large',
      detail: 'The request headers are larger than 16 KB.',
    },
    ERR_HTTP_REQUEST_TIMEOUT: {
      status: 408,
      type: 'timeout',
      title: 'Request timeout',
      detail: 'The request did not arrive in time.',
    },
  };
  const problem = (error.code && known[error.code]) || {
    status: 400,
    type: 'malformed',
    title: 'Malformed request',
    detail: 'The request is not valid HTTP/1.1.',
  };
  const body = JSON.stringify({
    ...problem,
    type: PROBLEM_BASE + problem.type,
    description: problem.detail,
  });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\n` +
        'Content-Type: application/problem+json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  }
  socket.destroy(error);
}
