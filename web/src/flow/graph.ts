// Pure logic of the voice-agent flow editor (API.md "Flow node data"): the outcomes (handles)
// of each node type, the variables in scope at a node, client-side validation mirroring the
// server's rules (crates/core/src/flow.rs), the diff between the live agent and the draft,
// the order of the outline, and the dagre auto-layout. No React here: everything is tested
// in graph.test.ts.
import { graphlib, layout as dagreLayout } from '@dagrejs/dagre';
import type { EngineChoice } from '@/lib/types';

export const NODE_TYPES = ['start', 'speak', 'question', 'branch', 'transfer', 'webhook', 'end'] as const;
export type NodeType = (typeof NODE_TYPES)[number];
export const QUESTION_KINDS = ['text', 'yes_no', 'number', 'date', 'choice'] as const;
export const BRANCH_OPS = ['equals', 'not_equals', 'contains', 'greater_than', 'less_than', 'exists', 'not_exists', 'matches'] as const;
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export const CONTACT_FIELDS = ['name', 'phone_number', 'email', 'id'] as const;

export const TYPE_LABELS: Record<NodeType, string> = {
  start: 'Start',
  speak: 'Speak',
  question: 'Question',
  branch: 'Branch',
  transfer: 'Transfer',
  webhook: 'Webhook',
  end: 'End',
};

export const TYPE_HELP: Record<NodeType, string> = {
  start: 'Where the call begins',
  speak: 'Says a fixed message, or follows a prompt for the LLM',
  question: 'Asks and captures a variable',
  branch: 'Chooses a way on variables and contact attributes',
  transfer: 'Transfers the call to a phone number',
  webhook: 'Calls an HTTP endpoint mid-call',
  end: 'Ends the call with an outcome tag',
};

export type Data = Record<string, unknown>;

export interface FlowNode {
  id: string;
  type: string;
  position: { x: number; y: number };
  data: Data;
}

export interface FlowEdge {
  id: string;
  source: string;
  sourceHandle: string;
  target: string;
}

export interface Flow {
  nodes: FlowNode[];
  edges: FlowEdge[];
}

/** The agent's settings the editor edits besides the flow. */
export interface AgentSettings {
  title: string;
  ai_name: string;
  lang: string;
  response_tags: string[];
  should_record: boolean;
  should_leave_voicemail: boolean;
  voicemail_message: string;
  silence_timeout_ms: number;
  silence_reprompts: number;
  /** The speech engines (null: the built-in ones). */
  stt: EngineChoice | null;
  tts: EngineChoice | null;
}

export const SETTINGS_FIELDS: (keyof AgentSettings)[] = [
  'title',
  'ai_name',
  'lang',
  'response_tags',
  'should_record',
  'should_leave_voicemail',
  'voicemail_message',
  'silence_timeout_ms',
  'silence_reprompts',
  'stt',
  'tts',
];

export const isNodeType = (t: string): t is NodeType => (NODE_TYPES as readonly string[]).includes(t);

const str = (d: Data, k: string): string => (typeof d[k] === 'string' ? (d[k] as string) : '');

export interface Condition {
  variable: string;
  op: string;
  value: string;
  handle: string;
}

export function conditionsOf(d: Data): Condition[] {
  const c = d.conditions;
  if (!Array.isArray(c)) return [];
  return c.map((x) => {
    const o = (x && typeof x === 'object' ? x : {}) as Record<string, unknown>;
    const s = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : o[k] === undefined || o[k] === null ? '' : String(o[k]));
    return { variable: s('variable'), op: s('op'), value: s('value'), handle: s('handle') };
  });
}

export function choicesOf(d: Data): string[] {
  return Array.isArray(d.choices) ? d.choices.map((c) => (typeof c === 'string' ? c : String(c))) : [];
}

/**
 * The outcomes (`sourceHandle`s) of a node, in display order: start/speak `next`; question
 * `yes`/`no` (yes_no), one per choice (choice) or `next`, then always `no_match`; branch each
 * condition's handle, then `else`; webhook `next`, `error`; transfer and end none.
 */
