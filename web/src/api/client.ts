import type { FieldError, Problem } from './types';

/** The CSRF token of the session: in memory, and in sessionStorage so a reload keeps it. */
const CSRF_KEY = 'keyhouse.csrf';
let csrfToken: string | undefined = sessionStorage.getItem(CSRF_KEY) ?? undefined;

export function setCsrfToken(token: string | undefined) {
  csrfToken = token;
  if (token) sessionStorage.setItem(CSRF_KEY, token);
  else sessionStorage.removeItem(CSRF_KEY);
}

/** An answer other than 2xx, carrying the problem document (or a made-up one for non-problem answers). */
export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail || problem.title);
  }
  get status() {
    return this.problem.status;
  }
  get fieldErrors(): FieldError[] {
    return this.problem.errors ?? [];
  }
}

type RequestOptions = { body?: unknown; idempotencyKey?: string; signal?: AbortSignal };

export async function api<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError({
      type: 'network',
      title: 'Network error',
      status: 0,
      detail: 'The server could not be reached. Check your connection and try again.',
    });
  }
  if (response.status === 204) return undefined as T;
  const type = response.headers.get('content-type') ?? '';
  const payload: unknown = type.includes('json') ? await response.json().catch(() => undefined) : undefined;
  if (!response.ok) {
    const problem = payload as Partial<Problem> | undefined;
    throw new ApiError({
      type: problem?.type ?? 'about:blank',
      title: problem?.title ?? response.statusText,
      status: response.status,
      detail: problem?.detail ?? `${response.status} ${response.statusText}`,
      requestId: problem?.requestId ?? response.headers.get('x-request-id') ?? undefined,
      errors: Array.isArray(problem?.errors) ? problem.errors : undefined,
      runningOrder: typeof problem?.runningOrder === 'string' ? problem.runningOrder : undefined,
      twoFactorRequired: problem?.twoFactorRequired === true ? true : undefined,
      reason: typeof problem?.reason === 'string' ? problem.reason : undefined,
    });
  }
  return payload as T;
}
