// The outline: the same graph as a list in flow order, each node with its outcomes, and the
// actions on the selected node (add after it, connect, move, delete), all reachable with
// Tab, Enter and the arrow keys, labelled for screen readers.
import { memo, useCallback, useEffect, useId, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { Button } from '@/components/ui/button';
import { Select } from '@/components/ui/input';
import { Label } from '@/components/ui/label';
import { cn } from '@/lib/cn';
import { flowOrder, handlesOf, isNodeType, NODE_TYPES, nodeText, TYPE_LABELS, type FlowEdge, type FlowNode, type NodeType } from './graph';
import { useEditor, useSelectedNode, useStructure } from './store';
import { nodeKey, useUi } from './ui';

const typeName = (t: string) => (isNodeType(t) ? TYPE_LABELS[t] : t);

function say(msg: string) {
  useOutlineStatus.set(msg);
}
// A tiny shared live region (one per page).
const useOutlineStatus = {
  listeners: new Set<(m: string) => void>(),
  set(m: string) {
    for (const l of this.listeners) l(m);
  },
};

export function LiveStatus() {
  const [msg, setMsg] = useState('');
  useEffect(() => {
    useOutlineStatus.listeners.add(setMsg);
    return () => void useOutlineStatus.listeners.delete(setMsg);
  }, []);
  return (
    <p role="status" aria-live="polite" className="sr-only" data-testid="editor-status">
      {msg}
    </p>
  );
}

export function announce(msg: string) {
  say(msg);
}

const NO_EDGES: FlowEdge[] = [];

/** One node of the outline with its outcomes; memoized (see `onRowKey`). */
const OutlineRow = memo(function OutlineRow({
  node: n,
  index: i,
  selected: sel,
  outs: mine,
  onKey,
}: {
  node: FlowNode;
  index: number;
  selected: boolean;
  outs: FlowEdge[];
  onKey: (e: KeyboardEvent<HTMLButtonElement>, i: number, n: FlowNode) => void;
}) {
  const hs = handlesOf(n);
  return (
    <li className={cn('rounded-md border p-1.5', sel ? 'border-indigo-600 bg-indigo-50' : 'border-slate-200 bg-white')}>
      <button
        type="button"
        data-outline-row
        data-node-id={n.id}
        aria-pressed={sel}
        onClick={() => useEditor.getState().select(n.id)}
        onKeyDown={(e) => onKey(e, i, n)}
        className="w-full rounded text-left text-sm focus-visible:outline-2 focus-visible:outline-indigo-600"
      >
        <span className="font-semibold">{typeName(n.type)}</span> <span className="font-mono text-xs text-slate-700">{n.id}</span>
        <span className="block truncate text-xs text-slate-800">{nodeText(n) || 'Not set yet'}</span>
      </button>
      {hs.length ? (
        <ul className="mt-1 flex flex-col gap-0.5 pl-2 text-xs text-slate-800" aria-label={`Outcomes of ${n.id}`}>
          {hs.map((h) => {
            const e = mine.find((x) => x.sourceHandle === h);
            return (
              <li key={h} className="flex items-center justify-between gap-1">
                <span>
                  <span className="font-mono">{h}</span> → {e ? <span className="font-mono">{e.target}</span> : <span className="text-amber-800">not connected</span>}
                </span>
                {e ? (
                  <button
                    type="button"
                    className="rounded px-1 text-slate-700 hover:bg-slate-200 focus-visible:outline-2 focus-visible:outline-indigo-600"
                    aria-label={`Remove connection ${h} from ${n.id} to ${e.target}`}
                    onClick={() => {
                      useEditor.getState().removeEdges([e.id]);
                      say(`Removed connection ${h} from ${n.id}`);
                    }}
                  >
                    ×
                  </button>
                ) : null}
              </li>
            );
          })}
        </ul>
      ) : null}
    </li>
  );
});

export function Outline() {
  const nodes = useStructure();
  const edges = useEditor((s) => s.edges);
  const selectedId = useEditor((s) => s.selectedId);
  const order = useMemo(() => flowOrder({ nodes, edges }), [nodes, edges]);
  const outs = useMemo(() => {
    const m = new Map<string, FlowEdge[]>();
    for (const e of edges) (m.get(e.source) ?? m.set(e.source, []).get(e.source)!).push(e);
    return m;
  }, [edges]);
  const listRef = useRef<HTMLUListElement>(null);
  const helpId = useId();

  const focusRow = (i: number) => {
    const rows = listRef.current?.querySelectorAll<HTMLButtonElement>('[data-outline-row]');
    if (!rows?.length) return;
    rows[Math.max(0, Math.min(rows.length - 1, i))]?.focus();
  };

  // Stable, so that selecting a node re-renders its row and the previous one, not all 300: the
  // drag of a node selects it, and that re-render was a long task at the start of every drag.
  const onRowKey = useCallback((e: KeyboardEvent<HTMLButtonElement>, i: number, n: FlowNode) => {
    const st = useEditor.getState();
    const arrows: Record<string, [number, number]> = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };
    const dir = arrows[e.key];
    if (dir && e.altKey) {
      e.preventDefault();
      const step = e.shiftKey ? 50 : 10;
      st.select(n.id);
      st.moveBy(n.id, dir[0] * step, dir[1] * step);
      useUi.getState().touch(nodeKey(n.id));
      const p = useEditor.getState().nodes.find((x) => x.id === n.id)?.position;
      if (p) say(`Moved ${n.id} to ${Math.round(p.x)}, ${Math.round(p.y)}`);
    } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      focusRow(i + (e.key === 'ArrowDown' ? 1 : -1));
    } else if (e.key === 'Home' || e.key === 'End') {
      e.preventDefault();
      focusRow(e.key === 'Home' ? 0 : Infinity); // clamped to the last row
    } else if (e.key === 'Delete' || e.key === 'Backspace') {
      e.preventDefault();
      if (n.type === 'start') {
        say('The start node cannot be deleted');
        return;
      }
      st.removeNodes([n.id]);
      say(`Deleted ${n.id}`);
      requestAnimationFrame(() => focusRow(i));
    }
  }, []);

  return (
    <section aria-labelledby="outline-h" className="flex min-h-0 flex-col">
      <h2 id="outline-h" className="text-sm font-semibold text-slate-900">
        Outline
      </h2>
      <p id={helpId} className="mb-2 text-xs text-slate-700">
        Up/Down between nodes, Enter selects, Delete deletes, Alt+arrows move the node (Shift: 50 px).
      </p>
      {/* Layout and paint containment: the list already scrolls and clips, so nothing changes on
          screen, but Chromium no longer walks its rows (thousands of elements for 300 nodes) in the
          pre-paint step of every canvas frame: ~1.7 ms less per frame of a node drag. */}
      <ul
        ref={listRef}
        aria-describedby={helpId}
        aria-label="Nodes in flow order"
        className="flex flex-col gap-1 overflow-y-auto pr-1 [contain:layout_paint]"
      >
        {order.map((n, i) => (
          <OutlineRow key={n.id} node={n} index={i} selected={n.id === selectedId} outs={outs.get(n.id) ?? NO_EDGES} onKey={onRowKey} />
        ))}
      </ul>
    </section>
  );
}

