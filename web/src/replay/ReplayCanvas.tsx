// The agent's flow on a read-only canvas for the call replay: the editor's node components
// (flow/FlowNode `nodeTypes`) and positions, nothing draggable, connectable or deletable;
// the active node ringed (and `aria-current="step"`), the nodes and edges walked before it
// marked lightly, the edge the active step left by drawn thick and animated.
import { Background, Controls, MarkerType, MiniMap, ReactFlow, type Edge, type Node } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useMemo } from 'react';
import { nodeTypes } from '@/flow/FlowNode';
import { isNodeType, nodeText, TYPE_LABELS, type Flow, type FlowNode } from '@/flow/graph';
import type { Marks } from './replay';

type RFNode = Node<FlowNode['data'], string>;

export function ReplayCanvas({ flow, marks, onNodeClick }: { flow: Flow; marks: Marks; onNodeClick?: (nodeId: string) => void }) {
  const nodes = useMemo(
    () =>
      flow.nodes.map((n): RFNode => {
        const active = n.id === marks.activeNode;
        const visited = marks.visitedNodes.has(n.id);
        const label = isNodeType(n.type) ? TYPE_LABELS[n.type] : n.type;
        const state = active ? ' (active)' : visited ? ' (visited)' : '';
        return {
          id: n.id,
          type: isNodeType(n.type) ? n.type : 'unknown',
          position: n.position,
          data: n.data,
          draggable: false,
          connectable: false,
          deletable: false,
          selectable: false,
          className: active
            ? 'rounded-lg ring-4 ring-amber-500 ring-offset-4 shadow-lg'
            : visited
              ? 'rounded-lg ring-2 ring-amber-300 ring-offset-2'
              : undefined,
          ariaLabel: `${label} node ${n.id}${nodeText(n) ? `: ${nodeText(n)}` : ''}${state}`,
          domAttributes: active ? { 'aria-current': 'step' } : undefined,
        };
      }),
    [flow.nodes, marks],
  );

  const edges = useMemo(
    () =>
      flow.edges.map((e): Edge => {
        const active = e.id === marks.activeEdge;
        const visited = marks.visitedEdges.has(e.id);
        const color = active ? '#b45309' : visited ? '#6366f1' : undefined;
        return {
          id: e.id,
          source: e.source,
          sourceHandle: e.sourceHandle,
          target: e.target,
          selectable: false,
          deletable: false,
          animated: active,
          zIndex: active ? 10 : visited ? 5 : 0,
          markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16, color },
          ariaLabel: `Connection ${e.sourceHandle} from ${e.source} to ${e.target}${active ? ' (taken now)' : visited ? ' (taken)' : ''}`,
          style: active ? { stroke: color, strokeWidth: 4 } : visited ? { stroke: color, strokeWidth: 2.5 } : undefined,
        };
      }),
    [flow.edges, marks],
  );

  return (
    <ReactFlow
      nodes={nodes}
      edges={edges}
      nodeTypes={nodeTypes}
      nodesDraggable={false}
      nodesConnectable={false}
      elementsSelectable={false}
      deleteKeyCode={null}
      selectionKeyCode={null}
      multiSelectionKeyCode={null}
      onNodeClick={onNodeClick ? (_, n) => onNodeClick(n.id) : undefined}
      onlyRenderVisibleElements={flow.nodes.length > 80}
      minZoom={0.1}
      fitView
      fitViewOptions={{ maxZoom: 1, padding: 0.2 }}
      proOptions={{ hideAttribution: true }}
      aria-label="Flow canvas (replay, read-only)"
    >
      <Background gap={20} />
      <Controls showInteractive={false} />
      {flow.nodes.length > 12 ? <MiniMap pannable zoomable ariaLabel="Mini map of the flow" /> : null}
    </ReactFlow>
  );
}
