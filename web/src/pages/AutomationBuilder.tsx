// The visual automation builder: the trigger and the steps on a canvas (the graph the API
// stores), a palette of step kinds, the side panel editing the selected step, undo/redo, save
// with the API's problems placed on their steps and fields, Draft/Live and the webhook URL.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from '@tanstack/react-router';
import {
  Background,
  Controls,
  Handle,
  Position,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  type Connection,
  type Edge,
  type Node,
  type NodeProps,
} from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { createContext, useContext, useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { useStore } from 'zustand';
import { CopyField, ErrorState, Loading, PageHeader } from '@/components/common';
import { Badge } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { Card } from '@/components/ui/card';
import { Input } from '@/components/ui/input';
import { docToGraph, layout, NODE_H, NODE_W, TRIGGER_ID, type GNode, type StepNodeData } from '@/automation/graph';
import {
  canonical,
  docOf,
  EDGE_LABELS,
  edgeFields,
  saveBody,
  STEP_KINDS,
  stepKind,
  TRIGGER_TYPES,
  type AutomationDoc,
  type AutomationRecord,
  type StepType,
} from '@/automation/model';
import { locateProblems, type LocatedProblems } from '@/automation/problems';
import { variablesFor } from '@/automation/scope';
import { createBuilderStore, TRIGGER, type BuilderStore } from '@/automation/store';
import { StepPanel, TriggerPanel, type Agent } from '@/automation/StepForms';
import { ModeBadge } from '@/pages/Automations';
import { ApiError, errorMessage, get, post } from '@/lib/api';
import { cn } from '@/lib/cn';
import { useTeamId } from '@/lib/session';

/* ---------- canvas nodes ---------- */

interface CanvasCtx {
  select: (id: string) => void;
  problems: LocatedProblems;
}
const Ctx = createContext<CanvasCtx>({ select: () => {}, problems: { steps: {}, trigger: [], doc: [] } });

const handleStyle = { width: 10, height: 10, background: '#4338ca' };

function TriggerNode({ data, selected }: NodeProps<Node<GNode['data']>>) {
  const { select, problems } = useContext(Ctx);
  const type = data.kind === 'trigger' ? data.doc.trigger.type : '';
  const n = problems.trigger.length;
  return (
    <div
      className={cn(
        'flex flex-col justify-center rounded-lg border-2 bg-indigo-50 px-3 text-left',
        selected ? 'border-indigo-700 ring-2 ring-indigo-300' : 'border-indigo-300',
        n ? 'border-red-700' : '',
      )}
      style={{ width: NODE_W, height: NODE_H }}
    >
      <button type="button" className="nodrag text-left focus-visible:outline-2 focus-visible:outline-indigo-600" onClick={() => select(TRIGGER_ID)} aria-label={`Select the trigger (${type})`} aria-pressed={selected}>
        <span className="block text-xs font-semibold tracking-wide text-indigo-900 uppercase">Trigger</span>
        <span className="block text-sm font-medium text-slate-900">{TRIGGER_TYPES.find((t) => t.type === type)?.label ?? type}</span>
        {n ? <span className="block text-xs font-semibold text-red-800">{n} problem{n > 1 ? 's' : ''}</span> : null}
      </button>
      <Handle type="source" position={Position.Bottom} id="start" style={handleStyle} />
    </div>
  );
}

function StepNode({ data, selected }: NodeProps<Node<GNode['data']>>) {
  const { select, problems } = useContext(Ctx);
  if (data.kind !== 'step') return null;
  const s = (data as StepNodeData).step;
  const n = problems.steps[s.slug]?.length ?? 0;
  const outs = edgeFields(s.type);
  const kind = stepKind(s.type);
  return (
    <div
      className={cn(
        'relative flex flex-col justify-center rounded-lg border-2 bg-white px-3',
        selected ? 'border-indigo-700 ring-2 ring-indigo-300' : 'border-slate-300',
        n ? 'border-red-700 bg-red-50' : '',
      )}
      style={{ width: NODE_W, height: NODE_H }}
    >
      <Handle type="target" position={Position.Top} style={handleStyle} />
      <button type="button" className="nodrag text-left focus-visible:outline-2 focus-visible:outline-indigo-600" onClick={() => select(s.slug)} aria-label={`Select step ${s.slug} (${kind?.label ?? s.type})${n ? `, ${n} problem${n > 1 ? 's' : ''}` : ''}`} aria-pressed={selected}>
        <span className="block text-xs font-semibold tracking-wide text-slate-700 uppercase">{kind?.label ?? s.type}</span>
        <span className="block truncate text-sm font-medium text-slate-900">{s.label || s.slug}</span>
        {s.label ? <span className="block truncate font-mono text-xs text-slate-700">{s.slug}</span> : null}
        {n ? <span className="block text-xs font-semibold text-red-800">{n} problem{n > 1 ? 's' : ''}</span> : null}
      </button>
      {outs.map((f, i) => (
        <Handle
          key={f}
          type="source"
          position={Position.Bottom}
          id={f}
          title={EDGE_LABELS[f]}
          style={{ ...handleStyle, left: `${((i + 1) * 100) / (outs.length + 1)}%`, background: f === 'else' ? '#b91c1c' : f === 'body' ? '#047857' : '#4338ca' }}
        />
      ))}
    </div>
  );
}

const nodeTypes = { trigger: TriggerNode, step: StepNode };

function Canvas({ store, problems }: { store: BuilderStore; problems: LocatedProblems }) {
  const doc = useStore(store, (s) => s.doc);
  const selected = useStore(store, (s) => s.selected);
  const { nodes, edges } = useMemo(() => {
    const g = docToGraph(doc);
    const laid = layout(g.nodes, g.edges);
    const nodes: Node<GNode['data']>[] = laid.map((n) => ({ ...n, selected: n.id === selected, draggable: false }));
    const edges: Edge[] = g.edges.map((e) => ({
      id: e.id,
      source: e.source,
      sourceHandle: e.sourceHandle,
      target: e.target,
      label: e.sourceHandle === 'next' || e.sourceHandle === 'start' ? undefined : EDGE_LABELS[e.sourceHandle],
      labelStyle: { fill: '#0f172a', fontSize: 11 },
      style: { stroke: e.sourceHandle === 'else' ? '#b91c1c' : e.sourceHandle === 'body' ? '#047857' : '#475569', strokeWidth: 1.5 },
    }));
    return { nodes, edges };
  }, [doc, selected]);
  const ctx = useMemo<CanvasCtx>(() => ({ select: (id) => store.getState().select(id), problems }), [store, problems]);
  // A step added or removed: show the whole graph again.
  const { fitView } = useReactFlow();
  const count = nodes.length;
  useEffect(() => {
    const t = setTimeout(() => void fitView({ padding: 0.2, maxZoom: 1 }), 30);
    return () => clearTimeout(t);
  }, [count, fitView]);
  const onConnect = (c: Connection) => {
    if (!c.source || !c.target || c.source === c.target) return;
    if (c.target === TRIGGER_ID) return;
    store.getState().connect(c.source === TRIGGER_ID ? TRIGGER : c.source, c.sourceHandle ?? 'next', c.target);
  };
  return (
    <Ctx.Provider value={ctx}>
      <div className="h-[560px] rounded-lg border border-slate-300 bg-white" aria-label="Automation graph" role="group">
        <ReactFlow
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          onConnect={onConnect}
          onNodeClick={(_, n) => store.getState().select(n.id)}
          onPaneClick={() => store.getState().select(null)}
          nodesDraggable={false}
          nodesFocusable={false}
          edgesFocusable={false}
          elementsSelectable={false}
          deleteKeyCode={null}
          fitView
          fitViewOptions={{ padding: 0.2, maxZoom: 1 }}
          minZoom={0.2}
          proOptions={{ hideAttribution: true }}
        >
          <Background />
          <Controls showInteractive={false} />
        </ReactFlow>
      </div>
    </Ctx.Provider>
  );
}

/* ---------- the page ---------- */

function useAgents() {
  const teamId = useTeamId();
  return useQuery({
    queryKey: [teamId, 'interviews', 'for-automations'],
    queryFn: ({ signal }) => get<{ interviews: Agent[] }>('/interview', { status: 'ACTIVE', limit: 50, sort: 'title_asc' }, { signal }),
    select: (d) => d.interviews,
  });
}

const typing = (el: EventTarget | null) =>
  el instanceof HTMLElement && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable);

