import { describe, expect, it } from 'vitest';
import {
  activeLineAt,
  activeStep,
  edgesTaken,
  latencyAfter,
  latencyByLine,
  marksAt,
  originOf,
  pathOf,
  replayLayout,
  replayLength,
  shownStep,
  stepOffsets,
  whyLeft,
  type PathStep,
} from './replay';

const T0 = '2026-12-03T10:00:00Z';
const at = (s: number) => new Date(Date.parse(T0) + s * 1000).toISOString();

const path: PathStep[] = [
  { node: 's', type: 'start', at: at(0), handle: 'next', heard: null, captured: {} },
  { node: 'hi', type: 'speak', at: at(0.2), handle: 'next', heard: null, captured: {} },
  { node: 'q', type: 'question', at: at(3), handle: 'yes', heard: 'Yes, that works.', captured: { confirmed: true } },
  { node: 'b', type: 'branch', at: at(9), handle: 'confirmed', heard: null, captured: {} },
  { node: 'ok', type: 'end', at: at(9.1), handle: null, heard: null, captured: {} },
];

const edges = [
  { id: 'e1', source: 's', sourceHandle: 'next', target: 'hi' },
  { id: 'e2', source: 'hi', sourceHandle: 'next', target: 'q' },
  { id: 'e3', source: 'q', sourceHandle: 'yes', target: 'b' },
  { id: 'e4', source: 'q', sourceHandle: 'no', target: 'bye' },
  { id: 'e5', source: 'b', sourceHandle: 'confirmed', target: 'ok' },
  { id: 'e6', source: 'b', sourceHandle: 'else', target: 'bye' },
];

describe('active step at t', () => {
  const offsets = stepOffsets(path, originOf(T0, path)!);
  it('puts steps on the answer-relative axis', () => {
    expect(offsets).toEqual([0, 200, 3000, 9000, 9100]);
  });
  it('is the last step entered at or before t', () => {
    expect(activeStep(offsets, -1)).toBe(-1);
    expect(activeStep(offsets, 0)).toBe(0);
    expect(activeStep(offsets, 199)).toBe(0);
    expect(activeStep(offsets, 200)).toBe(1);
    expect(activeStep(offsets, 8999)).toBe(2);
    expect(activeStep(offsets, 9050)).toBe(3);
    expect(activeStep(offsets, 60_000)).toBe(4);
  });
  it('a minimal start → end walk', () => {
    const p = [path[0]!, { ...path[4]!, at: at(0.05) }];
    const o = stepOffsets(p, originOf(T0, p)!);
    expect(activeStep(o, 0)).toBe(0);
    expect(activeStep(o, 1000)).toBe(1);
  });
  it('without start_time the origin is the first step; steps before the answer are negative', () => {
    expect(originOf(null, path)).toBe(Date.parse(T0));
    expect(originOf(null, [])).toBeNull();
    const early = stepOffsets([{ ...path[0]!, at: at(-0.5) }], Date.parse(T0));
    expect(early).toEqual([-500]);
    expect(activeStep(early, 0)).toBe(0);
  });
  it('steps entered at one instant: time shows the last, a pick shows the one picked', () => {
    const tied = [0, 0, 0, 5000];
    expect(shownStep(tied, 0, null)).toBe(2);
    expect(shownStep(tied, 0, 1)).toBe(1);
    expect(shownStep(tied, 0, 0)).toBe(0);
    expect(shownStep(tied, 6000, null)).toBe(3);
    expect(shownStep(tied, 0, 9)).toBe(2);
  });
  it('the transcript line at t', () => {
    const lines = [{ cumulative_duration_ms: 100 }, { cumulative_duration_ms: 2500 }, { cumulative_duration_ms: 4000 }];
    expect(activeLineAt(lines, 50)).toBe(-1);
    expect(activeLineAt(lines, 2500)).toBe(1);
    expect(activeLineAt(lines, 99_999)).toBe(2);
  });
});

