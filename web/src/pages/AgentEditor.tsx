// The voice agent's page: the visual flow editor (canvas, palette, outline, node panel),
// its settings, versions and recent calls. Edits autosave to the server's draft; Publish
// shows the diff and makes a new live version; an older version is restored in one click.
import * as Tabs from '@radix-ui/react-tabs';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { getRouteApi, Link } from '@tanstack/react-router';
import { ReactFlowProvider } from '@xyflow/react';
import { useCallback, useEffect, useRef, useState } from 'react';
import { useStore } from 'zustand';
import { EmptyState, ErrorState, Loading, StatusBadge } from '@/components/common';
import { CallMe } from '@/components/CallMe';
import { TestInBrowser } from '@/browser-call/TestInBrowser';
import { Button } from '@/components/ui/button';
import { Table, TBody, TD, TH, THead, TR } from '@/components/ui/table';
import { ApiError, errorMessage, get } from '@/lib/api';
import { formatDateTime, formatDuration } from '@/lib/format';
import { useTeamId } from '@/lib/session';
import type { Call, Interview } from '@/lib/types';
import { discardDraft, flowOf, getAgent, getDraft, publishDraft, restoreVersion, saveDraft, settingsOf, type ServerProblem } from '@/flow/api';
import { DND_TYPE, FlowCanvas } from '@/flow/FlowCanvas';
import { diffFlows, handlesOf, locateServerProblem, NODE_TYPES, serializeFlow, TYPE_HELP, TYPE_LABELS, validate, type Flow, type FlowDiff, type NodeType, type Problem } from '@/flow/graph';
import { NodePanel } from '@/flow/NodePanel';
import { announce, LiveStatus, NodeActions, Outline } from '@/flow/Outline';
import { PublishDialog, SettingsForm, VersionsPanel } from '@/flow/Panels';
import { currentFlow, redo, sameStructure, undo, useEditor } from '@/flow/store';
import { fieldKey, nodeKey, useUi } from '@/flow/ui';

const route = getRouteApi('/_auth/agents/$agentId');

interface Loaded {
  live: Interview;
  baseVersion: number;
  hasDraft: boolean;
  /** The server has no draft endpoints (older build): edits cannot be saved. */
  noDrafts: boolean;
}

