import { describe, expect, it } from 'vitest';
import { docToGraph, graphToDoc, layout, TRIGGER_ID } from './graph';
import { freshSlug, type AutomationDoc } from './model';
import { extractPaths } from './paths';
import { locateProblems, placeProblem } from './problems';
import { dominators, variablesFor } from './scope';
import { createBuilderStore, resetTo, TRIGGER } from './store';

const lead: AutomationDoc = {
  name: 'New lead',
  time_zone: 'America/New_York',
  trigger: { type: 'webhook', verify_token: false },
  steps: [
    { slug: 'lead', type: 'create_contact', phone_number: '{{ trigger.payload.phone }}', tags: ['lead'], attributes: {}, next: 'call' },
    { slug: 'call', type: 'call_contact', interview_id: 'abcd1234', metadata: { n: '{{ contact.name }}' }, next: 'check' },
    {
      slug: 'check', type: 'condition', mode: 'any',
      rules: [{ variable: 'steps.call.outcome', op: 'equals', value: 'booked' }],
      then: 'notify', else: 'wait',
    },
    { slug: 'notify', type: 'http_request', method: 'POST', url: 'https://x.test', headers: {}, body: { a: '{{ contact }}' }, timeout_secs: 10, retries: 3 },
    { slug: 'wait', type: 'delay', duration: '1day', next: 'again' },
    { slug: 'again', type: 'loop', items: 'trigger.payload.numbers', body: 'dial', max_items: 5, next: 'done' },
    { slug: 'dial', type: 'call_phone_number', interview_id: 'abcd1234', phone_number: '{{ loop.item }}', next: 'tag' },
    { slug: 'tag', type: 'add_tag', tags: ['called'] },
    { slug: 'done', type: 'end', outcome: 'ok' },
  ],
  calling: { start: '09:00', end: '18:30', days: ['mon'], retries: 2, retry_spacing: '30m' },
};

describe('graph <-> API model', () => {
  it('one node per step plus the trigger, one edge per edge field', () => {
    const g = docToGraph(lead);
    expect(g.nodes.map((n) => n.id)).toEqual([TRIGGER_ID, ...lead.steps.map((s) => s.slug)]);
    const e = g.edges.map((x) => `${x.source}.${x.sourceHandle}->${x.target}`);
    expect(e).toContain(`${TRIGGER_ID}.start->lead`);
    expect(e).toContain('check.then->notify');
    expect(e).toContain('check.else->wait');
    expect(e).toContain('again.body->dial');
    expect(e).toContain('again.next->done');
    // An http_request's `body` is data, not an edge.
    expect(e.some((x) => x.startsWith('notify.'))).toBe(false);
    expect(g.edges).toHaveLength(9);
  });

  it('round trips exactly, with and without `start`', () => {
    for (const doc of [lead, { ...lead, start: 'call' }, { ...lead, start: 'lead' }]) {
      const g = docToGraph(doc);
      expect(graphToDoc(layout(g.nodes, g.edges), g.edges)).toEqual(doc);
    }
  });

  it('an edge to a missing step survives through `dangling`', () => {
    const doc: AutomationDoc = { ...lead, steps: [{ slug: 'a', type: 'delay', duration: '1h', next: 'nope' }] };
    const g = docToGraph(doc);
    expect(g.edges).toHaveLength(1); // trigger -> a only
    expect(graphToDoc(g.nodes, g.edges, { a: { next: 'nope' } })).toEqual(doc);
  });

  it('moving an edge in the graph changes the step field', () => {
    const g = docToGraph(lead);
    const edges = g.edges.map((e) => (e.source === 'check' && e.sourceHandle === 'else' ? { ...e, target: 'done' } : e));
    const doc = graphToDoc(g.nodes, edges);
    expect(doc.steps.find((s) => s.slug === 'check')?.else).toBe('done');
  });

  it('dagre lays the chain out top to bottom', () => {
    const g = docToGraph(lead);
    const n = layout(g.nodes, g.edges);
    const y = (id: string) => n.find((x) => x.id === id)!.position.y;
    expect(y(TRIGGER_ID)).toBeLessThan(y('lead'));
    expect(y('lead')).toBeLessThan(y('call'));
    expect(y('check')).toBeLessThan(y('notify'));
  });
});

