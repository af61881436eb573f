// The side panel: the selected node's data, with proper inputs per type, each field showing
// its problems once touched (or after a Publish attempt), and a variable picker beside text
// fields offering exactly what is in scope at that node.
import * as Menu from '@radix-ui/react-dropdown-menu';
import { useId, useRef, type ReactNode } from 'react';
import { Button } from '@/components/ui/button';
import { Input, Select, Textarea } from '@/components/ui/input';
import { Label } from '@/components/ui/label';
import {
  BRANCH_OPS,
  choicesOf,
  conditionsOf,
  HTTP_METHODS,
  isNodeType,
  QUESTION_KINDS,
  scopeAt,
  topField,
  TYPE_HELP,
  TYPE_LABELS,
  type Data,
  type FlowNode,
  type ScopeEntry,
} from './graph';
import { currentFlow, useEditor, useSelectedNode } from './store';
import { fieldKey, nodeKey, useUi } from './ui';

/** The problems of one field of a node, if it should show them. */
function useFieldProblems(nodeId: string, field: string): string[] {
  const visible = useUi((s) => s.showAll || s.touched.has(fieldKey(nodeId, field)));
  const problems = useUi((s) => s.problems);
  if (!visible) return [];
  return problems.filter((p) => p.nodeId === nodeId && p.field && (p.field === field || topField(p.field) === field)).map((p) => p.message);
}

function touch(nodeId: string, field: string) {
  const ui = useUi.getState();
  ui.touch(fieldKey(nodeId, field));
  ui.touch(nodeKey(nodeId));
}

