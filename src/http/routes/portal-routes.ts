import { createReadStream, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { packageRoot } from '../../platform/package-root.js';

/** Paths that belong to the API and its neighbours: unknown ones there keep their problem+json 404. */
const RESERVED = /^\/(api|osb|docs|metrics|healthz|readyz)(\/|$)/;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
};

export const PORTAL_DIR = path.join(packageRoot, 'dist', 'web');

/**
 * Serves the built customer portal (`npm run build:web` → dist/web): hashed files under /assets/ are cached for a
 * year, every other GET outside the API's paths answers index.html so that the portal's router takes over.
 */
export function portalRoutes(options: { root?: string } = {}): FastifyPluginAsyncZod {
  const root = path.resolve(options.root ?? PORTAL_DIR);
  const indexFile = path.join(root, 'index.html');

  const fileOf = (urlPath: string): string | undefined => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(urlPath);
    } catch (error) {
      // A broken percent-encoding names no file of ours.
      if (error instanceof URIError) return undefined;
      throw error;
    }
    if (decoded.includes('\0')) return undefined;
    const file = path.resolve(root, '.' + path.posix.normalize(decoded));
    if (file !== root && !file.startsWith(root + path.sep)) return undefined;
    try {
      return statSync(file, { throwIfNoEntry: false })?.isFile() ? file : undefined;
    } catch (error) {
      // A path through a file (`/index.html/x`) or longer than the file system takes: no such file either.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR' || code === 'ENAMETOOLONG') return undefined;
      throw error;
    }
  };

  const send = (reply: FastifyReply, file: string, cacheControl: string) => {
    const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
    return reply
      .header('cache-control', cacheControl)
      .header('x-content-type-options', 'nosniff')
      .type(type)
      .send(createReadStream(file));
  };

  return async (app) => {
    app.get('/*', { schema: { hide: true } }, async (request: FastifyRequest, reply: FastifyReply) => {
      const urlPath = request.url.split('?')[0] ?? '/';
      if (RESERVED.test(urlPath)) return reply.callNotFound();
      if (!existsSync(indexFile)) return reply.callNotFound();
      const file = fileOf(urlPath);
      if (urlPath.startsWith('/assets/')) {
        if (!file) return reply.callNotFound();
        return send(reply, file, 'public, max-age=31536000, immutable');
      }
      if (file && file !== indexFile) return send(reply, file, 'public, max-age=300');
      // The operator console exists only for operators: everybody else gets the 404 of an unknown path.
      if (/^\/ops(\/|$)/.test(urlPath) && !request.operator) return reply.callNotFound();
      // The portal's own routes (/, /orders/new, /instances/…): the page decides what to show.
      return send(reply, indexFile, 'no-cache').header('x-frame-options', 'DENY');
    });
  };
}
