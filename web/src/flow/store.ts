// The flow editor's state: the draft's graph and settings (tracked by zundo for undo/redo)
// and what is selected (not tracked). Every action replaces only what it changes, so the
// canvas keeps the identity of untouched nodes and re-renders only those that changed.
import { useRef } from 'react';
import { temporal } from 'zundo';
import { create } from 'zustand';
import {
  autoLayout,
  defaultData,
  handlesOf,
  newEdgeId,
  newNodeId,
  type AgentSettings,
  type Data,
  type Flow,
  type FlowEdge,
  type FlowNode,
  type NodeType,
} from './graph';

export const EMPTY_SETTINGS: AgentSettings = {
  title: '',
  ai_name: '',
  lang: 'en',
  response_tags: [],
  should_record: false,
  should_leave_voicemail: false,
  voicemail_message: '',
  silence_timeout_ms: 8000,
  silence_reprompts: 1,
  stt: null,
  tts: null,
};

export interface Tracked {
  nodes: FlowNode[];
  edges: FlowEdge[];
  settings: AgentSettings;
}

export interface EditorState extends Tracked {
  selectedId: string | null;
  load: (flow: Flow, settings: AgentSettings) => void;
  select: (id: string | null) => void;
  /** Adds a node; `from` connects an outcome of an existing node to it. Returns its id. */
  addNode: (type: NodeType, position: { x: number; y: number }, from?: { source: string; handle: string }) => string;
  /** Changes a node's data; edits with the same `coalesce` key within a second are one undo step. */
  updateData: (id: string, patch: Data | ((d: Data) => Data), coalesce?: string) => void;
  moveNode: (id: string, position: { x: number; y: number }) => void;
  moveBy: (id: string, dx: number, dy: number) => void;
  /** Positions after a drag: one undo step back to `origin`. */
  finishDrag: (origin: Map<string, { x: number; y: number }>, final: Map<string, { x: number; y: number }>) => void;
  removeNodes: (ids: string[]) => void;
  removeEdges: (ids: string[]) => void;
  /** Connects `source`'s outcome to `target`, replacing the outcome's previous connection. */
  connect: (source: string, handle: string, target: string) => string | null;
  setSettings: (patch: Partial<AgentSettings>, coalesce?: string) => void;
  layout: (sizes?: Map<string, { width: number; height: number }>) => void;
}

let lastCoalesce: { key: string; at: number } | null = null;

