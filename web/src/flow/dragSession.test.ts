import { beforeEach, describe, expect, it } from 'vitest';
import type { ReactFlowState } from '@xyflow/react';
import { DragSession } from './dragSession';
import type { RFNode } from './FlowNode';
import { EMPTY_SETTINGS, undo, useEditor } from './store';

const s = () => useEditor.getState();

/** The part of React Flow's store a drag session uses: its nodes and setNodes. */
function flowStore(nodes: RFNode[]) {
  const state = { nodes, setNodes: (next: RFNode[]) => (state.nodes = next), updates: 0 };
  const setNodes = state.setNodes;
  state.setNodes = (next) => {
    state.updates++;
    return setNodes(next);
  };
  return { state, api: { getState: () => state as unknown as ReactFlowState<RFNode> } };
}

beforeEach(() => {
  s().load(
    {
      nodes: [
        { id: 'start', type: 'start', position: { x: 0, y: 0 }, data: {} },
        { id: 'end', type: 'end', position: { x: 0, y: 200 }, data: {} },
      ],
      edges: [],
    },
    EMPTY_SETTINGS,
  );
});

describe('drag session', () => {
  it('moves nodes in React Flow only, then commits once: one undo step back to the origin', () => {
    const rf = s().nodes.map((n) => ({ id: n.id, type: n.type, position: n.position, data: n.data }) as RFNode);
    const { state, api } = flowStore(rf);
    const editorBefore = s().nodes;
    const session = new DragSession(s().nodes, ['end']);
    for (let i = 1; i <= 30; i++) session.move(api, new Map([['end', { x: 8 * i, y: 200 + 5 * i }]]));
    // Every frame went to React Flow's store, none to the editor's.
    expect(state.updates).toBe(30);
    expect(state.nodes.find((n) => n.id === 'end')?.position).toEqual({ x: 240, y: 350 });
    expect(state.nodes.find((n) => n.id === 'start')).toBe(rf[0]);
    expect(s().nodes).toBe(editorBefore);
    // The end of the drag: the final position in the editor store, one undo step.
    s().finishDrag(session.origin, session.latest);
    expect(s().nodes.find((n) => n.id === 'end')?.position).toEqual({ x: 240, y: 350 });
    undo();
    expect(s().nodes.find((n) => n.id === 'end')?.position).toEqual({ x: 0, y: 200 });
    expect(useEditor.temporal.getState().pastStates.length).toBe(0);
  });
});
