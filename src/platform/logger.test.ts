import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactUrl } from './logger.js';

describe('logger', () => {
  it('never writes credentials, wherever they appear', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ destination });
    logger.info(
      {
        req: {
          headers: {
            authorization: 'Bearer kh_secret1',
            cookie: 'keyhouse_session=secret2',
            'x-csrf-token': 'secret3',
          },
        },
        res: { headers: { 'set-cookie': 'keyhouse_session=secret4' } },
        body: { password: 'secret5', token: 'secret6' },
      },
      'request',
    );
    const output = lines.join('');
    expect(output).toContain('[redacted]');
    for (let i = 1; i <= 6; i++) expect(output).not.toContain(`secret${i}`);
  });
});

describe('redactUrl', () => {
  it('hides the token of invitation links and keeps the rest of the path', () => {
    expect(redactUrl('/api/v1/invitations/abcDEF123_-x/accept')).toBe(
      '/api/v1/invitations/[redacted]/accept',
    );
    expect(redactUrl('/invitations/abcDEF123_-x?lang=de')).toBe('/invitations/[redacted]?lang=de');
    expect(redactUrl('/api/v1/invitations?limit=5')).toBe('/api/v1/invitations?limit=5');
  });
});