export const useEditor = create<EditorState>()(
  temporal(
    (set, get) => {
      /** A tracked change; consecutive changes with one coalesce key are one undo step. */
      const change = (partial: Partial<EditorState>, coalesce?: string) => {
        const now = Date.now();
        const merge = coalesce !== undefined && lastCoalesce?.key === coalesce && now - lastCoalesce.at < 1000;
        lastCoalesce = coalesce !== undefined ? { key: coalesce, at: now } : null;
        const t = useEditor.temporal.getState();
        if (merge && t.isTracking) {
          t.pause();
          set(partial);
          t.resume();
        } else set(partial);
      };
      return {
        nodes: [],
        edges: [],
        settings: EMPTY_SETTINGS,
        selectedId: null,
        load: (flow, settings) => {
          const t = useEditor.temporal.getState();
          t.pause();
          set({ nodes: flow.nodes, edges: flow.edges, settings, selectedId: null });
          t.clear();
          t.resume();
          lastCoalesce = null;
        },
        select: (id) => {
          if (get().selectedId !== id) set({ selectedId: id });
        },
        addNode: (type, position, from) => {
          const { nodes, edges } = get();
          const id = newNodeId(type, nodes);
          const node: FlowNode = { id, type, position, data: defaultData(type) };
          let nextEdges = edges;
          if (from && nodes.some((n) => n.id === from.source)) {
            // Inserted into a connection: the new node's first outcome goes where it went.
            const old = edges.find((e) => e.source === from.source && e.sourceHandle === from.handle);
            const rest = edges.filter((e) => e !== old);
            nextEdges = [...rest, { id: newEdgeId(edges), source: from.source, sourceHandle: from.handle, target: id }];
            const first = handlesOf(node)[0];
            if (old && first) nextEdges.push({ id: newEdgeId(nextEdges), source: id, sourceHandle: first, target: old.target });
          }
          change({ nodes: [...nodes, node], edges: nextEdges, selectedId: id });
          return id;
        },
        updateData: (id, patch, coalesce) => {
          const nodes = get().nodes;
          const i = nodes.findIndex((n) => n.id === id);
          if (i < 0) return;
          const n = nodes[i]!;
          const data = typeof patch === 'function' ? patch(n.data) : { ...n.data, ...patch };
          for (const k of Object.keys(data)) if (data[k] === undefined) delete data[k];
          const next = nodes.slice();
          next[i] = { ...n, data };
          // Outcomes that disappeared (a choice removed, a kind changed) lose their connections.
          const hs = new Set(handlesOf(next[i]));
          const edges = get().edges;
          const kept = edges.filter((e) => e.source !== id || hs.has(e.sourceHandle));
          change({ nodes: next, edges: kept.length === edges.length ? edges : kept }, coalesce ? `${id}:${coalesce}` : undefined);
        },
        moveNode: (id, position) => {
          const nodes = get().nodes;
          const i = nodes.findIndex((n) => n.id === id);
          if (i < 0) return;
          const next = nodes.slice();
          next[i] = { ...nodes[i]!, position };
          change({ nodes: next }, `move:${id}`);
        },
        moveBy: (id, dx, dy) => {
          const n = get().nodes.find((x) => x.id === id);
          if (n) get().moveNode(id, { x: n.position.x + dx, y: n.position.y + dy });
        },
        finishDrag: (origin, final) => {
          const t = useEditor.temporal.getState();
          const put = (pos: Map<string, { x: number; y: number }>) =>
            get().nodes.map((n) => (pos.has(n.id) ? { ...n, position: pos.get(n.id)! } : n));
          t.pause();
          set({ nodes: put(origin) });
          t.resume();
          lastCoalesce = null;
          set({ nodes: put(final) });
        },
        removeNodes: (ids) => {
          // The start node stays: a flow needs exactly one.
          const gone = new Set(ids.filter((id) => get().nodes.find((n) => n.id === id)?.type !== 'start'));
          if (!gone.size) return;
          const { nodes, edges, selectedId } = get();
          change({
            nodes: nodes.filter((n) => !gone.has(n.id)),
            edges: edges.filter((e) => !gone.has(e.source) && !gone.has(e.target)),
            selectedId: selectedId && gone.has(selectedId) ? null : selectedId,
          });
        },
        removeEdges: (ids) => {
          const gone = new Set(ids);
          const edges = get().edges;
          const next = edges.filter((e) => !gone.has(e.id));
          if (next.length !== edges.length) change({ edges: next });
        },
        connect: (source, handle, target) => {
          const { nodes, edges } = get();
          if (source === target || !nodes.some((n) => n.id === target)) return null;
          const src = nodes.find((n) => n.id === source);
          if (!src || !handlesOf(src).includes(handle)) return null;
          const existing = edges.find((e) => e.source === source && e.sourceHandle === handle);
          if (existing?.target === target) return existing.id;
          const id = newEdgeId(edges);
          change({ edges: [...edges.filter((e) => e !== existing), { id, source, sourceHandle: handle, target }] });
          return id;
        },
        setSettings: (patch, coalesce) => change({ settings: { ...get().settings, ...patch } }, coalesce ? `settings:${coalesce}` : undefined),
        layout: (sizes) => {
          const { nodes, edges } = get();
          const pos = autoLayout({ nodes, edges }, sizes);
          change({ nodes: nodes.map((n) => ({ ...n, position: pos.get(n.id) ?? n.position })) });
        },
      };
    },
    {
      partialize: (s): Tracked => ({ nodes: s.nodes, edges: s.edges, settings: s.settings }),
      equality: (a, b) => a.nodes === b.nodes && a.edges === b.edges && a.settings === b.settings,
      limit: 200,
    },
  ),
);

export const undo = () => {
  lastCoalesce = null;
  useEditor.temporal.getState().undo();
};
export const redo = () => {
  lastCoalesce = null;
  useEditor.temporal.getState().redo();
};

/** The flow as it stands. */
export const currentFlow = (s: Tracked = useEditor.getState()): Flow => ({ nodes: s.nodes, edges: s.edges });

/** Same node apart from its position: a drag changes positions only, on every frame. */
export const sameShape = (a: FlowNode | undefined, b: FlowNode | undefined) =>
  a === b || (!!a && !!b && a.id === b.id && a.type === b.type && a.data === b.data);

/** Same nodes in the same order apart from positions. */
export const sameStructure = (a: FlowNode[], b: FlowNode[]) => a === b || (a.length === b.length && a.every((n, i) => sameShape(n, b[i])));

/**
 * The nodes for views that never read positions (the outline, the side panel, validation): the
 * previous array is kept while only positions changed, so dragging a node in a 300-node flow
 * re-renders the canvas alone instead of every outline row and the panel's scope analysis on
 * every frame. Positions read from this array may be stale: read them from `getState()`.
 */
export function useStructure(): FlowNode[] {
  const kept = useRef<FlowNode[] | null>(null);
  return useEditor((s) => {
    if (kept.current && sameStructure(kept.current, s.nodes)) return kept.current;
    kept.current = s.nodes;
    return s.nodes;
  });
}

/** The selected node, kept while only its position changes (see `useStructure`). */
export function useSelectedNode(): FlowNode | undefined {
  const kept = useRef<FlowNode | undefined>(undefined);
  return useEditor((s) => {
    const n = s.selectedId ? s.nodes.find((x) => x.id === s.selectedId) : undefined;
    if (sameShape(kept.current, n)) return kept.current;
    kept.current = n;
    return n;
  });
}
