// The one way the dashboard talks to the server. Every response is the envelope
// `{data, error}` of API.md; this turns it into a value or an `ApiError` a page can show.
// The dashboard authenticates with the session cookie (same origin) and sends the selected
// team as `team_id` and, on every non-GET request, the CSRF token from `GET /user`.

export class ApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  /** Seconds to wait, from `Retry-After` (429). */
  readonly retryAfter: number | undefined;
  /** Each located problem of a 400 on a whole document (an automation): `{field, message}`. */
  readonly problems: { field: string; message: string }[];
  constructor(
    status: number,
    message: string,
    code?: string,
    retryAfter?: number,
    problems: { field: string; message: string }[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.problems = problems;
  }
}

type Envelope = { data?: unknown; error?: unknown; code?: unknown; problems?: unknown };

export type QueryValue = string | number | boolean | null | undefined | readonly string[];

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH';
  query?: Record<string, QueryValue>;
  body?: unknown;
  signal?: AbortSignal;
  /** Do not send `team_id` (auth endpoints, `GET /user`). */
  noTeam?: boolean;
  /** A 401 is the answer itself (wrong password), not "signed out": do not redirect. */
  noAuthRedirect?: boolean;
}

export interface ApiConfig {
  fetch: typeof fetch;
  teamId: () => string | null;
  csrfToken: () => string | null;
  /** Called once per 401 outside the auth endpoints: the session is gone. */
  onUnauthorized: () => void;
}

const config: ApiConfig = {
  fetch: (...args) => globalThis.fetch(...args),
  teamId: () => null,
  csrfToken: () => null,
  onUnauthorized: () => {},
};

export function configureApi(c: Partial<ApiConfig>): void {
  Object.assign(config, c);
}

/**
 * The headers every request of the dashboard carries (`team_id`; `x-csrf-token` when not a GET),
 * for the few requests that do not go through `api()` (the live calls stream).
 */
export function requestHeaders(method = 'GET'): Record<string, string> {
  const headers: Record<string, string> = {};
  const team = config.teamId();
  if (team) headers['team_id'] = team;
  if (method !== 'GET') {
    const csrf = config.csrfToken();
    if (csrf) headers['x-csrf-token'] = csrf;
  }
  return headers;
}

/** The session is gone (a 401 seen outside `api()`): same handling as there. */
export function signedOut(): void {
  config.onUnauthorized();
}

/** The fetch the client uses (replaced in tests). */
export function apiFetch(input: string, init?: RequestInit): Promise<Response> {
  return config.fetch(input, init);
}

/** `tags: ['a','b']` becomes `tags[]=a&tags[]=b`; empty values are left out. */
export function buildQuery(query: Record<string, QueryValue> | undefined): string {
  if (!query) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) {
      for (const item of v) p.append(`${k}[]`, item);
    } else {
      p.append(k, String(v));
    }
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

function messageFor(status: number): string {
  if (status === 401) return 'You are signed out.';
  if (status === 403) return 'You are not allowed to do that.';
  if (status === 404) return 'Not found.';
  if (status === 429) return 'Too many requests; try again shortly.';
  if (status >= 500) return `The server failed (HTTP ${status}).`;
  return `Request failed (HTTP ${status}).`;
}

export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const method = opts.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  const team = opts.noTeam ? null : config.teamId();
  if (team) headers['team_id'] = team;
  if (method !== 'GET') {
    const csrf = config.csrfToken();
    if (csrf) headers['x-csrf-token'] = csrf;
  }
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await config.fetch(path + buildQuery(opts.query), {
      method,
      headers,
      body,
      credentials: 'same-origin',
      signal: opts.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'Could not reach the server. Check your connection and try again.');
  }
  let envelope: Envelope | null = null;
  const text = await res.text();
  if (text) {
    try {
      envelope = JSON.parse(text) as Envelope | null;
    } catch {
      envelope = null;
    }
  }
  if (!res.ok) {
    if (res.status === 401 && !opts.noAuthRedirect) config.onUnauthorized();
    const message =
      envelope && typeof envelope.error === 'string' && envelope.error ? envelope.error : messageFor(res.status);
    const code = envelope && typeof envelope.code === 'string' ? envelope.code : undefined;
    const ra = res.headers.get('retry-after');
    const retryAfter = ra !== null && /^\d+$/.test(ra.trim()) ? Number(ra) : undefined;
    const problems = Array.isArray(envelope?.problems)
      ? (envelope.problems as unknown[]).flatMap((p) =>
          p && typeof p === 'object' && typeof (p as { field?: unknown }).field === 'string'
            ? [{ field: (p as { field: string }).field, message: String((p as { message?: unknown }).message ?? '') }]
            : [],
        )
      : [];
    throw new ApiError(res.status, message, code, retryAfter, problems);
  }
  if (envelope === null || typeof envelope !== 'object') {
    throw new ApiError(res.status, 'The server sent an answer the dashboard does not understand.');
  }
  if (typeof envelope.error === 'string' && envelope.error) {
    throw new ApiError(res.status, envelope.error);
  }
  return envelope.data as T;
}

export const get = <T>(path: string, query?: Record<string, QueryValue>, o: RequestOptions = {}) =>
  api<T>(path, { ...o, query });
export const post = <T>(path: string, body?: unknown, o: RequestOptions = {}) =>
  api<T>(path, { ...o, method: 'POST', body: body ?? {} });
export const put = <T>(path: string, body?: unknown, o: RequestOptions = {}) =>
  api<T>(path, { ...o, method: 'PUT', body: body ?? {} });
export const del = <T>(path: string, body?: unknown, o: RequestOptions = {}) =>
  api<T>(path, { ...o, method: 'DELETE', body });

/** A message for any error a query or mutation threw. */
export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 429 && e.retryAfter !== undefined) return `${e.message} (try again in ${e.retryAfter} s)`;
    return e.message;
  }
  if (e instanceof Error) return e.message;
  return 'Something went wrong.';
}

export const isNotFound = (e: unknown) => e instanceof ApiError && e.status === 404;

/**
 * A binary resource of the API (a call's recording) as a Blob, with the same headers as
 * every request: an `<audio src>` could not send `team_id`, so the page plays a blob: URL.
 * An absolute URL (the server's public URL) is fetched by its path, on this origin.
 */
export async function getBlob(url: string, signal?: AbortSignal): Promise<Blob> {
  let path = url;
  if (/^https?:\/\//i.test(url)) {
    const u = new URL(url);
    path = u.pathname + u.search;
  }
  const headers: Record<string, string> = {};
  const team = config.teamId();
  if (team) headers['team_id'] = team;
  let res: Response;
  try {
    res = await config.fetch(path, { headers, credentials: 'same-origin', signal });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'Could not reach the server. Check your connection and try again.');
  }
  if (!res.ok) {
    if (res.status === 401) config.onUnauthorized();
    let message = messageFor(res.status);
    try {
      const env = (await res.json()) as { error?: unknown };
      if (typeof env.error === 'string' && env.error) message = env.error;
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, message);
  }
  return res.blob();
}
