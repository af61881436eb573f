// The canvas: @xyflow/react over the editor store. Node objects keep their identity while
// unchanged (a per-node cache), node components are memoized and read their own problems by
// selector, so an edit re-renders one node, not 300. The nodes themselves are in FlowNode.tsx,
// with their level of detail by zoom. A drag moves nodes in React Flow's store only and reaches
// the editor store once, at its end (dragSession.ts).
import { Background, Controls, MarkerType, ReactFlow, useReactFlow, useStore, useStoreApi, type Connection, type Edge, type EdgeChange, type NodeChange } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useCallback, useMemo, useRef, useState, type DragEvent, type KeyboardEvent } from 'react';
import { DragSession } from './dragSession';
import { FlowMiniMap } from './FlowMiniMap';
import { DetailContext, nodeTypes, showsDetail, type RFNode } from './FlowNode';
import { ConnectingFromContext, selectConnectingFrom } from './PlainHandle';
import { handlesOf, isNodeType, nodeText, TYPE_LABELS, type FlowEdge, type FlowNode, type NodeType } from './graph';
import { useEditor } from './store';
import { nodeKey, useUi } from './ui';

export const DND_TYPE = 'application/x-parley-node';

// Props of <ReactFlow> are module constants or stable callbacks: React Flow copies every prop
// that changed identity into its store on each render, and each store update re-runs the
// selectors of every node, handle, edge and mini-map node (thousands with 300 nodes). An inline
// object here meant one more such update on every frame of a drag.
const FIT_VIEW = { maxZoom: 1, padding: 0.2 };
const PRO_OPTIONS = { hideAttribution: true };
const DELETE_KEYS = ['Delete', 'Backspace'];
const onPaneClick = () => useEditor.getState().select(null);
const onDragOver = (e: DragEvent) => {
  e.preventDefault();
  e.dataTransfer.dropEffect = 'move';
};

const selectDetail = (s: { transform: [number, number, number] }) => showsDetail(s.transform[2]);

interface Cached {
  sel: boolean;
  m: { width: number; height: number } | undefined;
  rf: RFNode;
}

