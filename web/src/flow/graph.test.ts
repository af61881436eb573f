import { describe, expect, it } from 'vitest';
import {
  autoLayout,
  diffFlows,
  flowOrder,
  handlesOf,
  knownKeys,
  locateServerProblem,
  newNodeId,
  normalizeFlow,
  scopeAt,
  scopes,
  templateProblems,
  validate,
  type Flow,
  type FlowNode,
} from './graph';

const n = (id: string, type: string, data: Record<string, unknown> = {}, x = 0, y = 0): FlowNode => ({ id, type, position: { x, y }, data });
const e = (id: string, source: string, sourceHandle: string, target: string) => ({ id, source, sourceHandle, target });

/** The appointment flow of the server's tests (crates/core/src/flow.rs). */
function appointment(): Flow {
  return {
    nodes: [
      n('s', 'start'),
      n('hi', 'speak', { message: 'Hi {{contact.name}}, about {{metadata.appointment}}.' }),
      n('q', 'question', { question: 'Can you make it?', variable: 'confirmed', kind: 'yes_no' }),
      n('new', 'question', { question: 'What time works?', variable: 'new_time', kind: 'text' }),
      n('ok', 'end', { outcome: 'confirmed', message: 'See you then.' }),
      n('moved', 'end', { outcome: 'rescheduled', message: 'Noted: {{variables.new_time}}.' }),
    ],
    edges: [e('1', 's', 'next', 'hi'), e('2', 'hi', 'next', 'q'), e('3', 'q', 'yes', 'ok'), e('4', 'q', 'no', 'new'), e('5', 'new', 'next', 'moved'), e('6', 'q', 'no_match', 'ok'), e('7', 'new', 'no_match', 'moved')],
  };
}

describe('handlesOf', () => {
  it('follows API.md per node type', () => {
    expect(handlesOf(n('a', 'start'))).toEqual(['next']);
    expect(handlesOf(n('a', 'speak'))).toEqual(['next']);
    expect(handlesOf(n('a', 'question', { kind: 'yes_no' }))).toEqual(['yes', 'no', 'no_match']);
    expect(handlesOf(n('a', 'question', { kind: 'choice', choices: ['red', 'blue', 'red', ''] }))).toEqual(['red', 'blue', 'no_match']);
    expect(handlesOf(n('a', 'question', { kind: 'number' }))).toEqual(['next', 'no_match']);
    expect(handlesOf(n('a', 'question', {}))).toEqual(['next', 'no_match']);
    expect(handlesOf(n('a', 'branch', { conditions: [{ handle: 'vip' }, { handle: 'else' }, { handle: 'late' }] }))).toEqual(['vip', 'late', 'else']);
    expect(handlesOf(n('a', 'webhook'))).toEqual(['next', 'error']);
    expect(handlesOf(n('a', 'transfer'))).toEqual([]);
    expect(handlesOf(n('a', 'end'))).toEqual([]);
  });
});

describe('validate', () => {
  it('accepts a sound flow', () => {
    expect(validate(appointment())).toEqual([]);
  });

  it('locates every problem on its node and field', () => {
    const f = appointment();
    f.nodes[1]!.data = { message: 'Hi {{nope.x}} {{variables.never}}' };
    f.nodes[2]!.data = { question: '', variable: '1bad', kind: 'yes_no' };
    f.nodes.push(n('b', 'branch', { conditions: [{ variable: '', op: 'eq', handle: 'else' }] }));
    f.nodes.push(n('w', 'webhook', { url: 'ftp://x', method: 'GET', save_as: 'bad name' }));
    f.edges.push(e('8', 'ok', 'next', 'hi'), e('9', 'hi', 'next', 'ghost'));
    const p = validate(f);
    const at = (nodeId: string, field: string) => p.filter((x) => x.nodeId === nodeId && x.field === field).map((x) => x.message);
    expect(at('hi', 'message')).toHaveLength(2);
    expect(at('q', 'question')).toEqual(['is required']);
    expect(at('q', 'variable')[0]).toMatch(/letters, digits/);
    expect(at('b', 'conditions[0].variable')).toEqual(['is required']);
    expect(at('b', 'conditions[0].op')[0]).toMatch(/must be one of/);
    expect(at('b', 'conditions[0].handle')[0]).toMatch(/not 'else'/);
    expect(at('b', '')[0]).toMatch(/no outgoing/);
    expect(at('w', 'url')).toEqual(['must be an http(s) URL']);
    expect(at('w', 'save_as')).toEqual(['must be a variable name']);
    expect(at('ok', '')[0]).toMatch(/ends the call/);
    expect(p.some((x) => x.edgeId === '9' && /already has a connection/.test(x.message))).toBe(true);
    expect(p.some((x) => x.edgeId === '9' && /no node/.test(x.message))).toBe(true);
  });

  it('needs exactly one start, and checks settings', () => {
    const p = validate({ nodes: [n('e', 'end', { outcome: 'x' })], edges: [] }, { should_leave_voicemail: true, voicemail_message: ' ', silence_reprompts: 9, title: 'T', lang: 'en US' });
    expect(p.map((x) => x.message)).toContain('a flow needs exactly one start node, found 0');
    expect(p.filter((x) => x.setting).map((x) => x.setting).sort()).toEqual(['lang', 'silence_reprompts', 'voicemail_message']);
  });

  it('checks templates as the server does', () => {
    expect(templateProblems('{{variables.a.b}} {{contact.email}}', new Set(['a']))).toEqual([]);
    expect(templateProblems('{{contact.age}}', new Set())[0]).toMatch(/contacts have/);
    expect(templateProblems('oops {{x', new Set())[0]).toMatch(/not closed/);
    expect(templateProblems('x }}', new Set())[0]).toMatch(/no matching/);
  });
});

