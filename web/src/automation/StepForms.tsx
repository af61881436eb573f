// The builder's side panel: the fields of the selected step (per its type) or of the trigger,
// each with the problems the API reported for it, and the variable picker on template fields.
import * as Menu from '@radix-ui/react-dropdown-menu';
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { Button } from '@/components/ui/button';
import { Input, Select, Textarea } from '@/components/ui/input';
import { Label } from '@/components/ui/label';
import { cn } from '@/lib/cn';
import {
  defaultTrigger,
  EDGE_LABELS,
  edgeFields,
  edgeTarget,
  SLUG_RE,
  stepKind,
  TRIGGER_TYPES,
  type AutomationDoc,
  type Op,
  type Rule,
  type Step,
  type Trigger,
  type TriggerType,
} from './model';
import { problemsFor } from './problems';
import type { VarGroup } from './scope';

export type FieldProblems = { path: string; top: string; message: string }[];

/* ---------- variable picker ---------- */

export function VariablePicker({
  groups,
  onPick,
  what,
  emptyHint,
}: {
  groups: VarGroup[];
  onPick: (path: string) => void;
  what: string;
  emptyHint?: string;
}) {
  return (
    <Menu.Root modal={false}>
      <Menu.Trigger asChild>
        <Button variant="secondary" size="sm" aria-label={`Insert variable into ${what}`} title="Insert a variable">
          {'{ }'}
        </Button>
      </Menu.Trigger>
      <Menu.Portal>
        <Menu.Content
          align="end"
          sideOffset={4}
          className="z-50 max-h-80 w-80 overflow-y-auto rounded-md border border-slate-300 bg-white p-1 text-sm shadow-lg"
        >
          {groups.map((g) => (
            <Menu.Group key={g.label}>
              <Menu.Label className="px-2 pt-2 pb-1 text-xs font-semibold text-slate-700">{g.label}</Menu.Label>
              {g.vars.map((v) => (
                <Menu.Item
                  key={v.path}
                  onSelect={() => onPick(v.path)}
                  className="flex cursor-pointer items-center justify-between gap-2 rounded px-2 py-1 font-mono text-xs text-slate-900 outline-none data-[highlighted]:bg-indigo-100"
                >
                  <span className="truncate">{v.path}</span>
                  {v.sample !== undefined ? (
                    <span className="max-w-28 truncate text-slate-700">
                      <span className="sr-only">, sample: </span>
                      {v.sample}
                    </span>
                  ) : null}
                </Menu.Item>
              ))}
            </Menu.Group>
          ))}
          {emptyHint ? <p className="px-2 py-2 text-xs text-slate-700">{emptyHint}</p> : null}
        </Menu.Content>
      </Menu.Portal>
    </Menu.Root>
  );
}

/** Inserts `text` at the caret of `el` (or at the end) and returns the new value. */
function insertAt(el: HTMLInputElement | HTMLTextAreaElement | null, value: string, text: string): string {
  if (!el || el.selectionStart === null) return value + text;
  const a = el.selectionStart;
  const b = el.selectionEnd ?? a;
  return value.slice(0, a) + text + value.slice(b);
}

/* ---------- field shells ---------- */

