// Which variables a step may read, as the API's validator decides (validate/mod.rs): the
// trigger's payload; `steps.X.<output>` of the steps that run before this one on *every* path
// from the start (its dominators: never a step on another branch, nor one inside a loop body
// read after the loop); `contact.*` when the trigger brings a contact or a step that sets one
// dominates this one; `loop.item` / `loop.index` inside a loop body; `automation`, `run`, `now`.
import { edgeFields, stepKind, triggerHasContact, type AutomationDoc, type Step } from './model';
import { startSlug } from './graph';
import { extractPaths, type VarPath } from './paths';

export interface VarGroup {
  label: string;
  vars: VarPath[];
}

/** Contact fields (`contact.*`, validate/limits.rs CONTACT_FIELDS). */
export const CONTACT_FIELDS = [
  'id', 'phone_number', 'name', 'email', 'attributes', 'tags', 'status', 'created', 'updated', 'version',
  'lead_source', 'team_id',
];

const CALL_FIELDS = [
  'id', 'status', 'type', 'phone_number', 'start_time', 'end_time', 'duration_ms', 'outcome', 'end_reason', 'variables',
  'transcript', 'metadata', 'interview', 'contact',
];

/** Successors of each step (edge fields), for the steps that exist. */
export function successors(steps: Step[]): Map<string, string[]> {
  const slugs = new Set(steps.map((s) => s.slug));
  const m = new Map<string, string[]>();
  for (const s of steps) {
    const out: string[] = [];
    for (const f of edgeFields(s.type)) {
      const t = s[f];
      if (typeof t === 'string' && slugs.has(t)) out.push(t);
    }
    m.set(s.slug, out);
  }
  return m;
}

/**
 * Dominators of every step reachable from the start (`dom(n)` includes `n`). Unreachable
 * steps get no entry. The classic iterative data-flow algorithm: fine for a few hundred steps.
 */
export function dominators(doc: Pick<AutomationDoc, 'steps' | 'start'>): Map<string, Set<string>> {
  const succ = successors(doc.steps);
  const start = startSlug(doc);
  const dom = new Map<string, Set<string>>();
  if (!start || !succ.has(start)) return dom;
  // Reachable steps, in BFS order.
  const order: string[] = [start];
  const seen = new Set(order);
  for (let i = 0; i < order.length; i++) {
    for (const t of succ.get(order[i]!) ?? []) if (!seen.has(t)) (seen.add(t), order.push(t));
  }
  const preds = new Map<string, string[]>(order.map((s) => [s, []]));
  for (const s of order) for (const t of succ.get(s) ?? []) preds.get(t)!.push(s);
  for (const s of order) dom.set(s, s === start ? new Set([s]) : new Set(order));
  let changed = true;
  while (changed) {
    changed = false;
    for (const s of order) {
      if (s === start) continue;
      let acc: string[] | undefined;
      for (const p of preds.get(s)!) {
        const d: Set<string> = dom.get(p)!;
        acc = acc === undefined ? [...d] : acc.filter((x: string) => d.has(x));
      }
      const next = new Set<string>(acc ?? []);
      next.add(s);
      const cur = dom.get(s)!;
      if (next.size !== cur.size || [...next].some((x) => !cur.has(x))) {
        dom.set(s, next);
        changed = true;
      }
    }
  }
  return dom;
}

/** The loop steps whose body contains `slug` (innermost last is not guaranteed). */
export function enclosingLoops(steps: Step[], slug: string): string[] {
  const succ = successors(steps);
  const loops: string[] = [];
  for (const s of steps) {
    if (s.type !== 'loop' || typeof s.body !== 'string') continue;
    const seen = new Set<string>();
    const stack = [s.body];
    while (stack.length) {
      const x = stack.pop()!;
      if (seen.has(x) || x === s.slug) continue;
      seen.add(x);
      stack.push(...(succ.get(x) ?? []));
    }
    if (seen.has(slug)) loops.push(s.slug);
  }
  return loops;
}

function triggerPayloadVars(doc: AutomationDoc, sample: unknown): VarPath[] {
  const t = doc.trigger.type;
  if (t === 'webhook') return sample && typeof sample === 'object' ? extractPaths(sample) : [];
  if (t === 'schedule') return ['scheduled_at', 'fired_at'].map((f) => ({ path: `trigger.payload.${f}`, type: 'string' }));
  if (t === 'call_completed') return CALL_FIELDS.map((f) => ({ path: `trigger.payload.${f}`, type: 'field' }));
  if (t === 'contact_created') return CONTACT_FIELDS.map((f) => ({ path: `trigger.payload.${f}`, type: 'field' }));
  return [
    { path: 'trigger.payload.tag', type: 'string' },
    ...CONTACT_FIELDS.map((f) => ({ path: `trigger.payload.contact.${f}`, type: 'field' })),
  ];
}

/**
 * The variables `slug` may read, grouped for the picker. A step not reachable from the start
 * gets the trigger, contact (when the trigger brings one) and the run-wide variables only.
 */
export function variablesFor(doc: AutomationDoc, slug: string | null, sample: unknown): VarGroup[] {
  const groups: VarGroup[] = [];
  groups.push({ label: 'Trigger payload', vars: triggerPayloadVars(doc, sample) });
  const dom = slug ? dominators(doc).get(slug) : undefined;
  const before = doc.steps.filter((s) => s.slug !== slug && dom?.has(s.slug));
  let contact = triggerHasContact(doc.trigger);
  for (const s of before) {
    const info = stepKind(s.type);
    if (!info) continue;
    if (info.setsContact) contact = true;
    groups.push({
      label: `Step ${s.label ? `${s.label} (${s.slug})` : s.slug}`,
      vars: info.outputs.map((f) => ({ path: `steps.${s.slug}.${f}`, type: 'output' })),
    });
  }
  if (contact) groups.push({ label: 'Contact', vars: CONTACT_FIELDS.map((f) => ({ path: `contact.${f}`, type: 'field' })) });
  if (slug && enclosingLoops(doc.steps, slug).length > 0) {
    groups.push({ label: 'Loop', vars: [{ path: 'loop.item', type: 'any' }, { path: 'loop.index', type: 'number' }] });
  }
  groups.push({
    label: 'Run',
    vars: ['automation.id', 'automation.name', 'automation.time_zone', 'run.id', 'run.started', 'now'].map((p) => ({ path: p, type: 'field' })),
  });
  return groups.filter((g) => g.vars.length > 0);
}
