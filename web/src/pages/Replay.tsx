// Replay on the canvas (/calls/$callId/replay): the call's walk (`Call.path`) over the flow of
// the agent version that served it. A scrubber over the call's duration (and the recording,
// played in sync when there is one) picks a moment; the canvas shows the node active then, the
// side panel why it was left, what it captured and the latency of the agent's next reply, and
// the transcript highlights the line being said (a line seeks there). Logic: replay/replay.ts.
import { useQuery } from '@tanstack/react-query';
import { getRouteApi, Link } from '@tanstack/react-router';
import { ReactFlowProvider } from '@xyflow/react';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { EmptyState, ErrorState, Loading, PageHeader, StatusBadge } from '@/components/common';
import { Button } from '@/components/ui/button';
import { Card, CardHeader } from '@/components/ui/card';
import { Table, TBody, TD, TH, THead, TR } from '@/components/ui/table';
import { isNodeType, nodeText, normalizeFlow, TYPE_LABELS, type Flow } from '@/flow/graph';
import { errorMessage, get, getBlob, isNotFound } from '@/lib/api';
import { direction, formatDuration, valueText } from '@/lib/format';
import { useTeamId } from '@/lib/session';
import type { Interview } from '@/lib/types';
import { ReplayCanvas } from '@/replay/ReplayCanvas';
import {
  activeLineAt,
  edgesTaken,
  latencyAfter,
  latencyByLine,
  marksAt,
  originOf,
  pathOf,
  replayLayout,
  replayLength,
  shownStep,
  stepOffsets,
  whyLeft,
  type Latency,
  type ReplayCall,
} from '@/replay/replay';

const route = getRouteApi('/_auth/calls/$callId/replay');
const LIVE = new Set(['NOT_STARTED', 'IN_PROGRESS']);

const LATENCY_PARTS = [
  ['endpointing_ms', 'Endpointing'],
  ['stt_queue_ms', 'STT queue'],
  ['stt_ms', 'Speech to text'],
  ['agent_ms', 'Agent'],
  ['tts_first_audio_ms', 'TTS first audio'],
] as const;

