import { useQuery } from '@tanstack/react-query';
import { getRouteApi, Link } from '@tanstack/react-router';
import { useEffect, useRef, useState, type RefObject } from 'react';
import { DefinitionList, EmptyState, ErrorState, Loading, PageHeader, StatusBadge } from '@/components/common';
import { LiveBadge } from '@/components/LiveBadge';
import { Badge } from '@/components/ui/badge';
import { Card, CardHeader } from '@/components/ui/card';
import { Table, TBody, TD, TH, THead, TR } from '@/components/ui/table';
import { errorMessage, get, getBlob } from '@/lib/api';
import { direction, formatDateTime, formatDuration, formatTime, humanize, valueText } from '@/lib/format';
import { useLiveCalls } from '@/lib/live';
import { useTeamId } from '@/lib/session';
import type { Call, Interview } from '@/lib/types';

const route = getRouteApi('/_auth/calls/$callId');

export interface TurnLine {
  text: string;
  /** When the line was said, from the answer (`cumulative_duration_ms`); null from plain text. */
  offsetMs: number | null;
}

export interface Turn {
  speaker: 'Agent' | 'Caller';
  text: string;
  offsetMs: number | null;
  lines: TurnLine[];
}

/**
 * The conversation as speaker turns: from `conversation_history` when the call has it, else
 * from the `transcript` text ("Agent: …" / "Caller: …" lines; a line without a prefix
 * continues the previous turn). Consecutive lines of one speaker are one turn.
 */
export function speakerTurns(call: Pick<Call, 'conversation_history' | 'transcript'>): Turn[] {
  const turns: Turn[] = [];
  const push = (speaker: Turn['speaker'], text: string, offsetMs: number | null) => {
    const last = turns[turns.length - 1];
    if (last && last.speaker === speaker) {
      last.text += `\n${text}`;
      last.lines.push({ text, offsetMs });
    } else turns.push({ speaker, text, offsetMs, lines: [{ text, offsetMs }] });
  };
  if (call.conversation_history?.length) {
    for (const t of call.conversation_history) push(t.author === 'ai' ? 'Agent' : 'Caller', t.text, t.cumulative_duration_ms);
    return turns;
  }
  for (const raw of (call.transcript ?? '').split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const m = /^(Agent|Caller|AI|User):\s*(.*)$/i.exec(line);
    if (m) push(/^(agent|ai)$/i.test(m[1]!) ? 'Agent' : 'Caller', m[2]!, null);
    else if (turns.length) {
      const last = turns[turns.length - 1]!;
      last.text += `\n${line}`;
      last.lines.push({ text: line, offsetMs: null });
    } else push('Caller', line, null);
  }
  return turns;
}

/**
 * The index (in `conversation_history` order) of the line being spoken at `ms` into the
 * recording: the last line that started at or before it; -1 before the first.
 */
export function activeLine(offsets: (number | null)[], ms: number): number {
  let found = -1;
  offsets.forEach((o, i) => {
    if (o !== null && o <= ms && (found < 0 || o >= (offsets[found] ?? 0))) found = i;
  });
  return found;
}

function Recording({ url, audioRef, onTime }: { url: string; audioRef: RefObject<HTMLAudioElement | null>; onTime: (ms: number) => void }) {
  const teamId = useTeamId();
  const blob = useQuery({
    queryKey: [teamId, 'recording', url],
    queryFn: ({ signal }) => getBlob(url, signal),
    staleTime: Infinity,
    gcTime: 60_000,
  });
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => {
    if (!blob.data) return;
    const u = URL.createObjectURL(blob.data);
    setSrc(u);
    return () => URL.revokeObjectURL(u);
  }, [blob.data]);
  if (blob.isError) return <p className="text-sm text-red-800">The recording could not be loaded: {errorMessage(blob.error)}</p>;
  if (!src) return <Loading label="Loading the recording…" />;
  return (
    <div className="flex flex-wrap items-center gap-4">
      <audio
        ref={audioRef}
        controls
        src={src}
        className="w-full max-w-xl"
        aria-label="Call recording"
        onTimeUpdate={(e) => onTime(e.currentTarget.currentTime * 1000)}
        onSeeked={(e) => onTime(e.currentTarget.currentTime * 1000)}
      >
        Your browser cannot play this recording.
      </audio>
      <a href={src} download="recording.wav" className="text-sm text-indigo-700 underline">
        Download
      </a>
    </div>
  );
}