/** A labelled field; `render` gets the props that tie the control to its label and errors. */
function Field({
  nodeId,
  field,
  label,
  hint,
  extra,
  render,
}: {
  nodeId: string;
  field: string;
  label: string;
  hint?: string;
  extra?: ReactNode;
  render: (p: { id: string; 'aria-invalid': boolean; 'aria-describedby'?: string; onBlur: () => void }) => ReactNode;
}) {
  const id = useId();
  const problems = useFieldProblems(nodeId, field);
  const described = [hint ? `${id}-hint` : '', problems.length ? `${id}-err` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className="flex flex-col gap-1">
      <div className="flex items-end justify-between gap-2">
        <Label htmlFor={id}>{label}</Label>
        {extra}
      </div>
      {render({ id, 'aria-invalid': problems.length > 0, 'aria-describedby': described, onBlur: () => touch(nodeId, field) })}
      {hint ? (
        <p id={`${id}-hint`} className="text-xs text-slate-700">
          {hint}
        </p>
      ) : null}
      {problems.length ? (
        <ul id={`${id}-err`} className="text-xs text-red-800" data-testid="field-problem">
          {problems.map((m, i) => (
            <li key={i}>{m}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

/** The picker: a menu of what is in scope at the node; choosing inserts `{{path}}`. */
export function VariablePicker({ nodeId, label, onPick }: { nodeId: string; label: string; onPick: (path: string) => void }) {
  return (
    <Menu.Root>
      <Menu.Trigger asChild>
        <Button variant="ghost" size="sm" className="h-7 px-2 text-xs text-indigo-800" aria-label={`Insert a variable into ${label}`}>
          {'{{ }}'} Insert variable
        </Button>
      </Menu.Trigger>
      <Menu.Portal>
        <Menu.Content align="end" sideOffset={4} className="z-50 max-h-80 w-64 overflow-y-auto rounded-md border border-slate-300 bg-white p-1 shadow-lg">
          <PickerItems nodeId={nodeId} onPick={onPick} />
        </Menu.Content>
      </Menu.Portal>
    </Menu.Root>
  );
}

function PickerItems({ nodeId, onPick }: { nodeId: string; onPick: (path: string) => void }) {
  // Computed when the menu opens only: scope is a whole-graph analysis.
  const entries = scopeAt(currentFlow(), nodeId);
  const groups = new Map<string, ScopeEntry[]>();
  for (const e of entries) (groups.get(e.group) ?? groups.set(e.group, []).get(e.group)!).push(e);
  if (!groups.has('Captured variables')) groups.set('Captured variables', []);
  return (
    <>
      {[...groups].map(([g, es]) => (
        <Menu.Group key={g}>
          <Menu.Label className="px-2 pt-2 pb-1 text-xs font-semibold text-slate-700">{g}</Menu.Label>
          {es.length === 0 ? (
            <p className="px-2 pb-1 text-xs text-slate-700">None captured on every path to this node yet</p>
          ) : (
            es.map((e) => (
              <Menu.Item
                key={e.path}
                onSelect={() => onPick(e.path)}
                className="cursor-pointer rounded px-2 py-1 font-mono text-xs text-slate-900 outline-none data-[highlighted]:bg-indigo-100"
              >
                {`{{${e.path}}}`}
              </Menu.Item>
            ))
          )}
        </Menu.Group>
      ))}
    </>
  );
}

const str = (d: Data, k: string) => (typeof d[k] === 'string' ? (d[k] as string) : d[k] === undefined || d[k] === null ? '' : String(d[k]));

/** A text field (input or textarea) with the variable picker. */
function TextField({ node, field, label, multiline, hint, picker = true }: { node: FlowNode; field: string; label: string; multiline?: boolean; hint?: string; picker?: boolean }) {
  const ref = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  const update = useEditor((s) => s.updateData);
  const value = str(node.data, field);
  const set = (v: string) => update(node.id, { [field]: v }, field);
  const insert = (path: string) => {
    const el = ref.current;
    const token = `{{${path}}}`;
    const start = el?.selectionStart ?? value.length;
    const end = el?.selectionEnd ?? value.length;
    set(value.slice(0, start) + token + value.slice(end));
    touch(node.id, field);
    requestAnimationFrame(() => {
      el?.focus();
      el?.setSelectionRange(start + token.length, start + token.length);
    });
  };
  return (
    <Field
      nodeId={node.id}
      field={field}
      label={label}
      hint={hint}
      extra={picker ? <VariablePicker nodeId={node.id} label={label} onPick={insert} /> : null}
      render={(p) =>
        multiline ? (
          <Textarea ref={ref} rows={3} value={value} onChange={(e) => set(e.target.value)} {...p} />
        ) : (
          <Input ref={ref} value={value} onChange={(e) => set(e.target.value)} {...p} />
        )
      }
    />
  );
}

function QuestionFields({ node }: { node: FlowNode }) {
  const update = useEditor((s) => s.updateData);
  const kind = str(node.data, 'kind') || 'text';
  const choices = choicesOf(node.data);
  const setChoices = (c: string[]) => update(node.id, { choices: c }, 'choices');
  return (
    <>
      <TextField node={node} field="question" label="Question" multiline />
      <Field
        nodeId={node.id}
        field="variable"
        label="Saves the answer as"
        hint="A name of letters, digits and _; later nodes use {{variables.NAME}}."
        render={(p) => <Input value={str(node.data, 'variable')} onChange={(e) => update(node.id, { variable: e.target.value.replace(/\s/g, '_') }, 'variable')} {...p} />}
      />
      <Field
        nodeId={node.id}
        field="kind"
        label="Kind of answer"
        render={(p) => (
          <Select
            value={kind}
            onChange={(e) => {
              const k = e.target.value;
              update(node.id, (d) => ({ ...d, kind: k, choices: k === 'choice' ? (choicesOf(d).length ? choicesOf(d) : ['']) : undefined }));
              touch(node.id, 'kind');
            }}
            {...p}
          >
            {QUESTION_KINDS.map((k) => (
              <option key={k} value={k}>
                {k === 'yes_no' ? 'yes / no' : k}
              </option>
            ))}
          </Select>
        )}
      />
      {kind === 'choice' ? (
        <fieldset className="flex flex-col gap-2">
          <legend className="text-sm font-medium text-slate-800">Choices (one outcome each)</legend>
          {choices.map((c, i) => (
            <div key={i} className="flex gap-2">
              <Input
                aria-label={`Choice ${i + 1}`}
                value={c}
                onChange={(e) => setChoices(choices.map((x, j) => (j === i ? e.target.value : x)))}
                onBlur={() => touch(node.id, 'choices')}
              />
              <Button variant="secondary" size="sm" aria-label={`Remove choice ${i + 1}`} onClick={() => setChoices(choices.filter((_, j) => j !== i))}>
                Remove
              </Button>
            </div>
          ))}
          <Button variant="secondary" size="sm" className="self-start" onClick={() => setChoices([...choices, ''])}>
            Add choice
          </Button>
          <FieldErrors nodeId={node.id} field="choices" />
        </fieldset>
      ) : null}
      <TextField node={node} field="reprompt" label="Re-prompt when not understood (optional)" />
      <Field
        nodeId={node.id}
        field="max_attempts"
        label="Attempts before no_match (optional)"
        render={(p) => (
          <Input
            type="number"
            min={1}
            max={10}
            value={node.data.max_attempts === undefined ? '' : String(node.data.max_attempts)}
            onChange={(e) => update(node.id, { max_attempts: e.target.value === '' ? undefined : Number(e.target.value) }, 'max_attempts')}
            {...p}
          />
        )}
      />
    </>
  );
}

function FieldErrors({ nodeId, field }: { nodeId: string; field: string }) {
  const problems = useFieldProblems(nodeId, field);
  if (!problems.length) return null;
  return (
    <ul className="text-xs text-red-800" data-testid="field-problem">
      {problems.map((m, i) => (
        <li key={i}>{m}</li>
      ))}
    </ul>
  );
}

function BranchFields({ node }: { node: FlowNode }) {
  const update = useEditor((s) => s.updateData);
  const conds = conditionsOf(node.data);
  const listId = useId();
  const set = (c: typeof conds, key?: string) => update(node.id, { conditions: c }, key);
  const paths = scopeAt(currentFlow(), node.id).map((e) => e.path);
  return (
    <fieldset className="flex flex-col gap-3">
      <legend className="text-sm font-medium text-slate-800">Conditions, tried in order (the first that holds wins, else “else”)</legend>
      <datalist id={listId}>
        {paths.map((p) => (
          <option key={p} value={p} />
        ))}
      </datalist>
      {conds.map((c, i) => {
        const at = (k: string) => `conditions[${i}].${k}`;
        const upd = (k: keyof typeof c, v: string) => set(conds.map((x, j) => (j === i ? { ...x, [k]: v } : x)), at(k));
        const noValue = c.op === 'exists' || c.op === 'not_exists';
        return (
          <div key={i} className="rounded-md border border-slate-300 p-2">
            <p className="mb-1 text-xs font-semibold text-slate-800">Condition {i + 1}</p>
            <div className="grid grid-cols-1 gap-2">
              <Field nodeId={node.id} field={at('variable')} label="Variable" hint="e.g. variables.confirmed, attributes.plan, contact.name" render={(p) => <Input list={listId} value={c.variable} onChange={(e) => upd('variable', e.target.value)} {...p} />} />
              <Field
                nodeId={node.id}
                field={at('op')}
                label="Test"
                render={(p) => (
                  <Select value={c.op} onChange={(e) => upd('op', e.target.value)} {...p}>
                    {BRANCH_OPS.map((o) => (
                      <option key={o} value={o}>
                        {o.replace('_', ' ')}
                      </option>
                    ))}
                  </Select>
                )}
              />
              {noValue ? null : <Field nodeId={node.id} field={at('value')} label="Value" render={(p) => <Input value={c.value} onChange={(e) => upd('value', e.target.value)} {...p} />} />}
              <Field nodeId={node.id} field={at('handle')} label="Outcome name" render={(p) => <Input value={c.handle} onChange={(e) => upd('handle', e.target.value.replace(/\s/g, '_'))} {...p} />} />
              <Button variant="secondary" size="sm" className="self-start" onClick={() => set(conds.filter((_, j) => j !== i))}>
                Remove condition {i + 1}
              </Button>
            </div>
          </div>
        );
      })}
      <Button
        variant="secondary"
        size="sm"
        className="self-start"
        onClick={() => set([...conds, { variable: '', op: 'equals', value: '', handle: `case_${conds.length + 1}` }])}
      >
        Add condition
      </Button>
    </fieldset>
  );
}

function HeadersField({ node }: { node: FlowNode }) {
  const update = useEditor((s) => s.updateData);
  const h = node.data.headers && typeof node.data.headers === 'object' ? Object.entries(node.data.headers as Record<string, unknown>).map(([k, v]) => [k, String(v)] as [string, string]) : [];
  const set = (rows: [string, string][], key?: string) => update(node.id, { headers: rows.length ? Object.fromEntries(rows) : undefined }, key);
  return (
    <fieldset className="flex flex-col gap-2">
      <legend className="text-sm font-medium text-slate-800">Headers (optional)</legend>
      {h.map(([k, v], i) => (
        <div key={i} className="flex gap-1">
          <Input aria-label={`Header ${i + 1} name`} value={k} onChange={(e) => set(h.map((r, j) => (j === i ? [e.target.value, r[1]] : r)), `hk${i}`)} />
          <Input aria-label={`Header ${i + 1} value`} value={v} onChange={(e) => set(h.map((r, j) => (j === i ? [r[0], e.target.value] : r)), `hv${i}`)} />
          <Button variant="secondary" size="sm" aria-label={`Remove header ${i + 1}`} onClick={() => set(h.filter((_, j) => j !== i))}>
            ×
          </Button>
        </div>
      ))}
      <Button variant="secondary" size="sm" className="self-start" onClick={() => set([...h, [`X-Header-${h.length + 1}`, '']])}>
        Add header
      </Button>
      <FieldErrors nodeId={node.id} field="headers" />
    </fieldset>
  );
}

function WebhookFields({ node }: { node: FlowNode }) {
  const update = useEditor((s) => s.updateData);
  const body = node.data.body;
  const bodyText = typeof body === 'string' ? body : body === undefined || body === null ? '' : JSON.stringify(body, null, 2);
  return (
    <>
      <TextField node={node} field="url" label="URL" />
      <Field
        nodeId={node.id}
        field="method"
        label="Method"
        render={(p) => (
          <Select value={str(node.data, 'method') || 'POST'} onChange={(e) => update(node.id, { method: e.target.value })} {...p}>
            {HTTP_METHODS.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </Select>
        )}
      />
      <HeadersField node={node} />
      <Field
        nodeId={node.id}
        field="body"
        label="Body (optional)"
        hint="Text with {{…}} placeholders; sent as JSON when it reads as JSON. Empty: the call's context."
        render={(p) => <Textarea rows={4} className="font-mono text-xs" value={bodyText} onChange={(e) => update(node.id, { body: e.target.value || undefined }, 'body')} {...p} />}
      />
      <Field
        nodeId={node.id}
        field="save_as"
        label="Save the response as (optional)"
        hint="Later nodes read it as {{variables.NAME}}."
        render={(p) => <Input value={str(node.data, 'save_as')} onChange={(e) => update(node.id, { save_as: e.target.value.replace(/\s/g, '_') || undefined }, 'save_as')} {...p} />}
      />
    </>
  );
}

function SpeakFields({ node }: { node: FlowNode }) {
  const update = useEditor((s) => s.updateData);
  const mode = node.data.prompt !== undefined && node.data.message === undefined ? 'prompt' : 'message';
  return (
    <>
      <Field
        nodeId={node.id}
        field="mode"
        label="Speaks"
        render={(p) => (
          <Select
            value={mode}
            onChange={(e) =>
              update(node.id, (d) => {
                const text = str(d, 'message') || str(d, 'prompt');
                const { message: _m, prompt: _p, ...rest } = d;
                return { ...rest, [e.target.value]: text };
              })
            }
            {...p}
          >
            <option value="message">a fixed message</option>
            <option value="prompt">what the LLM says, following a prompt</option>
          </Select>
        )}
      />
      {mode === 'message' ? <TextField node={node} field="message" label="Message" multiline /> : <TextField node={node} field="prompt" label="Prompt for the LLM" multiline />}
    </>
  );
}

export function NodeFields({ node, responseTags }: { node: FlowNode; responseTags: string[] }) {
  const update = useEditor((s) => s.updateData);
  const tagsId = useId();
  switch (node.type) {
    case 'start':
      return <p className="text-sm text-slate-700">The call begins here. Connect its “next” outcome to the first step.</p>;
    case 'speak':
      return <SpeakFields node={node} />;
    case 'question':
      return <QuestionFields node={node} />;
    case 'branch':
      return <BranchFields node={node} />;
    case 'transfer':
      return (
        <>
          <Field nodeId={node.id} field="phone_number" label="Transfer to (phone number)" hint="E.164, e.g. +12125550100" render={(p) => <Input type="tel" value={str(node.data, 'phone_number')} onChange={(e) => update(node.id, { phone_number: e.target.value }, 'phone_number')} {...p} />} />
          <TextField node={node} field="message" label="Said before transferring (optional)" multiline />
        </>
      );
    case 'webhook':
      return <WebhookFields node={node} />;
    case 'end':
      return (
        <>
          <datalist id={tagsId}>
            {responseTags.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
          <Field nodeId={node.id} field="outcome" label="Outcome tag" hint="Recorded on the call, e.g. confirmed" render={(p) => <Input list={tagsId} value={str(node.data, 'outcome')} onChange={(e) => update(node.id, { outcome: e.target.value }, 'outcome')} {...p} />} />
          <TextField node={node} field="message" label="Said before hanging up (optional)" multiline />
        </>
      );
    default:
      return <p className="text-sm text-red-800">Unknown node type “{node.type}”.</p>;
  }
}

export function NodePanel() {
  const node = useSelectedNode();
  const responseTags = useEditor((s) => s.settings.response_tags);
  const nodeProblems = useUi((s) => (node ? s.nodeProblems[node.id] : undefined));
  const shown = useUi((s) => !!node && (s.showAll || s.touched.has(nodeKey(node.id))));
  const problems = useUi((s) => s.problems);
  const fieldless = node && shown ? problems.filter((p) => p.nodeId === node.id && !p.field).map((p) => p.message) : [];
  if (!node) {
    return (
      <section aria-labelledby="panel-h" className="p-4">
        <h2 id="panel-h" className="text-sm font-semibold text-slate-900">
          Node
        </h2>
        <p className="mt-2 text-sm text-slate-700">Select a node on the canvas or in the outline to edit it.</p>
      </section>
    );
  }
  return (
    <section aria-labelledby="panel-h" className="flex flex-col gap-3 p-4" key={node.id}>
      <div>
        <h2 id="panel-h" className="text-sm font-semibold text-slate-900">
          {isNodeType(node.type) ? TYPE_LABELS[node.type] : node.type} <span className="font-mono text-xs font-normal text-slate-700">{node.id}</span>
        </h2>
        {isNodeType(node.type) ? <p className="text-xs text-slate-700">{TYPE_HELP[node.type]}</p> : null}
      </div>
      {fieldless.length ? (
        <ul className="rounded border border-red-300 bg-red-50 p-2 text-xs text-red-900" data-testid="node-problems">
          {fieldless.map((m, i) => (
            <li key={i}>{m}</li>
          ))}
        </ul>
      ) : null}
      <NodeFields node={node} responseTags={responseTags} />
      {nodeProblems ? <p className="sr-only">{nodeProblems.length} problem(s) in this node</p> : null}
    </section>
  );
}