export function handlesOf(node: Pick<FlowNode, 'type' | 'data'>): string[] {
  const d = node.data ?? {};
  switch (node.type) {
    case 'start':
    case 'speak':
      return ['next'];
    case 'question': {
      const kind = str(d, 'kind') || 'text';
      const base = kind === 'yes_no' ? ['yes', 'no'] : kind === 'choice' ? uniq(choicesOf(d).filter((c) => c.trim())) : ['next'];
      return [...base, 'no_match'];
    }
    case 'branch':
      return [...uniq(conditionsOf(d).map((c) => c.handle).filter((h) => h.trim() && h !== 'else')), 'else'];
    case 'webhook':
      return ['next', 'error'];
    default:
      return [];
  }
}

function uniq<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

/** Fresh `data` for a node of a type, as the palette adds it. */
export function defaultData(type: NodeType): Data {
  switch (type) {
    case 'start':
      return {};
    case 'speak':
      return { message: '' };
    case 'question':
      return { question: '', variable: '', kind: 'text' };
    case 'branch':
      return { conditions: [{ variable: '', op: 'equals', value: '', handle: 'match' }] };
    case 'transfer':
      return { phone_number: '' };
    case 'webhook':
      return { url: '', method: 'POST' };
    case 'end':
      return { outcome: '' };
  }
}

/** An id not used by any node: `speak-3`. */
export function newNodeId(type: string, nodes: { id: string }[]): string {
  const ids = new Set(nodes.map((n) => n.id));
  let i = 1;
  while (ids.has(`${type}-${i}`)) i++;
  return `${type}-${i}`;
}

export function newEdgeId(edges: { id: string }[]): string {
  const ids = new Set(edges.map((e) => e.id));
  let i = edges.length + 1;
  while (ids.has(`e${i}`)) i++;
  return `e${i}`;
}

/** One line saying what a node does, for the canvas and the outline. */
export function nodeText(n: Pick<FlowNode, 'type' | 'data'>): string {
  const d = n.data ?? {};
  switch (n.type) {
    case 'start':
      return 'Call starts';
    case 'speak':
      return str(d, 'message') || (str(d, 'prompt') ? `Prompt: ${str(d, 'prompt')}` : '');
    case 'question':
      return str(d, 'question');
    case 'branch': {
      const c = conditionsOf(d);
      return c.map((x) => `${x.variable} ${x.op.replace('_', ' ')} ${x.value}`.trim()).join('; ');
    }
    case 'transfer':
      return str(d, 'phone_number') ? `To ${str(d, 'phone_number')}` : '';
    case 'webhook':
      return str(d, 'url') ? `${(str(d, 'method') || 'POST').toUpperCase()} ${str(d, 'url')}` : '';
    case 'end':
      return str(d, 'outcome') ? `Outcome: ${str(d, 'outcome')}` : '';
    default:
      return '';
  }
}

/** The variable a node captures: a question's `variable`, a webhook's `save_as`. */
export function capturedBy(n: Pick<FlowNode, 'type' | 'data'>): string | null {
  const v = n.type === 'question' ? str(n.data, 'variable') : n.type === 'webhook' ? str(n.data, 'save_as') : '';
  return v.trim() && isIdentifier(v) ? v : null;
}

export function isIdentifier(s: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) && s.length <= 64;
}

// ---------------------------------------------------------------------------------------------
// Scope

export interface KnownKeys {
  attributes?: string[];
  metadata?: string[];
}

export interface ScopeEntry {
  /** `variables.x`, `contact.name`, `attributes.plan`, `metadata.ref`. */
  path: string;
  group: 'Captured variables' | 'Contact' | 'Contact attributes' | 'Call metadata';
}

/**
 * The captured variables in scope at each node: a variable is in scope at a node when it is
 * captured on EVERY path from the start node to that node (a must-analysis: the intersection
 * over the predecessors, iterated to a fixed point), so `{{variables.x}}` offered by the
 * picker is always set when the node runs. A node's own capture is not in its scope (a
 * question's text is spoken before its answer exists). Nodes the start does not reach have
 * no captured variables in scope.
 */
