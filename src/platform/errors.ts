/**
 * Domain errors: what went wrong, in words for the person who reads them. They know nothing of HTTP; the one
 * mapping to problem+json lives in src/http/problem.ts.
 */
export type FieldError = {
  path: string;
  /** In English, for the person who reads it. */
  message: string;
  /** The message's code and parameters (src/platform/messages.ts), for a translation. */
  code?: string;
  params?: Record<string, string | number>;
};

export abstract class DomainError extends Error {
  abstract readonly kind:
    | 'validation'
    | 'unauthenticated'
    | 'forbidden'
    | 'not-found'
    | 'conflict'
    | 'unprocessable'
    | 'rate-limited'
    | 'unavailable';
}

/** Input broke a rule; `errors` names each field at fault. */
export class ValidationError extends DomainError {
  readonly kind = 'validation';
  constructor(
    readonly errors: FieldError[],
    message = errors.length === 1 ? errors[0]!.message : 'The request has invalid fields.',
  ) {
    super(message);
  }
}

export class UnauthenticatedError extends DomainError {
  readonly kind = 'unauthenticated';
  constructor(
    message = 'Sign in, or send a valid API token.',
    /** Extra members for the problem document, e.g. `twoFactorRequired: true`. */
    readonly details: Record<string, string | boolean> = {},
  ) {
    super(message);
  }
}

export class ForbiddenError extends DomainError {
  readonly kind = 'forbidden';
}

/** Also used for resources of another organisation: they do not exist for the caller. */
export class NotFoundError extends DomainError {
  readonly kind = 'not-found';
  constructor(readonly resource: string) {
    super(`${resource} not found.`);
  }
}

export class ConflictError extends DomainError {
  readonly kind = 'conflict';
  constructor(
    message: string,
    /** Extra members for the problem document, e.g. a link to the order that blocks this one. */
    readonly details: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Well-formed but not acceptable in the current state, e.g. an idempotency key reused with another body. */
export class UnprocessableError extends DomainError {
  readonly kind = 'unprocessable';
  constructor(
    message: string,
    /** Extra members for the problem document, e.g. a `reason` code the portal words in its language. */
    readonly details: Record<string, string> = {},
  ) {
    super(message);
  }
}

export class RateLimitedError extends DomainError {
  readonly kind = 'rate-limited';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

export class UnavailableError extends DomainError {
  readonly kind = 'unavailable';
}
