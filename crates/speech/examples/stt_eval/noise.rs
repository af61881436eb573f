//! The phone line of the evaluation: call-centre noise mixed at a given SNR, then G.711 mu-law.
//!
//! The noise is what a caller's line carries from a busy room: **babble** (several other TTS
//! talkers reading other sentences at once, each at the same level, each starting at a
//! different point of a 20 s loop) plus **pink noise** 6 dB below the babble (room and line
//! hiss with a speech-like downward slope). It is made once per run, deterministically: the
//! talkers' text is fixed, the synthesizers are deterministic and the pink noise comes from a
//! fixed seed, so every run mixes the same noise into the same utterance.
//!
//! SNR is speech level over noise level, with the speech level measured on its active frames
//! (20 ms frames within 30 dB of the loudest one; a simplified ITU-T P.56 active level), so a
//! short "Yes." with silence around it gets as much noise as a long sentence. The noise is
//! mixed before the mu-law encoder, as a caller's handset would.

/// Sentences the babble talkers read (none is in the evaluation set).
pub const BABBLE_TEXT: &[&str] = &[
    "We can ship the replacement part by next Tuesday if that helps.",
    "Your warranty covers the screen but not the battery.",
    "Let me check with my supervisor and get right back to you.",
    "The system is running a little slow this morning, sorry about that.",
    "I see two open tickets on this account from last month.",
    "Could you spell the street name for me one more time?",
    "The promotion ended on the first of the month, unfortunately.",
    "Thank you for your patience, I'm almost done here.",
];

/// Length of the noise loop: 20 s at 8 kHz.
const BED_SAMPLES: usize = 20 * 8000;
/// Pink noise level relative to the babble.
const PINK_DB: f64 = -6.0;
/// The seed of everything random here.
const SEED: u64 = 0x5EED_CA11;
/// 20 ms frames at 8 kHz.
const FRAME: usize = 160;

/// SplitMix64: small, fast and deterministic; statistical quality is ample for noise.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// Pink (1/f) noise by Paul Kellet's refined filter over white noise.
fn pink(n: usize, rng: &mut Rng) -> Vec<f64> {
    let mut b = [0f64; 7];
    (0..n)
        .map(|_| {
            let white = rng.uniform();
            b[0] = 0.99886 * b[0] + white * 0.0555179;
            b[1] = 0.99332 * b[1] + white * 0.0750759;
            b[2] = 0.96900 * b[2] + white * 0.1538520;
            b[3] = 0.86650 * b[3] + white * 0.3104856;
            b[4] = 0.55000 * b[4] + white * 0.5329522;
            b[5] = -0.7616 * b[5] - white * 0.0168980;
            let out = b.iter().sum::<f64>() + white * 0.5362;
            b[6] = white * 0.115926;
            out
        })
        .collect()
}

fn power(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64
}

fn scale_to_unit_power(x: &mut [f64]) {
    let p = power(x);
    if p > 0.0 {
        let g = 1.0 / p.sqrt();
        x.iter_mut().for_each(|v| *v *= g);
    }
}

/// Mean power of the active 20 ms frames (within 30 dB of the loudest frame).
pub fn active_power(pcm: &[f64]) -> f64 {
    let frames: Vec<f64> = pcm.chunks(FRAME).map(power).collect();
    let loudest = frames.iter().copied().fold(0.0, f64::max);
    let active: Vec<f64> = frames.into_iter().filter(|p| *p > loudest * 1e-3).collect();
    active.iter().sum::<f64>() / active.len().max(1) as f64
}

/// A loop of call-centre noise at unit power.
pub struct NoiseBed {
    samples: Vec<f64>,
}

impl NoiseBed {
    /// Babble of `talkers` (8 kHz speech of each, any length) plus pink noise; see the module docs.
    pub fn new(talkers: &[Vec<i16>]) -> Self {
        let mut bed = vec![0f64; BED_SAMPLES];
        for (k, talk) in talkers.iter().enumerate() {
            let mut track: Vec<f64> = talk.iter().map(|&s| s as f64).collect();
            let level = active_power(&track);
            if track.is_empty() || level <= 0.0 {
                continue;
            }
            track.iter_mut().for_each(|v| *v /= level.sqrt());
            // Each talker starts at a different point of its own text, looped over the bed.
            let offset = k * track.len() / talkers.len().max(1);
            for (i, v) in bed.iter_mut().enumerate() {
                *v += track[(offset + i) % track.len()];
            }
        }
        scale_to_unit_power(&mut bed);
        let mut hiss = pink(BED_SAMPLES, &mut Rng::new(SEED));
        scale_to_unit_power(&mut hiss);
        let g = 10f64.powf(PINK_DB / 20.0);
        bed.iter_mut().zip(&hiss).for_each(|(v, h)| *v += g * h);
        scale_to_unit_power(&mut bed);
        NoiseBed { samples: bed }
    }

    /// `speech` with this noise at `snr_db` below its active level, starting at a point of the
    /// loop fixed by `key` (so each utterance gets its own stretch of noise, the same every run).
    /// If the mix would clip, speech and noise are turned down together (the SNR is kept).
    pub fn mix(&self, speech: &[i16], snr_db: f64, key: u64) -> Vec<i16> {
        let x: Vec<f64> = speech.iter().map(|&s| s as f64).collect();
        let gain = (active_power(&x) / 10f64.powf(snr_db / 10.0)).sqrt();
        let start = (Rng::new(SEED ^ key).next_u64() % self.samples.len() as u64) as usize;
        let mixed: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, v)| v + gain * self.samples[(start + i) % self.samples.len()])
            .collect();
        let peak = mixed.iter().fold(0f64, |m, v| m.max(v.abs()));
        let fit = if peak > 32000.0 { 32000.0 / peak } else { 1.0 };
        mixed.iter().map(|v| (v * fit).round() as i16).collect()
    }
}

/// G.711 mu-law round trip of one sample (what the phone line does to the audio).
fn mulaw(s: i16) -> i16 {
    const BIAS: i32 = 0x84;
    let x = (s as i32).abs().min(32635) + BIAS;
    // The segment: position of the highest set bit above bit 7.
    let exponent = (31 - (x as u32).leading_zeros() as i32 - 7).clamp(0, 7);
    let mantissa = (x >> (exponent + 3)) & 0x0F;
    let decoded = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    if s < 0 {
        -decoded as i16
    } else {
        decoded as i16
    }
}

/// 8 kHz linear PCM through a G.711 mu-law encoder and decoder.
pub fn phone_line(pcm: &[i16]) -> Vec<i16> {
    pcm.iter().map(|&s| mulaw(s)).collect()
}
