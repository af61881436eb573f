import { beforeEach, describe, expect, it } from 'vitest';
import { EMPTY_SETTINGS, redo, sameStructure, undo, useEditor } from './store';

const s = () => useEditor.getState();
const t = () => useEditor.temporal.getState();

beforeEach(() => {
  s().load({ nodes: [{ id: 'start', type: 'start', position: { x: 0, y: 0 }, data: {} }], edges: [] }, EMPTY_SETTINGS);
});

describe('editor store', () => {
  it('tells a move (every frame of a drag) from a change the outline and validation see', () => {
    const id = s().addNode('speak', { x: 0, y: 0 });
    const before = s().nodes;
    s().moveBy(id, 10, 0);
    expect(s().nodes).not.toBe(before);
    expect(sameStructure(before, s().nodes)).toBe(true);
    const moved = s().nodes;
    s().updateData(id, { message: 'Hi' });
    expect(sameStructure(moved, s().nodes)).toBe(false);
    const edited = s().nodes;
    s().addNode('end', { x: 0, y: 0 });
    expect(sameStructure(edited, s().nodes)).toBe(false);
  });

  it('adds a node connected from an outcome, and undoes/redoes it', () => {
    const id = s().addNode('speak', { x: 0, y: 100 }, { source: 'start', handle: 'next' });
    expect(id).toBe('speak-1');
    expect(s().edges).toEqual([{ id: 'e1', source: 'start', sourceHandle: 'next', target: 'speak-1' }]);
    expect(s().selectedId).toBe('speak-1');
    undo();
    expect(s().nodes).toHaveLength(1);
    expect(s().edges).toHaveLength(0);
    redo();
    expect(s().nodes).toHaveLength(2);
    expect(s().edges).toHaveLength(1);
  });

  it('adding after a connected outcome inserts the node into that connection', () => {
    const end = s().addNode('end', { x: 0, y: 0 }, { source: 'start', handle: 'next' });
    const sp = s().addNode('speak', { x: 0, y: 0 }, { source: 'start', handle: 'next' });
    expect(s().edges.map((e) => `${e.source}.${e.sourceHandle}>${e.target}`).sort()).toEqual([`start.next>${sp}`, `${sp}.next>${end}`].sort());
  });

  it('does not record selection, and loading clears the history', () => {
    s().select('start');
    expect(t().pastStates).toHaveLength(0);
  });

  it('groups typing in one field into one undo step', () => {
    const id = s().addNode('speak', { x: 0, y: 0 });
    s().updateData(id, { message: 'H' }, 'message');
    s().updateData(id, { message: 'Hi' }, 'message');
    s().updateData(id, { message: 'Hi!' }, 'message');
    expect(s().nodes[1]!.data.message).toBe('Hi!');
    undo();
    expect(s().nodes[1]!.data.message).toBe('');
    undo();
    expect(s().nodes).toHaveLength(1);
  });

  it('keeps one connection per outcome and drops those of outcomes that vanish', () => {
    const q = s().addNode('question', { x: 0, y: 0 });
    const a = s().addNode('end', { x: 0, y: 0 });
    const b = s().addNode('end', { x: 0, y: 0 });
    s().updateData(q, { kind: 'yes_no' });
    expect(s().connect(q, 'yes', a)).toBeTruthy();
    s().connect(q, 'yes', b);
    expect(s().edges.filter((e) => e.source === q)).toEqual([expect.objectContaining({ sourceHandle: 'yes', target: b })]);
    expect(s().connect(q, 'maybe', a)).toBeNull();
    s().updateData(q, { kind: 'text' });
    expect(s().edges.filter((e) => e.source === q)).toEqual([]);
  });

  it('a drag is one undo step, and the start node cannot be deleted', () => {
    const id = s().addNode('end', { x: 0, y: 0 });
    s().moveNode(id, { x: 5, y: 5 });
    s().finishDrag(new Map([[id, { x: 0, y: 0 }]]), new Map([[id, { x: 100, y: 50 }]]));
    expect(s().nodes[1]!.position).toEqual({ x: 100, y: 50 });
    undo();
    expect(s().nodes[1]!.position).toEqual({ x: 0, y: 0 });
    s().removeNodes(['start', id]);
    expect(s().nodes.map((n) => n.id)).toEqual(['start']);
  });

  it('keeps untouched nodes identical (the canvas re-renders only changed ones)', () => {
    const a = s().addNode('speak', { x: 0, y: 0 });
    s().addNode('speak', { x: 0, y: 0 });
    const before = s().nodes;
    s().updateData(a, { message: 'x' });
    expect(s().nodes[0]).toBe(before[0]);
    expect(s().nodes[2]).toBe(before[2]);
    expect(s().nodes[1]).not.toBe(before[1]);
  });
});