describe('edges taken', () => {
  it('follows node + handle to the next step', () => {
    expect(edgesTaken(path, edges)).toEqual(['e1', 'e2', 'e3', 'e5', null]);
  });
  it('prefers the edge to the next node, falls back to node + handle, null when the flow lacks it', () => {
    const two = [
      { id: 'x1', source: 's', sourceHandle: 'next', target: 'other' },
      { id: 'x2', source: 's', sourceHandle: 'next', target: 'hi' },
    ];
    expect(edgesTaken(path.slice(0, 2), two)).toEqual(['x2', null]);
    expect(edgesTaken(path.slice(0, 2), [two[0]!])).toEqual(['x1', null]);
    expect(edgesTaken(path.slice(0, 2), [])).toEqual([null, null]);
  });
  it('marks visited nodes, the edges before the active step and the edge the active step left by', () => {
    const taken = edgesTaken(path, edges);
    const m = marksAt(path, taken, 2);
    expect([...m.visitedNodes]).toEqual(['s', 'hi', 'q']);
    expect([...m.visitedEdges]).toEqual(['e1', 'e2']);
    expect(m.activeNode).toBe('q');
    expect(m.activeEdge).toBe('e3');
    const end = marksAt(path, taken, 4);
    expect(end.activeNode).toBe('ok');
    expect(end.activeEdge).toBeNull();
    expect(end.visitedEdges.size).toBe(4);
    const none = marksAt(path, taken, -1);
    expect(none.activeNode).toBeNull();
    expect(none.visitedNodes.size).toBe(0);
  });
});

describe('latency ↔ line', () => {
  const lines = [
    { author: 'ai', cumulative_duration_ms: 200 }, // greeting: nobody to answer
    { author: 'ai', cumulative_duration_ms: 1500 }, // still before the caller spoke
    { author: 'user', cumulative_duration_ms: 4000 },
    { author: 'ai', cumulative_duration_ms: 5200 }, // latency[0]
    { author: 'user', cumulative_duration_ms: 7000 },
    { author: 'ai', cumulative_duration_ms: 9200 }, // latency[1]
    { author: 'ai', cumulative_duration_ms: 11000 }, // latency[2] (absent)
  ];
  it('the k-th ai line after the first user line is latency[k]', () => {
    expect(latencyByLine(lines, 2)).toEqual([null, null, null, 0, null, 1, null]);
    expect(latencyByLine(lines, 3)).toEqual([null, null, null, 0, null, 1, 2]);
    expect(latencyByLine([{ author: 'ai' }, { author: 'ai' }], 2)).toEqual([null, null]);
  });
  it('a step gets the reply nearest after its entry', () => {
    const by = latencyByLine(lines, 2);
    expect(latencyAfter(lines, by, 0)).toEqual({ line: 3, latency: 0 });
    expect(latencyAfter(lines, by, 5200)).toEqual({ line: 3, latency: 0 });
    expect(latencyAfter(lines, by, 5201)).toEqual({ line: 5, latency: 1 });
    expect(latencyAfter(lines, by, 9300)).toBeNull();
  });
});

describe('path, length and wording', () => {
  it('reads the API path defensively', () => {
    expect(pathOf({})).toEqual([]);
    expect(pathOf({ path: [{ node: 'a', at: T0 }, { nope: 1 }, null] })).toEqual([
      { node: 'a', type: '', at: T0, handle: null, heard: null, captured: {} },
    ]);
  });
  it('the replay covers the duration, the steps, the lines and the recording', () => {
    expect(replayLength(10_000, [0, 12_000], [{ cumulative_duration_ms: 11_000 }])).toBe(12_000);
    expect(replayLength(null, [], [], 5000)).toBe(5000);
    expect(replayLength(null, [], [])).toBe(0);
  });
  it('says why a step was left', () => {
    expect(whyLeft(path[2]!, false)).toBe('Left by yes because the caller said «Yes, that works.».');
    expect(whyLeft(path[1]!, false)).toBe('Went on.');
    expect(whyLeft(path[3]!, false)).toBe('Went on by confirmed.');
    expect(whyLeft(path[4]!, true)).toBe('The call ended here.');
    expect(whyLeft({ type: 'question', handle: 'no_match', heard: null }, false)).toBe('Left by no_match (nothing heard from the caller).');
  });
});

describe('replay layout', () => {
  const node = (id: string, x: number, y: number) => ({ id, type: 'speak', position: { x, y }, data: {} });
  it('keeps the editor positions when nodes do not overlap', () => {
    const f = { nodes: [node('a', 0, 0), node('b', 0, 200)], edges: [] };
    expect(replayLayout(f)).toBe(f);
  });
  it('lays out overlapping nodes with the editor auto-layout', () => {
    const f = { nodes: [node('a', 0, 0), node('b', 200, 0)], edges: [{ id: 'e', source: 'a', sourceHandle: 'next', target: 'b' }] };
    const l = replayLayout(f);
    const [a, b] = l.nodes.map((n) => n.position);
    expect(Math.abs(a!.x - b!.x) >= 240 || Math.abs(a!.y - b!.y) >= 110).toBe(true);
    expect(l.edges).toBe(f.edges);
  });
});
