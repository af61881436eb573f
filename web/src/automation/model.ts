// The automation document exactly as the API reads and writes it (crates/automation/src/model.rs):
// one trigger and a flat list of steps, each with a unique `slug` and its outgoing edges —
// `next` on every step except `end`/`condition`, `then`/`else` on a condition, `body` on a loop.
// No edge ends the run (inside a loop body: goes to the next item). Branches rejoin by pointing
// at the same slug. `start` names the first step (the first listed when absent).

export type Mode = 'draft' | 'live';

export type TriggerType = 'webhook' | 'call_completed' | 'schedule' | 'contact_created' | 'tag_added';

export interface Trigger {
  type: TriggerType;
  /** webhook */
  verify_token?: boolean;
  /** call_completed */
  interview_ids?: string[];
  statuses?: string[];
  outcomes?: string[];
  /** schedule */
  time_zone?: string | null;
  cadence?: 'minutes' | 'hourly' | 'daily' | 'weekly' | null;
  time?: string | null;
  days?: string[];
  every?: number | null;
  cron?: string | null;
  /** tag_added */
  tags?: string[];
}

export type StepType =
  | 'create_contact'
  | 'update_contact'
  | 'call_contact'
  | 'call_phone_number'
  | 'add_tag'
  | 'remove_tag'
  | 'delay'
  | 'delay_until'
  | 'condition'
  | 'http_request'
  | 'loop'
  | 'end';

export type Op =
  | 'equals'
  | 'not_equals'
  | 'contains'
  | 'not_contains'
  | 'greater'
  | 'less'
  | 'exists'
  | 'not_exists'
  | 'matches';

export interface Rule {
  variable: string;
  op: Op;
  value?: string | null;
}

/**
 * One step: `slug`, `label`, `type`, `next`, plus the fields of its type (flattened, as the API
 * has them). Kept as an open record so a field the builder does not know survives a round trip.
 */
export interface Step {
  slug: string;
  type: StepType;
  label?: string | null;
  next?: string | null;
  then?: string | null;
  else?: string | null;
  body?: unknown;
  [field: string]: unknown;
}

export interface CallingRules {
  start?: string;
  end?: string;
  days?: string[];
  any_time?: boolean;
  retries?: number;
  retry_spacing?: string;
}

/** What the builder edits and saves (`POST /automation/{id}/update`). */
export interface AutomationDoc {
  name: string;
  time_zone: string;
  trigger: Trigger;
  steps: Step[];
  start?: string | null;
  calling?: CallingRules;
}

/** `GET /automation/{id}`: the document plus identity and bookkeeping. */
export interface AutomationRecord extends AutomationDoc {
  id: string;
  mode: Mode;
  version: number;
  created: string;
  updated: string;
  webhook_path?: string;
  sample_payload?: unknown;
  next_fire_at?: string;
}

export type RunStatus = 'running' | 'waiting' | 'completed' | 'failed' | 'canceled';

export interface RunStep {
  seq: number;
  slug: string;
  type: string;
  attempt: number;
  status: string;
  input: unknown;
  output: unknown;
  error: string | null;
  due_at: string | null;
  started: string;
  finished: string | null;
  duration_ms: number | null;
}

export interface Run {
  id: string;
  automation_id: string;
  version: number;
  status: RunStatus | string;
  trigger: { type?: string; payload?: unknown } | null;
  contact_id: string | null;
  error: string | null;
  waiting_for_call: string | null;
  wake_at: string | null;
  created: string;
  updated: string;
  finished: string | null;
  steps?: RunStep[];
}

export const isFinalRun = (status: string) => status === 'completed' || status === 'failed' || status === 'canceled';

/** The edge fields a step of this type has, in display order. */
export function edgeFields(type: StepType): ('next' | 'then' | 'else' | 'body')[] {
  if (type === 'end') return [];
  if (type === 'condition') return ['then', 'else'];
  if (type === 'loop') return ['body', 'next'];
  return ['next'];
}

export const EDGE_LABELS: Record<string, string> = { next: 'Next', then: 'Then', else: 'Else', body: 'Each item' };

/** Where an edge field points, if anywhere. */
export function edgeTarget(step: Step, field: string): string | null {
  const v = step[field];
  return typeof v === 'string' && v ? v : null;
}

export const TRIGGER_TYPES: { type: TriggerType; label: string; hint: string }[] = [
  { type: 'webhook', label: 'Webhook', hint: 'An HTTP POST to the automation’s URL; its JSON body is trigger.payload.' },
  { type: 'call_completed', label: 'Call completed', hint: 'A call of the team ended; trigger.payload is the call.' },
  { type: 'schedule', label: 'Schedule', hint: 'A recurring time (cadence or cron) in a time zone.' },
  { type: 'contact_created', label: 'Contact created', hint: 'A contact was created; trigger.payload is the contact.' },
  { type: 'tag_added', label: 'Tag added', hint: 'A tag was added to a contact; trigger.payload is {contact, tag}.' },
];

export function defaultTrigger(type: TriggerType): Trigger {
  switch (type) {
    case 'webhook':
      return { type, verify_token: false };
    case 'call_completed':
      return { type, interview_ids: [], statuses: [], outcomes: [] };
    case 'schedule':
      return { type, cadence: 'daily', time: '09:00', days: [] };
    case 'contact_created':
      return { type };
    case 'tag_added':
      return { type, tags: [] };
  }
}

