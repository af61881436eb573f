// The AudioWorklet module of "Test in browser", loaded with `audioWorklet.addModule(url)` from
// the app's own origin (imported as `?worker&url`, so Vite bundles it into its own file under
// /app/assets/: the CSP's `script-src 'self'` allows it). Two processors:
//  - `parley-mic`: the microphone at the context's rate → 16 kHz Int16 frames of 320 samples
//    (Resampler), each posted to the page as 640 little-endian bytes (transferred), for ws.send;
//  - `parley-player`: the agent's 16 kHz frames queued and played at the context's rate (linear
//    interpolation up); the message "clear" drops what is queued (barge-in).

import { packInt16LE, Resampler, WIRE_RATE } from './audio';

// The AudioWorkletGlobalScope, which TypeScript's DOM library does not declare.
declare const sampleRate: number;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}
declare function registerProcessor(name: string, ctor: new () => AudioWorkletProcessor): void;

class MicProcessor extends AudioWorkletProcessor {
  private rs = new Resampler(sampleRate);
  process(inputs: Float32Array[][]): boolean {
    const ch = inputs[0]?.[0];
    if (ch && ch.length) {
      for (const f of this.rs.push(ch)) {
        const bytes = packInt16LE(f);
        this.port.postMessage(bytes, [bytes]);
      }
    }
    return true;
  }
}

class PlayerProcessor extends AudioWorkletProcessor {
  private queue: Float32Array[] = [];
  private head = 0; // read position in queue[0], in 16 kHz samples (fractional)
  private readonly step = WIRE_RATE / sampleRate;
  private playing = false;

  constructor() {
    super();
    this.port.onmessage = (e: MessageEvent) => {
      if (e.data === 'clear') {
        this.queue = [];
        this.head = 0;
      } else if (e.data instanceof Float32Array) this.queue.push(e.data);
    };
  }

  private sample(i: number): number | null {
    // The sample at index i counted from the start of queue[0], across frames.
    let k = 0;
    while (k < this.queue.length && i >= this.queue[k]!.length) {
      i -= this.queue[k]!.length;
      k++;
    }
    return k < this.queue.length ? this.queue[k]![i]! : null;
  }

  process(_inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    const out = outputs[0]?.[0];
    if (!out) return true;
    for (let j = 0; j < out.length; j++) {
      const i = Math.floor(this.head);
      const a = this.sample(i);
      if (a === null) {
        out[j] = 0;
        if (this.playing) {
          this.playing = false;
          this.port.postMessage('idle');
        }
        continue;
      }
      if (!this.playing) {
        this.playing = true;
        this.port.postMessage('playing');
      }
      const b = this.sample(i + 1) ?? a;
      const t = this.head - i;
      out[j] = a + (b - a) * t;
      this.head += this.step;
      while (this.queue.length && this.head >= this.queue[0]!.length) {
        this.head -= this.queue[0]!.length;
        this.queue.shift();
      }
    }
    for (let c = 1; c < (outputs[0]?.length ?? 0); c++) outputs[0]![c]!.set(out);
    return true;
  }
}

registerProcessor('parley-mic', MicProcessor);
registerProcessor('parley-player', PlayerProcessor);