describe('server problems', () => {
  it('are located by the index in the flow that was sent', () => {
    const f = appointment();
    expect(locateServerProblem({ field: 'flow.nodes[2].data.question', message: 'm' }, f)).toEqual({ nodeId: 'q', field: 'question', message: 'm' });
    expect(locateServerProblem({ field: 'flow.nodes[0].id', message: 'm' }, f)).toEqual({ nodeId: 's', field: '', message: 'm' });
    expect(locateServerProblem({ field: 'flow.edges[2].target', message: 'm' }, f)).toEqual({ edgeId: '3', nodeId: 'q', field: '', message: 'm' });
    expect(locateServerProblem({ field: 'voicemail_message', message: 'm' }, f)).toEqual({ setting: 'voicemail_message', field: 'voicemail_message', message: 'm' });
    expect(locateServerProblem({ field: 'flow.nodes', message: 'm' }, f)).toEqual({ field: '', message: 'm' });
  });
});

describe('scope', () => {
  it('offers a captured variable only where every path from start has captured it', () => {
    const f = appointment();
    const s = scopes(f);
    expect([...s.get('q')!]).toEqual([]);
    expect([...s.get('new')!]).toEqual(['confirmed']);
    expect([...s.get('moved')!].sort()).toEqual(['confirmed', 'new_time']);
    // `ok` is reached from q directly (yes, no_match): new_time is not set on those paths.
    expect([...s.get('ok')!]).toEqual(['confirmed']);
  });

  it('handles loops and unreachable nodes', () => {
    const f: Flow = {
      nodes: [n('s', 'start'), n('a', 'question', { question: 'x', variable: 'a' }), n('b', 'question', { question: 'y', variable: 'b' }), n('lost', 'speak', { message: 'hi' })],
      edges: [e('1', 's', 'next', 'a'), e('2', 'a', 'next', 'b'), e('3', 'b', 'no_match', 'a'), e('4', 'lost', 'next', 'b')],
    };
    const s = scopes(f);
    expect([...s.get('a')!]).toEqual([]); // from start: nothing yet
    expect([...s.get('b')!]).toEqual(['a']);
    expect([...s.get('lost')!]).toEqual([]);
  });

  it('lists contact fields and the attributes/metadata keys the flow uses', () => {
    const f = appointment();
    f.nodes.push(n('b', 'branch', { conditions: [{ variable: 'attributes.plan', op: 'exists', handle: 'p' }] }));
    expect(knownKeys(f)).toEqual({ attributes: ['plan'], metadata: ['appointment'] });
    const paths = scopeAt(f, 'moved', { attributes: ['tier'] }).map((x) => x.path);
    expect(paths).toEqual([
      'variables.confirmed',
      'variables.new_time',
      'contact.name',
      'contact.phone_number',
      'contact.email',
      'contact.id',
      'attributes.plan',
      'attributes.tier',
      'metadata.appointment',
    ]);
  });
});