export function scopes(flow: Flow): Map<string, Set<string>> {
  const byId = new Map(flow.nodes.map((n) => [n.id, n]));
  const preds = new Map<string, string[]>();
  const succs = new Map<string, string[]>();
  for (const e of flow.edges) {
    if (!byId.has(e.source) || !byId.has(e.target)) continue;
    (preds.get(e.target) ?? preds.set(e.target, []).get(e.target)!).push(e.source);
    (succs.get(e.source) ?? succs.set(e.source, []).get(e.source)!).push(e.target);
  }
  const start = flow.nodes.find((n) => n.type === 'start');
  const result = new Map<string, Set<string>>();
  for (const n of flow.nodes) result.set(n.id, new Set());
  if (!start) return result;
  // Reachable nodes, in BFS order (a good order for the fixed-point iteration).
  const order: string[] = [];
  const reach = new Set([start.id]);
  const queue = [start.id];
  while (queue.length) {
    const id = queue.shift()!;
    order.push(id);
    for (const t of succs.get(id) ?? []) if (!reach.has(t)) (reach.add(t), queue.push(t));
  }
  // in(n): null = "everything" (not yet constrained), the lattice's top.
  const inSet = new Map<string, Set<string> | null>(order.map((id) => [id, id === start.id ? new Set<string>() : null]));
  const out = (id: string): Set<string> | null => {
    const i = inSet.get(id);
    if (i === null || i === undefined) return null;
    const c = capturedBy(byId.get(id)!);
    if (!c || i.has(c)) return i;
    const o = new Set(i);
    o.add(c);
    return o;
  };
  let changed = true;
  while (changed) {
    changed = false;
    for (const id of order) {
      if (id === start.id) continue;
      let acc = null as Set<string> | null;
      for (const p of preds.get(id) ?? []) {
        if (!reach.has(p)) continue;
        const o = out(p);
        if (o === null) continue;
        const a: Set<string> | null = acc;
        acc = a === null ? new Set(o) : new Set([...a].filter((v: string) => o.has(v)));
      }
      const prev = inSet.get(id);
      if (acc !== null && (prev === null || prev === undefined || prev.size !== acc.size)) {
        inSet.set(id, acc);
        changed = true;
      }
    }
  }
  for (const id of order) result.set(id, inSet.get(id) ?? new Set());
  return result;
}

