// Calls live: ONE `GET /call/live` Server-Sent Events stream per tab, shared by every page that
// shows calls (a ref-counted module singleton), feeding the TanStack Query caches of the call
// lists and call pages. EventSource cannot send `team_id`, so the stream is read with fetch and
// parsed here; a dropped stream reconnects with backoff, resuming from the last event id.
import type { QueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { create } from 'zustand';
import { apiFetch, requestHeaders, signedOut } from './api';
import { useTeamId } from './session';
import type { Call, CallPage } from './types';

// ---- text/event-stream parsing (WHATWG HTML, "Server-sent events") ---------------------------

export interface SseEvent {
  event: string;
  data: string;
  id: string | null;
}

/**
 * An incremental parser: `push(chunk)` returns the events completed by this chunk. Lines end
 * in CRLF, LF or CR (a CR at a chunk's end waits for the next chunk); `:` lines are comments;
 * several `data:` lines join with "\n"; an event with no data is not dispatched.
 */
export class SseParser {
  private buf = '';
  private data: string[] = [];
  private event = '';
  private id: string | null = null;
  /** The last event id seen (kept across events, as the spec's "last event ID buffer"). */
  lastId: string | null = null;
  retry: number | null = null;

  push(chunk: string): SseEvent[] {
    this.buf += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const m = /\r\n|\n|\r/.exec(this.buf);
      if (!m) break;
      // A lone CR at the very end may be the first half of CRLF.
      if (m[0] === '\r' && m.index === this.buf.length - 1) break;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    return out;
  }

  private line(line: string): SseEvent | null {
    if (line === '') {
      if (this.id !== null) this.lastId = this.id;
      const ev = this.data.length ? { event: this.event || 'message', data: this.data.join('\n'), id: this.lastId } : null;
      this.data = [];
      this.event = '';
      this.id = null;
      return ev;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
    return null;
  }
}

/** Backoff before reconnect attempt `n` (0-based): 1 s, 2 s, 4 s … capped at 30 s, ±20 % jitter. */
export function backoffMs(n: number, random = Math.random): number {
  const base = Math.min(30_000, 1000 * 2 ** Math.min(n, 5));
  return Math.round(base * (0.8 + 0.4 * random()));
}

// ---- The stream, one per tab ----------------------------------------------------------------

export type LiveStatus = 'off' | 'connecting' | 'live' | 'reconnecting' | 'unavailable';

export const useLiveStatus = create<{ status: LiveStatus }>(() => ({ status: 'off' }));
const setStatus = (status: LiveStatus) => {
  if (useLiveStatus.getState().status !== status) useLiveStatus.setState({ status });
};

type Listener = (call: Call) => void;
type OpenListener = (resumed: boolean) => void;

interface Conn {
  team: string;
  abort: AbortController;
  timer: ReturnType<typeof setTimeout> | null;
}

const listeners = new Set<Listener>();
const openListeners = new Set<OpenListener>();
let users = 0;
let conn: Conn | null = null;
let lastId: string | null = null;
let lastTeam: string | null = null;
let closeTimer: ReturnType<typeof setTimeout> | null = null;

/** The server sends a comment every 15 s: this long without a byte means the stream is dead. */
const SILENCE_MS = 45_000;

/** How many streams this tab has opened (tests, and the e2e check that there is one). */
export const liveStats = { opened: 0 };

function start(team: string) {
  if (lastTeam !== team) lastId = null; // a cursor belongs to one team's stream
  lastTeam = team;
  const c: Conn = { team, abort: new AbortController(), timer: null };
  conn = c;
  void run(c);
}

function stop() {
  if (!conn) return;
  conn.abort.abort();
  if (conn.timer) clearTimeout(conn.timer);
  conn = null;
  setStatus('off');
}

async function run(c: Conn) {
  let attempt = 0;
  while (conn === c && !c.abort.signal.aborted) {
    setStatus(attempt === 0 && lastId === null ? 'connecting' : 'reconnecting');
    let gotSomething = false;
    // This attempt's own abort: the tab's (closing) or the watchdog's (a silent stream).
    const attemptAbort = new AbortController();
    const onAbort = () => attemptAbort.abort();
    c.abort.signal.addEventListener('abort', onAbort, { once: true });
    let watchdog: ReturnType<typeof setTimeout> | null = null;
    const feed = () => {
      if (watchdog) clearTimeout(watchdog);
      watchdog = setTimeout(() => attemptAbort.abort(), SILENCE_MS);
    };
    try {
      liveStats.opened++;
      const headers: Record<string, string> = { ...requestHeaders(), accept: 'text/event-stream' };
      if (lastId) headers['last-event-id'] = lastId;
      feed();
      const res = await apiFetch('/call/live' + (lastId ? `?last_event_id=${encodeURIComponent(lastId)}` : ''), {
        headers,
        credentials: 'same-origin',
        signal: attemptAbort.signal,
        cache: 'no-store',
      });
      feed();
      if (res.status === 401) {
        setStatus('off');
        signedOut();
        return;
      }
      if (res.status === 404 || res.status === 403) {
        setStatus('unavailable'); // an older server: the pages poll instead
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      const resumed = lastId !== null;
      setStatus('live');
      attempt = 0;
      gotSomething = true;
      for (const f of openListeners) f(resumed);
      const parser = new SseParser();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        feed();
        for (const ev of parser.push(value)) {
          if (ev.id) lastId = ev.id;
          if (ev.event !== 'call') continue;
          let call: Call;
          try {
            call = JSON.parse(ev.data) as Call;
          } catch {
            continue;
          }
          for (const f of listeners) f(call);
        }
      }
    } catch {
      // A network error, or the watchdog: reconnect below.
    } finally {
      if (watchdog) clearTimeout(watchdog);
      c.abort.signal.removeEventListener('abort', onAbort);
      attemptAbort.abort(); // releases the body if the loop left early
    }
    if (conn !== c || c.abort.signal.aborted) return;
    if (!gotSomething) attempt++;
    setStatus('reconnecting');
    const wait = backoffMs(gotSomething ? 0 : attempt - 1);
    await new Promise<void>((resolve) => {
      c.timer = setTimeout(resolve, wait);
      c.abort.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }
}

/**
 * Keeps the tab's stream open for `team` while at least one caller holds it; returns the
 * release. The last release closes the stream after a grace period, so going from the list to
 * a call page keeps the same stream.
 */
export function retainLive(team: string): () => void {
  users++;
  if (closeTimer) {
    clearTimeout(closeTimer);
    closeTimer = null;
  }
  if (conn && conn.team !== team) stop();
  if (!conn) start(team);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    users--;
    if (users === 0) {
      closeTimer = setTimeout(() => {
        closeTimer = null;
        if (users === 0) stop();
      }, 5000);
    }
  };
}

export function onLiveCall(f: Listener): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

export function onLiveOpen(f: OpenListener): () => void {
  openListeners.add(f);
  return () => openListeners.delete(f);
}

// ---- Into the query caches --------------------------------------------------------------------

const newer = (a: Call, b: Call | undefined) => !b || a.updated >= b.updated;

function replaceIn(list: Call[], call: Call): { list: Call[]; found: boolean } {
  const i = list.findIndex((c) => c.id === call.id);
  if (i < 0) return { list, found: false };
  if (!newer(call, list[i])) return { list, found: true };
  const next = list.slice();
  next[i] = { ...list[i], ...call, interview: { ...list[i]!.interview, ...call.interview } };
  return { list: next, found: true };
}

/**
 * One call event into the caches: the call page's query (`[team,'call',id]`), every cached
 * page of the calls list (`[team,'calls',…]`) and of the agent's recent calls. A call that a
 * cached list does not show yet (a new call) makes the lists refetch, at most once a second.
 */
export function applyCallEvent(qc: QueryClient, team: string, call: Call, refetchLists: () => void): void {
  const key = [team, 'call', call.id];
  const old = qc.getQueryData<Call>(key);
  if (old && newer(call, old)) qc.setQueryData(key, { ...old, ...call, interview: { ...old.interview, ...call.interview } });
  else if (!old) qc.setQueryData(key, call);
  let missing = false;
  for (const [k, data] of qc.getQueriesData<CallPage>({ queryKey: [team, 'calls'] })) {
    if (!data?.calls) continue;
    const r = replaceIn(data.calls, call);
    if (r.found) {
      if (r.list !== data.calls) qc.setQueryData(k, { ...data, calls: r.list });
    } else missing = true;
  }
  const rkey = [team, 'interview', call.interview.id, 'responses'];
  for (const [k, data] of qc.getQueriesData<{ responses: Call[]; count: number }>({ queryKey: rkey })) {
    if (!data?.responses) continue;
    const r = replaceIn(data.responses, call);
    if (r.found) {
      if (r.list !== data.responses) qc.setQueryData(k, { ...data, responses: r.list });
    } else missing = true;
  }
  if (missing) refetchLists();
}

function throttle(f: () => void, ms: number): () => void {
  let t: ReturnType<typeof setTimeout> | null = null;
  return () => {
    if (t) return;
    t = setTimeout(() => {
      t = null;
      f();
    }, ms);
  };
}

/**
 * For a page that shows calls: holds the tab's stream and applies its events to this query
 * client. Returns whether the stream is up (then the page need not poll).
 */
export function useLiveCalls(): boolean {
  const team = useTeamId();
  const qc = useQueryClient();
  useEffect(() => {
    if (!team) return;
    const refetchLists = throttle(() => {
      void qc.invalidateQueries({ queryKey: [team, 'calls'] });
      void qc.invalidateQueries({ predicate: (q) => q.queryKey[0] === team && q.queryKey[1] === 'interview' && q.queryKey[3] === 'responses' });
    }, 1000);
    const offCall = onLiveCall((call) => applyCallEvent(qc, team, call, refetchLists));
    // A fresh stream starts at the present: what changed between the pages' last fetch and
    // now is fetched once (a resumed stream replays it instead).
    const offOpen = onLiveOpen((resumed) => {
      if (resumed) return;
      void qc.invalidateQueries({ predicate: (q) => q.queryKey[0] === team && (q.queryKey[1] === 'calls' || q.queryKey[1] === 'call') });
    });
    const release = retainLive(team);
    return () => {
      offCall();
      offOpen();
      release();
    };
  }, [team, qc]);
  return useLiveStatus((s) => s.status === 'live');
}
