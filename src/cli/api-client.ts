/**
 * The CLI's only way into Keyhouse: the REST API (/api/v1), with an API token. Refusals arrive as problem+json
 * documents and become ApiRefusal errors carrying the problem, so the CLI prints the server's own words.
 */
export type Problem = {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: { path: string; message: string }[];
  requestId?: string;
};

export class ApiRefusal extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
  }
}

/** A refusal found before sending: the same shape as the server's validation problem. */
export class LocalRefusal extends Error {
  constructor(
    message: string,
    readonly errors: { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

export type ApiClient = {
  readonly baseUrl: string;
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown, headers?: Record<string, string>): Promise<T>;
  put<T>(path: string, body: unknown): Promise<T>;
  delete<T>(path: string): Promise<T>;
  /** A GET whose answer is a file (a backup download): the raw response, refusals as ApiRefusal. */
  download(path: string): Promise<Response>;
  /** The raw response of a streaming GET (server-sent events). */
  stream(path: string, signal: AbortSignal): Promise<Response>;
};

async function refusalOf(response: Response): Promise<ApiRefusal> {
  const text = await response.text();
  let problem: Problem;
  try {
    problem = JSON.parse(text) as Problem;
  } catch (error) {
    // Not a problem document (a proxy's error page, say): its text is the detail.
    if (!(error instanceof SyntaxError)) throw error;
    problem = { title: response.statusText, detail: text.slice(0, 500) || `HTTP ${response.status}` };
  }
  return new ApiRefusal(response.status, problem);
}

export function createApiClient(options: { url: string; token?: string; cookie?: string }): ApiClient {
  const baseUrl = options.url.replace(/\/+$/, '');
  const headers = (extra: Record<string, string> = {}): Record<string, string> => ({
    accept: 'application/json',
    ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    ...(options.cookie ? { cookie: options.cookie } : {}),
    ...extra,
  });

  async function send<T>(method: string, path: string, body?: unknown, extra?: Record<string, string>) {
    const response = await fetch(baseUrl + path, {
      method,
      headers: headers(body === undefined ? extra : { 'content-type': 'application/json', ...extra }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw await refusalOf(response);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  return {
    baseUrl,
    get: (path) => send('GET', path),
    post: (path, body, extra) => send('POST', path, body, extra),
    put: (path, body) => send('PUT', path, body),
    delete: (path) => send('DELETE', path),
    async download(path) {
      const response = await fetch(baseUrl + path, { headers: headers({ accept: '*/*' }) });
      if (!response.ok) throw await refusalOf(response);
      return response;
    },
    async stream(path, signal) {
      const response = await fetch(baseUrl + path, {
        headers: headers({ accept: 'text/event-stream' }),
        signal,
      });
      if (!response.ok) throw await refusalOf(response);
      return response;
    },
  };
}
