import { useQuery } from '@tanstack/react-query';
import { getRouteApi, Link } from '@tanstack/react-router';
import { useEffect, useState } from 'react';
import { DefinitionList, EmptyState, ErrorState, Loading, PageHeader, StatusBadge } from '@/components/common';
import { Badge } from '@/components/ui/badge';
import { Card, CardHeader } from '@/components/ui/card';
import { Table, TBody, TD, TH, THead, TR } from '@/components/ui/table';
import { errorMessage, get, getBlob } from '@/lib/api';
import { direction, formatDateTime, formatDuration, formatTime, humanize, valueText } from '@/lib/format';
import { useTeamId } from '@/lib/session';
import type { Call, Interview } from '@/lib/types';

const route = getRouteApi('/_auth/calls/$callId');

export interface Turn {
  speaker: 'Agent' | 'Caller';
  text: string;
  offsetMs: number | null;
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
    if (last && last.speaker === speaker) last.text += `\n${text}`;
    else turns.push({ speaker, text, offsetMs });
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
    else if (turns.length) turns[turns.length - 1]!.text += `\n${line}`;
    else push('Caller', line, null);
  }
  return turns;
}

function Recording({ url }: { url: string }) {
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
      <audio controls src={src} className="w-full max-w-xl" aria-label="Call recording">
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

function Transcript({ call }: { call: Call }) {
  const turns = speakerTurns(call);
  if (!turns.length) return <p className="text-sm text-slate-700">Nothing was said.</p>;
  return (
    <ol className="flex flex-col gap-3" aria-label="Transcript">
      {turns.map((t, i) => (
        <li key={i} className={t.speaker === 'Agent' ? 'mr-16' : 'ml-16'}>
          <div
            className={
              'rounded-lg border px-3 py-2 text-sm whitespace-pre-line ' +
              (t.speaker === 'Agent' ? 'border-indigo-200 bg-indigo-50 text-slate-900' : 'border-slate-200 bg-white text-slate-900')
            }
          >
            <p className="mb-0.5 text-xs font-semibold text-slate-700">
              {t.speaker}
              {t.offsetMs !== null ? <span className="font-normal"> · {formatDuration(t.offsetMs)}</span> : null}
            </p>
            {t.text}
          </div>
        </li>
      ))}
    </ol>
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
  const call = useQuery({
    queryKey: [teamId, 'call', callId],
    queryFn: ({ signal }) => get<Call>(`/interview_response/${encodeURIComponent(callId)}`, undefined, { signal }),
    // A call in progress moves: follow it.
    refetchInterval: (q) => (q.state.data && LIVE.has(q.state.data.status) ? 3000 : false),
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
        actions={<StatusBadge value={c.status} />}
      />
      <div className="grid grid-cols-1 gap-6 xl:grid-cols-3">
        <div className="flex flex-col gap-6 xl:col-span-2">
          <Card aria-labelledby="rec-h">
            <CardHeader id="rec-h" title="Recording" />
            {c.recording_url ? <Recording url={c.recording_url} /> : <p className="text-sm text-slate-700">This call has no recording.</p>}
          </Card>
          <Card aria-labelledby="tr-h">
            <CardHeader id="tr-h" title="Transcript" />
            <Transcript call={c} />
          </Card>
          <Card aria-labelledby="vars-h">
            <CardHeader id="vars-h" title="Variables" description="What the agent captured during the call." />
            <KeyValues label="Variables" values={c.variables} />
          </Card>
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
          {c.latency?.length ? (
            <Card aria-labelledby="lat-h">
              <CardHeader id="lat-h" title="Response latency" description="Caller’s last word to the agent’s first sound, per reply." />
              <ol className="flex flex-wrap gap-2 text-sm">
                {c.latency.map((l, i) => (
                  <li key={i}>
                    <Badge tone={l.total_ms > 1500 ? 'amber' : 'neutral'}>{l.total_ms} ms</Badge>
                  </li>
                ))}
              </ol>
            </Card>
          ) : null}
        </div>
      </div>
      {!c.timeline.length && !c.transcript ? <EmptyState title="Nothing happened on this call yet" /> : null}
    </>
  );
}
