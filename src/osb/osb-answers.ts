import type { z } from 'zod';
import type { Order } from '../orders/order-schemas.js';
import { ConflictError, DomainError, UnprocessableError, ValidationError } from '../platform/errors.js';

/**
 * The broker's answers: status and body as the OSB specification names them, `{ error?, description }` for
 * refusals. The use cases return them as values; the routes only send them.
 */
export type OsbAnswer = { status: number; body: Record<string, unknown> };

export const answer = (status: number, body: Record<string, unknown> = {}): OsbAnswer => ({ status, body });

export const refuse = (status: number, description: string, error?: string): OsbAnswer =>
  answer(status, error ? { error, description } : { description });

export const asyncRequired = () =>
  refuse(
    422,
    'Keycloak instances are provisioned, changed and deleted asynchronously; send accepts_incomplete=true.',
    'AsyncRequired',
  );

export const concurrency = (description: string) => refuse(422, description, 'ConcurrencyError');

export const unfinished = (order: Pick<Order, 'status'>) =>
  order.status === 'new' || order.status === 'processing';

/** Issues of a shared schema as one description naming each field: `parameters.storageGb: …; …`. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], prefix = 'parameters'): string {
  return issues
    .map((issue) => {
      const where = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
      return `${where}: ${issue.code === 'unrecognized_keys' ? `unknown ${issue.keys.join(', ')}` : issue.message}`;
    })
    .join('; ');
}

/** A domain refusal of the order service in OSB terms (400 for invalid input, 422 for the instance's state). */
export function answerForDomainError(error: DomainError): OsbAnswer | undefined {
  if (error instanceof ValidationError) {
    return refuse(400, error.errors.map((e) => `${e.path}: ${e.message}`).join('; ') || error.message);
  }
  if (error instanceof ConflictError) return concurrency(error.message);
  if (error instanceof UnprocessableError) return refuse(422, error.message);
  if (error.kind === 'not-found') return refuse(404, error.message);
  return undefined;
}
