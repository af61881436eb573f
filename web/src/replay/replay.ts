// Pure logic of the call replay (pages/Replay.tsx): a call's walk through its agent's flow
// (`Call.path`, Parley addition) put on a time axis from the answer (`start_time`), so a
// scrubber position t (ms after the answer) tells the active node, the way it was reached,
// the transcript line being said and the latency of the agent's reply. No React here: every
// function is tested in replay.test.ts.
import type { Call, ConversationTurn } from '@/lib/types';
import { autoLayout, NODE_H, NODE_W, type Flow, type FlowEdge } from '@/flow/graph';

/** One node the agent entered (`Call.path[i]`). */
export interface PathStep {
  node: string;
  type: string;
  /** When the node was entered (RFC 3339). */
  at: string;
  /** The outcome the walk left by; null where it did not leave (end, transfer, hung up). */
  handle: string | null;
  /** What the caller said that decided a question. */
  heard: string | null;
  /** Variables set at this node. */
  captured: Record<string, unknown>;
}

export type Latency = NonNullable<Call['latency']>[number];

export type ReplayCall = Call & { path?: PathStep[] };

const ms = (iso: string | null | undefined): number | null => {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
};

/** The path as the API sent it, defensively typed (an older call has none). */
export function pathOf(call: { path?: unknown }): PathStep[] {
  if (!Array.isArray(call.path)) return [];
  return call.path.flatMap((x) => {
    if (!x || typeof x !== 'object') return [];
    const s = x as Record<string, unknown>;
    if (typeof s.node !== 'string' || typeof s.at !== 'string') return [];
    return [
      {
        node: s.node,
        type: typeof s.type === 'string' ? s.type : '',
        at: s.at,
        handle: typeof s.handle === 'string' ? s.handle : null,
        heard: typeof s.heard === 'string' ? s.heard : null,
        captured: s.captured && typeof s.captured === 'object' && !Array.isArray(s.captured) ? (s.captured as Record<string, unknown>) : {},
      },
    ];
  });
}

/**
 * The replay's time origin (epoch ms): the answer (`start_time`); without one, the first
 * step's entry. Null when neither is known.
 */
export function originOf(startTime: string | null | undefined, path: PathStep[]): number | null {
  return ms(startTime) ?? ms(path[0]?.at) ?? null;
}

/** Each step's entry as ms after the origin (may be negative when entered before the answer). */
export function stepOffsets(path: PathStep[], origin: number): number[] {
  return path.map((s) => (ms(s.at) ?? origin) - origin);
}

/**
 * The active step at t ms after the answer: the last step entered at or before
 * `origin + t` (steps are in walk order, so entry times do not decrease); -1 before the first.
 */
export function activeStep(offsets: number[], t: number): number {
  let found = -1;
  for (let i = 0; i < offsets.length; i++) {
    if (offsets[i]! <= t) found = i;
    else break;
  }
  return found;
}

/**
 * The step shown: the one picked by stepping (Previous/Next node, a node clicked) while the
 * time has not moved since, else the active step at t. Steps the agent walked through in one
 * go (start → speak → question) share an entry time, so the time alone always shows the last
 * of them; picking reaches the others.
 */
export function shownStep(offsets: number[], t: number, pick: number | null): number {
  return pick !== null && pick >= 0 && pick < offsets.length ? pick : activeStep(offsets, t);
}

/**
 * The flow as the replay draws it: its own positions (the editor's), or the editor's
 * auto-layout when nodes would overlap (a flow made through the API with positions too close).
 */
export function replayLayout(flow: Flow): Flow {
  const n = flow.nodes;
  let overlap = false;
  for (let i = 0; i < n.length && !overlap; i++)
    for (let j = i + 1; j < n.length; j++) {
      const a = n[i]!.position;
      const b = n[j]!.position;
      if (Math.abs(a.x - b.x) < NODE_W && Math.abs(a.y - b.y) < NODE_H) {
        overlap = true;
        break;
      }
    }
  if (!overlap) return flow;
  const pos = autoLayout(flow);
  return { nodes: n.map((x) => ({ ...x, position: pos.get(x.id) ?? x.position })), edges: flow.edges };
}

/** The transcript line being said at t: the last line that started at or before it; -1 before the first. */
export function activeLineAt(lines: Pick<ConversationTurn, 'cumulative_duration_ms'>[], t: number): number {
  let found = -1;
  lines.forEach((l, i) => {
    if (typeof l.cumulative_duration_ms === 'number' && l.cumulative_duration_ms <= t) found = i;
  });
  return found;
}

