import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  ConflictError,
  DomainError,
  RateLimitedError,
  UnauthenticatedError,
  UnprocessableError,
  ValidationError,
  type FieldError,
} from '../platform/errors.js';

/** RFC 9457 problem details; `errors` names the fields at fault. */
export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    instance: z.string().optional(),
    requestId: z.string(),
    errors: z
      .array(
        z.object({
          path: z.string(),
          message: z.string(),
          code: z.string().optional().describe('Message code (translations of the portal)'),
          params: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
        }),
      )
      .optional(),
  })
  .catchall(z.unknown());
export type Problem = z.infer<typeof problemSchema>;

export const PROBLEM_BASE = 'https://keyhouse.dev/problems/';

const byKind: Record<DomainError['kind'], { status: number; type: string; title: string }> = {
  validation: { status: 400, type: 'validation', title: 'Invalid request' },
  unauthenticated: { status: 401, type: 'unauthenticated', title: 'Not signed in' },
  forbidden: { status: 403, type: 'forbidden', title: 'Not allowed' },
  'not-found': { status: 404, type: 'not-found', title: 'Not found' },
  conflict: { status: 409, type: 'conflict', title: 'Conflict' },
  unprocessable: { status: 422, type: 'unprocessable', title: 'Cannot be processed' },
  'rate-limited': { status: 429, type: 'rate-limited', title: 'Too many requests' },
  unavailable: { status: 503, type: 'unavailable', title: 'Temporarily unavailable' },
};

/** The request's path as a problem may show it: without the query, and never an echo of an over-long URL. */
export function pathOf(url: string): string {
  const path = url.split('?')[0] ?? '/';
  return path.length <= 200 ? path : `${path.slice(0, 200)}…`;
}

export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  problem: { status: number; type: string; title: string; detail: string; errors?: FieldError[] } & Record<
    string,
    unknown
  >,
) {
  const body: Problem = {
    ...problem,
    type: PROBLEM_BASE + problem.type,
    instance: pathOf(request.url),
    requestId: request.id,
  };
  return reply.status(problem.status).type('application/problem+json').send(body);
}

/** Problems for the errors Fastify raises before a route's handler runs, by error code. */
const frameworkProblems: Record<string, { status: number; type: string; title: string; detail: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: {
    status: 400,
    type: 'malformed',
    title: 'Malformed request',
    detail: 'The request body is not valid JSON.',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    type: 'malformed',
    title: 'Malformed request',
    detail: 'The request says it sends JSON but its body is empty.',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    type: 'malformed',
    title: 'Malformed request',
    detail: 'The Content-Length header does not match the body.',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    type: 'too-large',
    title: 'Body too large',
    detail: 'The request body is larger than 64 KB.',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    type: 'unsupported-media-type',
    title: 'Unsupported media type',
    detail: 'Send the body as application/json.',
  },
  FST_ERR_BAD_URL: {
    status: 400,
    type: 'malformed-url',
    title: 'Malformed URL',
    detail: 'The URL has a broken percent-encoding.',
  },
  FST_ERR_MAX_PARAM_LENGTH: {
    status: 414,
    type: 'uri-too-long',
    title: 'URI too long',
    detail: 'A part of the path is longer than any id of this API.',
  },
};

/** The problem for an error Fastify raised before the handler (malformed body, bad URL, …), if it is one. */
export function frameworkProblemOf(error: Error) {
  const { code } = error as FastifyError;
  return code === undefined ? undefined : frameworkProblems[code];
}

/** The one place where errors become HTTP responses. Anything unexpected is a 500 without internals. */
export function handleError(
  error: FastifyError | DomainError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  if (error instanceof DomainError) {
    const mapped = byKind[error.kind];
    const extra: Record<string, unknown> = {};
    if (error instanceof ValidationError) extra.errors = error.errors;
    if (
      error instanceof ConflictError ||
      error instanceof UnauthenticatedError ||
      error instanceof UnprocessableError
    )
      Object.assign(extra, error.details);
    if (error instanceof RateLimitedError) reply.header('retry-after', String(error.retryAfterSeconds));
    return sendProblem(request, reply, { ...mapped, detail: error.message, ...extra });
  }
  const known = frameworkProblemOf(error);
  if (known?.status === 413) {
    // Routes take different bodies (a theme archive is larger than any JSON body): name this route's limit.
    const kb = Math.round((request.routeOptions.bodyLimit ?? 65_536) / 1024);
    return sendProblem(request, reply, { ...known, detail: `The request body is larger than ${kb} KB.` });
  }
  if (known) return sendProblem(request, reply, known);
  const { statusCode } = error as FastifyError;
  if (statusCode && statusCode >= 400 && statusCode < 500) {
    return sendProblem(request, reply, {
      status: statusCode,
      type: 'bad-request',
      title: 'Bad request',
      detail: error.message.slice(0, 300),
    });
  }
  request.log.error({ err: error }, 'unexpected error');
  return sendProblem(request, reply, {
    status: 500,
    type: 'internal',
    title: 'Internal error',
    detail: `Something went wrong on our side. Quote request id ${request.id} in a ticket.`,
  });
}

const problemDescriptions: Record<number, string> = {
  400: 'Invalid request: `errors` names each field at fault',
  401: 'Not signed in, or the API token is invalid',
  403: 'The role may not do this, or the CSRF token is missing',
  404: 'Not found (also for resources of other organisations)',
  409: 'Conflicts with the current state, e.g. another order of the instance is running',
  413: 'Body larger than the operation takes (64 KB; a theme upload 7 MB)',
  415: 'Body is not application/json',
  422: 'Idempotency-Key reused with a different request',
  429: 'Too many attempts; see Retry-After',
};

/** Problem responses for a route's OpenAPI description. */
export function problemResponses(...statuses: (keyof typeof problemDescriptions)[]) {
  return Object.fromEntries(
    statuses.map((status) => [status, problemSchema.describe(problemDescriptions[status]!)]),
  );
}
