import { describe, expect, it } from 'vitest';
import { activeNodeFor, browserCallUrl, FRAME_SAMPLES, lastAgentLine, lastPathNode, packInt16LE, parseNote, Resampler, toInt16, unpackInt16LE } from './audio';

/** `seconds` of a sine at `hz`, sampled at `rate`, cut into chunks of `chunk` samples. */
function sine(rate: number, hz: number, seconds: number, chunk: number, amp = 0.5): Float32Array[] {
  const n = Math.round(rate * seconds);
  const all = Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / rate));
  const out: Float32Array[] = [];
  for (let i = 0; i < n; i += chunk) out.push(all.subarray(i, Math.min(n, i + chunk)));
  return out;
}

describe('Resampler', () => {
  it('48 kHz to 16 kHz: frames of exactly 320 samples across 128-sample quanta', () => {
    const rs = new Resampler(48_000);
    const frames = sine(48_000, 440, 1, 128).flatMap((c) => rs.push(c));
    // 1 s at 48 kHz = 16000 output samples = 50 frames.
    expect(frames).toHaveLength(50);
    expect(frames.every((f) => f.length === FRAME_SAMPLES)).toBe(true);
    // Each output sample is the mean of 3 inputs: the sine's value near the middle one.
    const f0 = frames[0]!;
    for (const k of [1, 17, 100, 319]) {
      const mid = 3 * k + 1;
      const want = toInt16((0.5 * (Math.sin((2 * Math.PI * 440 * (mid - 1)) / 48_000) + Math.sin((2 * Math.PI * 440 * mid) / 48_000) + Math.sin((2 * Math.PI * 440 * (mid + 1)) / 48_000))) / 3);
      expect(Math.abs(f0[k]! - want)).toBeLessThanOrEqual(1);
    }
  });

  it('chunking does not change the output (odd chunk sizes, a frame split over many pushes)', () => {
    const whole = new Resampler(48_000).push(sine(48_000, 300, 0.5, 24_000).reduce((a, c) => Float32Array.from([...a, ...c]), new Float32Array()));
    const rs = new Resampler(48_000);
    const pieces = sine(48_000, 300, 0.5, 7).flatMap((c) => rs.push(c));
    expect(pieces.length).toBe(whole.length);
    pieces.forEach((f, i) => expect(Array.from(f)).toEqual(Array.from(whole[i]!)));
  });

  it('44.1 kHz to 16 kHz: the right count over a long stream (no drift), frames of 320', () => {
    const rs = new Resampler(44_100);
    const frames = sine(44_100, 1000, 10, 128).flatMap((c) => rs.push(c));
    // 10 s = 160000 samples = 500 frames (the last may wait for one more input sample).
    expect(frames.length).toBeGreaterThanOrEqual(499);
    expect(frames.length).toBeLessThanOrEqual(500);
    expect(frames.every((f) => f.length === FRAME_SAMPLES)).toBe(true);
    // A 1 kHz tone keeps its period: 16 samples at 16 kHz (zero crossings upward every 16).
    const f = frames[100]!;
    const ups: number[] = [];
    for (let i = 1; i < f.length; i++) if (f[i - 1]! < 0 && f[i]! >= 0) ups.push(i);
    const gaps = ups.slice(1).map((u, i) => u - ups[i]!);
    expect(gaps.every((g) => g >= 15 && g <= 17)).toBe(true);
  });

  it('refuses to upsample', () => {
    expect(() => new Resampler(8000)).toThrow();
  });
});

describe('Int16 packing', () => {
  it('clips and scales floats', () => {
    expect(toInt16(0)).toBe(0);
    expect(toInt16(1)).toBe(32767);
    expect(toInt16(-1)).toBe(-32768);
    expect(toInt16(2)).toBe(32767);
    expect(toInt16(-3)).toBe(-32768);
    expect(toInt16(Number.NaN)).toBe(0);
  });

  it('packs little-endian, 640 bytes a frame, and unpacks back', () => {
    const f = new Int16Array(FRAME_SAMPLES);
    f[0] = 0x1234;
    f[1] = -2;
    f[319] = -32768;
    const buf = packInt16LE(f);
    expect(buf.byteLength).toBe(640);
    const b = new Uint8Array(buf);
    expect([b[0], b[1], b[2], b[3]]).toEqual([0x34, 0x12, 0xfe, 0xff]);
    expect([b[638], b[639]]).toEqual([0x00, 0x80]);
    const back = unpackInt16LE(buf);
    expect(back.length).toBe(320);
    expect(back[0]).toBeCloseTo(0x1234 / 0x8000, 6);
    expect(back[319]).toBe(-1);
  });
});

describe('active node', () => {
  const nodes = [
    { id: 'start', type: 'start', data: {} },
    { id: 'hello', type: 'speak', data: { message: 'Hi, this is Ava from the clinic.' } },
    { id: 'ask', type: 'question', data: { question: 'Can you make it on Thursday?', variable: 'confirmed', kind: 'yes_no' } },
    { id: 'time', type: 'question', data: { question: 'What time suits you on Thursday?', variable: 't', kind: 'text' } },
    { id: 'yes', type: 'end', data: { outcome: 'confirmed', message: 'Great. Goodbye.' } },
  ];

  it('the node whose text the agent said', () => {
    expect(activeNodeFor('Can you make it on Thursday?', nodes)).toBe('ask');
    expect(activeNodeFor('can you make it on thursday', nodes)).toBe('ask');
    expect(activeNodeFor('What time suits you on Thursday?', nodes)).toBe('time');
    expect(activeNodeFor('Great, goodbye!', nodes)).toBe('yes');
  });

  it('a line that says more (greeting + question) or rephrases a little', () => {
    expect(activeNodeFor('Hello! Can you make it on Thursday?', nodes)).toBe('ask');
    expect(activeNodeFor('Sorry, can you make it on Thursday at all?', nodes)).toBe('ask');
  });

  it('nothing when no node is said', () => {
    expect(activeNodeFor('I did not catch that.', nodes)).toBeNull();
    expect(activeNodeFor('', nodes)).toBeNull();
    expect(activeNodeFor(null, nodes)).toBeNull();
    expect(activeNodeFor('Thursday', nodes)).toBeNull();
  });

  it('the last agent line and the last step of the walk', () => {
    expect(lastAgentLine([
      { author: 'ai', text: 'Can you make it on Thursday?' },
      { author: 'user', text: 'Yes.' },
      { author: 'ai', text: ' ' },
    ])).toBe('Can you make it on Thursday?');
    expect(lastAgentLine([])).toBeNull();
    expect(lastPathNode([{ node: 'start' }, { node: 'ask' }, { node: 'yes' }])).toBe('yes');
    expect(lastPathNode(undefined)).toBeNull();
  });
});

describe('the socket', () => {
  it('URL on the page origin, ws or wss', () => {
    expect(browserCallUrl('http://127.0.0.1:8080', 'iv 1', 't1')).toBe('ws://127.0.0.1:8080/call/browser?interview_id=iv%201&team_id=t1');
    expect(browserCallUrl('https://parley.example', 'a', 'b')).toBe('wss://parley.example/call/browser?interview_id=a&team_id=b');
  });

  it('server notes', () => {
    expect(parseNote('{"type":"call","call_id":"c1"}')).toEqual({ type: 'call', call_id: 'c1' });
    expect(parseNote('{"type":"clear"}')).toEqual({ type: 'clear' });
    expect(parseNote('{"type":"ended"}')).toEqual({ type: 'ended' });
    expect(parseNote('{"type":"other"}')).toBeNull();
    expect(parseNote('nope')).toBeNull();
  });
});
