// The canvas view of an automation and back. The API's document is the source of truth: the
// canvas shows one node per step plus the trigger node, and one edge per edge field (`next`,
// `then`, `else`, a loop's `body`) and the trigger -> start edge. `graphToDoc(docToGraph(d))`
// gives `d` back (tests in graph.test.ts). Positions come from dagre (the API stores none).
import { Graph, layout as dagreLayout } from '@dagrejs/dagre';
import { edgeFields, type AutomationDoc, type Step, type StepType } from './model';

export const TRIGGER_ID = '__trigger';
export const NODE_W = 232;
export const NODE_H = 76;

export interface TriggerNodeData {
  kind: 'trigger';
  doc: Omit<AutomationDoc, 'steps'>;
  [k: string]: unknown;
}
export interface StepNodeData {
  kind: 'step';
  /** The step without its edge fields (they are the graph's edges). */
  step: Step;
  [k: string]: unknown;
}
export interface GNode<D = TriggerNodeData | StepNodeData> {
  id: string;
  type: 'trigger' | 'step';
  position: { x: number; y: number };
  data: D;
}
export interface GEdge {
  id: string;
  source: string;
  sourceHandle: string;
  target: string;
  label?: string;
}

export const edgeId = (source: string, handle: string, target: string) => `${source}:${handle}->${target}`;

/** The step's fields with its edge fields taken out. */
function withoutEdges(step: Step): Step {
  const out: Step = { ...step };
  for (const f of edgeFields(step.type)) delete out[f];
  return out;
}

/** The slug the run starts at: `start`, else the first step. */
export function startSlug(doc: Pick<AutomationDoc, 'start' | 'steps'>): string | null {
  return doc.start || doc.steps[0]?.slug || null;
}

export function docToGraph(doc: AutomationDoc): { nodes: GNode[]; edges: GEdge[] } {
  const { steps, ...rest } = doc;
  const slugs = new Set(steps.map((s) => s.slug));
  const nodes: GNode[] = [
    { id: TRIGGER_ID, type: 'trigger', position: { x: 0, y: 0 }, data: { kind: 'trigger', doc: rest } },
  ];
  const edges: GEdge[] = [];
  const first = startSlug(doc);
  if (first && slugs.has(first)) edges.push({ id: edgeId(TRIGGER_ID, 'start', first), source: TRIGGER_ID, sourceHandle: 'start', target: first });
  for (const s of steps) {
    nodes.push({ id: s.slug, type: 'step', position: { x: 0, y: 0 }, data: { kind: 'step', step: withoutEdges(s) } });
    for (const f of edgeFields(s.type)) {
      const t = s[f];
      // An edge to a missing step is still shown in the side panel (and the API reports it);
      // the canvas can only draw edges between nodes.
      if (typeof t === 'string' && t && slugs.has(t)) {
        edges.push({ id: edgeId(s.slug, f, t), source: s.slug, sourceHandle: f, target: t });
      }
    }
  }
  return { nodes, edges };
}

/**
 * The document of a graph: steps in node order, each edge back in its step's field. Edge fields
 * that pointed at a missing slug are not in the graph; `dangling` (from the original document)
 * keeps them so nothing the person typed is lost.
 */
export function graphToDoc(nodes: GNode[], edges: GEdge[], dangling: Record<string, Record<string, string>> = {}): AutomationDoc {
  const trig = nodes.find((n) => n.type === 'trigger');
  if (!trig || trig.data.kind !== 'trigger') throw new Error('the graph has no trigger node');
  const steps: Step[] = [];
  for (const n of nodes) {
    if (n.data.kind !== 'step') continue;
    const step: Step = { ...n.data.step };
    for (const f of edgeFields(step.type as StepType)) {
      const e = edges.find((x) => x.source === n.id && x.sourceHandle === f);
      const d = dangling[n.id]?.[f];
      if (e) step[f] = e.target;
      else if (d) step[f] = d;
    }
    steps.push(step);
  }
  const doc: AutomationDoc = { ...trig.data.doc, steps };
  const startEdge = edges.find((e) => e.source === TRIGGER_ID);
  const firstListed = steps[0]?.slug ?? null;
  if (startEdge && (trig.data.doc.start || startEdge.target !== firstListed)) doc.start = startEdge.target;
  else if (!startEdge && trig.data.doc.start) doc.start = trig.data.doc.start;
  else delete doc.start;
  return doc;
}

/** Top-to-bottom positions from dagre (node size fixed: the nodes are drawn at that size). */
export function layout<N extends GNode>(nodes: N[], edges: GEdge[]): N[] {
  const g = new Graph({ multigraph: true });
  g.setGraph({ rankdir: 'TB', nodesep: 40, ranksep: 56, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: NODE_W, height: NODE_H });
  for (const e of edges) if (g.hasNode(e.source) && g.hasNode(e.target)) g.setEdge(e.source, e.target, {}, e.id);
  dagreLayout(g);
  return nodes.map((n) => {
    const p = g.node(n.id);
    return p ? { ...n, position: { x: p.x - NODE_W / 2, y: p.y - NODE_H / 2 } } : n;
  });
}