/**
 * The edge each step left by: step i's node and handle, going to step i+1's node (an edge
 * from that node and handle to another target is taken when none matches exactly, as the
 * flow shown may be a later version than the one that served the call). Null where the step
 * did not leave or no edge of the flow matches.
 */
export function edgesTaken(path: PathStep[], edges: FlowEdge[]): (string | null)[] {
  return path.map((s, i) => {
    if (!s.handle) return null;
    const from = edges.filter((e) => e.source === s.node && e.sourceHandle === s.handle);
    const next = path[i + 1]?.node;
    return (from.find((e) => e.target === next) ?? from[0])?.id ?? null;
  });
}

export interface Marks {
  /** Nodes entered up to and including the active step. */
  visitedNodes: Set<string>;
  /** Edges taken before the active step (the transitions that led to it). */
  visitedEdges: Set<string>;
  /** The active node, if any. */
  activeNode: string | null;
  /** The edge the active step left by (its node and handle), if it left. */
  activeEdge: string | null;
}

/** What the canvas marks at the active step `active` (-1: nothing yet). */
export function marksAt(path: PathStep[], taken: (string | null)[], active: number): Marks {
  const visitedNodes = new Set<string>();
  const visitedEdges = new Set<string>();
  for (let i = 0; i <= active && i < path.length; i++) {
    visitedNodes.add(path[i]!.node);
    if (i < active && taken[i]) visitedEdges.add(taken[i]!);
  }
  const step = active >= 0 ? path[active] : undefined;
  return { visitedNodes, visitedEdges, activeNode: step?.node ?? null, activeEdge: step ? (taken[active] ?? null) : null };
}

/**
 * Which latency entry belongs to which transcript line. The server measures one latency per
 * agent reply to the caller, so the mapping is: the k-th `ai` line after the first `user` line
 * (k from 0) ↔ `latency[k]`. Agent lines before the caller first spoke (the greeting) answer
 * nobody and get none; lines beyond the entries get none. Returns, per line, the index into
 * `latency` or null.
 */
export function latencyByLine(lines: Pick<ConversationTurn, 'author'>[], latencyCount: number): (number | null)[] {
  let heardCaller = false;
  let k = 0;
  return lines.map((l) => {
    if (l.author === 'user') {
      heardCaller = true;
      return null;
    }
    if (l.author !== 'ai' || !heardCaller) return null;
    const i = k++;
    return i < latencyCount ? i : null;
  });
}

/**
 * The agent reply nearest after a step was entered that has a latency: the first line at or
 * after `stepOffset` (ms after the answer) mapped to a latency entry. Null when none.
 */
export function latencyAfter(
  lines: Pick<ConversationTurn, 'cumulative_duration_ms'>[],
  byLine: (number | null)[],
  stepOffset: number,
): { line: number; latency: number } | null {
  for (let i = 0; i < lines.length; i++) {
    const k = byLine[i];
    if (k === null || k === undefined) continue;
    if (lines[i]!.cumulative_duration_ms >= stepOffset) return { line: i, latency: k };
  }
  return null;
}

/**
 * The length of the replay (ms): the call's duration, stretched to cover the last step and the
 * last line (and the recording, once its length is known).
 */
export function replayLength(durationMs: number | null | undefined, offsets: number[], lines: Pick<ConversationTurn, 'cumulative_duration_ms'>[], recordingMs = 0): number {
  return Math.max(
    0,
    durationMs ?? 0,
    recordingMs,
    ...offsets,
    ...lines.map((l) => (typeof l.cumulative_duration_ms === 'number' ? l.cumulative_duration_ms : 0)),
  );
}

/** The sentence explaining how a step was left. */
export function whyLeft(step: Pick<PathStep, 'type' | 'handle' | 'heard'>, isLast: boolean): string {
  if (!step.handle) return isLast ? (step.type === 'end' ? 'The call ended here.' : step.type === 'transfer' ? 'The call was transferred here.' : 'The call stopped here.') : 'Went on.';
  if (step.type === 'question') {
    return step.heard ? `Left by ${step.handle} because the caller said «${step.heard}».` : `Left by ${step.handle} (nothing heard from the caller).`;
  }
  return step.handle === 'next' ? 'Went on.' : `Went on by ${step.handle}.`;
}