function Timeline({ call }: { call: Call }) {
  const first = call.timeline[0] ? new Date(call.timeline[0].at).getTime() : 0;
  if (!call.timeline.length) return <p className="text-sm text-slate-700">No events yet.</p>;
  return (
    <ol className="relative ml-2 border-l border-slate-300">
      {call.timeline.map((t, i) => (
        <li key={`${t.progress}-${i}`} className="mb-3 ml-4 last:mb-0">
          <span className="absolute -left-1.5 mt-1.5 size-3 rounded-full border border-white bg-indigo-700" aria-hidden="true" />
          <p className="text-sm font-medium text-slate-900">{humanize(t.progress)}</p>
          <p className="text-xs text-slate-700">
            {formatTime(t.at)}
            {i > 0 ? ` · +${formatDuration(new Date(t.at).getTime() - first)}` : ''}
          </p>
        </li>
      ))}
    </ol>
  );
}

function Transcript({ call, currentMs, onSeek }: { call: Call; currentMs: number | null; onSeek: ((ms: number) => void) | null }) {
  const turns = speakerTurns(call);
  const listRef = useRef<HTMLOListElement>(null);
  const offsets = turns.flatMap((t) => t.lines.map((l) => l.offsetMs));
  const active = currentMs === null ? -1 : activeLine(offsets, currentMs);
  useEffect(() => {
    if (active < 0) return;
    const el = listRef.current?.querySelector('[aria-current="true"]');
    if (el && 'scrollIntoView' in el) (el as HTMLElement).scrollIntoView({ block: 'nearest' });
  }, [active]);
  if (!turns.length)
    return <p className="text-sm text-slate-700">{LIVE.has(call.status) ? 'Nothing said yet: lines appear here as they are spoken.' : 'Nothing was said.'}</p>;
  let n = -1;
  return (
    <ol ref={listRef} className="flex max-h-[32rem] flex-col gap-3 overflow-y-auto" aria-label="Transcript">
      {turns.map((t, i) => (
        <li key={i} className={t.speaker === 'Agent' ? 'mr-16' : 'ml-16'}>
          <div
            className={
              'rounded-lg border px-3 py-2 text-sm ' +
              (t.speaker === 'Agent' ? 'border-indigo-200 bg-indigo-50 text-slate-900' : 'border-slate-200 bg-white text-slate-900')
            }
          >
            <p className="mb-0.5 text-xs font-semibold text-slate-700">
              {t.speaker}
              {t.offsetMs !== null ? <span className="font-normal"> · {formatDuration(t.offsetMs)}</span> : null}
            </p>
            {t.lines.map((l, j) => {
              n++;
              const isActive = n === active;
              const cls = 'block w-full rounded px-1 py-0.5 text-left whitespace-pre-line ' + (isActive ? 'bg-amber-200 text-slate-950' : '');
              if (onSeek && l.offsetMs !== null) {
                const at = l.offsetMs;
                return (
                  <button
                    key={j}
                    type="button"
                    data-offset-ms={at}
                    aria-current={isActive ? 'true' : undefined}
                    aria-label={`Play from ${formatDuration(at)}: ${l.text}`}
                    onClick={() => onSeek(at)}
                    className={cls + ' hover:bg-amber-100 focus-visible:outline-2 focus-visible:outline-indigo-600'}
                  >
                    {l.text}
                  </button>
                );
              }
              return (
                <span key={j} className={cls} aria-current={isActive ? 'true' : undefined}>
                  {l.text}
                </span>
              );
            })}
          </div>
        </li>
      ))}
    </ol>
  );
}

const LATENCY_PARTS = [
  ['endpointing_ms', 'Endpointing', 'bg-slate-400'],
  ['stt_queue_ms', 'STT queue', 'bg-amber-400'],
  ['stt_ms', 'STT', 'bg-sky-500'],
  ['agent_ms', 'Agent', 'bg-indigo-600'],
  ['tts_first_audio_ms', 'TTS 1st audio', 'bg-emerald-500'],
] as const;

