// "Test in browser" on the agent editor: talk to the agent's live version with the microphone
// over a WebSocket (`GET /call/browser`, a BROWSER_CALL; wire in crates/server/src/browser.rs):
// the mic through the `parley-mic` AudioWorklet (16 kHz, 20 ms Int16 frames), the agent's frames
// through `parley-player` (dropped on `clear`, the caller's barge-in). The transcript comes
// from the tab's live stream (lib/live.ts; polling each second without it); the node the agent
// is at is lit on the canvas (useUi.liveNode): during the call from what it last said (the
// call's `path` is complete only at the end), then the walk's last step.
import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useCallback, useEffect, useRef, useState } from 'react';
import { Button } from '@/components/ui/button';
import { StatusBadge } from '@/components/common';
import { get } from '@/lib/api';
import { useLiveCalls } from '@/lib/live';
import { useTeamId } from '@/lib/session';
import type { Call } from '@/lib/types';
import { useEditor } from '@/flow/store';
import { useUi } from '@/flow/ui';
import { activeNodeFor, browserCallUrl, lastAgentLine, lastPathNode, parseNote, unpackInt16LE } from './audio';
import workletUrl from './mic-worklet.ts?worker&url';

type Phase = 'idle' | 'mic' | 'connecting' | 'live' | 'ended' | 'error';

const FINAL = (s: string | undefined) => !!s && s !== 'NOT_STARTED' && s !== 'IN_PROGRESS';

interface Rig {
  ws: WebSocket | null;
  ctx: AudioContext | null;
  stream: MediaStream | null;
}

/** Why the socket was refused: a WebSocket does not show the HTTP status, so ask the API. */
async function refusalReason(): Promise<string> {
  try {
    const r = await fetch('/user', { credentials: 'same-origin' });
    if (r.status === 401) return 'The server refused the call: you are signed out. Sign in again and retry.';
  } catch {
    return 'The server could not be reached.';
  }
  return 'The server refused the call (401/403: not a member of this team, a page from another origin, or the team is at its limit of concurrent calls).';
}

