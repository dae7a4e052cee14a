import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
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
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .catchall(z.unknown());
export type Problem = z.infer<typeof problemSchema>;

const PROBLEM_BASE = 'https://keyhouse.dev/problems/';

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
    instance: request.url.split('?')[0],
    requestId: request.id,
  };
  return reply.status(problem.status).type('application/problem+json').send(body);
}

function fieldPath(part: string | undefined, instancePath: string): string {
  const inner = instancePath.replace(/^\//, '').split('/').filter(Boolean).join('.');
  if (part === 'body' || !part) return inner || '(body)';
  return inner ? `${part}.${inner}` : part;
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
  if (hasZodFastifySchemaValidationErrors(error)) {
    const errors = error.validation.map((v) => ({
      path: fieldPath(error.validationContext, v.instancePath),
      message: v.message ?? 'invalid',
    }));
    return sendProblem(request, reply, {
      ...byKind.validation,
      detail:
        errors.length === 1 ? `${errors[0]!.path}: ${errors[0]!.message}` : 'The request has invalid fields.',
      errors,
    });
  }
  const status = (error as FastifyError).statusCode;
  if (status && status >= 400 && status < 500) {
    const known: Record<number, { type: string; title: string; detail: string }> = {
      400: { type: 'malformed', title: 'Malformed request', detail: 'The request body is not valid JSON.' },
      413: { type: 'too-large', title: 'Body too large', detail: 'The request body is larger than 64 KB.' },
      415: {
        type: 'unsupported-media-type',
        title: 'Unsupported media type',
        detail: 'Send the body as application/json.',
      },
    };
    const mapped = known[status] ?? { type: 'bad-request', title: 'Bad request', detail: error.message };
    return sendProblem(request, reply, { status, ...mapped });
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
  413: 'Body larger than 64 KB',
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