/** Everything a text at `nodeId` may name, for the variable picker. */
export function scopeAt(flow: Flow, nodeId: string, known: KnownKeys = {}, all?: Map<string, Set<string>>): ScopeEntry[] {
  const vars = [...((all ?? scopes(flow)).get(nodeId) ?? [])].sort();
  const k = { ...knownKeys(flow), ...{} };
  const attrs = uniq([...(known.attributes ?? []), ...k.attributes]).sort();
  const meta = uniq([...(known.metadata ?? []), ...k.metadata]).sort();
  return [
    ...vars.map((v) => ({ path: `variables.${v}`, group: 'Captured variables' as const })),
    ...CONTACT_FIELDS.map((f) => ({ path: `contact.${f}`, group: 'Contact' as const })),
    ...attrs.map((a) => ({ path: `attributes.${a}`, group: 'Contact attributes' as const })),
    ...meta.map((m) => ({ path: `metadata.${m}`, group: 'Call metadata' as const })),
  ];
}

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** `attributes.*` and `metadata.*` keys the flow's texts already use. */
export function knownKeys(flow: Flow): { attributes: string[]; metadata: string[] } {
  const attributes = new Set<string>();
  const metadata = new Set<string>();
  const visit = (v: unknown) => {
    if (typeof v === 'string') {
      for (const m of v.matchAll(PLACEHOLDER)) {
        const p = m[1] ?? '';
        const key = (prefix: string) => p.slice(prefix.length).split(/[.[]/)[0] ?? '';
        if (p.startsWith('attributes.') && key('attributes.')) attributes.add(key('attributes.'));
        if (p.startsWith('metadata.') && key('metadata.')) metadata.add(key('metadata.'));
      }
      const bare = /^(attributes|metadata)\.([A-Za-z0-9_-]+)$/.exec(v.trim());
      if (bare) (bare[1] === 'attributes' ? attributes : metadata).add(bare[2]!);
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') Object.values(v).forEach(visit);
  };
  for (const n of flow.nodes) visit(n.data);
  return { attributes: [...attributes], metadata: [...metadata] };
}

// ---------------------------------------------------------------------------------------------
// Validation

/** A problem located by node (or edge) id, and the field inside its `data` ('' = the node). */
export interface Problem {
  nodeId?: string;
  edgeId?: string;
  /** Inside the node's data (`question`, `conditions[0].handle`), '' for the node itself; or a settings field. */
  field: string;
  message: string;
  /** A settings field (`voicemail_message`) rather than a node. */
  setting?: string;
}

const TEMPLATE_ROOTS = ['metadata.', 'attributes.', 'variables.', 'contact.'];

/** Problems of `{{ … }}` placeholders (the server's check_template). */
export function templateProblems(text: string, captured: Set<string>): string[] {
  const out: string[] = [];
  let rest = text;
  for (;;) {
    const open = rest.indexOf('{{');
    if (open < 0) break;
    const after = rest.slice(open + 2);
    const close = after.indexOf('}}');
    if (close < 0) {
      out.push("a '{{' is not closed by '}}'");
      return out;
    }
    const path = after.slice(0, close).trim();
    const ok = TEMPLATE_ROOTS.some((r) => path.startsWith(r) && path.length > r.length);
    if (!ok) out.push(`'{{${path}}}' is not a known variable (use metadata.KEY, attributes.KEY, contact.name or variables.KEY)`);
    else if (path.startsWith('variables.')) {
      const name = path.slice(10).split(/[.[]/)[0] ?? '';
      if (!captured.has(name)) out.push(`'{{${path}}}': no question or webhook node captures '${name}'`);
    } else if (path.startsWith('contact.')) {
      const f = path.slice(8);
      if (!(CONTACT_FIELDS as readonly string[]).includes(f)) out.push(`'{{${path}}}': contacts have ${CONTACT_FIELDS.join(', ')}`);
    }
    rest = after.slice(close + 2);
  }
  if (rest.includes('}}')) out.push("a '}}' has no matching '{{'");
  return out;
}

function nodeDataProblems(n: FlowNode, captured: Set<string>): { field: string; message: string }[] {
  const d = n.data ?? {};
  const p: { field: string; message: string }[] = [];
  const push = (field: string, message: string) => p.push({ field, message });
  const tpl = (field: string) => {
    const v = str(d, field);
    if (v) for (const m of templateProblems(v, captured)) push(field, m);
  };
  switch (n.type) {
    case 'speak': {
      const m = str(d, 'message').trim();
      const pr = str(d, 'prompt').trim();
      if (m && pr) push('message', 'set either message or prompt, not both');
      else if (!m && !pr) push('message', 'a speak node needs a message (or a prompt)');
      tpl('message');
      tpl('prompt');
      break;
    }
    case 'question': {
      if (!str(d, 'question').trim()) push('question', 'is required');
      else tpl('question');
      if (!isIdentifier(str(d, 'variable'))) push('variable', 'must be a name of letters, digits and _ (not starting with a digit)');
      tpl('reprompt');
      if (d.max_attempts !== undefined && d.max_attempts !== null && d.max_attempts !== '') {
        const m = d.max_attempts;
        if (typeof m !== 'number' || !Number.isInteger(m) || m < 1 || m > 10) push('max_attempts', 'must be an integer from 1 to 10');
      }
      const kind = str(d, 'kind') || 'text';
      if (!(QUESTION_KINDS as readonly string[]).includes(kind)) push('kind', `'${kind}' is not one of ${QUESTION_KINDS.join(', ')}`);
      if (kind === 'choice') {
        const c = choicesOf(d);
        if (c.length === 0 || c.some((x) => !x.trim())) push('choices', 'a choice question needs a list of non-empty choices');
        else if (new Set(c).size !== c.length) push('choices', 'choices must differ from each other');
      }
      break;
    }
    case 'branch': {
      if (!Array.isArray(d.conditions)) {
        push('conditions', 'a branch needs a list of conditions');
        break;
      }
      const seen = new Set<string>();
      conditionsOf(d).forEach((c, j) => {
        if (!c.variable.trim()) push(`conditions[${j}].variable`, 'is required');
        if (!(BRANCH_OPS as readonly string[]).includes(c.op)) push(`conditions[${j}].op`, `must be one of ${BRANCH_OPS.join(', ')}`);
        if (!c.handle.trim() || c.handle === 'else' || seen.has(c.handle))
          push(`conditions[${j}].handle`, "must be a non-empty name, unique in the branch, not 'else'");
        seen.add(c.handle);
      });
      break;
    }
    case 'transfer': {
      const num = str(d, 'phone_number').trim();
      if (!num) push('phone_number', 'is required');
      else if (!/^\+?[0-9 ().-]{7,20}$/.test(num)) push('phone_number', 'is not a phone number (e.g. +12125550100)');
      tpl('message');
      break;
    }
    case 'webhook': {
      const u = str(d, 'url');
      if (!((u.startsWith('http://') || u.startsWith('https://')) && u.length > 8 && !/\s/.test(u))) push('url', 'must be an http(s) URL');
      else tpl('url');
      const method = str(d, 'method') || 'POST';
      if (!(HTTP_METHODS as readonly string[]).includes(method)) push('method', `must be one of ${HTTP_METHODS.join(', ')}`);
      if (d.headers !== undefined && d.headers !== null) {
        const h = d.headers;
        if (typeof h !== 'object' || Array.isArray(h) || Object.values(h).some((v) => typeof v !== 'string'))
          push('headers', 'must be an object of strings');
      }
      if (d.save_as !== undefined && d.save_as !== '' && !(typeof d.save_as === 'string' && isIdentifier(d.save_as)))
        push('save_as', 'must be a variable name');
      break;
    }
    case 'end': {
      if (!str(d, 'outcome').trim()) push('outcome', 'is required (e.g. "confirmed")');
      tpl('message');
      break;
    }
  }
  return p;
}

/**
 * What Publish would refuse, located by node/edge id. Mirrors the server: exactly one start,
 * unique ids, per-type data rules, templates naming known variables (captured anywhere in the
 * flow, as the server checks), edges from an existing node's outcome to an existing node, one
 * edge per outcome, and every non-terminal node with at least one outgoing edge.
 */
export function validate(flow: Flow, settings?: Partial<AgentSettings>): Problem[] {
  const out: Problem[] = [];
  const captured = new Set(flow.nodes.map(capturedBy).filter((v): v is string => v !== null));
  const seen = new Set<string>();
  const handles = new Map<string, string[]>();
  let starts = 0;
  for (const n of flow.nodes) {
    if (!n.id.trim()) out.push({ nodeId: n.id, field: '', message: 'the node id must not be empty' });
    else if (seen.has(n.id)) out.push({ nodeId: n.id, field: '', message: `'${n.id}' is used by another node` });
    seen.add(n.id);
    if (!isNodeType(n.type)) {
      out.push({ nodeId: n.id, field: '', message: `unknown node type '${n.type}'` });
      continue;
    }
    if (n.type === 'start') starts++;
    for (const p of nodeDataProblems(n, captured)) out.push({ nodeId: n.id, ...p });
    handles.set(n.id, handlesOf(n));
  }
  if (starts !== 1) out.push({ field: '', message: `a flow needs exactly one start node, found ${starts}` });
  const edgeIds = new Set<string>();
  const used = new Set<string>();
  const hasOut = new Set<string>();
  for (const e of flow.edges) {
    if (edgeIds.has(e.id)) out.push({ edgeId: e.id, nodeId: e.source, field: '', message: `the connection id '${e.id}' is used twice` });
    edgeIds.add(e.id);
    if (!seen.has(e.target)) out.push({ edgeId: e.id, nodeId: e.source, field: '', message: `the connection from '${e.sourceHandle}' goes to no node ('${e.target}')` });
    const allowed = handles.get(e.source);
    if (!allowed) continue;
    if (!allowed.includes(e.sourceHandle)) {
      out.push({
        edgeId: e.id,
        nodeId: e.source,
        field: '',
        message: allowed.length
          ? `'${e.sourceHandle}' is not an outcome of this node (expected one of: ${allowed.join(', ')})`
          : 'this node ends the call and cannot have outgoing connections',
      });
      continue;
    }
    hasOut.add(e.source);
    const k = `${e.source}\u0000${e.sourceHandle}`;
    if (used.has(k)) out.push({ edgeId: e.id, nodeId: e.source, field: '', message: `already has a connection for '${e.sourceHandle}'` });
    used.add(k);
  }
  for (const n of flow.nodes) {
    const h = handles.get(n.id);
    if (h && h.length && !hasOut.has(n.id))
      out.push({ nodeId: n.id, field: '', message: 'has no outgoing connection: the conversation would stop there' });
  }
  if (settings) {
    if (settings.should_leave_voicemail && !(settings.voicemail_message ?? '').trim())
      out.push({ setting: 'voicemail_message', field: 'voicemail_message', message: 'a voicemail message is required when leaving voicemail' });
    if (settings.title !== undefined && !settings.title.trim()) out.push({ setting: 'title', field: 'title', message: 'is required' });
    const t = settings.silence_timeout_ms;
    if (t !== undefined && (!Number.isFinite(t) || t < 1000 || t > 60000))
      out.push({ setting: 'silence_timeout_ms', field: 'silence_timeout_ms', message: 'must be from 1 to 60 seconds' });
    const r = settings.silence_reprompts;
    if (r !== undefined && (!Number.isInteger(r) || r < 0 || r > 5))
      out.push({ setting: 'silence_reprompts', field: 'silence_reprompts', message: 'must be a whole number from 0 to 5' });
    if (settings.ai_name !== undefined && !settings.ai_name.trim()) out.push({ setting: 'ai_name', field: 'ai_name', message: 'must not be empty' });
    if (settings.lang !== undefined && !/^[A-Za-z0-9-]+$/.test(settings.lang.trim()))
      out.push({ setting: 'lang', field: 'lang', message: 'must be a language tag such as en or en-US' });
  }
  return out;
}

/**
 * A server problem (`{field: "flow.nodes[3].data.question", message}`) located on the flow
 * that was sent (the index is a position in the arrays of that request).
 */
export function locateServerProblem(p: { field: string; message: string }, sent: Flow): Problem {
  const m = /^flow\.(nodes|edges)\[(\d+)\](?:\.(.*))?$/.exec(p.field);
  if (!m) {
    if (p.field.startsWith('flow')) return { field: '', message: p.message };
    return { setting: p.field, field: p.field, message: p.message };
  }
  const i = Number(m[2]);
  const rest = m[3] ?? '';
  if (m[1] === 'nodes') {
    const n = sent.nodes[i];
    return { nodeId: n?.id, field: rest.startsWith('data.') ? rest.slice(5) : '', message: p.message };
  }
  const e = sent.edges[i];
  return { edgeId: e?.id, nodeId: e?.source, field: '', message: p.message };
}

/** The data field a problem concerns, at the top level (`conditions[0].handle` → `conditions`). */
export const topField = (field: string) => field.split(/[.[]/)[0] ?? field;

// ---------------------------------------------------------------------------------------------
// Diff

export interface FieldChange {
  field: string;
  before: string;
  after: string;
}

export interface FlowDiff {
  nodesAdded: FlowNode[];
  nodesRemoved: FlowNode[];
  nodesChanged: { id: string; type: string; changes: FieldChange[] }[];
  nodesMoved: string[];
  edgesAdded: FlowEdge[];
  edgesRemoved: FlowEdge[];
  settings: FieldChange[];
  empty: boolean;
}

export const show = (v: unknown): string =>
  v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** What publishing `draft` over `live` changes: nodes, connections (by source/outcome/target), texts and settings. */
export function diffFlows(live: Flow, draft: Flow, liveSettings?: Partial<AgentSettings>, draftSettings?: Partial<AgentSettings>): FlowDiff {
  const before = new Map(live.nodes.map((n) => [n.id, n]));
  const after = new Map(draft.nodes.map((n) => [n.id, n]));
  const nodesAdded = draft.nodes.filter((n) => !before.has(n.id));
  const nodesRemoved = live.nodes.filter((n) => !after.has(n.id));
  const nodesChanged: FlowDiff['nodesChanged'] = [];
  const nodesMoved: string[] = [];
  for (const n of draft.nodes) {
    const o = before.get(n.id);
    if (!o) continue;
    const changes: FieldChange[] = [];
    if (o.type !== n.type) changes.push({ field: 'type', before: o.type, after: n.type });
    const keys = uniq([...Object.keys(o.data ?? {}), ...Object.keys(n.data ?? {})]);
    for (const k of keys) {
      const a = o.data?.[k];
      const b = n.data?.[k];
      if (!sameJson(a, b) && !(show(a) === '' && show(b) === '')) changes.push({ field: k, before: show(a), after: show(b) });
    }
    if (changes.length) nodesChanged.push({ id: n.id, type: n.type, changes });
    else if (o.position?.x !== n.position?.x || o.position?.y !== n.position?.y) nodesMoved.push(n.id);
  }
  const key = (e: FlowEdge) => `${e.source}\u0000${e.sourceHandle}\u0000${e.target}`;
  const liveE = new Set(live.edges.map(key));
  const draftE = new Set(draft.edges.map(key));
  const edgesAdded = draft.edges.filter((e) => !liveE.has(key(e)));
  const edgesRemoved = live.edges.filter((e) => !draftE.has(key(e)));
  const settings: FieldChange[] = [];
  if (liveSettings && draftSettings) {
    for (const f of SETTINGS_FIELDS) {
      if (!sameJson(liveSettings[f], draftSettings[f])) settings.push({ field: f, before: show(liveSettings[f]), after: show(draftSettings[f]) });
    }
  }
  const empty = !nodesAdded.length && !nodesRemoved.length && !nodesChanged.length && !nodesMoved.length && !edgesAdded.length && !edgesRemoved.length && !settings.length;
  return { nodesAdded, nodesRemoved, nodesChanged, nodesMoved, edgesAdded, edgesRemoved, settings, empty };
}

// ---------------------------------------------------------------------------------------------
// Order and layout

/** Nodes in flow order: breadth-first from start along outcomes in handle order, then the rest. */
export function flowOrder(flow: Flow): FlowNode[] {
  const byId = new Map(flow.nodes.map((n) => [n.id, n]));
  const outs = new Map<string, FlowEdge[]>();
  for (const e of flow.edges) (outs.get(e.source) ?? outs.set(e.source, []).get(e.source)!).push(e);
  const seen = new Set<string>();
  const order: FlowNode[] = [];
  const start = flow.nodes.filter((n) => n.type === 'start');
  const queue = start.map((n) => n.id);
  start.forEach((n) => seen.add(n.id));
  while (queue.length) {
    const id = queue.shift()!;
    const n = byId.get(id);
    if (!n) continue;
    order.push(n);
    const hs = handlesOf(n);
    const es = [...(outs.get(id) ?? [])].sort((a, b) => hs.indexOf(a.sourceHandle) - hs.indexOf(b.sourceHandle));
    for (const e of es) if (!seen.has(e.target) && byId.has(e.target)) (seen.add(e.target), queue.push(e.target));
  }
  for (const n of flow.nodes) if (!seen.has(n.id)) order.push(n);
  return order;
}

export const NODE_W = 240;
export const NODE_H = 110;

/** Positions from dagre (top to bottom); `sizes` are the measured sizes when known. */
export function autoLayout(flow: Flow, sizes?: Map<string, { width: number; height: number }>): Map<string, { x: number; y: number }> {
  const g = new graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: 'TB', nodesep: 40, ranksep: 70, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of flow.nodes) {
    const s = sizes?.get(n.id);
    g.setNode(n.id, { width: s?.width ?? NODE_W, height: s?.height ?? NODE_H });
  }
  for (const e of flow.edges) if (g.hasNode(e.source) && g.hasNode(e.target)) g.setEdge(e.source, e.target, {}, e.id);
  dagreLayout(g);
  const pos = new Map<string, { x: number; y: number }>();
  for (const n of flow.nodes) {
    const v = g.node(n.id) as { x: number; y: number; width: number; height: number };
    pos.set(n.id, { x: Math.round(v.x - v.width / 2), y: Math.round(v.y - v.height / 2) });
  }
  return pos;
}

/** The flow as the server wants it: only the contract's keys. */
export function serializeFlow(flow: Flow): Flow {
  return {
    nodes: flow.nodes.map((n) => ({ id: n.id, type: n.type, position: { x: Math.round(n.position.x), y: Math.round(n.position.y) }, data: n.data })),
    edges: flow.edges.map((e) => ({ id: e.id, source: e.source, sourceHandle: e.sourceHandle, target: e.target })),
  };
}

/** A flow from the API (positions and handles may be missing). */
export function normalizeFlow(f: { nodes?: unknown[]; edges?: unknown[] } | null | undefined): Flow {
  const nodes = (f?.nodes ?? []).map((x, i) => {
    const n = x as Partial<FlowNode>;
    return {
      id: String(n.id ?? `node-${i}`),
      type: String(n.type ?? 'speak'),
      position: { x: Number(n.position?.x ?? 0) || 0, y: Number(n.position?.y ?? i * 140) || 0 },
      data: n.data && typeof n.data === 'object' ? (n.data as Data) : {},
    };
  });
  const edges = (f?.edges ?? []).map((x, i) => {
    const e = x as Partial<FlowEdge> & { sourceHandle?: string | null };
    return { id: String(e.id ?? `e${i + 1}`), source: String(e.source ?? ''), sourceHandle: e.sourceHandle || 'next', target: String(e.target ?? '') };
  });
  // A flow whose nodes all sit at one place (made by the API without positions) gets laid out.
  const distinct = new Set(nodes.map((n) => `${n.position.x},${n.position.y}`));
  if (nodes.length > 1 && distinct.size === 1) {
    const pos = autoLayout({ nodes, edges });
    for (const n of nodes) n.position = pos.get(n.id) ?? n.position;
  }
  return { nodes, edges };
}