export function TestInBrowser({ agentId, liveVersion, onClose }: { agentId: string; liveVersion: number; onClose: () => void }) {
  const teamId = useTeamId();
  const [phase, setPhase] = useState<Phase>('idle');
  const [error, setError] = useState<string | null>(null);
  const [callId, setCallId] = useState<string | null>(null);
  const [speaking, setSpeaking] = useState(false);
  const rig = useRef<Rig>({ ws: null, ctx: null, stream: null });
  // Bumped by each teardown: a start still awaiting the mic or the worklet gives up.
  const gen = useRef(0);
  const streamLive = useLiveCalls();

  const teardown = useCallback(() => {
    gen.current++;
    const r = rig.current;
    if (r.ws && r.ws.readyState <= WebSocket.OPEN) {
      try {
        if (r.ws.readyState === WebSocket.OPEN) r.ws.send(JSON.stringify({ type: 'hangup' }));
      } catch {
        /* closing anyway */
      }
      r.ws.close();
    }
    r.stream?.getTracks().forEach((t) => t.stop());
    void r.ctx?.close().catch(() => {});
    rig.current = { ws: null, ctx: null, stream: null };
    setSpeaking(false);
  }, []);

  const start = useCallback(async () => {
    if (!teamId) return;
    teardown();
    const my = gen.current;
    setError(null);
    setCallId(null);
    setPhase('mic');
    useUi.setState({ liveNode: null });
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, channelCount: 1 } });
    } catch (e) {
      const name = e instanceof DOMException ? e.name : '';
      setError(
        name === 'NotAllowedError' || name === 'SecurityError'
          ? 'Microphone access was denied. Allow the microphone for this site in the browser, then try again.'
          : name === 'NotFoundError'
            ? 'No microphone was found.'
            : `The microphone could not be opened: ${e instanceof Error ? e.message : String(e)}`,
      );
      setPhase('error');
      return;
    }
    if (gen.current !== my) {
      stream.getTracks().forEach((t) => t.stop());
      return;
    }
    const ctx = new AudioContext();
    rig.current = { ws: null, ctx, stream };
    try {
      await ctx.audioWorklet.addModule(workletUrl);
      await ctx.resume();
    } catch (e) {
      if (gen.current !== my) return;
      teardown();
      setError(`The audio processor could not load: ${e instanceof Error ? e.message : String(e)}`);
      setPhase('error');
      return;
    }
    if (gen.current !== my) return; // torn down meanwhile (closed the stream and the context)
    const mic = new AudioWorkletNode(ctx, 'parley-mic', { numberOfInputs: 1, numberOfOutputs: 0, channelCount: 1, channelCountMode: 'explicit' });
    const player = new AudioWorkletNode(ctx, 'parley-player', { numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1] });
    player.connect(ctx.destination);
    ctx.createMediaStreamSource(stream).connect(mic);
    player.port.onmessage = (e) => setSpeaking(e.data === 'playing');

    setPhase('connecting');
    const ws = new WebSocket(browserCallUrl(location.origin, agentId, teamId));
    ws.binaryType = 'arraybuffer';
    rig.current.ws = ws;
    let opened = false;
    let ended = false;
    mic.port.onmessage = (e: MessageEvent<ArrayBuffer>) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(e.data);
    };
    ws.onopen = () => {
      opened = true;
    };
    ws.onmessage = (e: MessageEvent<ArrayBuffer | string>) => {
      if (typeof e.data !== 'string') {
        const pcm = unpackInt16LE(e.data);
        player.port.postMessage(pcm, [pcm.buffer]);
        return;
      }
      const note = parseNote(e.data);
      if (!note) return;
      if (note.type === 'call') {
        setCallId(note.call_id);
        setPhase('live');
      } else if (note.type === 'clear') player.port.postMessage('clear');
      else if (note.type === 'ended') ended = true;
    };
    ws.onclose = () => {
      if (rig.current.ws !== ws) return; // replaced or hung up here
      rig.current.ws = null;
      teardown();
      if (!opened) {
        setPhase('error');
        void refusalReason().then(setError);
      } else {
        setPhase('ended');
        if (!ended) setError('The connection to the server closed before the call ended.');
      }
    };
  }, [agentId, teamId, teardown]);

  const hangUp = () => {
    teardown();
    setPhase((p) => (p === 'live' || p === 'connecting' ? 'ended' : p));
  };

  // Start on open (the click that opened the panel lets the audio play); stop on close.
  useEffect(() => {
    void start();
    return () => {
      teardown();
      useUi.setState({ liveNode: null });
    };
  }, [start, teardown]);

  const call = useQuery({
    queryKey: [teamId, 'call', callId],
    queryFn: ({ signal }) => get<Call>(`/interview_response/${encodeURIComponent(callId!)}`, undefined, { signal }),
    enabled: !!callId,
    // The live stream brings the call's changes; without it (or once ended, until the final
    // status with its walk is written), poll each second.
    refetchInterval: (q) => (FINAL(q.state.data?.status) ? false : !streamLive || phase === 'ended' ? 1000 : false),
  });
  const data = call.data as (Call & { path?: unknown }) | undefined;

  // The lit node. During the call, `path` is not written yet: match the agent's last transcript
  // line to the flow's question/speak/end texts (audio.ts activeNodeFor). Once the call is final,
  // the walk's last step.
  const history = data?.conversation_history;
  const final = FINAL(data?.status);
  useEffect(() => {
    if (!data) return;
    const node = final ? lastPathNode(data.path) : activeNodeFor(lastAgentLine(history), useEditor.getState().nodes);
    if (node || final) useUi.setState({ liveNode: node });
  }, [data, history, final]);

  const status =
    phase === 'mic'
      ? 'Asking for the microphone…'
      : phase === 'connecting'
        ? 'Connecting to the agent…'
        : phase === 'live'
          ? speaking
            ? 'In call: the agent is speaking.'
            : 'In call: listening. Speak to answer.'
          : phase === 'ended'
            ? final
              ? `Call ended: ${data?.status}${data?.outcome ? `, outcome ${data.outcome}` : ''}.`
              : 'Call ended. Waiting for its result…'
            : phase === 'error'
              ? 'Not connected.'
              : '';
  const live = phase === 'mic' || phase === 'connecting' || phase === 'live';
  const variables = Object.entries(data?.variables ?? {});

  return (
    <section aria-labelledby="tib-h" className="rounded-lg border border-indigo-200 bg-white p-3" data-testid="test-in-browser">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 id="tib-h" className="text-base font-semibold text-slate-900">
          Test in browser
        </h2>
        <div className="flex gap-2">
          {live ? (
            <Button size="sm" variant="danger" onClick={hangUp}>
              Hang up
            </Button>
          ) : (
            <Button size="sm" variant="secondary" onClick={() => void start()}>
              Call again
            </Button>
          )}
          <Button size="sm" variant="secondary" onClick={onClose} aria-label="Close the browser test">
            Close
          </Button>
        </div>
      </div>
      <p className="mt-1 text-xs text-slate-700">
        Talks to the live version ({liveVersion}) with your microphone; publish the draft to test your latest edits. The node the agent is at is lit on the canvas.
      </p>
      <p role="status" aria-live="polite" className="mt-2 text-sm font-medium text-slate-900" data-testid="tib-status" data-phase={phase}>
        {status}
      </p>
      {error ? (
        <p role="alert" className="mt-2 rounded border border-red-300 bg-red-50 p-2 text-sm text-red-900">
          {error}
        </p>
      ) : null}
      {callId ? (
        <div className="mt-2 grid gap-3 md:grid-cols-[1fr_16rem]">
          <div role="log" aria-label="Live transcript" tabIndex={0} className="max-h-48 overflow-y-auto rounded border border-slate-200 bg-slate-50 p-2 text-sm">
            <ol>
            {(history ?? []).length === 0 ? <li className="text-slate-700 italic">Nothing said yet.</li> : null}
            {(history ?? []).map((t, i) => (
              <li key={i} className="py-0.5">
                <span className="font-semibold">{t.author === 'ai' ? 'Agent' : 'You'}:</span> {t.text}
              </li>
            ))}
            </ol>
          </div>
          <div className="text-sm">
            {data ? (
              <p className="flex items-center gap-2">
                Status <StatusBadge value={data.status} />
              </p>
            ) : null}
            {final ? (
              <>
                <p className="mt-1">
                  Outcome: <strong data-testid="tib-outcome">{data?.outcome ?? '—'}</strong>
                </p>
                <dl className="mt-1 grid grid-cols-[auto_1fr] gap-x-2" aria-label="Captured variables" data-testid="tib-variables">
                  {variables.length ? (
                    variables.map(([k, v]) => (
                      <div key={k} className="contents">
                        <dt className="font-mono text-xs text-slate-700">{k}</dt>
                        <dd className="font-mono text-xs">{JSON.stringify(v)}</dd>
                      </div>
                    ))
                  ) : (
                    <dd className="col-span-2 text-slate-700">No variables captured.</dd>
                  )}
                </dl>
              </>
            ) : null}
            <p className="mt-2">
              <Link to="/calls/$callId" params={{ callId }} className="text-indigo-700 hover:underline">
                Open the call’s page
              </Link>
            </p>
          </div>
        </div>
      ) : null}
    </section>
  );
}