function Latency({ latency }: { latency: NonNullable<Call['latency']> }) {
  const max = Math.max(1, ...latency.map((l) => l.total_ms));
  return (
    <>
      {/* Its own scroll box, focusable so the keyboard can scroll it (axe: scrollable-region-focusable). */}
      <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white" tabIndex={0} role="group" aria-label="Latency table (scrolls sideways)">
        <table aria-label="Latency per agent reply" className="w-full border-collapse text-left text-sm">
          <thead className="border-b border-slate-200 bg-slate-50 text-slate-700">
            <tr>
              <th scope="col" className="px-3 py-2 font-semibold whitespace-nowrap">
                Reply
              </th>
              {LATENCY_PARTS.map(([k, label]) => (
                <th scope="col" key={k} className="px-3 py-2 text-right font-semibold whitespace-nowrap">
                  {label}
                </th>
              ))}
              <th scope="col" className="px-3 py-2 text-right font-semibold whitespace-nowrap">
                Total
              </th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {latency.map((l, i) => (
              <tr key={i}>
                <td className="px-3 py-2">{i + 1}</td>
                {LATENCY_PARTS.map(([k]) => (
                  <td key={k} className="px-3 py-2 text-right whitespace-nowrap tabular-nums">
                    {typeof l[k] === 'number' ? `${l[k]} ms` : '—'}
                  </td>
                ))}
                <td className={'px-3 py-2 text-right font-medium whitespace-nowrap tabular-nums ' + (l.total_ms > 1500 ? 'text-amber-900' : '')}>
                  {l.total_ms} ms
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="mt-3 flex flex-col gap-1.5" aria-hidden="true">
        {latency.map((l, i) => (
          <div key={i} className="flex items-center gap-2">
            <span className="w-6 text-right text-xs text-slate-700">{i + 1}</span>
            <div className="flex h-3 flex-1 overflow-hidden rounded bg-slate-100">
              {LATENCY_PARTS.map(([k, , color]) => (
                <div key={k} className={color} style={{ width: `${(100 * Math.max(0, l[k] ?? 0)) / max}%` }} />
              ))}
            </div>
          </div>
        ))}
        <p className="mt-1 flex flex-wrap gap-3 text-xs text-slate-700">
          {LATENCY_PARTS.map(([k, label, color]) => (
            <span key={k} className="inline-flex items-center gap-1">
              <span className={`inline-block size-2.5 rounded-sm ${color}`} />
              {label}
            </span>
          ))}
        </p>
      </div>
    </>
  );
}

function KeyValues({ label, values }: { label: string; values: Record<string, unknown> }) {
  const entries = Object.entries(values ?? {});
  if (!entries.length) return <p className="text-sm text-slate-700">None.</p>;
  return (
    <Table aria-label={label}>
      <THead>
        <TR>
          <TH>Name</TH>
          <TH>Value</TH>
        </TR>
      </THead>
      <TBody>
        {entries.map(([k, v]) => (
          <TR key={k}>
            <TD className="font-mono text-xs">{k}</TD>
            <TD className="break-all">{valueText(v)}</TD>
          </TR>
        ))}
      </TBody>
    </Table>
  );
}

const LIVE = new Set(['NOT_STARTED', 'IN_PROGRESS']);

export function CallDetailPage() {
  const { callId } = route.useParams();
  const teamId = useTeamId();
  const live = useLiveCalls();
  const audioRef = useRef<HTMLAudioElement | null>(null);
  const [currentMs, setCurrentMs] = useState<number | null>(null);
  const call = useQuery({
    queryKey: [teamId, 'call', callId],
    queryFn: ({ signal }) => get<Call>(`/interview_response/${encodeURIComponent(callId)}`, undefined, { signal }),
    // A call in progress moves: the live stream brings its changes; without it, poll.
    refetchInterval: (q) => (!live && q.state.data && LIVE.has(q.state.data.status) ? 3000 : false),
  });
  const agentId = call.data?.interview.id;
  const agent = useQuery({
    queryKey: [teamId, 'interview', agentId],
    queryFn: ({ signal }) => get<Interview>(`/interview/${encodeURIComponent(agentId!)}`, undefined, { signal }),
    enabled: !!agentId && !call.data?.interview.title,
    staleTime: 60_000,
  });
  if (call.isPending) return <Loading />;
  if (call.isError)
    return (
      <>
        <PageHeader title="Call" />
        <ErrorState error={call.error} title="Could not load this call" />
      </>
    );
  const c = call.data;
  const dir = direction(c.type);
  function seek(ms: number) {
    const a = audioRef.current;
    if (!a) return;
    a.currentTime = ms / 1000;
    setCurrentMs(ms);
    void a.play().catch(() => {});
  }
  return (
    <>
      <p className="mb-2 text-sm">
        <Link to="/calls" className="text-indigo-700 hover:underline">
          ← Calls
        </Link>
      </p>
      <PageHeader
        title={`${dir} call ${dir === 'Inbound' ? 'from' : 'with'} ${c.contact?.name || c.phone_number}`}
        description={<>{formatDateTime(c.created)} · <code className="font-mono">{c.id}</code></>}
        actions={
          <>
            <Link to="/calls/$callId/replay" params={{ callId: c.id }} className="text-sm font-medium text-indigo-700 hover:underline">Replay on canvas</Link>
            {LIVE.has(c.status) ? <LiveBadge /> : null}
            <StatusBadge value={c.status} />
          </>
        }
      />
      <div className="grid grid-cols-1 gap-6 xl:grid-cols-3">
        <div className="flex flex-col gap-6 xl:col-span-2">
          <Card aria-labelledby="rec-h">
            <CardHeader id="rec-h" title="Recording" />
            {c.recording_url ? (
              <Recording url={c.recording_url} audioRef={audioRef} onTime={setCurrentMs} />
            ) : (
              <p className="text-sm text-slate-700">{LIVE.has(c.status) ? 'The recording is ready when the call ends.' : 'This call has no recording.'}</p>
            )}
          </Card>
          <Card aria-labelledby="tr-h">
            <CardHeader
              id="tr-h"
              title="Transcript"
              description={c.recording_url ? 'Select a line to play the recording from there; the line being played is highlighted.' : undefined}
            />
            <div aria-live={LIVE.has(c.status) ? 'polite' : undefined}>
              <Transcript call={c} currentMs={c.recording_url ? currentMs : null} onSeek={c.recording_url ? seek : null} />
            </div>
          </Card>
          <Card aria-labelledby="vars-h">
            <CardHeader id="vars-h" title="Variables" description="What the agent captured during the call." />
            <KeyValues label="Variables" values={c.variables} />
          </Card>
          {c.latency?.length ? (
            <Card aria-labelledby="lat-h">
              <CardHeader id="lat-h" title="Response latency" description="From the caller’s last word to the agent’s first sound, per agent reply, in parts." />
              <Latency latency={c.latency} />
            </Card>
          ) : null}
          {Object.keys(c.metadata ?? {}).length ? (
            <Card aria-labelledby="meta-h">
              <CardHeader id="meta-h" title="Metadata" description="Sent with the call request." />
              <KeyValues label="Metadata" values={c.metadata} />
            </Card>
          ) : null}
        </div>
        <div className="flex flex-col gap-6">
          <Card aria-labelledby="sum-h">
            <CardHeader id="sum-h" title="Outcome" />
            <DefinitionList
              items={[
                ['Outcome', c.outcome ?? '—'],
                ['End reason', humanize(c.end_reason)],
                [
                  'Tags',
                  c.summary_data?.response_tags?.length ? (
                    <span className="flex flex-wrap gap-1">
                      {c.summary_data.response_tags.map((t) => (
                        <Badge key={t}>{t}</Badge>
                      ))}
                    </span>
                  ) : (
                    '—'
                  ),
                ],
              ]}
            />
            <h3 className="mt-4 text-sm font-semibold text-slate-900">Summary</h3>
            <p className="mt-1 text-sm whitespace-pre-line text-slate-900">{c.summary_data?.summary || 'No summary.'}</p>
          </Card>
          <Card aria-labelledby="det-h">
            <CardHeader id="det-h" title="Details" />
            <DefinitionList
              items={[
                ['Status', <StatusBadge key="s" value={c.status} />],
                ['Progress', humanize(c.progress)],
                [
                  'Agent',
                  <Link key="a" to="/agents/$agentId" params={{ agentId: c.interview.id }} className="text-indigo-700 hover:underline">
                    {c.interview.title ?? agent.data?.title ?? c.interview.id}
                  </Link>,
                ],
                ['Agent version', c.interview.version !== undefined ? `version ${c.interview.version}` : '—'],
                ['Contact', c.contact ? `${c.contact.name ?? ''} ${c.contact.phone_number}`.trim() : '—'],
                [dir === 'Inbound' ? 'Caller' : 'Called number', <span key="n" className="font-mono">{c.phone_number}</span>],
                ['From number', c.from_number ? <span className="font-mono">{c.from_number}</span> : '—'],
                ['Network', c.network ?? '—'],
                ['Started', formatDateTime(c.start_time)],
                ['Ended', formatDateTime(c.end_time)],
                ['Duration', formatDuration(c.duration_ms)],
                ...(c.call_failure_reason ? [['Failure', c.call_failure_reason] as [string, string]] : []),
              ]}
            />
          </Card>
          <Card aria-labelledby="tl-h">
            <CardHeader id="tl-h" title="Timeline" />
            <Timeline call={c} />
          </Card>
        </div>
      </div>
      {!c.timeline.length && !c.transcript ? <EmptyState title="Nothing happened on this call yet" /> : null}
    </>
  );
}