describe('payload paths', () => {
  it('lists nested keys, arrays by their first item, odd keys in brackets', () => {
    const p = extractPaths({ email: 'a@b.c', lead: { phone: '+1', n: 2 }, items: [{ sku: 'x' }], 'first-name': 'Al', empty: [] });
    expect(p.map((x) => x.path)).toEqual([
      'trigger.payload.email',
      'trigger.payload.lead',
      'trigger.payload.lead.phone',
      'trigger.payload.lead.n',
      'trigger.payload.items',
      'trigger.payload.items[0]',
      'trigger.payload.items[0].sku',
      'trigger.payload["first-name"]',
      'trigger.payload.empty',
    ]);
    expect(p[0]).toEqual({ path: 'trigger.payload.email', type: 'string', sample: 'a@b.c' });
    expect(p[1]!.type).toBe('object');
  });

  it('stops at the depth and count limits', () => {
    const deep = { a: { b: { c: { d: 1 } } } };
    expect(extractPaths(deep, 'p', 2).map((x) => x.path)).toEqual(['p.a', 'p.a.b']);
    const wide = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i]));
    expect(extractPaths(wide, 'p', 6, 10)).toHaveLength(10);
  });
});

describe('variable scope per step', () => {
  const sample = { phone: '+12125550100', numbers: ['+1'] };
  const paths = (slug: string) => variablesFor(lead, slug, sample).flatMap((g) => g.vars.map((v) => v.path));

  it('dominators: a branch never sees the other branch; after a loop, not its body', () => {
    const d = dominators(lead);
    expect([...d.get('notify')!].sort()).toEqual(['call', 'check', 'lead', 'notify']);
    expect(d.get('done')!.has('dial')).toBe(false);
    expect(d.get('tag')!.has('dial')).toBe(true);
  });

  it('lists the sample payload, earlier steps outputs, contact and loop variables', () => {
    const first = paths('lead');
    expect(first).toContain('trigger.payload.phone');
    expect(first.some((p) => p.startsWith('steps.'))).toBe(false);
    expect(first.some((p) => p.startsWith('contact.'))).toBe(false); // webhook: no contact yet
    const notify = paths('notify');
    expect(notify).toContain('steps.lead.id');
    expect(notify).toContain('steps.call.outcome');
    expect(notify).toContain('steps.check.matched');
    expect(notify).toContain('contact.name');
    expect(notify).not.toContain('steps.wait.due_at');
    const tag = paths('tag');
    expect(tag).toContain('loop.item');
    expect(tag).toContain('steps.dial.call_id');
    expect(paths('done')).not.toContain('loop.item');
    expect(paths('done')).not.toContain('steps.dial.call_id');
  });

  it('other triggers bring their own payload and a contact', () => {
    const doc: AutomationDoc = { ...lead, trigger: { type: 'tag_added', tags: [] } };
    const p = variablesFor(doc, 'lead', null).flatMap((g) => g.vars.map((v) => v.path));
    expect(p).toContain('trigger.payload.tag');
    expect(p).toContain('contact.email');
  });
});