export function AutomationBuilderPage() {
  const { automationId } = useParams({ strict: false }) as { automationId: string };
  const teamId = useTeamId();
  const q = useQuery({
    queryKey: [teamId, 'automation', automationId],
    queryFn: ({ signal }) => get<AutomationRecord>(`/automation/${automationId}`, undefined, { signal }),
  });
  if (q.isPending) return <Loading />;
  if (q.isError)
    return (
      <>
        <PageHeader title="Automation" />
        <ErrorState error={q.error} onRetry={() => q.refetch()} />
      </>
    );
  return <Builder key={automationId} record={q.data} refetch={() => q.refetch()} />;
}

function Builder({ record, refetch }: { record: AutomationRecord; refetch: () => void }) {
  const teamId = useTeamId();
  const qc = useQueryClient();
  const storeRef = useRef<BuilderStore | null>(null);
  if (!storeRef.current) storeRef.current = createBuilderStore(docOf(record));
  const store = storeRef.current;
  const doc = useStore(store, (s) => s.doc);
  const selected = useStore(store, (s) => s.selected);
  const canUndo = useStore(store.temporal, (s) => s.pastStates.length > 0);
  const canRedo = useStore(store.temporal, (s) => s.futureStates.length > 0);
  const [saved, setSaved] = useState<AutomationDoc>(() => docOf(record));
  const [mode, setMode] = useState(record.mode);
  const [version, setVersion] = useState(record.version);
  const [problems, setProblems] = useState<LocatedProblems>({ steps: {}, trigger: [], doc: [] });
  const [status, setStatus] = useState<string>('');
  const agents = useAgents();
  const dirty = canonical(doc) !== canonical(saved);
  const sample = record.sample_payload;

  const applySaved = (a: AutomationRecord) => {
    qc.setQueryData([teamId, 'automation', a.id], a);
    void qc.invalidateQueries({ queryKey: [teamId, 'automations'] });
    const fresh = docOf(a);
    // The server's normal form (defaults filled in) without a new undo step.
    store.temporal.getState().pause();
    store.getState().load(fresh);
    store.temporal.getState().resume();
    setSaved(fresh);
    setMode(a.mode);
    setVersion(a.version);
    setProblems({ steps: {}, trigger: [], doc: [] });
  };
  const failed = (e: unknown, sent: AutomationDoc) => {
    if (e instanceof ApiError && e.problems.length) {
      const located = locateProblems(e.problems, sent.steps.map((s) => s.slug));
      setProblems(located);
      const n = e.problems.length;
      setStatus(`Not saved: ${n} problem${n > 1 ? 's' : ''} to fix.`);
      // Show the first step with a problem.
      const first = Object.keys(located.steps)[0];
      if (first) store.getState().select(first);
      else if (located.trigger.length) store.getState().select(TRIGGER_ID);
    } else setStatus(`Not saved: ${errorMessage(e)}`);
  };

  const save = useMutation({
    mutationFn: (d: AutomationDoc) => post<AutomationRecord>(`/automation/${record.id}/update`, saveBody(d)),
    onMutate: () => setStatus('Saving…'),
    onSuccess: (a) => {
      applySaved(a);
      setStatus(`Saved (version ${a.version}).`);
    },
    onError: (e, d) => failed(e, d),
  });
  const switchMode = useMutation({
    mutationFn: (m: 'draft' | 'live') => post<AutomationRecord>(`/automation/${record.id}/update`, { mode: m }),
    onSuccess: (a) => {
      applySaved(a);
      setStatus(a.mode === 'live' ? 'Live: the trigger now starts runs.' : 'Draft: webhook calls are kept as sample data.');
    },
    onError: (e) => failed(e, saved),
  });

  const undo = () => store.temporal.getState().undo();
  const redo = () => store.temporal.getState().redo();
  const removeSelected = () => {
    const sel = store.getState().selected;
    if (sel && sel !== TRIGGER_ID) store.getState().removeStep(sel);
  };

  // Ctrl+Z / Ctrl+Shift+Z / Ctrl+Y anywhere on the page except in a text field (its own undo).
  useEffect(() => {
    const onKey = (e: globalThis.KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey)) return;
      const k = e.key.toLowerCase();
      if (k === 's') {
        e.preventDefault();
        save.mutate(store.getState().doc);
        return;
      }
      if (typing(e.target)) return;
      if (k === 'z' && !e.shiftKey) {
        e.preventDefault();
        undo();
      } else if ((k === 'z' && e.shiftKey) || k === 'y') {
        e.preventDefault();
        redo();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store]);
  useEffect(() => {
    const warn = (e: BeforeUnloadEvent) => {
      if (dirty) e.preventDefault();
    };
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty]);

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key === 'Delete' && !typing(e.target)) {
      e.preventDefault();
      removeSelected();
    }
  };

  const selStep = selected && selected !== TRIGGER_ID ? doc.steps.find((s) => s.slug === selected) : undefined;
  const groups = useMemo(() => variablesFor(doc, selStep?.slug ?? null, sample), [doc, selStep?.slug, sample]);
  const webhookUrl = `${window.location.origin}/webhook/automation/${record.id}`;
  const totalProblems = Object.values(problems.steps).reduce((n, l) => n + l.length, 0) + problems.trigger.length + problems.doc.length;
  const addAfter = selected === TRIGGER_ID ? TRIGGER : selStep?.slug ?? null;
  const afterLabel = selected === TRIGGER_ID ? 'the trigger' : selStep ? selStep.slug : 'the last step';

  const webhookBox = (
    <div className="flex flex-col gap-2 rounded-md border border-slate-200 bg-slate-50 p-2">
      <p className="text-sm font-medium text-slate-800">Webhook URL</p>
      <CopyField value={webhookUrl} what="webhook URL" />
      <p className="text-xs text-slate-700">
        {mode === 'live'
          ? 'Live: each POST of a JSON object starts a run.'
          : 'Draft: POST a JSON object here to keep it as the sample payload the variable picker lists (no run starts).'}
      </p>
      <div className="flex items-center justify-between gap-2">
        <p className="text-sm font-medium text-slate-800">Sample payload</p>
        <Button variant="secondary" size="sm" onClick={refetch}>
          Check for a new sample
        </Button>
      </div>
      {sample !== undefined && sample !== null ? (
        <pre tabIndex={0} aria-label="Sample payload" className="max-h-48 overflow-auto rounded border border-slate-200 bg-white p-2 font-mono text-xs whitespace-pre-wrap text-slate-900">
          {JSON.stringify(sample, null, 2)}
        </pre>
      ) : (
        <p className="text-xs text-slate-700">No sample yet.</p>
      )}
    </div>
  );

  return (
    <div onKeyDown={onKeyDown}>
      <nav aria-label="Breadcrumb" className="mb-2 text-sm">
        <Link to="/automations" className="text-indigo-700 underline">
          Automations
        </Link>
      </nav>
      <PageHeader
        title={doc.name || 'Untitled automation'}
        description={
          <span className="flex items-center gap-2">
            <ModeBadge mode={mode} /> version {version}
            {dirty ? <Badge tone="amber">Unsaved changes</Badge> : null}
          </span>
        }
        actions={
          <>
            <Button asChild variant="secondary">
              <Link to="/automations/$automationId/runs" params={{ automationId: record.id }}>
                Runs
              </Link>
            </Button>
            <Button
              variant="secondary"
              disabled={dirty || switchMode.isPending}
              title={dirty ? 'Save your changes first' : undefined}
              aria-describedby={dirty ? 'mode-hint' : undefined}
              onClick={() => switchMode.mutate(mode === 'live' ? 'draft' : 'live')}
            >
              {mode === 'live' ? 'Switch to Draft' : 'Switch to Live'}
            </Button>
            <Button onClick={() => save.mutate(doc)} disabled={save.isPending || !dirty}>
              Save
            </Button>
          </>
        }
      />
      {dirty ? (
        <p id="mode-hint" className="sr-only">
          Save your changes before switching between Draft and Live.
        </p>
      ) : null}
      <p role="status" aria-live="polite" className={cn('mb-3 min-h-5 text-sm', status.startsWith('Not saved') ? 'text-red-800' : 'text-slate-700')}>
        {status}
      </p>
      {totalProblems ? (
        <div role="alert" className="mb-3 rounded-lg border border-red-300 bg-red-50 p-3 text-sm text-red-900">
          <p className="font-semibold">The server refused this version: {totalProblems} problem{totalProblems > 1 ? 's' : ''}.</p>
          <ul className="mt-1 list-disc pl-5">
            {problems.doc.map((p, i) => (
              <li key={`d${i}`}>
                <code className="font-mono">{p.path || 'automation'}</code>: {p.message}
              </li>
            ))}
            {problems.trigger.map((p, i) => (
              <li key={`t${i}`}>
                <Button variant="link" className="text-red-900 underline" onClick={() => store.getState().select(TRIGGER_ID)}>
                  trigger{p.path ? `.${p.path}` : ''}
                </Button>
                : {p.message}
              </li>
            ))}
            {Object.entries(problems.steps).flatMap(([slug, list]) =>
              list.map((p, i) => (
                <li key={`${slug}${i}`}>
                  <Button variant="link" className="text-red-900 underline" onClick={() => store.getState().select(slug)}>
                    {slug}
                    {p.path ? `.${p.path}` : ''}
                  </Button>
                  : {p.message}
                </li>
              )),
            )}
          </ul>
        </div>
      ) : null}
      <div className="mb-3 flex flex-wrap items-end gap-3">
        <div className="flex flex-col gap-1">
          <label htmlFor="automation-name" className="text-sm font-medium text-slate-800">
            Automation name
          </label>
          <Input id="automation-name" className="w-72" value={doc.name} onChange={(e) => store.getState().setName(e.target.value)} aria-invalid={problems.doc.some((p) => p.top === 'name')} />
        </div>
        <div className="flex gap-2" role="toolbar" aria-label="Edit">
          <Button variant="secondary" onClick={undo} disabled={!canUndo} aria-keyshortcuts="Control+Z">
            Undo
          </Button>
          <Button variant="secondary" onClick={redo} disabled={!canRedo} aria-keyshortcuts="Control+Shift+Z">
            Redo
          </Button>
          <Button variant="secondary" onClick={removeSelected} disabled={!selStep} aria-keyshortcuts="Delete">
            Delete step
          </Button>
        </div>
      </div>
      <section aria-labelledby="palette-h" className="mb-3">
        <h2 id="palette-h" className="mb-1 text-sm font-semibold text-slate-900">
          Add a step after {afterLabel}
        </h2>
        <ul className="flex flex-wrap gap-1.5">
          {STEP_KINDS.map((k) => (
            <li key={k.type}>
              <Button variant="secondary" size="sm" title={k.description} onClick={() => store.getState().addStep(k.type as StepType, addAfter)}>
                {k.label}
              </Button>
            </li>
          ))}
        </ul>
      </section>
      <div className="grid grid-cols-1 gap-4 xl:grid-cols-[minmax(0,1fr)_380px]">
        <div className="min-w-0">
          <ReactFlowProvider>
            <Canvas store={store} problems={problems} />
          </ReactFlowProvider>
          <p className="mt-2 text-xs text-slate-700">
            Select a step with its button (Tab, Enter) or a click; Delete removes it. Drag from a step’s bottom handle to another step to connect
            them, or pick where it goes in the side panel. Ctrl+Z undoes, Ctrl+Shift+Z redoes, Ctrl+S saves.
          </p>
        </div>
        <Card aria-label="Selected element" className="max-h-[760px] overflow-y-auto p-4">
          {selected === TRIGGER_ID ? (
            <TriggerPanel
              doc={doc}
              problems={problems.trigger}
              docProblems={problems.doc}
              agents={agents.data ?? []}
              onTrigger={(t) => store.getState().setTrigger(t)}
              onDoc={(patch) => store.getState().patchDoc(patch)}
              webhook={webhookBox}
            />
          ) : selStep ? (
            <StepPanel
              key={selStep.slug}
              step={selStep}
              doc={doc}
              groups={groups}
              problems={problems.steps[selStep.slug] ?? []}
              agents={agents.data ?? []}
              onChange={(patch) => store.getState().updateStep(selStep.slug, patch)}
              onRename={(to) => {
                if (!store.getState().renameStep(selStep.slug, to)) return `Another step is called ${to}.`;
                setProblems((p) => {
                  if (!p.steps[selStep.slug]) return p;
                  const steps = { ...p.steps, [to]: p.steps[selStep.slug]! };
                  delete steps[selStep.slug];
                  return { ...p, steps };
                });
                return null;
              }}
              onConnect={(f, t) => store.getState().connect(selStep.slug, f, t)}
              onDelete={removeSelected}
              emptyHint={
                doc.trigger.type === 'webhook' && !sample ? 'The variable picker lists trigger.payload paths once the webhook has received a sample (Draft mode).' : undefined
              }
            />
          ) : (
            <div className="flex flex-col gap-3">
              <h2 className="text-base font-semibold text-slate-900">Nothing selected</h2>
              <p className="text-sm text-slate-700">Select the trigger or a step on the canvas to edit it.</p>
              <Button variant="secondary" onClick={() => store.getState().select(TRIGGER_ID)}>
                Edit the trigger
              </Button>
              {doc.trigger.type === 'webhook' ? webhookBox : null}
            </div>
          )}
        </Card>
      </div>
    </div>
  );
}
