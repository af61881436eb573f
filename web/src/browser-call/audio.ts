// Pure logic of "Test in browser" (pages/AgentEditor.tsx, browser-call/TestInBrowser.tsx): the
// microphone's audio resampled from the AudioContext's rate (48000 or 44100, usually) to the
// wire's 16 kHz and cut into 20 ms frames of 320 samples, packed as 16-bit little-endian PCM;
// the agent's frames unpacked; and which flow node the agent is at, from what it last said.
// No DOM or audio API here (the worklet in mic-worklet.ts runs the Resampler): all of it is
// tested in audio.test.ts.

/** The wire's rate and frame (crates/server/src/browser.rs): 16 kHz, 20 ms, 640 bytes. */
export const WIRE_RATE = 16_000;
export const FRAME_SAMPLES = 320;
export const FRAME_BYTES = FRAME_SAMPLES * 2;

/** A float sample in [-1, 1] to 16-bit (clipped). */
export function toInt16(x: number): number {
  const s = Math.max(-1, Math.min(1, Number.isFinite(x) ? x : 0));
  return s < 0 ? Math.round(s * 0x8000) : Math.round(s * 0x7fff);
}

/**
 * Downsamples a stream of float chunks (any length: the worklet's 128-sample quanta) from
 * `inRate` to 16 kHz and emits Int16 frames of exactly 320 samples, across chunk boundaries.
 * Each output sample is the mean of the input samples since the previous one (a box filter:
 * 3 samples at 48 kHz, 2 or 3 at 44.1 kHz), which is the anti-aliasing a voice needs. The
 * k-th output sample closes at input sample k·(inRate/16000), computed from k, so the rate
 * does not drift over a long call.
 */
export class Resampler {
  private readonly ratio: number;
  private acc = 0;
  private n = 0;
  private seen = 0; // input samples consumed
  private made = 0; // output samples produced
  private frame = new Int16Array(FRAME_SAMPLES);
  private fill = 0;

  constructor(inRate: number, readonly outRate = WIRE_RATE) {
    if (!(inRate >= outRate)) throw new Error(`cannot downsample ${inRate} Hz to ${outRate} Hz`);
    this.ratio = inRate / outRate;
  }

  /** Feeds input samples; returns the frames completed by them (often none). */
  push(chunk: ArrayLike<number>): Int16Array[] {
    const out: Int16Array[] = [];
    let next = (this.made + 1) * this.ratio;
    for (let i = 0; i < chunk.length; i++) {
      this.acc += chunk[i]!;
      this.n++;
      this.seen++;
      if (this.seen >= next - 1e-9) {
        this.frame[this.fill++] = toInt16(this.acc / this.n);
        this.acc = 0;
        this.n = 0;
        this.made++;
        next = (this.made + 1) * this.ratio;
        if (this.fill === FRAME_SAMPLES) {
          out.push(this.frame);
          this.frame = new Int16Array(FRAME_SAMPLES);
          this.fill = 0;
        }
      }
    }
    return out;
  }
}

/** Int16 samples as little-endian bytes (the wire's order, whatever the platform's). */
export function packInt16LE(samples: Int16Array): ArrayBuffer {
  const buf = new ArrayBuffer(samples.length * 2);
  const v = new DataView(buf);
  for (let i = 0; i < samples.length; i++) v.setInt16(i * 2, samples[i]!, true);
  return buf;
}

/** Little-endian 16-bit PCM bytes to floats in [-1, 1) (an odd trailing byte is dropped). */
export function unpackInt16LE(buf: ArrayBuffer): Float32Array {
  const v = new DataView(buf);
  const out = new Float32Array(buf.byteLength >> 1);
  for (let i = 0; i < out.length; i++) out[i] = v.getInt16(i * 2, true) / 0x8000;
  return out;
}

// ---- Which node the agent is at --------------------------------------------------------------

interface NodeLike {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

const words = (s: string): string[] =>
  s
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\p{L}\p{N}\s]/gu, ' ')
    .split(/\s+/)
    .filter(Boolean);

/** What a node makes the agent say: a question's question, a speak's or end's message. */
function spokenBy(n: NodeLike): string {
  const d = n.data ?? {};
  const s = (k: string) => (typeof d[k] === 'string' ? (d[k] as string) : '');
  if (n.type === 'question') return s('question');
  if (n.type === 'speak' || n.type === 'end') return s('message');
  return '';
}

/**
 * The node whose text the agent said in `line` (its last transcript line), or null. During a
 * call only the transcript moves (the call's `path` is written complete at the end), so the
 * active node is guessed this way: each question (its `question`), speak and end node (their
 * `message`) is scored by the share of its words found in the line; an exact match (after
 * dropping case and punctuation) wins, else the best score of at least 0.6. The LLM may
 * rephrase a prompt-driven speak node: then nothing is lit rather than a wrong node. Ties go to
 * questions (what the agent waits on).
 */
export function activeNodeFor(line: string | null | undefined, nodes: readonly NodeLike[]): string | null {
  if (!line) return null;
  const said = words(line);
  if (!said.length) return null;
  const saidText = said.join(' ');
  const bag = new Set(said);
  let best: { id: string; score: number; q: boolean } | null = null;
  for (const n of nodes) {
    const w = words(spokenBy(n));
    if (!w.length) continue;
    const text = w.join(' ');
    const score = text === saidText ? 2 : saidText.includes(text) ? 1.5 : w.filter((x) => bag.has(x)).length / w.length;
    const q = n.type === 'question';
    if (!best || score > best.score || (score === best.score && q && !best.q)) best = { id: n.id, score, q };
  }
  return best && best.score >= 0.6 ? best.id : null;
}

/** The agent's last line in a call's conversation so far. */
export function lastAgentLine(history: readonly { author: string; text: string }[] | null | undefined): string | null {
  if (!history) return null;
  for (let i = history.length - 1; i >= 0; i--) if (history[i]!.author === 'ai' && history[i]!.text.trim()) return history[i]!.text;
  return null;
}

/** The node lit once the call ended: the last step of its walk (`path`). */
export function lastPathNode(path: unknown): string | null {
  if (!Array.isArray(path) || !path.length) return null;
  const s = path[path.length - 1] as { node?: unknown } | null;
  return s && typeof s.node === 'string' ? s.node : null;
}

/** The WebSocket's URL for an agent and team, on this page's origin. */
export function browserCallUrl(origin: string, interviewId: string, teamId: string): string {
  return `${origin.replace(/^http/, 'ws')}/call/browser?interview_id=${encodeURIComponent(interviewId)}&team_id=${encodeURIComponent(teamId)}`;
}

/** A server text frame, parsed; unknown or malformed ones are null. */
export type ServerNote = { type: 'call'; call_id: string } | { type: 'clear' } | { type: 'ended' };
export function parseNote(text: string): ServerNote | null {
  try {
    const j = JSON.parse(text) as { type?: unknown; call_id?: unknown };
    if (j.type === 'call' && typeof j.call_id === 'string') return { type: 'call', call_id: j.call_id };
    if (j.type === 'clear' || j.type === 'ended') return { type: j.type };
  } catch {
    /* not JSON */
  }
  return null;
}
