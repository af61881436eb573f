// A node of the flow canvas, at two levels of detail. From DETAIL_ZOOM up, the full card: type,
// id, text, each outcome's label. Below it (the fitted view of a large flow: a 300-node agent
// opens at zoom 0.1), a plain box with the type's name in large print and the same handles
// (plain elements there, without a store subscription each: PlainHandle.tsx): the card's text
// is unreadable there anyway, and the full card of 300 nodes is thousands of elements that
// Chromium re-layerizes, pre-paints and hit-tests on every frame of a drag. The accessible name
// of a node (set by the canvas) carries its text at every zoom.
import { Handle, Position, type Node, type NodeProps } from '@xyflow/react';
import { createContext, memo, useContext } from 'react';
import { cn } from '@/lib/cn';
import { handlesOf, isNodeType, nodeText, TYPE_LABELS, type FlowNode } from './graph';
import { PlainHandle } from './PlainHandle';
import { useUi } from './ui';

export type RFNode = Node<FlowNode['data'], string>;

/** The zoom below which nodes are drawn as plain labelled boxes (their 14 px text is then under 7 px). */
export const DETAIL_ZOOM = 0.5;

/** Whether nodes show their full content at a zoom level. */
export const showsDetail = (zoom: number) => zoom >= DETAIL_ZOOM;

/**
 * Whether nodes show their full content. The editor's canvas provides it from a single store
 * subscription that selects this boolean, so nodes re-render only when the zoom crosses
 * DETAIL_ZOOM (a subscription per node would run 300 more selectors on every store update).
 * Without a provider (the call replay) nodes show their full content.
 */
export const DetailContext = createContext(true);

const TONES: Record<string, string> = {
  start: 'border-emerald-600 bg-emerald-50',
  speak: 'border-sky-600 bg-sky-50',
  question: 'border-indigo-600 bg-indigo-50',
  branch: 'border-amber-600 bg-amber-50',
  transfer: 'border-fuchsia-600 bg-fuchsia-50',
  webhook: 'border-slate-600 bg-slate-50',
  end: 'border-rose-600 bg-rose-50',
};

// Handles are placed by negative margins rather than React Flow's centring transform (the same
// place for a 12 px handle): a transform gives each of the ~750 handles of a 300-node flow a
// paint property node of its own, which Chromium re-layerizes on every frame.
const TARGET_HANDLE = '!h-3 !w-3 !transform-none !-mt-1.5 !-ml-1.5 !bg-slate-700';
const SOURCE_HANDLE = '!h-3 !w-3 !transform-none !-mb-1.5 !-ml-1.5';

const handleLeft = (i: number, n: number) => `${((i + 1) / (n + 1)) * 100}%`;
const isFallback = (h: string) => h === 'no_match' || h === 'error' || h === 'else';

function SourceHandles({ handles, labelled }: { handles: string[]; labelled: boolean }) {
  if (!labelled) {
    // The low-detail box: plain handles (see PlainHandle.tsx) and no label elements.
    return handles.map((h, i) => (
      <PlainHandle
        key={h}
        id={h}
        type="source"
        position={Position.Bottom}
        style={{ left: handleLeft(i, handles.length) }}
        className={cn(SOURCE_HANDLE, isFallback(h) ? '!bg-slate-500' : '!bg-indigo-700')}
        title={`Outcome ${h}`}
      />
    ));
  }
  return handles.map((h, i) => {
    const left = handleLeft(i, handles.length);
    return (
      <div key={h}>
        <Handle
          id={h}
          type="source"
          position={Position.Bottom}
          style={{ left }}
          className={cn(SOURCE_HANDLE, isFallback(h) ? '!bg-slate-500' : '!bg-indigo-700')}
          title={`Outcome ${h}`}
        />
        <span
          className="pointer-events-none absolute bottom-1 -translate-x-1/2 rounded bg-white/90 px-1 text-[10px] leading-tight font-medium text-slate-800"
          style={{ left }}
        >
          {h}
        </span>
      </div>
    );
  });
}