export function FlowCanvas() {
  const nodes = useEditor((s) => s.nodes);
  const edges = useEditor((s) => s.edges);
  const selectedId = useEditor((s) => s.selectedId);
  const detail = useStore(selectDetail);
  const connectingFrom = useStore(selectConnectingFrom);
  const { screenToFlowPosition } = useReactFlow();
  const [measured, setMeasured] = useState(() => new Map<string, { width: number; height: number }>());
  const [selectedEdge, setSelectedEdge] = useState<string | null>(null);
  const nodeCache = useRef(new WeakMap<FlowNode, Cached>());
  const edgeCache = useRef(new WeakMap<FlowEdge, { sel: boolean; rf: Edge }>());
  const flowStore = useStoreApi<RFNode>();
  const drag = useRef<DragSession | null>(null);

  const rfNodes = useMemo(
    () =>
      nodes.map((n) => {
        const sel = n.id === selectedId;
        const m = measured.get(n.id);
        // A node being dragged is where the drag has put it so far (see DragSession).
        const live = drag.current?.latest.get(n.id);
        const c = nodeCache.current.get(n);
        if (c && c.sel === sel && c.m === m && !live) return c.rf;
        const rf: RFNode = {
          id: n.id,
          type: isNodeType(n.type) ? n.type : 'unknown',
          position: live ?? n.position,
          data: n.data,
          selected: sel,
          measured: m,
          deletable: n.type !== 'start',
          ariaLabel: `${isNodeType(n.type) ? TYPE_LABELS[n.type] : n.type} node ${n.id}${nodeText(n) ? `: ${nodeText(n)}` : ''}`,
        };
        if (!live) nodeCache.current.set(n, { sel, m, rf });
        return rf;
      }),
    [nodes, selectedId, measured],
  );

  const rfEdges = useMemo(
    () =>
      edges.map((e) => {
        const sel = e.id === selectedEdge;
        const c = edgeCache.current.get(e);
        if (c && c.sel === sel) return c.rf;
        const rf: Edge = {
          id: e.id,
          source: e.source,
          sourceHandle: e.sourceHandle,
          target: e.target,
          selected: sel,
          markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 },
          ariaLabel: `Connection ${e.sourceHandle} from ${e.source} to ${e.target}`,
          style: sel ? { stroke: '#4338ca', strokeWidth: 3 } : undefined,
        };
        edgeCache.current.set(e, { sel, rf });
        return rf;
      }),
    [edges, selectedEdge],
  );

  const onNodesChange = useCallback((changes: NodeChange<RFNode>[]) => {
    const st = useEditor.getState();
    let dims: Map<string, { width: number; height: number }> | null = null;
    const removed: string[] = [];
    let picked: string | null | undefined;
    const moving = new Map<string, { x: number; y: number }>();
    let ended = false;
    for (const c of changes) {
      if (c.type === 'dimensions' && c.dimensions) {
        dims ??= new Map();
        dims.set(c.id, c.dimensions);
      } else if (c.type === 'position') {
        if (c.position) moving.set(c.id, c.position);
        if (c.dragging === false) ended = true;
      } else if (c.type === 'select') {
        if (c.selected) picked = c.id;
        else if (picked === undefined && c.id === st.selectedId) picked = null;
      } else if (c.type === 'remove') removed.push(c.id);
    }
    if (dims) {
      const d = dims;
      setMeasured((prev) => {
        const next = new Map(prev);
        for (const [id, m] of d) {
          const o = next.get(id);
          if (!o || o.width !== m.width || o.height !== m.height) next.set(id, { width: m.width, height: m.height });
        }
        return next;
      });
    }
    if (moving.size || ended) {
      drag.current ??= new DragSession(st.nodes, moving.keys());
      const session = drag.current;
      if (moving.size) session.move(flowStore, moving);
      if (ended) {
        drag.current = null;
        for (const id of session.latest.keys()) useUi.getState().touch(nodeKey(id));
        st.finishDrag(session.origin, session.latest);
      }
    }
    if (picked !== undefined) st.select(picked);
    if (removed.length) st.removeNodes(removed);
  }, [flowStore]);

  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    const removed = changes.filter((c) => c.type === 'remove').map((c) => c.id);
    if (removed.length) useEditor.getState().removeEdges(removed);
    for (const c of changes) if (c.type === 'select') setSelectedEdge((cur) => (c.selected ? c.id : cur === c.id ? null : cur));
  }, []);

  const onConnect = useCallback((c: Connection) => {
    if (!c.source || !c.target) return;
    useEditor.getState().connect(c.source, c.sourceHandle ?? 'next', c.target);
    useUi.getState().touch(nodeKey(c.source));
  }, []);

  const isValidConnection = useCallback((c: Connection | Edge) => {
    const src = useEditor.getState().nodes.find((n) => n.id === c.source);
    return !!src && c.source !== c.target && handlesOf(src).includes(c.sourceHandle ?? 'next');
  }, []);

  const onDrop = useCallback(
    (e: DragEvent) => {
      const type = e.dataTransfer.getData(DND_TYPE);
      if (!isNodeType(type)) return;
      e.preventDefault();
      const p = screenToFlowPosition({ x: e.clientX, y: e.clientY });
      useEditor.getState().addNode(type as NodeType, { x: Math.round(p.x - 120), y: Math.round(p.y - 30) });
    },
    [screenToFlowPosition],
  );

  // Arrow keys on a focused node move the selected node by 10 px (Shift: 50 px), one undo step per burst.
  const onKeyDownCapture = useCallback((e: KeyboardEvent) => {
    const dir = ({ ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] } as Record<string, [number, number]>)[e.key];
    const el = e.target as HTMLElement;
    if (!dir || !el.closest?.('.react-flow__node')) return;
    const id = el.closest('.react-flow__node')?.getAttribute('data-id');
    if (!id) return;
    e.preventDefault();
    e.stopPropagation();
    const step = e.shiftKey ? 50 : 10;
    const st = useEditor.getState();
    st.select(id);
    st.moveBy(id, dir[0] * step, dir[1] * step);
    useUi.getState().touch(nodeKey(id));
  }, []);

  // The same elements while the mini map's presence does not change, so that React skips the
  // background, the controls and the mini map (300 nodes of its own) on every frame of a drag.
  const withMap = nodes.length > 12;
  const decorations = useMemo(
    () => (
      <>
        <Background gap={20} />
        <Controls showInteractive={false} />
        {withMap ? <FlowMiniMap ariaLabel="Mini map of the flow" /> : null}
      </>
    ),
    [withMap],
  );

  return (
    <div className="flow-canvas h-full w-full" onKeyDownCapture={onKeyDownCapture}>
      <DetailContext.Provider value={detail}>
        <ConnectingFromContext.Provider value={connectingFrom}>
          <ReactFlow
            nodes={rfNodes}
            edges={rfEdges}
            nodeTypes={nodeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            isValidConnection={isValidConnection}
            onDrop={onDrop}
            onDragOver={onDragOver}
            onPaneClick={onPaneClick}
            deleteKeyCode={DELETE_KEYS}
            multiSelectionKeyCode={null}
            selectionKeyCode={null}
            onlyRenderVisibleElements={nodes.length > 80}
            minZoom={0.1}
            fitView
            fitViewOptions={FIT_VIEW}
            proOptions={PRO_OPTIONS}
            aria-label="Flow canvas"
          >
            {decorations}
          </ReactFlow>
        </ConnectingFromContext.Provider>
      </DetailContext.Provider>
    </div>
  );
}
