import { QueryClient } from '@tanstack/react-query';
import { describe, expect, it, vi } from 'vitest';
import { applyCallEvent, backoffMs, SseParser } from './live';
import type { Call } from './types';

describe('SseParser', () => {
  it('parses events split anywhere across chunks', () => {
    const p = new SseParser();
    const text = ': keep-alive\n\nevent: call\nid: 17_a\ndata: {"x":\ndata: 1}\n\nevent: call\r\nid: 18_b\r\ndata: 2\r\n\r\n';
    const out = [];
    for (const ch of text) out.push(...p.push(ch));
    expect(out).toEqual([
      { event: 'call', data: '{"x":\n1}', id: '17_a' },
      { event: 'call', data: '2', id: '18_b' },
    ]);
    expect(p.lastId).toBe('18_b');
  });
  it('keeps the last id for events without one, skips empty data, reads retry', () => {
    const p = new SseParser();
    expect(p.push('id: 1_x\n\nretry: 3000\ndata\n\ndata:hello\n\n')).toEqual([
      { event: 'message', data: '', id: '1_x' },
      { event: 'message', data: 'hello', id: '1_x' },
    ]);
    expect(p.retry).toBe(3000);
    expect(p.push('event: call\n\n')).toEqual([]);
  });
  it('waits for the LF after a CR at the end of a chunk', () => {
    const p = new SseParser();
    expect(p.push('data: a\r')).toEqual([]);
    expect(p.push('\n\r\n')).toEqual([{ event: 'message', data: 'a', id: null }]);
  });
});

describe('backoffMs', () => {
  it('doubles from 1 s to a 30 s cap, with jitter', () => {
    expect(backoffMs(0, () => 0.5)).toBe(1000);
    expect(backoffMs(3, () => 0.5)).toBe(8000);
    expect(backoffMs(10, () => 0.5)).toBe(30000);
    expect(backoffMs(0, () => 0)).toBe(800);
    expect(backoffMs(0, () => 1)).toBe(1200);
  });
});

const call = (id: string, updated: string, extra: Partial<Call> = {}) =>
  ({ id, updated, status: 'IN_PROGRESS', interview: { id: 'AG1' }, conversation_history: [], ...extra }) as unknown as Call;

describe('applyCallEvent', () => {
  it('updates the call page and list pages in place, never with an older version', () => {
    const qc = new QueryClient();
    qc.setQueryData(['t', 'call', 'c1'], call('c1', '2026-01-01T00:00:01Z', { interview: { id: 'AG1', title: 'Kept' } }));
    qc.setQueryData(['t', 'calls', { page: 0 }], { calls: [call('c1', '2026-01-01T00:00:01Z')], count: 1, total_count: 1 });
    const refetch = vi.fn();
    applyCallEvent(qc, 't', call('c1', '2026-01-01T00:00:02Z', { status: 'ENDED' }), refetch);
    expect(qc.getQueryData<Call>(['t', 'call', 'c1'])).toMatchObject({ status: 'ENDED', interview: { id: 'AG1', title: 'Kept' } });
    expect(qc.getQueryData<{ calls: Call[] }>(['t', 'calls', { page: 0 }])!.calls[0]!.status).toBe('ENDED');
    applyCallEvent(qc, 't', call('c1', '2026-01-01T00:00:00Z', { status: 'NOT_STARTED' }), refetch);
    expect(qc.getQueryData<Call>(['t', 'call', 'c1'])!.status).toBe('ENDED');
    expect(refetch).not.toHaveBeenCalled();
  });
  it('asks the lists to refetch for a call they do not show', () => {
    const qc = new QueryClient();
    qc.setQueryData(['t', 'calls', {}], { calls: [], count: 0, total_count: 0 });
    const refetch = vi.fn();
    applyCallEvent(qc, 't', call('new', '2026-01-01T00:00:00Z'), refetch);
    expect(refetch).toHaveBeenCalledOnce();
    // Another team's caches are untouched.
    expect(qc.getQueryData(['u', 'call', 'new'])).toBeUndefined();
  });
});

describe('the tab stream', () => {
  it('is one stream for several holders, and resumes from the last event id after a drop', async () => {
    const { configureApi } = await import('./api');
    const { onLiveCall, retainLive, useLiveStatus } = await import('./live');
    const sent: { url: string; headers: Record<string, string> }[] = [];
    configureApi({
      teamId: () => 'T',
      fetch: async (url, init) => {
        sent.push({ url: String(url), headers: (init?.headers ?? {}) as Record<string, string> });
        if (sent.length === 1) {
          // One event, then the server goes away.
          return new Response('event: call\nid: 5_c1\ndata: {"id":"c1","updated":"x","interview":{"id":"A"}}\n\n', {
            headers: { 'content-type': 'text/event-stream' },
          });
        }
        const signal = init?.signal;
        return new Response(
          new ReadableStream({
            start(ctrl) {
              signal?.addEventListener('abort', () => ctrl.error(new DOMException('aborted', 'AbortError')));
            },
          }),
          { headers: { 'content-type': 'text/event-stream' } },
        );
      },
    });
    const got: string[] = [];
    const off = onLiveCall((c) => got.push(c.id));
    const r1 = retainLive('T');
    const r2 = retainLive('T');
    await vi.waitFor(() => expect(sent.length).toBe(2), { timeout: 4000 });
    expect(sent[0]!.headers['team_id']).toBe('T');
    expect(sent[0]!.headers['last-event-id']).toBeUndefined();
    expect(sent[1]!.headers['last-event-id']).toBe('5_c1');
    expect(sent[1]!.url).toBe('/call/live?last_event_id=5_c1');
    expect(got).toEqual(['c1']);
    await vi.waitFor(() => expect(useLiveStatus.getState().status).toBe('live'));
    r1();
    r2();
    off();
    expect(sent.length).toBe(2);
  });
});