function ProblemBadge({ problems }: { problems: string }) {
  const n = problems.split('\n').length;
  return (
    <span
      className="absolute -top-3 -right-3 inline-flex h-6 min-w-6 items-center justify-center rounded-full bg-red-700 px-1.5 text-xs font-bold text-white"
      title={problems}
      aria-label={`${n} problem(s): ${problems}`}
      data-testid="node-problem"
    >
      {n}
    </span>
  );
}

/**
 * A canvas node. React Flow passes its node component the node's position too, so during a
 * drag this re-renders on every frame; the card below depends on none of that and is skipped.
 */
export const FlowNodeView = memo(function FlowNodeView({ id, type, data, selected, height }: NodeProps<RFNode>) {
  return <NodeCard id={id} type={type} data={data} selected={selected} height={height} />;
});

type CardProps = Pick<NodeProps<RFNode>, 'id' | 'type' | 'data' | 'selected' | 'height'>;

const NodeCard = memo(function NodeCard({ id, type, data, selected, height }: CardProps) {
  const detail = useContext(DetailContext);
  const problems = useUi((s) => (s.nodeProblems[id] ?? []).join('\n'));
  const live = useUi((s) => s.liveNode === id);
  const handles = handlesOf({ type, data });
  const label = isNodeType(type) ? TYPE_LABELS[type] : type;
  const frame = cn(
    'relative w-[240px] rounded-lg border-2 text-left',
    TONES[type] ?? 'border-slate-400 bg-white',
    selected && 'ring-2 ring-indigo-500 ring-offset-2',
    problems && 'border-red-700',
    live && 'ring-4 ring-amber-500 ring-offset-2',
  );
  const badges = (
    <>
      {live ? (
        <span className="absolute -top-3 left-2 rounded bg-amber-600 px-1.5 text-[11px] font-bold text-white" data-testid="live-node">
          Now
        </span>
      ) : null}
      {type === 'start' ? null : detail ? (
        <Handle type="target" position={Position.Top} className={TARGET_HANDLE} />
      ) : (
        <PlainHandle type="target" position={Position.Top} className={TARGET_HANDLE} />
      )}
      {problems ? <ProblemBadge problems={problems} /> : null}
    </>
  );
  const common = { 'data-live-node': live ? 'true' : undefined, 'aria-current': live ? ('step' as const) : undefined, 'data-detail': detail ? undefined : 'low' };
  if (!detail) {
    // The box keeps the height the full card was measured at (when it was; else at least the
    // height of a one-line card), so edges do not jump when the zoom crosses DETAIL_ZOOM.
    return (
      <div className={cn(frame, 'flex min-h-[4.75rem] items-center px-3')} style={height ? { height } : undefined} {...common}>
        {badges}
        <span className="text-3xl font-bold break-words text-slate-800">{label}</span>
        <SourceHandles handles={handles} labelled={false} />
      </div>
    );
  }
  const text = nodeText({ type, data });
  return (
    <div className={cn(frame, 'px-3 pt-2 pb-6 shadow-sm')} {...common}>
      {badges}
      <div className="flex items-center justify-between gap-2">
        <span className="text-xs font-semibold tracking-wide text-slate-800 uppercase">{label}</span>
        <span className="truncate font-mono text-[11px] text-slate-700">{id}</span>
      </div>
      <p className="mt-1 line-clamp-3 min-h-[1.25rem] text-sm break-words text-slate-900">{text || <span className="text-slate-600 italic">Not set yet</span>}</p>
      <SourceHandles handles={handles} labelled />
    </div>
  );
});

export const nodeTypes = Object.fromEntries(['start', 'speak', 'question', 'branch', 'transfer', 'webhook', 'end', 'unknown'].map((t) => [t, FlowNodeView]));