function Palette() {
  return (
    <section aria-labelledby="palette-h">
      <h2 id="palette-h" className="text-sm font-semibold text-slate-900">
        Add a step
      </h2>
      <p className="mb-2 text-xs text-slate-700">Drag onto the canvas, or press Enter to add after the selected node.</p>
      <ul className="grid grid-cols-2 gap-1.5">
        {NODE_TYPES.filter((t) => t !== 'start').map((t) => (
          <li key={t}>
            <button
              type="button"
              draggable
              data-node-type={t}
              title={TYPE_HELP[t]}
              aria-label={`Add a ${TYPE_LABELS[t]} node (${TYPE_HELP[t]})`}
              onDragStart={(e) => {
                e.dataTransfer.setData(DND_TYPE, t);
                e.dataTransfer.effectAllowed = 'move';
              }}
              onClick={() => addAfterSelected(t)}
              className="w-full cursor-grab rounded-md border border-slate-300 bg-white px-2 py-1.5 text-left text-sm font-medium text-slate-900 hover:bg-slate-100 focus-visible:outline-2 focus-visible:outline-indigo-600"
            >
              {TYPE_LABELS[t]}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

function addAfterSelected(type: NodeType) {
  const st = useEditor.getState();
  const sel = st.nodes.find((n) => n.id === st.selectedId);
  // The selected node's first outcome not connected yet (no_match last).
  const handle = sel ? handlesOf(sel).find((h) => !st.edges.some((e) => e.source === sel.id && e.sourceHandle === h)) : undefined;
  const pos = sel ? { x: sel.position.x, y: sel.position.y + 170 } : { x: 40, y: 40 + st.nodes.length * 30 };
  const id = st.addNode(type, pos, sel && handle ? { source: sel.id, handle } : undefined);
  announce(sel && handle ? `Added ${TYPE_LABELS[type]} node ${id} after ${sel.id} (${handle})` : `Added ${TYPE_LABELS[type]} node ${id}`);
}

function SaveIndicator() {
  const save = useUi((s) => s.save);
  const text =
    save.status === 'saving' || save.status === 'pending'
      ? 'Saving…'
      : save.status === 'saved'
        ? `Saved${save.at ? ` ${new Date(save.at).toLocaleTimeString()}` : ''}`
        : save.status === 'error'
          ? `Save failed: ${save.error ?? ''}`
          : 'No changes';
  return (
    <span role="status" aria-live="polite" className={save.status === 'error' ? 'text-sm text-red-800' : 'text-sm text-slate-700'} data-testid="save-status">
      {text}
    </span>
  );
}

function UndoRedo() {
  const canUndo = useStore(useEditor.temporal, (s) => s.pastStates.length > 0);
  const canRedo = useStore(useEditor.temporal, (s) => s.futureStates.length > 0);
  return (
    <>
      <Button variant="secondary" size="sm" disabled={!canUndo} onClick={undo} aria-keyshortcuts="Control+Z" title="Undo (Ctrl+Z)">
        Undo
      </Button>
      <Button variant="secondary" size="sm" disabled={!canRedo} onClick={redo} aria-keyshortcuts="Control+Shift+Z Control+Y" title="Redo (Ctrl+Shift+Z or Ctrl+Y)">
        Redo
      </Button>
    </>
  );
}

function RecentCalls({ agentId }: { agentId: string }) {
  const teamId = useTeamId();
  const calls = useQuery({
    queryKey: [teamId, 'interview', agentId, 'responses'],
    queryFn: ({ signal }) => get<{ responses: Call[]; count: number }>(`/interview/${encodeURIComponent(agentId)}/responses`, { limit: 10 }, { signal }),
  });
  if (calls.isPending) return <Loading />;
  if (calls.isError) return <ErrorState error={calls.error} />;
  if (!calls.data.responses.length) return <EmptyState title="No calls yet" />;
  return (
    <>
      <Table aria-label="Recent calls">
        <THead>
          <TR>
            <TH>When</TH>
            <TH>Number</TH>
            <TH>Status</TH>
            <TH>Duration</TH>
            <TH>Outcome</TH>
            <TH>Agent version</TH>
          </TR>
        </THead>
        <TBody>
          {calls.data.responses.map((c) => (
            <TR key={c.id}>
              <TD>
                <Link to="/calls/$callId" params={{ callId: c.id }} className="text-indigo-700 hover:underline">
                  {formatDateTime(c.created)}
                </Link>
              </TD>
              <TD className="font-mono text-xs">{c.phone_number}</TD>
              <TD>
                <StatusBadge value={c.status} />
              </TD>
              <TD>{formatDuration(c.duration_ms)}</TD>
              <TD>{c.outcome ?? '—'}</TD>
              <TD>{(c.interview as { version?: number }).version ?? '—'}</TD>
            </TR>
          ))}
        </TBody>
      </Table>
      <p className="mt-2 text-sm">
        <Link to="/calls" search={{ agent: agentId }} className="text-indigo-700 hover:underline">
          All calls of this agent
        </Link>
      </p>
    </>
  );
}

/** Client problems plus the last save's server problems not already covered, and who shows them. */
function refreshProblems() {
  const ed = useEditor.getState();
  const ui = useUi.getState();
  const client = validate(currentFlow(ed), ed.settings);
  const key = (p: Problem) => `${p.nodeId ?? ''}|${p.setting ?? ''}|${p.field}`;
  const have = new Set(client.map(key));
  const ids = new Set(ed.nodes.map((n) => n.id));
  const server = ui.serverProblems.filter((p) => !have.has(key(p)) && (!p.nodeId || ids.has(p.nodeId)) && !(p.nodeId && p.field === '' && client.some((c) => c.nodeId === p.nodeId)));
  const problems = [...client, ...server];
  const byNode: Record<string, string[]> = {};
  for (const p of problems) {
    if (!p.nodeId) continue;
    const shown = ui.showAll || ui.touched.has(nodeKey(p.nodeId)) || (p.field && ui.touched.has(fieldKey(p.nodeId, p.field)));
    if (shown) (byNode[p.nodeId] ??= []).push(p.field ? `${p.field}: ${p.message}` : p.message);
  }
  // Keep the arrays of unchanged nodes, so their components do not re-render.
  const prev = ui.nodeProblems;
  for (const [id, ms] of Object.entries(byNode)) if (prev[id] && prev[id].join('\n') === ms.join('\n')) byNode[id] = prev[id];
  useUi.setState({ problems, nodeProblems: byNode });
}

export function AgentEditorPage() {
  const { agentId } = route.useParams();
  const teamId = useTeamId();
  const qc = useQueryClient();
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [loadKey, setLoadKey] = useState(0);
  const [notice, setNotice] = useState<{ tone: 'ok' | 'error'; text: string } | null>(null);
  const [tab, setTab] = useState('flow');
  const [testing, setTesting] = useState(false);
  const title = useEditor((s) => s.settings.title);
  const globalProblems = useUi((s) => s.problems);
  const showAll = useUi((s) => s.showAll);
  const saving = useRef<{ timer: ReturnType<typeof setTimeout> | null; inflight: Promise<void> | null; dirty: boolean }>({ timer: null, inflight: null, dirty: false });
  const suppress = useRef(true);

  // Load the draft (or the live agent when there is none) into the store.
  useEffect(() => {
    let gone = false;
    suppress.current = true;
    (async () => {
      try {
        const live = await getAgent(agentId);
        let info: { draft: Interview; has_draft: boolean; base_version: number; problems: ServerProblem[]; saved: string | null } | null = null;
        let noDrafts = false;
        try {
          info = await getDraft(agentId);
        } catch (e) {
          if (e instanceof ApiError && (e.status === 404 || e.status === 405)) noDrafts = true;
          else throw e;
        }
        if (gone) return;
        const src = info?.draft ?? live;
        const flow = flowOf(src);
        useUi.getState().reset();
        useEditor.getState().load(flow, settingsOf(src));
        useUi.setState({
          serverProblems: (info?.problems ?? []).map((p) => locateServerProblem(p, flow)),
          save: { status: info?.has_draft ? 'saved' : 'idle', at: info?.saved ?? null, error: null },
        });
        refreshProblems();
        setLoaded({ live, baseVersion: info?.base_version ?? live.version, hasDraft: !!info?.has_draft, noDrafts });
        setLoadError(null);
      } catch (e) {
        if (!gone) setLoadError(e);
      } finally {
        suppress.current = false;
      }
    })();
    return () => {
      gone = true;
    };
  }, [agentId, teamId, loadKey]);

  const doSave = useCallback(async (): Promise<void> => {
    const s = saving.current;
    if (s.timer) {
      clearTimeout(s.timer);
      s.timer = null;
    }
    if (s.inflight) {
      await s.inflight;
      if (!s.dirty) return;
    }
    if (!s.dirty) return;
    s.dirty = false;
    const ed = useEditor.getState();
    const sent: Flow = serializeFlow(currentFlow(ed));
    useUi.setState({ save: { ...useUi.getState().save, status: 'saving', error: null } });
    const run = (async () => {
      try {
        const r = await saveDraft(agentId, { ...ed.settings, flow: sent });
        useUi.setState({ serverProblems: (r.problems ?? []).map((p) => locateServerProblem(p, sent)), save: { status: s.dirty ? 'pending' : 'saved', at: r.saved ?? new Date().toISOString(), error: null } });
        setLoaded((l) => (l ? { ...l, hasDraft: true } : l));
        refreshProblems();
      } catch (e) {
        s.dirty = true;
        useUi.setState({ save: { status: 'error', at: useUi.getState().save.at, error: errorMessage(e) } });
        throw e;
      }
    })();
    s.inflight = run.finally(() => {
      s.inflight = null;
    });
    await s.inflight.catch(() => {});
    if (s.dirty && useUi.getState().save.status !== 'error') return doSave();
  }, [agentId]);

  // Autosave: 800 ms after the last change of the graph or the settings.
  useEffect(() => {
    const unsub = useEditor.subscribe((st, prev) => {
      if (st.nodes === prev.nodes && st.edges === prev.edges && st.settings === prev.settings) return;
      // Positions alone (every frame of a drag) cannot change a problem.
      if (st.edges !== prev.edges || st.settings !== prev.settings || !sameStructure(st.nodes, prev.nodes)) refreshProblemsSoon();
      if (suppress.current || !loaded || loaded.noDrafts) return;
      const s = saving.current;
      s.dirty = true;
      if (useUi.getState().save.status !== 'pending') useUi.setState({ save: { ...useUi.getState().save, status: 'pending' } });
      if (s.timer) clearTimeout(s.timer);
      s.timer = setTimeout(() => void doSave(), 800);
    });
    const unsubUi = useUi.subscribe((st, prev) => {
      if (st.touched !== prev.touched || st.showAll !== prev.showAll || st.serverProblems !== prev.serverProblems) refreshProblemsSoon();
    });
    return () => {
      unsub();
      unsubUi();
      // Leaving the page: save what is pending now.
      if (saving.current.dirty) void doSave();
    };
  }, [loaded, doSave]);

  // Undo/redo from the keyboard anywhere in the editor except text fields (they have their own).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
      const t = e.target as HTMLElement;
      if (t.closest('input, textarea, select, [contenteditable="true"]')) return;
      const k = e.key.toLowerCase();
      if (k === 'z' && !e.shiftKey) {
        e.preventDefault();
        undo();
        announce('Undone');
      } else if ((k === 'z' && e.shiftKey) || k === 'y') {
        e.preventDefault();
        redo();
        announce('Redone');
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const [publishOpen, setPublishOpen] = useState(false);
  const [diff, setDiff] = useState<FlowDiff | null>(null);
  const [preparing, setPreparing] = useState(false);
  const [publishing, setPublishing] = useState(false);
  const [publishError, setPublishError] = useState<unknown>(null);
  const [restoring, setRestoring] = useState<number | null>(null);

  const openPublish = async () => {
    setPublishOpen(true);
    setPublishError(null);
    setDiff(null);
    setPreparing(true);
    try {
      await doSave();
      if (useUi.getState().save.status === 'error') throw new Error(`The draft could not be saved: ${useUi.getState().save.error}`);
      const live = await getAgent(agentId);
      const ed = useEditor.getState();
      setLoaded((l) => (l ? { ...l, live } : l));
      setDiff(diffFlows(flowOf(live), currentFlow(ed), settingsOf(live), ed.settings));
    } catch (e) {
      setPublishError(e);
    } finally {
      setPreparing(false);
    }
  };

  const publish = async () => {
    if (!loaded) return;
    setPublishing(true);
    setPublishError(null);
    try {
      const a = await publishDraft(agentId, loaded.baseVersion);
      setPublishOpen(false);
      setNotice({ tone: 'ok', text: `Published version ${a.version}. New calls use it.` });
      void qc.invalidateQueries({ queryKey: [teamId, 'interview'] });
      setLoadKey((k) => k + 1);
    } catch (e) {
      if (e instanceof ApiError && e.status === 400 && e.problems.length) {
        const sent = serializeFlow(currentFlow());
        useUi.setState({ serverProblems: e.problems.map((p) => locateServerProblem(p, sent)), showAll: true });
        setPublishOpen(false);
        setNotice({ tone: 'error', text: `Not published: ${e.problems.length} problem(s) to fix, shown on the nodes and fields.` });
      } else if (e instanceof ApiError && e.status === 409) {
        setPublishError(new Error('Someone published a newer version meanwhile. Reload to see it (your draft stays saved), then publish again.'));
      } else setPublishError(e);
    } finally {
      setPublishing(false);
    }
  };

  const restore = async (v: number) => {
    setRestoring(v);
    try {
      if (saving.current.dirty) await doSave();
      const a = await restoreVersion(agentId, v);
      setNotice({ tone: 'ok', text: `Restored version ${v} as version ${a.version}.` });
      void qc.invalidateQueries({ queryKey: [teamId, 'interview'] });
      setLoadKey((k) => k + 1);
    } catch (e) {
      setNotice({ tone: 'error', text: `Could not restore version ${v}: ${errorMessage(e)}` });
    } finally {
      setRestoring(null);
    }
  };

  const discard = async () => {
    try {
      const s = saving.current;
      if (s.timer) clearTimeout(s.timer);
      s.dirty = false;
      await s.inflight;
      await discardDraft(agentId);
      setNotice({ tone: 'ok', text: 'Draft discarded: the editor shows the live version.' });
      setLoadKey((k) => k + 1);
    } catch (e) {
      setNotice({ tone: 'error', text: `Could not discard the draft: ${errorMessage(e)}` });
    }
  };

  if (loadError) return <ErrorState error={loadError} title="Could not load this agent" onRetry={() => setLoadKey((k) => k + 1)} />;
  if (!loaded) return <Loading />;
  const live = loaded.live;
  const flowWide = showAll ? globalProblems.filter((p) => !p.nodeId && !p.setting) : [];
  const stale = loaded.hasDraft && loaded.baseVersion !== live.version;

  return (
    <div className="flex flex-col gap-3">
      <p className="text-sm">
        <Link to="/agents" className="text-indigo-700 hover:underline">
          ← Voice Agents
        </Link>
      </p>
      <header className="flex flex-wrap items-start justify-between gap-3">
        <div>
          <h1 className="text-2xl font-semibold text-slate-900">{title || live.title || live.id}</h1>
          <p className="mt-1 text-sm text-slate-700">
            Agent <code className="font-mono">{live.id}</code> · live version {live.version} · {loaded.hasDraft ? 'draft in progress' : 'no draft'} ·{' '}
            <SaveIndicator />
          </p>
        </div>
        <div className="flex flex-wrap items-center gap-2">
          <CallMe agentId={live.id} agentTitle={live.title || live.id} />
          <Button
            variant="secondary"
            size="sm"
            aria-expanded={testing}
            onClick={() => {
              setTesting(true);
              setTab('flow');
            }}
            disabled={testing}
          >
            Test in browser
          </Button>
          <UndoRedo />
          <Button variant="secondary" size="sm" onClick={() => useEditor.getState().layout()}>
            Auto-layout
          </Button>
          <Button variant="secondary" size="sm" disabled={!loaded.hasDraft || loaded.noDrafts} onClick={() => void discard()}>
            Discard draft
          </Button>
          <Button size="sm" disabled={loaded.noDrafts} onClick={() => void openPublish()}>
            Publish…
          </Button>
        </div>
      </header>
      {loaded.noDrafts ? (
        <p role="alert" className="rounded border border-amber-300 bg-amber-50 p-2 text-sm text-amber-900">
          This server has no drafts yet (GET /interview/{'{id}'}/draft is missing): edits here cannot be saved.
        </p>
      ) : null}
      {stale ? (
        <p className="rounded border border-amber-300 bg-amber-50 p-2 text-sm text-amber-900">
          This draft was started from version {loaded.baseVersion}; version {live.version} is live now. Publishing it replaces version {live.version}; discard it to start from the live version.
        </p>
      ) : null}
      {notice ? (
        <div role={notice.tone === 'error' ? 'alert' : 'status'} className={notice.tone === 'error' ? 'flex justify-between rounded border border-red-300 bg-red-50 p-2 text-sm text-red-900' : 'flex justify-between rounded border border-green-300 bg-green-50 p-2 text-sm text-green-900'}>
          <span>{notice.text}</span>
          <button type="button" className="text-xs underline" onClick={() => setNotice(null)}>
            Dismiss
          </button>
        </div>
      ) : null}
      {flowWide.length ? (
        <ul role="alert" className="rounded border border-red-300 bg-red-50 p-2 text-sm text-red-900">
          {flowWide.map((p, i) => (
            <li key={i}>{p.message}</li>
          ))}
        </ul>
      ) : null}
      <LiveStatus />
      {testing ? <TestInBrowser agentId={live.id} liveVersion={live.version} onClose={() => setTesting(false)} /> : null}
      <Tabs.Root value={tab} onValueChange={setTab}>
        <Tabs.List aria-label="Agent" className="mb-3 flex gap-1 border-b border-slate-200">
          {[
            ['flow', 'Flow'],
            ['settings', 'Settings'],
            ['versions', 'Versions'],
            ['calls', 'Calls'],
          ].map(([v, l]) => (
            <Tabs.Trigger
              key={v}
              value={v!}
              className="-mb-px border-b-2 border-transparent px-3 py-2 text-sm font-medium text-slate-700 hover:text-slate-900 focus-visible:outline-2 focus-visible:outline-indigo-600 data-[state=active]:border-indigo-700 data-[state=active]:text-indigo-800"
            >
              {l}
            </Tabs.Trigger>
          ))}
        </Tabs.List>
        <Tabs.Content value="flow" className="focus-visible:outline-2 focus-visible:outline-indigo-600">
          <ReactFlowProvider>
            {/* Narrower side columns below 1536 px: on a 1280 px laptop screen they left the
                canvas 376 px; now 470. */}
            <div className="grid h-[calc(100vh-15rem)] min-h-[560px] grid-cols-[13rem_minmax(0,1fr)_17rem] gap-3 2xl:grid-cols-[16rem_minmax(0,1fr)_20rem]">
              <aside aria-label="Palette and outline" className="flex min-h-0 flex-col gap-3 overflow-y-auto rounded-lg border border-slate-200 bg-white p-3">
                <Palette />
                <NodeActions />
                <Outline />
              </aside>
              <div className="min-h-0 overflow-hidden rounded-lg border border-slate-200 bg-white" data-testid="canvas">
                <FlowCanvas />
              </div>
              <aside aria-label="Selected node" className="min-h-0 overflow-y-auto rounded-lg border border-slate-200 bg-white">
                <NodePanel />
              </aside>
            </div>
          </ReactFlowProvider>
        </Tabs.Content>
        <Tabs.Content value="settings">
          <SettingsForm />
        </Tabs.Content>
        <Tabs.Content value="versions">
          <VersionsPanel agentId={agentId} liveVersion={live.version} onRestore={(v) => void restore(v)} busy={restoring} />
        </Tabs.Content>
        <Tabs.Content value="calls">
          <RecentCalls agentId={agentId} />
        </Tabs.Content>
      </Tabs.Root>
      <PublishDialog
        open={publishOpen}
        onOpenChange={setPublishOpen}
        diff={diff}
        preparing={preparing}
        error={publishError}
        liveVersion={live.version}
        publishing={publishing}
        onPublish={() => void publish()}
      />
    </div>
  );
}

let problemsTimer: ReturnType<typeof setTimeout> | null = null;
/** Validation is whole-graph: coalesce bursts of changes (typing) into one pass. */
function refreshProblemsSoon() {
  if (problemsTimer) return;
  problemsTimer = setTimeout(() => {
    problemsTimer = null;
    refreshProblems();
  }, 120);
}