describe('problems placed on steps and fields', () => {
  it('parses the API field paths', () => {
    expect(placeProblem('steps[2] (notify).url')).toEqual({ scope: 'step', index: 2, slug: 'notify', path: 'url', top: 'url' });
    expect(placeProblem('steps[0] (check).rules[1].value')).toMatchObject({ slug: 'check', path: 'rules[1].value', top: 'rules' });
    expect(placeProblem('steps[3]')).toEqual({ scope: 'step', index: 3, slug: null, path: '', top: '' });
    expect(placeProblem('trigger.cron')).toEqual({ scope: 'trigger', path: 'cron', top: 'cron' });
    expect(placeProblem('calling.start')).toEqual({ scope: 'doc', path: 'calling.start', top: 'calling' });
  });

  it('locates by slug, else by index, else on the automation', () => {
    const l = locateProblems(
      [
        { field: 'steps[1] (b).url', message: 'bad url' },
        { field: 'steps[0]', message: 'unknown variant' },
        { field: 'steps[9] (zz).x', message: 'gone' },
        { field: 'trigger.cron', message: 'bad cron' },
        { field: 'name', message: 'required' },
      ],
      ['a', 'b'],
    );
    expect(l.steps.b).toEqual([{ path: 'url', top: 'url', message: 'bad url' }]);
    expect(l.steps.a).toEqual([{ path: '', top: '', message: 'unknown variant' }]);
    expect(l.trigger).toHaveLength(1);
    expect(l.doc.map((p) => p.path)).toEqual(['steps[9] (zz).x', 'name']);
  });
});

describe('editing with undo and redo', () => {
  const base: AutomationDoc = { name: 'x', time_zone: 'UTC', trigger: { type: 'webhook' }, steps: [{ slug: 'end', type: 'end' }] };

  it('adds a step before the end, undoes and redoes it', () => {
    const s = createBuilderStore(base);
    const slug = s.getState().addStep('http_request', TRIGGER);
    expect(slug).toBe('http_request');
    expect(s.getState().doc.steps.map((x) => x.slug)).toEqual(['http_request', 'end']);
    expect(s.getState().doc.steps[0]!.next).toBe('end');
    s.temporal.getState().undo();
    expect(s.getState().doc).toEqual(base);
    s.temporal.getState().redo();
    expect(s.getState().doc.steps).toHaveLength(2);
  });

  it('typing into one field is one undo step; selection is not history', () => {
    const s = createBuilderStore(base);
    s.getState().addStep('delay', TRIGGER);
    for (const v of ['1', '1h', '1h 3', '1h 30m']) s.getState().updateStep('delay', { duration: v });
    s.getState().select('end');
    expect(s.temporal.getState().pastStates).toHaveLength(2);
    s.temporal.getState().undo();
    expect(s.getState().doc.steps[0]!.duration).toBe('1h');
    expect(s.getState().selected).toBe('end');
  });

  it('insert after a step, remove reconnects, rename follows edges', () => {
    const s = createBuilderStore(base);
    s.getState().addStep('delay', TRIGGER);
    s.getState().addStep('add_tag', 'delay');
    expect(s.getState().doc.steps.map((x) => [x.slug, x.next ?? null])).toEqual([
      ['delay', 'add_tag'],
      ['add_tag', 'end'],
      ['end', null],
    ]);
    expect(s.getState().renameStep('add_tag', 'end')).toBe(false);
    expect(s.getState().renameStep('add_tag', 'tag_it')).toBe(true);
    expect(s.getState().doc.steps[0]!.next).toBe('tag_it');
    s.getState().removeStep('tag_it');
    expect(s.getState().doc.steps.map((x) => [x.slug, x.next ?? null])).toEqual([
      ['delay', 'end'],
      ['end', null],
    ]);
    s.temporal.getState().undo();
    expect(s.getState().doc.steps).toHaveLength(3);
    resetTo(s, base);
    expect(s.temporal.getState().pastStates).toHaveLength(0);
  });

  it('connect sets edges and the start', () => {
    const s = createBuilderStore(base);
    s.getState().addStep('condition');
    s.getState().connect('condition', 'then', 'end');
    s.getState().connect(TRIGGER, 'start', 'condition');
    expect(s.getState().doc.start).toBe('condition');
    expect(s.getState().doc.steps.find((x) => x.slug === 'condition')!.then).toBe('end');
  });

  it('fresh slugs count up', () => {
    expect(freshSlug('delay', ['delay', 'delay_2'])).toBe('delay_3');
  });
});
