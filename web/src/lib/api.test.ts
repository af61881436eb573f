import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, buildQuery, configureApi, del, errorMessage, get, getBlob, post } from './api';

interface Sent {
  url: string;
  init: RequestInit;
}

function server(status: number, body: unknown, headers: Record<string, string> = {}) {
  const sent: Sent[] = [];
  const fetch = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    sent.push({ url: String(url), init: init ?? {} });
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return new Response(text, { status, headers: { 'content-type': 'application/json', ...headers } });
  });
  const onUnauthorized = vi.fn();
  configureApi({ fetch: fetch as unknown as typeof globalThis.fetch, onUnauthorized, teamId: () => 'team-1', csrfToken: () => 'csrf-1' });
  return { sent, onUnauthorized, header: (i: number, k: string) => (sent[i]!.init.headers as Record<string, string>)[k] };
}

afterEach(() => vi.restoreAllMocks());

describe('api', () => {
  it('returns the data of the envelope', async () => {
    server(200, { data: { id: 'x' }, error: null });
    await expect(get<{ id: string }>('/contact/x')).resolves.toEqual({ id: 'x' });
  });

  it('sends team_id on every request and the CSRF token on non-GET requests only', async () => {
    const s = server(200, { data: null, error: null });
    await get('/contact');
    await post('/contact/create', { phone_number: '+12125550100' });
    await del('/contact/x');
    expect(s.header(0, 'team_id')).toBe('team-1');
    expect(s.header(0, 'x-csrf-token')).toBeUndefined();
    expect(s.header(0, 'content-type')).toBeUndefined();
    expect(s.header(1, 'team_id')).toBe('team-1');
    expect(s.header(1, 'x-csrf-token')).toBe('csrf-1');
    expect(s.header(1, 'content-type')).toBe('application/json');
    expect(s.sent[1]!.init.body).toBe('{"phone_number":"+12125550100"}');
    expect(s.sent[1]!.init.method).toBe('POST');
    expect(s.header(2, 'x-csrf-token')).toBe('csrf-1');
    expect(s.sent[2]!.init.credentials).toBe('same-origin');
  });

  it('leaves team_id out when asked (auth endpoints)', async () => {
    const s = server(200, { data: null, error: null });
    await post('/auth/login', { email: 'a@b.c', password: 'p' }, { noTeam: true });
    expect(s.header(0, 'team_id')).toBeUndefined();
  });

  it('throws the server message with its status and code', async () => {
    server(400, { data: null, error: 'phone_number: not a valid number', code: 'invalid_phone_number' });
    const e = await post('/contact/create', {}).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).status).toBe(400);
    expect((e as ApiError).message).toBe('phone_number: not a valid number');
    expect((e as ApiError).code).toBe('invalid_phone_number');
  });

  it('on a 401 calls onUnauthorized (the session is gone) and still throws', async () => {
    const s = server(401, { data: null, error: 'Unauthorized.' });
    await expect(get('/contact')).rejects.toMatchObject({ status: 401, message: 'Unauthorized.' });
    expect(s.onUnauthorized).toHaveBeenCalledTimes(1);
  });

  it('does not redirect on a 401 that is the answer itself (wrong password)', async () => {
    const s = server(401, { data: null, error: 'Wrong email or password.' });
    await expect(post('/auth/login', {}, { noAuthRedirect: true })).rejects.toMatchObject({
      status: 401,
      message: 'Wrong email or password.',
    });
    expect(s.onUnauthorized).not.toHaveBeenCalled();
  });

  it('reads Retry-After on a 429', async () => {
    server(429, { data: null, error: 'Too many attempts' }, { 'retry-after': '30' });
    const e = (await post('/auth/login', {}, { noAuthRedirect: true }).catch((x: unknown) => x)) as ApiError;
    expect(e.status).toBe(429);
    expect(e.retryAfter).toBe(30);
    expect(errorMessage(e)).toBe('Too many attempts (try again in 30 s)');
  });

  it('gives a readable message when the body is not the envelope (a proxy error page)', async () => {
    server(502, '<html>Bad gateway</html>');
    await expect(get('/contact')).rejects.toMatchObject({ status: 502, message: 'The server failed (HTTP 502).' });
    server(404, '');
    await expect(get('/call')).rejects.toMatchObject({ status: 404, message: 'Not found.' });
    server(200, 'not json');
    await expect(get('/contact')).rejects.toMatchObject({ status: 200 });
  });

  it('turns a network failure into an ApiError with status 0', async () => {
    configureApi({
      fetch: (async () => {
        throw new TypeError('Failed to fetch');
      }) as unknown as typeof fetch,
    });
    await expect(api('/contact')).rejects.toMatchObject({ status: 0, message: expect.stringContaining('Could not reach') });
  });

  it('lets an abort through as an abort', async () => {
    configureApi({
      fetch: (async () => {
        throw new DOMException('aborted', 'AbortError');
      }) as unknown as typeof fetch,
    });
    await expect(api('/contact')).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('fetches a recording by its path with team_id, and redirects on 401', async () => {
    const s = server(200, 'RIFF');
    const blob = await getBlob('http://parley.example:8080/interview_response/abc/recording');
    expect(await blob.text()).toBe('RIFF');
    expect(s.sent[0]!.url).toBe('/interview_response/abc/recording');
    expect(s.header(0, 'team_id')).toBe('team-1');
    const s2 = server(401, { data: null, error: 'Unauthorized.' });
    await expect(getBlob('/interview_response/abc/recording')).rejects.toMatchObject({ status: 401 });
    expect(s2.onUnauthorized).toHaveBeenCalledTimes(1);
  });
});

describe('buildQuery', () => {
  it('skips empty values and sends arrays as key[]', () => {
    expect(buildQuery({ search: '', page: 0, tags: ['a', 'b c'], x: undefined, y: null })).toBe('?page=0&tags%5B%5D=a&tags%5B%5D=b+c');
    expect(buildQuery({})).toBe('');
    expect(buildQuery(undefined)).toBe('');
  });
});
