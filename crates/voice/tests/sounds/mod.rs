//! Sounds a caller's line carries besides the caller's voice, generated (no fixtures): coughs
//! (shaped noise bursts), doors (an impulse and its decaying rumble), line hiss; and the helpers
//! that set levels and mix them with speech. Shared by the barge-in test and
//! `examples/barge_in.rs` (the benchmark), so both hear the same kinds of noise.
#![allow(dead_code)]

use parley_telephony::audio::{self, level_dbfs, FRAME_SAMPLES};

/// A small deterministic generator (xorshift64*): the same sounds on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Roughly normal (sum of uniforms), unit variance.
    pub fn normal(&mut self) -> f32 {
        (0..4).map(|_| self.unit()).sum::<f32>() * 1.732 - 3.464
    }
}

/// A two-pole resonator (band-pass) at `freq` Hz with quality `q`, at 8 kHz.
struct Resonator {
    a1: f32,
    a2: f32,
    gain: f32,
    y1: f32,
    y2: f32,
}

impl Resonator {
    fn new(freq: f32, q: f32) -> Self {
        let w = 2.0 * std::f32::consts::PI * freq / 8000.0;
        let r = (-w / (2.0 * q)).exp();
        Resonator {
            a1: 2.0 * r * w.cos(),
            a2: -r * r,
            gain: 1.0 - r,
            y1: 0.0,
            y2: 0.0,
        }
    }

    fn step(&mut self, x: f32) -> f32 {
        let y = self.gain * x + self.a1 * self.y1 + self.a2 * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// Scales `pcm` so its loudest 20 ms frame is at `dbfs`.
pub fn peak_frame_to(pcm: &[f32], dbfs: f32) -> Vec<i16> {
    let loudest = pcm
        .chunks(FRAME_SAMPLES)
        .map(|c| (c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32).sqrt())
        .fold(0f32, f32::max)
        .max(1e-9);
    let gain = 32768.0 * 10f32.powf(dbfs / 20.0) / loudest;
    pcm.iter().map(|v| (v * gain).clamp(-32767.0, 32767.0) as i16).collect()
}

/// A cough: one to three bursts of broadband noise, coloured by a throat-like resonance, each
/// with a sharp attack and a fast decay; the loudest frame at `dbfs`.
pub fn cough(rng: &mut Rng, dbfs: f32) -> Vec<i16> {
    let mut out = vec![];
    let bursts = 1 + (rng.unit() * 3.0) as usize;
    for b in 0..bursts {
        if b > 0 {
            out.extend(std::iter::repeat_n(0.0, (rng.range(0.06, 0.15) * 8000.0) as usize));
        }
        let len = (rng.range(0.12, 0.25) * 8000.0) as usize;
        let tau = rng.range(0.03, 0.08) * 8000.0;
        let mut res = Resonator::new(rng.range(400.0, 1500.0), rng.range(0.7, 2.0));
        let scale = if b == 0 { 1.0 } else { rng.range(0.4, 0.9) };
        for i in 0..len {
            let attack = (i as f32 / 40.0).min(1.0);
            let env = attack * (-(i as f32) / tau).exp() * scale;
            let n = rng.normal();
            out.push(env * (0.6 * res.step(n) * 4.0 + 0.4 * n));
        }
    }
    peak_frame_to(&out, dbfs)
}

/// A door: a sharp impact (a few milliseconds of full-band noise), then the panel's low rumble
/// decaying over a few hundred milliseconds, sometimes a latch's second click; the loudest
/// frame at `dbfs`.
pub fn door(rng: &mut Rng, dbfs: f32) -> Vec<i16> {
    let len = (rng.range(0.35, 0.6) * 8000.0) as usize;
    let click = (rng.range(0.002, 0.006) * 8000.0) as usize;
    let tau = rng.range(0.06, 0.15) * 8000.0;
    let mut low = 0f32;
    let alpha = rng.range(0.05, 0.2);
    let latch = (rng.unit() < 0.5).then(|| (rng.range(0.1, 0.25) * 8000.0) as usize);
    let mut out = Vec::with_capacity(len);
    for i in 0..len {
        let n = rng.normal();
        low += alpha * (n - low);
        let mut v = (-(i as f32) / tau).exp() * low * 3.0;
        if i < click || latch.is_some_and(|l| (l..l + click / 2 + 1).contains(&i)) {
            v += n * 2.5;
        }
        out.push(v);
    }
    peak_frame_to(&out, dbfs)
}

/// Line hiss at `dbfs` (RMS), `n` samples.
pub fn hiss(rng: &mut Rng, n: usize, dbfs: f32) -> Vec<i16> {
    let amp = 32768.0 * 10f32.powf(dbfs / 20.0);
    (0..n).map(|_| (rng.normal() * amp) as i16).collect()
}

/// `pcm` with its gain changed by `db`.
pub fn gain(pcm: &[i16], db: f32) -> Vec<i16> {
    let g = 10f32.powf(db / 20.0);
    pcm.iter()
        .map(|&v| (f32::from(v) * g).clamp(-32767.0, 32767.0) as i16)
        .collect()
}

/// Adds `clip` into `into` from sample `at` (growing `into` if needed).
pub fn mix(into: &mut Vec<i16>, at: usize, clip: &[i16]) {
    if into.len() < at + clip.len() {
        into.resize(at + clip.len(), 0);
    }
    for (d, &s) in into[at..].iter_mut().zip(clip) {
        *d = d.saturating_add(s);
    }
}

/// The first sample of `clip` where the sound starts: its first 5 ms window within 35 dB of the
/// clip's loudest 20 ms frame (speech onsets ramp up; this is where a listener hears it begin).
pub fn onset(clip: &[i16]) -> usize {
    let loudest = clip.chunks(FRAME_SAMPLES).map(level_dbfs).fold(-100f32, f32::max);
    clip.chunks(40)
        .position(|w| level_dbfs(w) > loudest - 35.0)
        .map_or(0, |i| i * 40)
}

/// The line's round trip: mu-law out and back, frame by frame (the last frame padded).
pub fn through_the_line(pcm: &[i16]) -> Vec<audio::PcmFrame> {
    audio::frames(pcm).map(|f| audio::decode(&audio::encode(&f))).collect()
}