function FieldShell({
  label,
  hint,
  problems,
  children,
}: {
  label: string;
  hint?: ReactNode;
  problems?: FieldProblems;
  children: (id: string, describedBy: string | undefined, invalid: boolean) => ReactNode;
}) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  const errId = problems && problems.length ? `${id}-err` : undefined;
  const describedBy = [hintId, errId].filter(Boolean).join(' ') || undefined;
  return (
    <div className="flex flex-col gap-1">
      <Label htmlFor={id}>{label}</Label>
      {children(id, describedBy, !!errId)}
      {hint ? (
        <p id={hintId} className="text-xs text-slate-700">
          {hint}
        </p>
      ) : null}
      {errId ? (
        <ul id={errId} className="text-xs text-red-800">
          {problems!.map((p, i) => (
            <li key={i}>
              {p.path && p.path !== p.top ? <code className="font-mono">{p.path}: </code> : null}
              {p.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

function TemplateInput({
  label,
  value,
  onChange,
  groups,
  problems,
  hint,
  multiline,
  bare,
  placeholder,
}: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  groups: VarGroup[];
  problems?: FieldProblems;
  hint?: ReactNode;
  multiline?: boolean;
  /** Insert a bare path (`trigger.payload.x`), not `{{ … }}`: expression fields. */
  bare?: boolean;
  placeholder?: string;
}) {
  const ref = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  return (
    <FieldShell label={label} hint={hint} problems={problems}>
      {(id, d, invalid) => (
        <div className="flex items-start gap-1.5">
          {multiline ? (
            <Textarea ref={ref} id={id} rows={3} aria-describedby={d} aria-invalid={invalid} value={value} placeholder={placeholder} onChange={(e) => onChange(e.target.value)} className="font-mono text-xs" />
          ) : (
            <Input ref={ref} id={id} aria-describedby={d} aria-invalid={invalid} value={value} placeholder={placeholder} onChange={(e) => onChange(e.target.value)} className="font-mono text-xs" />
          )}
          <VariablePicker
            groups={groups}
            what={label}
            onPick={(p) => onChange(bare ? p : insertAt(ref.current, value, `{{ ${p} }}`))}
          />
        </div>
      )}
    </FieldShell>
  );
}

function TextField({ label, value, onChange, problems, hint, placeholder, type = 'text' }: { label: string; value: string; onChange: (v: string) => void; problems?: FieldProblems; hint?: ReactNode; placeholder?: string; type?: string }) {
  return (
    <FieldShell label={label} hint={hint} problems={problems}>
      {(id, d, invalid) => <Input id={id} type={type} aria-describedby={d} aria-invalid={invalid} value={value} placeholder={placeholder} onChange={(e) => onChange(e.target.value)} />}
    </FieldShell>
  );
}

function SelectField({ label, value, onChange, options, problems, hint }: { label: string; value: string; onChange: (v: string) => void; options: [string, string][]; problems?: FieldProblems; hint?: ReactNode }) {
  return (
    <FieldShell label={label} hint={hint} problems={problems}>
      {(id, d, invalid) => (
        <Select id={id} aria-describedby={d} aria-invalid={invalid} value={value} onChange={(e) => onChange(e.target.value)}>
          {options.map(([v, l]) => (
            <option key={v} value={v}>
              {l}
            </option>
          ))}
        </Select>
      )}
    </FieldShell>
  );
}

/** A list of strings typed as "a, b, c"; the text is kept while typing. */
function ListField({ label, value, onChange, problems, hint }: { label: string; value: string[]; onChange: (v: string[]) => void; problems?: FieldProblems; hint?: ReactNode }) {
  const [text, setText] = useState(value.join(', '));
  useEffect(() => {
    const parsed = text.split(',').map((t) => t.trim()).filter(Boolean);
    if (parsed.join('\u0000') !== value.join('\u0000')) setText(value.join(', '));
    // Only when the value changes from outside (undo, another step).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);
  return (
    <FieldShell label={label} hint={hint ?? 'Separated by commas.'} problems={problems}>
      {(id, d, invalid) => (
        <Input
          id={id}
          aria-describedby={d}
          aria-invalid={invalid}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            onChange(e.target.value.split(',').map((t) => t.trim()).filter(Boolean));
          }}
        />
      )}
    </FieldShell>
  );
}

/** An object of string to string (attributes, metadata, headers); values are templates. */
function MapField({ label, value, onChange, groups, problems }: { label: string; value: Record<string, string>; onChange: (v: Record<string, string>) => void; groups: VarGroup[]; problems?: FieldProblems }) {
  const entries = Object.entries(value);
  const [newKey, setNewKey] = useState('');
  const keyId = useId();
  return (
    <fieldset className="flex flex-col gap-1.5 rounded-md border border-slate-200 p-2">
      <legend className="px-1 text-sm font-medium text-slate-800">{label}</legend>
      {entries.map(([k, v]) => (
        <div key={k} className="flex items-end gap-1.5">
          <div className="min-w-0 flex-1">
            <TemplateInput label={k} value={v} groups={groups} onChange={(nv) => onChange({ ...value, [k]: nv })} />
          </div>
          <Button
            variant="ghost"
            size="sm"
            aria-label={`Remove ${label} ${k}`}
            onClick={() => {
              const o = { ...value };
              delete o[k];
              onChange(o);
            }}
          >
            Remove
          </Button>
        </div>
      ))}
      <div className="flex items-end gap-1.5">
        <div className="flex min-w-0 flex-1 flex-col gap-1">
          <Label htmlFor={keyId} className="text-xs">
            New {label.toLowerCase()} key
          </Label>
          <Input id={keyId} value={newKey} onChange={(e) => setNewKey(e.target.value)} />
        </div>
        <Button
          variant="secondary"
          size="sm"
          disabled={!newKey.trim() || newKey.trim() in value}
          onClick={() => {
            onChange({ ...value, [newKey.trim()]: '' });
            setNewKey('');
          }}
        >
          Add
        </Button>
      </div>
      {problems && problems.length ? (
        <ul className="text-xs text-red-800">
          {problems.map((p, i) => (
            <li key={i}>
              <code className="font-mono">{p.path}</code>: {p.message}
            </li>
          ))}
        </ul>
      ) : null}
    </fieldset>
  );
}

/** The HTTP body: JSON (its strings are templates) or one template string sent as it renders. */
function BodyField({ value, onChange, groups, problems }: { value: unknown; onChange: (v: unknown) => void; groups: VarGroup[]; problems?: FieldProblems }) {
  const show = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v, null, 2));
  const [text, setText] = useState(show(value));
  const last = useRef(value);
  useEffect(() => {
    if (value !== last.current) {
      last.current = value;
      setText(show(value));
    }
  }, [value]);
  const set = (t: string) => {
    setText(t);
    let v: unknown;
    if (!t.trim()) v = undefined;
    else {
      try {
        const parsed: unknown = JSON.parse(t);
        v = parsed !== null && typeof parsed === 'object' ? parsed : t;
      } catch {
        v = t;
      }
    }
    last.current = v;
    onChange(v);
  };
  const isJson = typeof last.current === 'object' && last.current !== null;
  return (
    <TemplateInput
      label="Body"
      multiline
      value={text}
      onChange={set}
      groups={groups}
      problems={problems}
      hint={text.trim() ? (isJson ? 'Sent as JSON; its strings are templates.' : 'Not JSON: sent as one template string.') : 'Optional. JSON, or one template string.'}
    />
  );
}

const OPS: [Op, string][] = [
  ['equals', 'equals'],
  ['not_equals', 'does not equal'],
  ['contains', 'contains'],
  ['not_contains', 'does not contain'],
  ['greater', 'is greater than'],
  ['less', 'is less than'],
  ['exists', 'exists'],
  ['not_exists', 'does not exist'],
  ['matches', 'matches (regex)'],
];

function RulesField({ rules, onChange, groups, problems }: { rules: Rule[]; onChange: (r: Rule[]) => void; groups: VarGroup[]; problems?: FieldProblems }) {
  const set = (i: number, patch: Partial<Rule>) => onChange(rules.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <fieldset className="flex flex-col gap-2 rounded-md border border-slate-200 p-2">
      <legend className="px-1 text-sm font-medium text-slate-800">Rules</legend>
      {rules.map((r, i) => {
        const mine = (problems ?? []).filter((p) => p.path.startsWith(`rules[${i}]`));
        return (
          <div key={i} className="flex flex-col gap-1.5 rounded border border-slate-200 bg-slate-50 p-2">
            <TemplateInput bare label={`Rule ${i + 1} variable`} value={r.variable} onChange={(v) => set(i, { variable: v })} groups={groups} placeholder="steps.call.outcome" problems={mine.filter((p) => p.path.includes('variable'))} />
            <SelectField label={`Rule ${i + 1} comparison`} value={r.op} onChange={(v) => set(i, { op: v as Op, ...(v === 'exists' || v === 'not_exists' ? { value: undefined } : {}) })} options={OPS} problems={mine.filter((p) => p.path.includes('.op'))} />
            {r.op !== 'exists' && r.op !== 'not_exists' ? (
              <TemplateInput label={`Rule ${i + 1} value`} value={r.value ?? ''} onChange={(v) => set(i, { value: v })} groups={groups} problems={mine.filter((p) => p.path.includes('value'))} />
            ) : null}
            {mine.filter((p) => !/variable|\.op|value/.test(p.path)).map((p, k) => (
              <p key={k} className="text-xs text-red-800">
                {p.message}
              </p>
            ))}
            <Button variant="ghost" size="sm" className="self-end text-red-800" onClick={() => onChange(rules.filter((_, j) => j !== i))}>
              Remove rule {i + 1}
            </Button>
          </div>
        );
      })}
      <Button variant="secondary" size="sm" onClick={() => onChange([...rules, { variable: '', op: 'equals', value: '' }])}>
        Add rule
      </Button>
      {(problems ?? []).filter((p) => p.path === 'rules').map((p, k) => (
        <p key={k} className="text-xs text-red-800">
          {p.message}
        </p>
      ))}
    </fieldset>
  );
}

/* ---------- the step panel ---------- */

export interface Agent {
  id: string;
  title: string;
}

const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
const opt = (v: string) => (v === '' ? undefined : v);

export function StepPanel({
  step,
  doc,
  groups,
  problems,
  agents,
  onChange,
  onRename,
  onConnect,
  onDelete,
  emptyHint,
}: {
  step: Step;
  doc: AutomationDoc;
  groups: VarGroup[];
  problems: FieldProblems;
  agents: Agent[];
  onChange: (patch: Record<string, unknown>) => void;
  onRename: (to: string) => string | null;
  onConnect: (field: string, target: string | null) => void;
  onDelete: () => void;
  emptyHint?: string;
}) {
  const info = stepKind(step.type);
  const rendered = new Set<string>(['label', 'slug', ...edgeFields(step.type)]);
  const p = (f: string) => {
    rendered.add(f);
    return problemsFor(problems, f);
  };
  const [slug, setSlug] = useState(step.slug);
  const [slugError, setSlugError] = useState<string | null>(null);
  useEffect(() => {
    setSlug(step.slug);
    setSlugError(null);
  }, [step.slug]);
  const commitSlug = () => {
    if (slug === step.slug) return;
    if (!SLUG_RE.test(slug)) {
      setSlugError('A lowercase letter, then lowercase letters, digits or _ (at most 64).');
      return;
    }
    const err = onRename(slug);
    setSlugError(err);
  };
  const t = (key: string, label: string, extra: { hint?: ReactNode; required?: boolean; multiline?: boolean; bare?: boolean; placeholder?: string } = {}) => (
    <TemplateInput
      key={key}
      label={extra.required ? `${label} (required)` : label}
      value={str(step[key])}
      onChange={(v) => onChange({ [key]: extra.required ? v : opt(v) })}
      groups={groups}
      problems={p(key)}
      hint={extra.hint}
      multiline={extra.multiline}
      bare={extra.bare}
      placeholder={extra.placeholder}
    />
  );
  const plain = (key: string, label: string, extra: { hint?: ReactNode; required?: boolean; placeholder?: string } = {}) => (
    <TextField key={key} label={label} value={str(step[key])} onChange={(v) => onChange({ [key]: extra.required ? v : opt(v) })} problems={p(key)} hint={extra.hint} placeholder={extra.placeholder} />
  );
  const num = (key: string, label: string, hint?: string) => (
    <TextField key={key} type="number" label={label} value={str(step[key])} onChange={(v) => onChange({ [key]: v === '' ? undefined : Number(v) })} problems={p(key)} hint={hint} />
  );
  const map = (key: string, label: string) => (
    <MapField key={key} label={label} value={(step[key] as Record<string, string>) ?? {}} onChange={(v) => onChange({ [key]: v })} groups={groups} problems={p(key)} />
  );
  const list = (key: string, label: string) => (
    <ListField key={key} label={label} value={(step[key] as string[]) ?? []} onChange={(v) => onChange({ [key]: v })} problems={p(key)} />
  );
  const agent = () => (
    <SelectField
      key="interview_id"
      label="Voice agent (required)"
      value={str(step.interview_id)}
      onChange={(v) => onChange({ interview_id: v })}
      options={[['', 'Choose an agent…'], ...agents.map((a) => [a.id, `${a.title} (${a.id})`] as [string, string]), ...(step.interview_id && !agents.some((a) => a.id === step.interview_id) ? [[str(step.interview_id), str(step.interview_id)] as [string, string]] : [])]}
      problems={p('interview_id')}
    />
  );
  const contactHint = 'A contact id (template); empty: the run’s contact.';
  let fields: ReactNode[] = [];
  switch (step.type) {
    case 'create_contact':
      fields = [t('phone_number', 'Phone number', { required: true }), t('name', 'Name'), t('email', 'Email'), plain('country_code', 'Country code', { hint: 'For national numbers: "1", "44".' }), map('attributes', 'Attributes'), list('tags', 'Tags')];
      break;
    case 'update_contact':
      fields = [t('contact', 'Contact', { hint: contactHint }), t('name', 'Name'), t('email', 'Email'), map('attributes', 'Attributes')];
      break;
    case 'call_contact':
      fields = [agent(), t('contact', 'Contact', { hint: contactHint }), map('metadata', 'Metadata'), plain('from_number', 'From number', { hint: 'One of the team’s numbers; empty: its default.' })];
      break;
    case 'call_phone_number':
      fields = [agent(), t('phone_number', 'Phone number', { required: true }), t('name', 'Name'), plain('country_code', 'Country code'), map('metadata', 'Metadata'), plain('from_number', 'From number', { hint: 'One of the team’s numbers; empty: its default.' })];
      break;
    case 'add_tag':
    case 'remove_tag':
      fields = [list('tags', 'Tags'), t('contact', 'Contact', { hint: contactHint })];
      break;
    case 'delay':
      fields = [plain('duration', 'Duration', { required: true, hint: 'e.g. "2h 30m", "90s", "1day".' })];
      break;
    case 'delay_until':
      fields = [
        t('at', 'At', { required: true, hint: 'A time, usually from a variable.' }),
        plain('offset', 'Offset', { hint: 'e.g. "-24h".' }),
        plain('time_zone', 'Time zone', { hint: '"contact", "automation", or an IANA name.' }),
        <SelectField key="if_past" label="If the time has passed" value={str(step.if_past) || 'run'} onChange={(v) => onChange({ if_past: v })} options={[['run', 'Go on at once'], ['skip', 'Skip to the end of the run']]} problems={p('if_past')} />,
      ];
      break;
    case 'condition':
      fields = [
        <SelectField key="mode" label="Match" value={str(step.mode) || 'all'} onChange={(v) => onChange({ mode: v })} options={[['all', 'All rules hold'], ['any', 'Any rule holds']]} problems={p('mode')} />,
        <RulesField key="rules" rules={(step.rules as Rule[]) ?? []} onChange={(r) => onChange({ rules: r })} groups={groups} problems={p('rules')} />,
      ];
      break;
    case 'http_request':
      fields = [
        <SelectField key="method" label="Method" value={str(step.method) || 'POST'} onChange={(v) => onChange({ method: v })} options={['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => [m, m])} problems={p('method')} />,
        t('url', 'URL', { required: true }),
        map('headers', 'Headers'),
        <BodyField key="body" value={step.body} onChange={(v) => onChange({ body: v })} groups={groups} problems={p('body')} />,
        num('timeout_secs', 'Timeout (seconds)', 'At most 60.'),
        num('retries', 'Retries', 'On 5xx and network errors, at most 10.'),
      ];
      break;
    case 'loop':
      fields = [t('items', 'Items (required)', { bare: true, hint: 'An expression naming a list: trigger.payload.leads', required: true }), num('max_items', 'At most this many items', 'Up to 1000.')];
      break;
    case 'end':
      fields = [t('outcome', 'Outcome')];
      break;
  }
  const others = doc.steps.filter((s) => s.slug !== step.slug);
  const general = problems.filter((x) => !x.top || !rendered.has(x.top));
  return (
    <div className="flex flex-col gap-3">
      <div>
        <h2 className="text-base font-semibold text-slate-900">{info?.label ?? step.type}</h2>
        <p className="text-xs text-slate-700">{info?.description}</p>
      </div>
      {general.length ? (
        <ul role="list" aria-label="Problems of this step" className="rounded border border-red-300 bg-red-50 p-2 text-xs text-red-900">
          {general.map((x, i) => (
            <li key={i}>
              {x.path ? <code className="font-mono">{x.path}: </code> : null}
              {x.message}
            </li>
          ))}
        </ul>
      ) : null}
      <TextField label="Label" value={str(step.label)} onChange={(v) => onChange({ label: opt(v) })} problems={p('label')} hint="For people; the canvas shows it." />
      <FieldShell label="Slug" hint="Names this step's output: steps.<slug>.…" problems={[...p('slug'), ...(slugError ? [{ path: 'slug', top: 'slug', message: slugError }] : [])]}>
        {(id, d, invalid) => (
          <Input
            id={id}
            aria-describedby={d}
            aria-invalid={invalid}
            value={slug}
            className="font-mono text-xs"
            onChange={(e) => setSlug(e.target.value)}
            onBlur={commitSlug}
            onKeyDown={(e) => {
              if (e.key === 'Enter') commitSlug();
            }}
          />
        )}
      </FieldShell>
      {fields}
      {emptyHint ? <p className="text-xs text-slate-700">{emptyHint}</p> : null}
      <fieldset className="flex flex-col gap-2 rounded-md border border-slate-200 p-2">
        <legend className="px-1 text-sm font-medium text-slate-800">Goes to</legend>
        {edgeFields(step.type).length === 0 ? <p className="text-xs text-slate-700">An end step ends the run.</p> : null}
        {edgeFields(step.type).map((f) => {
          const target = edgeTarget(step, f);
          return (
            <SelectField
              key={f}
              label={EDGE_LABELS[f]!}
              value={target ?? ''}
              onChange={(v) => onConnect(f, v || null)}
              options={[
                ['', f === 'body' ? '— no body —' : '— end of the run —'],
                ...others.map((s) => [s.slug, s.label ? `${s.label} (${s.slug})` : s.slug] as [string, string]),
                ...(target && !others.some((s) => s.slug === target) ? [[target, `${target} (missing)`] as [string, string]] : []),
              ]}
              problems={p(f)}
            />
          );
        })}
      </fieldset>
      <Button variant="danger" size="sm" onClick={onDelete}>
        Delete step {step.slug}
      </Button>
    </div>
  );
}

/* ---------- the trigger panel ---------- */

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const STATUSES = ['ENDED', 'NO_ANSWER', 'VOICEMAIL', 'TRANSFERRED', 'FAILED', 'VIOLATION', 'IN_PROGRESS', 'NOT_STARTED'];

function Checks({ legend, options, value, onChange }: { legend: string; options: [string, string][]; value: string[]; onChange: (v: string[]) => void }) {
  return (
    <fieldset className="rounded-md border border-slate-200 p-2">
      <legend className="px-1 text-sm font-medium text-slate-800">{legend}</legend>
      <div className="flex flex-wrap gap-x-3 gap-y-1">
        {options.map(([v, l]) => (
          <label key={v} className="flex items-center gap-1 text-sm text-slate-900">
            <input type="checkbox" checked={value.includes(v)} onChange={(e) => onChange(e.target.checked ? [...value, v] : value.filter((x) => x !== v))} />
            {l}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

export function TriggerPanel({
  doc,
  problems,
  docProblems,
  agents,
  onTrigger,
  onDoc,
  webhook,
}: {
  doc: AutomationDoc;
  problems: FieldProblems;
  docProblems: FieldProblems;
  agents: Agent[];
  onTrigger: (t: Trigger) => void;
  onDoc: (patch: Partial<AutomationDoc>) => void;
  webhook?: ReactNode;
}) {
  const tr = doc.trigger;
  const p = (f: string) => problemsFor(problems, f);
  const set = (patch: Partial<Trigger>) => onTrigger({ ...tr, ...patch });
  const calling = doc.calling ?? {};
  const setCalling = (patch: Record<string, unknown>) => onDoc({ calling: { ...calling, ...patch } });
  const dp = (f: string) => docProblems.filter((x) => x.path === f || x.path.startsWith(`${f}.`) || x.path.startsWith(`${f}[`));
  const unplaced = problems.filter((x) => !x.top || !(x.top in tr));
  return (
    <div className="flex flex-col gap-3">
      <h2 className="text-base font-semibold text-slate-900">Trigger</h2>
      {unplaced.length ? (
        <ul aria-label="Problems of the trigger" className="rounded border border-red-300 bg-red-50 p-2 text-xs text-red-900">
          {unplaced.map((x, i) => (
            <li key={i}>
              {x.path ? <code className="font-mono">{x.path}: </code> : null}
              {x.message}
            </li>
          ))}
        </ul>
      ) : null}
      <SelectField
        label="Starts when"
        value={tr.type}
        onChange={(v) => onTrigger(defaultTrigger(v as TriggerType))}
        options={TRIGGER_TYPES.map((t) => [t.type, t.label])}
        hint={TRIGGER_TYPES.find((t) => t.type === tr.type)?.hint}
      />
      {tr.type === 'webhook' ? (
        <>
          <label className="flex items-center gap-2 text-sm text-slate-900">
            <input type="checkbox" checked={!!tr.verify_token} onChange={(e) => set({ verify_token: e.target.checked })} />
            Require the team’s x-api-token header
          </label>
          {webhook}
        </>
      ) : null}
      {tr.type === 'call_completed' ? (
        <>
          <Checks legend="Agents (none checked: every agent)" options={agents.map((a) => [a.id, a.title])} value={tr.interview_ids ?? []} onChange={(v) => set({ interview_ids: v })} />
          <Checks legend="Statuses (none: any)" options={STATUSES.map((s) => [s, s.replace(/_/g, ' ').toLowerCase()])} value={tr.statuses ?? []} onChange={(v) => set({ statuses: v })} />
          <ListField label="Outcomes (none: any)" value={tr.outcomes ?? []} onChange={(v) => set({ outcomes: v })} problems={p('outcomes')} />
          {[...p('interview_ids'), ...p('statuses')].map((x, i) => (
            <p key={i} className="text-xs text-red-800">
              {x.path}: {x.message}
            </p>
          ))}
        </>
      ) : null}
      {tr.type === 'schedule' ? (
        <>
          <SelectField label="Cadence" value={tr.cadence ?? ''} onChange={(v) => set({ cadence: (v || null) as Trigger['cadence'] })} options={[['', '— use cron —'], ['minutes', 'Every N minutes'], ['hourly', 'Hourly'], ['daily', 'Daily'], ['weekly', 'Weekly']]} problems={p('cadence')} />
          {tr.cadence === 'minutes' ? <TextField type="number" label="Every (minutes)" value={str(tr.every)} onChange={(v) => set({ every: v ? Number(v) : null })} problems={p('every')} /> : null}
          {tr.cadence && tr.cadence !== 'minutes' ? <TextField label="Time (HH:MM)" value={str(tr.time)} onChange={(v) => set({ time: v || null })} problems={p('time')} /> : null}
          {tr.cadence ? <Checks legend="Days (none: every day)" options={DAYS.map((d) => [d, d])} value={tr.days ?? []} onChange={(v) => set({ days: v })} /> : null}
          {!tr.cadence ? <TextField label="Cron" value={str(tr.cron)} onChange={(v) => set({ cron: v || null })} problems={p('cron')} hint="5 fields, or 6 with seconds first." /> : null}
          <TextField label="Schedule time zone" value={str(tr.time_zone)} onChange={(v) => set({ time_zone: v || null })} problems={p('time_zone')} hint="IANA name; empty: the automation’s." />
          {p('days').map((x, i) => (
            <p key={i} className="text-xs text-red-800">
              {x.path}: {x.message}
            </p>
          ))}
        </>
      ) : null}
      {tr.type === 'tag_added' ? <ListField label="Tags (none: any tag)" value={tr.tags ?? []} onChange={(v) => set({ tags: v })} problems={p('tags')} /> : null}
      <h3 className="mt-2 text-sm font-semibold text-slate-900">Automation settings</h3>
      <TextField label="Time zone" value={doc.time_zone} onChange={(v) => onDoc({ time_zone: v })} problems={dp('time_zone')} hint="IANA name, e.g. America/New_York." />
      <fieldset className="flex flex-col gap-2 rounded-md border border-slate-200 p-2">
        <legend className="px-1 text-sm font-medium text-slate-800">Calling hours (callee’s local time)</legend>
        <label className="flex items-center gap-2 text-sm text-slate-900">
          <input type="checkbox" checked={!!calling.any_time} onChange={(e) => setCalling({ any_time: e.target.checked })} />
          Call at any hour
        </label>
        {!calling.any_time ? (
          <div className="grid grid-cols-2 gap-2">
            <TextField label="From" value={str(calling.start)} onChange={(v) => setCalling({ start: v })} problems={dp('calling.start')} />
            <TextField label="Until" value={str(calling.end)} onChange={(v) => setCalling({ end: v })} problems={dp('calling.end')} />
          </div>
        ) : null}
        <div className="grid grid-cols-2 gap-2">
          <TextField type="number" label="Retries" value={str(calling.retries ?? 0)} onChange={(v) => setCalling({ retries: Number(v) || 0 })} problems={dp('calling.retries')} />
          <TextField label="Retry spacing" value={str(calling.retry_spacing)} onChange={(v) => setCalling({ retry_spacing: v })} problems={dp('calling.retry_spacing')} />
        </div>
      </fieldset>
    </div>
  );
}

export function PanelNote({ children, className }: { children: ReactNode; className?: string }) {
  return <p className={cn('text-sm text-slate-700', className)}>{children}</p>;
}