describe('diffFlows', () => {
  it('lists added, removed and changed nodes, edges by their ends, texts and settings', () => {
    const live = appointment();
    const draft = appointment();
    draft.nodes[1] = { ...draft.nodes[1]!, data: { message: 'Hello!' } };
    draft.nodes[4] = { ...draft.nodes[4]!, position: { x: 50, y: 0 } };
    draft.nodes = draft.nodes.filter((x) => x.id !== 'moved');
    draft.nodes.push(n('bye', 'end', { outcome: 'rescheduled' }));
    draft.edges = draft.edges.filter((x) => x.target !== 'moved');
    draft.edges.push(e('x', 'new', 'next', 'bye'), e('y', 'new', 'no_match', 'bye'));
    // The same connection under a new id is not a change.
    draft.edges[0] = { ...draft.edges[0]!, id: 'renamed' };
    const d = diffFlows(live, draft, { title: 'A', should_record: false }, { title: 'B', should_record: false });
    expect(d.nodesAdded.map((x) => x.id)).toEqual(['bye']);
    expect(d.nodesRemoved.map((x) => x.id)).toEqual(['moved']);
    expect(d.nodesChanged).toEqual([{ id: 'hi', type: 'speak', changes: [{ field: 'message', before: 'Hi {{contact.name}}, about {{metadata.appointment}}.', after: 'Hello!' }] }]);
    expect(d.nodesMoved).toEqual(['ok']);
    expect(d.edgesAdded.map((x) => x.id)).toEqual(['x', 'y']);
    expect(d.edgesRemoved.map((x) => x.id)).toEqual(['5', '7']);
    expect(d.settings).toEqual([{ field: 'title', before: 'A', after: 'B' }]);
    expect(d.empty).toBe(false);
    expect(diffFlows(live, appointment()).empty).toBe(true);
  });
});

describe('order, ids and layout', () => {
  it('orders the outline from start along outcomes, strays last', () => {
    const f = appointment();
    f.nodes.unshift(n('stray', 'speak', { message: 'x' }));
    expect(flowOrder(f).map((x) => x.id)).toEqual(['s', 'hi', 'q', 'ok', 'new', 'moved', 'stray']);
  });

  it('makes fresh ids', () => {
    expect(newNodeId('speak', [{ id: 'speak-1' }, { id: 'speak-3' }])).toBe('speak-2');
  });

  it('lays out top to bottom without overlaps', () => {
    const pos = autoLayout(appointment());
    expect(pos.get('s')!.y).toBeLessThan(pos.get('hi')!.y);
    expect(pos.get('hi')!.y).toBeLessThan(pos.get('q')!.y);
    expect(pos.get('q')!.y).toBeLessThan(pos.get('moved')!.y);
    const boxes = [...pos.values()];
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i]!;
        const b = boxes[j]!;
        expect(Math.abs(a.x - b.x) >= 240 || Math.abs(a.y - b.y) >= 110).toBe(true);
      }
  });

  it('normalizes an API flow (missing handles and positions)', () => {
    const f = normalizeFlow({ nodes: [{ id: 'a', type: 'start', data: {} }, { id: 'b', type: 'end', data: { outcome: 'x' } }], edges: [{ id: '1', source: 'a', target: 'b' }] });
    expect(f.edges[0]!.sourceHandle).toBe('next');
    expect(f.nodes[0]!.position.y).toBeLessThan(f.nodes[1]!.position.y);
  });
});

describe('a 300-node agent', () => {
  it('lays out, validates and computes scopes within a generous budget', () => {
    const nodes: FlowNode[] = [n('s', 'start')];
    const edges = [];
    let prev = 's';
    for (let i = 0; i < 299; i++) {
      const id = `n${i}`;
      const kind = i % 3;
      if (kind === 0) nodes.push(n(id, 'question', { question: `Q${i} {{contact.name}}`, variable: `v${i}`, kind: 'yes_no' }));
      else if (kind === 1) nodes.push(n(id, 'speak', { message: `Said ${i} {{variables.v${i - 1}}}` }));
      else nodes.push(n(id, 'branch', { conditions: [{ variable: `variables.v${i - 2}`, op: 'equals', value: 'yes', handle: 'y' }] }));
      const prevNode = nodes[nodes.length - 2]!;
      for (const h of handlesOf(prevNode)) edges.push(e(`${prev}-${h}`, prev, h, id));
      prev = id;
    }
    nodes.push(n('end', 'end', { outcome: 'done' }));
    for (const h of handlesOf(nodes[nodes.length - 2]!)) edges.push(e(`${prev}-${h}`, prev, h, 'end'));
    const f = { nodes, edges };
    const t0 = performance.now();
    const pos = autoLayout(f);
    const problems = validate(f);
    const sc = scopes(f);
    const picker = scopeAt(f, 'end', {}, sc);
    const order = flowOrder(f);
    const ms = performance.now() - t0;
    expect(pos.size).toBe(301);
    expect(problems).toEqual([]);
    expect(picker.filter((x) => x.group === 'Captured variables')).toHaveLength(100);
    expect(order).toHaveLength(301);
    expect(ms).toBeLessThan(5000);
  });
});