/** The flow of the version that served the call; the agent's live flow when that version is not kept. */
function useServedFlow(agentId: string | undefined, version: number | undefined) {
  const teamId = useTeamId();
  return useQuery({
    queryKey: [teamId, 'interview-version-flow', agentId, version ?? 'live'],
    enabled: !!agentId,
    staleTime: Infinity,
    queryFn: async ({ signal }): Promise<{ flow: Flow; exact: boolean; version: number | undefined; title: string }> => {
      const base = `/interview/${encodeURIComponent(agentId!)}`;
      if (version !== undefined) {
        try {
          const a = await get<Interview>(`${base}/versions/${version}`, undefined, { signal });
          return { flow: replayLayout(normalizeFlow(a.flow)), exact: true, version, title: a.title };
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
      const a = await get<Interview & { version?: number }>(base, undefined, { signal });
      return { flow: replayLayout(normalizeFlow(a.flow)), exact: false, version: a.version, title: a.title };
    },
  });
}

/** The recording as a blob: URL (fetched with the API headers, as the call page does). */
function useRecordingSrc(url: string | null) {
  const teamId = useTeamId();
  const blob = useQuery({
    queryKey: [teamId, 'recording', url],
    queryFn: ({ signal }) => getBlob(url!, signal),
    enabled: !!url,
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
  return { src, error: blob.isError ? blob.error : null, loading: !!url && !src && !blob.isError };
}

function LatencyParts({ l }: { l: Latency }) {
  return (
    <dl className="mt-1 grid grid-cols-[1fr_auto] gap-x-3 gap-y-0.5 text-sm">
      {LATENCY_PARTS.map(([k, label]) =>
        typeof l[k] === 'number' ? (
          <div key={k} className="contents">
            <dt className="text-slate-700">{label}</dt>
            <dd className="text-right tabular-nums text-slate-900">{l[k]} ms</dd>
          </div>
        ) : null,
      )}
      <dt className="font-semibold text-slate-900">Total</dt>
      <dd className={'text-right font-semibold tabular-nums ' + (l.total_ms > 1500 ? 'text-amber-900' : 'text-slate-900')}>{l.total_ms} ms</dd>
    </dl>
  );
}

export function ReplayPage() {
  const { callId } = route.useParams();
  const teamId = useTeamId();
  const call = useQuery({
    queryKey: [teamId, 'call', callId],
    queryFn: ({ signal }) => get<ReplayCall>(`/interview_response/${encodeURIComponent(callId)}`, undefined, { signal }),
    refetchInterval: (q) => (q.state.data && LIVE.has(q.state.data.status) ? 3000 : false),
  });
  const c = call.data;
  const served = useServedFlow(c?.interview.id, c?.interview.version);
  const rec = useRecordingSrc(c?.recording_url ?? null);
  const audioRef = useRef<HTMLAudioElement | null>(null);
  const [audioMs, setAudioMs] = useState(0);
  const [tState, setTState] = useState<number | null>(null);
  // The step picked by Previous/Next node or a click on a node (steps can share an instant);
  // the replay opens on the first. Any move of the time drops it.
  const [pick, setPick] = useState<number | null>(0);
  const setT = useCallback((v: number) => {
    setTState(v);
    setPick(null);
  }, []);
  const [playing, setPlaying] = useState(false);

  const path = useMemo(() => (c ? pathOf(c) : []), [c]);
  const lines = useMemo(() => c?.conversation_history ?? [], [c]);
  const latency = useMemo(() => c?.latency ?? [], [c]);
  const origin = c ? originOf(c.start_time, path) : null;
  const offsets = useMemo(() => (origin === null ? [] : stepOffsets(path, origin)), [path, origin]);
  const length = replayLength(c?.duration_ms, offsets, lines, audioMs);
  // The scrubber's end: a whole number of its 100 ms steps, so the range input (which snaps its
  // value to the step grid) can sit exactly at the end. Time is clamped to it, not to `length`,
  // or End would land between two steps and snap back one.
  const scrubMax = Math.max(100, Math.ceil(length / 100) * 100);
  // The replay opens at the first node entered (the answer, or just after it).
  const t = Math.min(scrubMax, tState ?? Math.max(0, offsets[0] ?? 0));
  const active = shownStep(offsets, t, pick);
  const flow = served.data?.flow;
  const taken = useMemo(() => (flow ? edgesTaken(path, flow.edges) : []), [path, flow]);
  const marks = useMemo(() => marksAt(path, taken, active), [path, taken, active]);
  const byLine = useMemo(() => latencyByLine(lines, latency.length), [lines, latency.length]);
  const lineAt = activeLineAt(lines, t);

  const tRef = useRef(t);
  tRef.current = t;
  const lengthRef = useRef(scrubMax);
  lengthRef.current = scrubMax;

  const seek = useCallback(
    (ms: number, step: number | null = null) => {
      const v = Math.max(0, Math.min(lengthRef.current, ms));
      setT(v);
      setPick(step);
      const a = audioRef.current;
      if (a && Number.isFinite(a.duration)) a.currentTime = Math.min(a.duration, v / 1000);
    },
    [setT],
  );
  const goStep = (i: number) => seek(offsets[i] ?? 0, i);

  // Playing: the recording drives the time while it plays; without one (or past its end), a clock.
  useEffect(() => {
    if (!playing) return;
    const a = audioRef.current;
    if (a && Number.isFinite(a.duration) && tRef.current / 1000 < a.duration) {
      a.currentTime = tRef.current / 1000;
      void a.play().catch(() => {});
    }
    let last = performance.now();
    let frame = requestAnimationFrame(function tick(now) {
      const dt = now - last;
      last = now;
      const au = audioRef.current;
      const next = au && !au.paused && !au.ended ? au.currentTime * 1000 : tRef.current + dt;
      if (next >= lengthRef.current) {
        setT(lengthRef.current);
        setPlaying(false);
        return;
      }
      setT(next);
      frame = requestAnimationFrame(tick);
    });
    return () => {
      cancelAnimationFrame(frame);
      audioRef.current?.pause();
    };
  }, [playing, setT]);

  function togglePlay() {
    if (!playing && t >= length) seek(0);
    setPlaying((p) => !p);
  }

  if (call.isPending) return <Loading />;
  if (call.isError)
    return (
      <>
        <PageHeader title="Call replay" />
        <ErrorState error={call.error} title="Could not load this call" />
      </>
    );
  const cd = c!;
  const dir = direction(cd.type);
  const step = active >= 0 ? path[active] : undefined;
  const stepNode = step && flow ? flow.nodes.find((n) => n.id === step.node) : undefined;
  const reply = step ? latencyAfter(lines, byLine, offsets[active]!) : null;
  const missing = flow ? [...new Set(path.map((s) => s.node))].filter((id) => !flow.nodes.some((n) => n.id === id)) : [];
  const stepLabel = (i: number) => {
    const s = path[i]!;
    return `${isNodeType(s.type) ? TYPE_LABELS[s.type] : s.type || 'Node'} ${s.node}`;
  };
  const valueText_ = `${formatDuration(Math.min(t, length))} of ${formatDuration(length)}${step ? `, ${stepLabel(active)}` : ''}`;

  return (
    <>
      <p className="mb-2 text-sm">
        <Link to="/calls/$callId" params={{ callId }} className="text-indigo-700 hover:underline">
          ← Call
        </Link>
      </p>
      <PageHeader
        title={`Replay: ${dir} call ${dir === 'Inbound' ? 'from' : 'with'} ${cd.contact?.name || cd.phone_number}`}
        description={
          <>
            Agent{' '}
            <Link to="/agents/$agentId" params={{ agentId: cd.interview.id }} className="text-indigo-700 underline">
              {cd.interview.title ?? served.data?.title ?? cd.interview.id}
            </Link>
            {served.data
              ? served.data.exact
                ? `, version ${served.data.version}`
                : ` (version ${cd.interview.version ?? '?'} is not kept: showing the current flow${served.data.version !== undefined ? `, version ${served.data.version}` : ''})`
              : ''}
          </>
        }
        actions={<StatusBadge value={cd.status} />}
      />

      <Card aria-labelledby="scrub-h" className="mb-4 p-4">
        <h2 id="scrub-h" className="sr-only">
          Playback
        </h2>
        <div className="flex flex-wrap items-center gap-3">
          <Button variant="primary" size="sm" onClick={togglePlay} aria-pressed={playing} className="w-20">
            {playing ? 'Pause' : 'Play'}
          </Button>
          <Button
            variant="secondary"
            size="sm"
            disabled={active <= 0}
            onClick={() => goStep(active - 1)}
          >
            Previous node
          </Button>
          <Button variant="secondary" size="sm" disabled={active >= path.length - 1} onClick={() => goStep(active + 1)}>
            Next node
          </Button>
          <label htmlFor="replay-time" className="text-sm font-medium text-slate-900">
            Call time
          </label>
          <input
            id="replay-time"
            type="range"
            min={0}
            max={scrubMax}
            step={100}
            value={Math.round(t)}
            aria-valuetext={valueText_}
            onChange={(e) => seek(Number(e.currentTarget.value))}
            className="min-w-48 flex-1 accent-indigo-700"
            data-testid="replay-scrubber"
          />
          <output htmlFor="replay-time" className="w-24 text-right text-sm tabular-nums text-slate-900" aria-live="off">
            {formatDuration(Math.min(t, length))} / {formatDuration(length)}
          </output>
        </div>
        <p className="mt-2 text-xs text-slate-700">
          {cd.recording_url
            ? rec.error
              ? `The recording could not be loaded (${errorMessage(rec.error)}): the replay runs on the call's clock.`
              : rec.loading
                ? 'Loading the recording…'
                : 'The recording plays in sync with the canvas.'
            : 'This call has no recording: Play runs the call’s clock.'}{' '}
          Arrow keys on the slider move by 0.1 s, Page Up/Down by more; a transcript line or a node jumps there.
        </p>
        {rec.src ? (
          <audio
            ref={audioRef}
            src={rec.src}
            preload="auto"
            aria-label="Call recording"
            onLoadedMetadata={(e) => {
              const d = e.currentTarget.duration;
              if (Number.isFinite(d)) setAudioMs(d * 1000);
              e.currentTarget.currentTime = tRef.current / 1000;
            }}
          >
            Your browser cannot play this recording.
          </audio>
        ) : null}
      </Card>

      {LIVE.has(cd.status) ? (
        <p className="mb-4 rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950" role="status">
          This call is still in progress: the replay grows as it goes.
        </p>
      ) : null}

      <div className="grid grid-cols-1 gap-4 xl:grid-cols-[1fr_24rem]">
        <div
          className="h-[calc(100vh-22rem)] min-h-[480px] overflow-hidden rounded-lg border border-slate-200 bg-white"
          data-testid="replay-canvas"
        >
          {served.isError ? (
            <div className="p-4">
              <ErrorState error={served.error} title="Could not load the agent's flow" />
            </div>
          ) : !flow ? (
            <Loading label="Loading the flow…" />
          ) : (
            <ReactFlowProvider>
              <ReplayCanvas
                flow={flow}
                marks={marks}
                onNodeClick={(id) => {
                  // A node jumps to its next visit after the step shown, else its first visit.
                  const visits = path.flatMap((s, i) => (s.node === id ? [i] : []));
                  const to = visits.find((i) => i > active) ?? visits[0];
                  if (to !== undefined) goStep(to);
                }}
              />
            </ReactFlowProvider>
          )}
        </div>

        <aside aria-labelledby="step-h" className="flex min-h-0 flex-col gap-4">
          <Card className="p-4" aria-labelledby="step-h">
            <CardHeader
              id="step-h"
              title={step ? `Step ${active + 1} of ${path.length}` : path.length ? 'Before the first node' : 'No walk recorded'}
            />
            {!path.length ? (
              <p className="text-sm text-slate-700">
                This call has no walk through the flow (a call from before replays were kept, or one that never reached the agent).
              </p>
            ) : !step ? (
              <p className="text-sm text-slate-700">The agent had not entered a node yet.</p>
            ) : (
              <div className="flex flex-col gap-3 text-sm" data-testid="replay-step" data-node={step.node}>
                <div>
                  <p className="text-xs font-semibold tracking-wide text-slate-700 uppercase">
                    {isNodeType(step.type) ? TYPE_LABELS[step.type] : step.type || 'Node'} · <span className="font-mono normal-case">{step.node}</span>
                  </p>
                  <p className="mt-1 break-words text-slate-900">
                    {stepNode ? nodeText(stepNode) || <span className="italic">No text</span> : <span className="italic">Not in the flow shown.</span>}
                  </p>
                  <p className="mt-1 text-xs text-slate-700">Entered at {formatDuration(Math.max(0, offsets[active]!))}</p>
                </div>
                <p className="text-slate-900">{whyLeft(step, active === path.length - 1)}</p>
                <div>
                  <h3 className="font-semibold text-slate-900">Captured here</h3>
                  {Object.keys(step.captured).length ? (
                    <Table aria-label="Variables captured at this node">
                      <THead>
                        <TR>
                          <TH>Variable</TH>
                          <TH>Value</TH>
                        </TR>
                      </THead>
                      <TBody>
                        {Object.entries(step.captured).map(([k, v]) => (
                          <TR key={k}>
                            <TD className="font-mono text-xs">{k}</TD>
                            <TD className="break-all">{valueText(v)}</TD>
                          </TR>
                        ))}
                      </TBody>
                    </Table>
                  ) : (
                    <p className="text-slate-700">Nothing.</p>
                  )}
                </div>
                <div>
                  <h3 className="font-semibold text-slate-900">Latency of the next agent reply</h3>
                  {reply ? (
                    <>
                      <p className="text-slate-700">
                        Reply {reply.latency + 1} at {formatDuration(lines[reply.line]!.cumulative_duration_ms)}: «{lines[reply.line]!.text}»
                      </p>
                      <LatencyParts l={latency[reply.latency]!} />
                    </>
                  ) : (
                    <p className="text-slate-700">None measured after this node.</p>
                  )}
                </div>
              </div>
            )}
            {missing.length ? (
              <p className="mt-3 text-xs text-amber-900">Not in the flow shown: {missing.join(', ')}.</p>
            ) : null}
          </Card>

          <Card className="p-4" aria-labelledby="replay-tr-h">
            <CardHeader id="replay-tr-h" title="Transcript" />
            {lines.length ? (
              <ol className="flex max-h-[24rem] flex-col gap-1 overflow-y-auto" aria-label="Transcript">
                {lines.map((l, i) => {
                  const isActive = i === lineAt;
                  const k = byLine[i];
                  const who = l.author === 'ai' ? 'Agent' : 'Caller';
                  return (
                    <li key={i}>
                      <button
                        type="button"
                        aria-current={isActive ? 'true' : undefined}
                        data-offset-ms={l.cumulative_duration_ms}
                        onClick={() => seek(l.cumulative_duration_ms)}
                        className={
                          'block w-full rounded px-2 py-1 text-left text-sm hover:bg-amber-100 focus-visible:outline-2 focus-visible:outline-indigo-600 ' +
                          (isActive ? 'bg-amber-200 text-slate-950' : l.author === 'ai' ? 'bg-indigo-50 text-slate-900' : 'text-slate-900')
                        }
                      >
                        <span className="text-xs font-semibold text-slate-700">
                          {who} · {formatDuration(l.cumulative_duration_ms)}
                          {k !== null && k !== undefined && latency[k] ? ` · reply ${latency[k].total_ms} ms` : ''}
                        </span>
                        <span className="block whitespace-pre-line">{l.text}</span>
                      </button>
                    </li>
                  );
                })}
              </ol>
            ) : (
              <p className="text-sm text-slate-700">Nothing was said.</p>
            )}
          </Card>
        </aside>
      </div>
      {!path.length && !lines.length ? <EmptyState title="Nothing to replay on this call yet" /> : null}
    </>
  );
}