/** Actions on the selected node, as form controls. */
export function NodeActions() {
  const node = useSelectedNode();
  const nodes = useStructure();
  const [type, setType] = useState<NodeType>('speak');
  const handles = node ? handlesOf(node) : [];
  const [from, setFrom] = useState('');
  const [connectHandle, setConnectHandle] = useState('');
  const [target, setTarget] = useState('');
  const ids = { type: useId(), from: useId(), ch: useId(), target: useId() };
  const fromValue = handles.includes(from) ? from : (handles[0] ?? '');
  const chValue = handles.includes(connectHandle) ? connectHandle : (handles[0] ?? '');
  const targets = nodes.filter((n) => n.id !== node?.id && n.type !== 'start');
  const targetValue = targets.some((t) => t.id === target) ? target : (targets[0]?.id ?? '');

  const add = () => {
    const st = useEditor.getState();
    const base = node?.position ?? { x: 0, y: 0 };
    const i = Math.max(0, handles.indexOf(fromValue));
    const pos = { x: base.x + (i - (handles.length - 1) / 2) * 260, y: base.y + 170 };
    const id = st.addNode(type, pos, node && fromValue ? { source: node.id, handle: fromValue } : undefined);
    say(node && fromValue ? `Added ${TYPE_LABELS[type]} node ${id} after ${node.id} (${fromValue}); it is selected` : `Added ${TYPE_LABELS[type]} node ${id}; it is selected`);
  };

  return (
    <section aria-labelledby="actions-h" className="flex flex-col gap-2 border-t border-slate-200 pt-3">
      <h2 id="actions-h" className="text-sm font-semibold text-slate-900">
        {node ? `Actions on ${node.id}` : 'Add a node'}
      </h2>
      <div className="grid grid-cols-1 gap-2 2xl:grid-cols-2">
        <div className="flex flex-col gap-1">
          <Label htmlFor={ids.type}>New node type</Label>
          <Select id={ids.type} value={type} onChange={(e) => setType(e.target.value as NodeType)}>
            {NODE_TYPES.filter((t) => t !== 'start').map((t) => (
              <option key={t} value={t}>
                {TYPE_LABELS[t]}
              </option>
            ))}
          </Select>
        </div>
        {node && handles.length ? (
          <div className="flex flex-col gap-1">
            <Label htmlFor={ids.from}>After outcome</Label>
            <Select id={ids.from} value={fromValue} onChange={(e) => setFrom(e.target.value)}>
              {handles.map((h) => (
                <option key={h}>{h}</option>
              ))}
            </Select>
          </div>
        ) : null}
      </div>
      <Button variant="secondary" size="sm" onClick={add}>
        {node && handles.length ? `Add after ${node.id}` : 'Add node'}
      </Button>
      {node ? (
        <>
          {handles.length && targets.length ? (
            <div className="grid grid-cols-1 gap-2 2xl:grid-cols-2">
              <div className="flex flex-col gap-1">
                <Label htmlFor={ids.ch}>Connect outcome</Label>
                <Select id={ids.ch} value={chValue} onChange={(e) => setConnectHandle(e.target.value)}>
                  {handles.map((h) => (
                    <option key={h}>{h}</option>
                  ))}
                </Select>
              </div>
              <div className="flex flex-col gap-1">
                <Label htmlFor={ids.target}>To node</Label>
                <Select id={ids.target} value={targetValue} onChange={(e) => setTarget(e.target.value)}>
                  {targets.map((t) => (
                    <option key={t.id} value={t.id}>
                      {t.id} ({typeName(t.type)})
                    </option>
                  ))}
                </Select>
              </div>
              <Button
                variant="secondary"
                size="sm"
                className="col-span-2"
                onClick={() => {
                  const ok = useEditor.getState().connect(node.id, chValue, targetValue);
                  useUi.getState().touch(nodeKey(node.id));
                  say(ok ? `Connected ${node.id} ${chValue} to ${targetValue}` : 'Could not connect');
                }}
              >
                Connect
              </Button>
            </div>
          ) : null}
          <fieldset className="flex items-center gap-1">
            <legend className="sr-only">Move {node.id} on the canvas</legend>
            <span className="mr-1 text-xs text-slate-800" aria-hidden>
              Move
            </span>
            {(
              [
                ['Move up', 0, -1, '↑'],
                ['Move down', 0, 1, '↓'],
                ['Move left', -1, 0, '←'],
                ['Move right', 1, 0, '→'],
              ] as const
            ).map(([label, dx, dy, glyph]) => (
              <Button
                key={label}
                variant="secondary"
                size="sm"
                aria-label={`${label} 10 px`}
                onClick={() => {
                  useEditor.getState().moveBy(node.id, dx * 10, dy * 10);
                  useUi.getState().touch(nodeKey(node.id));
                }}
              >
                {glyph}
              </Button>
            ))}
          </fieldset>
          <Button
            variant="danger"
            size="sm"
            disabled={node.type === 'start'}
            onClick={() => {
              useEditor.getState().removeNodes([node.id]);
              say(`Deleted ${node.id}`);
            }}
          >
            {node.type === 'start' ? 'The start node stays' : `Delete ${node.id}`}
          </Button>
        </>
      ) : null}
    </section>
  );
}