/** Whether runs of this trigger start with a contact (`contact.*` exists from the start). */
export const triggerHasContact = (t: Trigger) =>
  t.type === 'call_completed' || t.type === 'contact_created' || t.type === 'tag_added';

export interface StepKindInfo {
  type: StepType;
  label: string;
  description: string;
  /** The output fields `steps.<slug>.<field>` may read (validate/limits.rs `step_outputs`). */
  outputs: readonly string[];
  /** Whether the step sets the run's contact for the steps after it. */
  setsContact?: boolean;
}

const CONTACT_OUTPUT = [
  'id', 'phone_number', 'name', 'email', 'attributes', 'tags', 'status', 'created', 'updated', 'version',
  'lead_source', 'team_id', 'created_new',
] as const;
const CALL_OUTPUT = ['call_id', 'status', 'outcome', 'variables', 'duration_ms', 'end_reason', 'contact_id', 'attempts'] as const;

export const STEP_KINDS: StepKindInfo[] = [
  { type: 'create_contact', label: 'Create contact', description: 'Creates a contact, or updates the one with that number.', outputs: CONTACT_OUTPUT, setsContact: true },
  { type: 'update_contact', label: 'Update contact', description: 'Updates the run’s contact (or the one named).', outputs: CONTACT_OUTPUT },
  { type: 'call_contact', label: 'Call contact', description: 'Calls the run’s contact with a voice agent and waits for the end.', outputs: CALL_OUTPUT },
  { type: 'call_phone_number', label: 'Call phone number', description: 'Calls a number with a voice agent and waits for the end.', outputs: CALL_OUTPUT, setsContact: true },
  { type: 'add_tag', label: 'Add tag', description: 'Adds tags to the run’s contact.', outputs: ['contact_id', 'tags'] },
  { type: 'remove_tag', label: 'Remove tag', description: 'Removes tags from the run’s contact.', outputs: ['contact_id', 'tags'] },
  { type: 'delay', label: 'Delay', description: 'Waits a duration (“2h 30m”, “1day”).', outputs: ['due_at', 'skipped', 'late_ms'] },
  { type: 'delay_until', label: 'Delay until', description: 'Waits until a time taken from a variable.', outputs: ['due_at', 'skipped', 'late_ms'] },
  { type: 'condition', label: 'Condition', description: 'Compares variables; goes to Then or Else.', outputs: ['matched', 'rules'] },
  { type: 'http_request', label: 'HTTP request', description: 'Sends a request; status, headers and body become the output.', outputs: ['status', 'headers', 'body'] },
  { type: 'loop', label: 'Loop', description: 'Runs its body steps once per item of a list.', outputs: ['count'] },
  { type: 'end', label: 'End', description: 'Ends the run, optionally with an outcome.', outputs: ['outcome'] },
];

export function stepKind(type: string): StepKindInfo | undefined {
  return STEP_KINDS.find((k) => k.type === type);
}

/** A new step's fields (what the API requires, filled with an editable starting value). */
export function defaultStepFields(type: StepType): Record<string, unknown> {
  switch (type) {
    case 'create_contact':
      return { phone_number: '' };
    case 'update_contact':
      return {};
    case 'call_contact':
      return { interview_id: '' };
    case 'call_phone_number':
      return { interview_id: '', phone_number: '' };
    case 'add_tag':
    case 'remove_tag':
      return { tags: [] };
    case 'delay':
      return { duration: '1h' };
    case 'delay_until':
      return { at: '' };
    case 'condition':
      return { mode: 'all', rules: [{ variable: '', op: 'equals', value: '' }] };
    case 'http_request':
      return { method: 'POST', url: 'https://', headers: {}, timeout_secs: 10, retries: 3 };
    case 'loop':
      return { items: '', body: null, max_items: 100 };
    case 'end':
      return {};
  }
}

export const SLUG_RE = /^[a-z][a-z0-9_]{0,63}$/;

/** A slug not used yet: `http_request`, then `http_request_2`, … */
export function freshSlug(type: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  const base = type.replace(/[^a-z0-9_]/g, '_').slice(0, 56) || 'step';
  if (!used.has(base)) return base;
  for (let i = 2; ; i++) {
    const s = `${base}_${i}`;
    if (!used.has(s)) return s;
  }
}

/** The document part of a record (what a save sends). */
export function docOf(a: AutomationRecord): AutomationDoc {
  const doc: AutomationDoc = {
    name: a.name,
    time_zone: a.time_zone ?? 'UTC',
    trigger: a.trigger,
    steps: a.steps ?? [],
  };
  if (a.start) doc.start = a.start;
  if (a.calling) doc.calling = a.calling;
  return doc;
}

/** JSON with sorted keys and without `undefined`/`null` optional noise: to compare documents. */
export function canonical(v: unknown): string {
  const norm = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(norm);
    if (x && typeof x === 'object') {
      const o: Record<string, unknown> = {};
      for (const k of Object.keys(x).sort()) {
        const val = (x as Record<string, unknown>)[k];
        if (val !== undefined && val !== null) o[k] = norm(val);
      }
      return o;
    }
    return x;
  };
  return JSON.stringify(norm(v));
}

/** What a save sends: the document, with `start: null` so a start removed here is removed there. */
export function saveBody(doc: AutomationDoc): Record<string, unknown> {
  return { ...doc, start: doc.start ?? null };
}
