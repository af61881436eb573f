// A node drag on the canvas, with React Flow owning the positions until the drag ends.
//
// The canvas is a controlled React Flow (`nodes` comes from the editor store). Sending every
// frame's position through that loop (editor store -> canvas render -> `nodes` prop -> React
// Flow's setNodes) costs a render of the canvas and of React Flow's root on top of React Flow's
// own store update, on every frame of a drag and twice per frame while it pans the view at the
// canvas's edge. Instead the moves go straight into React Flow's store (what an uncontrolled
// React Flow does with its own changes), and the editor store gets the final positions once,
// at the end: one undo step per drag, as before, and the outline, side panel and validation,
// which never read positions, are not touched during the drag.
import type { ReactFlowState } from '@xyflow/react';
import type { FlowNode } from './graph';
import type { RFNode } from './FlowNode';

type XY = { x: number; y: number };

export class DragSession {
  /** Where the dragged nodes were before the drag (the undo step goes back to these). */
  readonly origin: Map<string, XY>;
  /** Where the drag has put each dragged node so far. */
  readonly latest = new Map<string, XY>();

  constructor(nodes: readonly FlowNode[], ids: Iterable<string>) {
    const wanted = new Set(ids);
    this.origin = new Map(nodes.filter((n) => wanted.has(n.id)).map((n) => [n.id, n.position]));
  }

  /** Moves nodes in React Flow's store only (one store update for the lot). */
  move(flow: { getState: () => ReactFlowState<RFNode> }, moving: ReadonlyMap<string, XY>) {
    for (const [id, p] of moving) this.latest.set(id, p);
    const { nodes, setNodes } = flow.getState();
    setNodes(nodes.map((n) => (moving.has(n.id) ? { ...n, position: moving.get(n.id)! } : n)));
  }
}
