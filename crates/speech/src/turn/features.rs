//! Whisper's log-mel features over an 8 s window, as Smart Turn v3 was trained on them.
//!
//! The recipe is Hugging Face's `WhisperFeatureExtractor(chunk_length=8)` as Pipecat applies it
//! before Smart Turn: keep the last 8 s of 16 kHz audio, left-pad shorter audio with zeros,
//! normalize the whole padded buffer to zero mean and unit variance, a centred STFT (400-point
//! periodic Hann window, hop 160, reflect padding), power spectrum, 80 Slaney mel filters over
//! 0-8 kHz, `log10` floored at 1e-10, the last frame dropped, clamped to 8 below the maximum and
//! scaled as `(x + 4) / 4`. The result is 80 x 800 values, mel-major.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// The model's sample rate.
pub const SAMPLE_RATE: usize = 16_000;
/// Samples in the model's window: 8 s.
pub const WINDOW_SAMPLES: usize = 8 * SAMPLE_RATE;
/// Mel bins.
pub const N_MELS: usize = 80;
/// Feature frames (10 ms each).
pub const N_FRAMES: usize = WINDOW_SAMPLES / HOP;

const N_FFT: usize = 400;
const HOP: usize = 160;
const N_BINS: usize = N_FFT / 2 + 1;

/// The feature extractor: the mel filters, the window and the FFT plan, made once.
pub struct LogMel {
    /// Per mel bin: the first FFT bin it covers and its non-zero weights (a triangle covers a
    /// few bins, so the sparse product is ~20x cheaper than the dense one).
    filters: Vec<(usize, Vec<f64>)>,
    window: Vec<f64>,
    fft: Arc<dyn Fft<f64>>,
}

impl std::fmt::Debug for LogMel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogMel").finish_non_exhaustive()
    }
}

impl Default for LogMel {
    fn default() -> Self {
        Self::new()
    }
}

fn hz_to_mel(f: f64) -> f64 {
    let (min_log_hz, min_log_mel, logstep) = (1000.0, 15.0, 27.0 / 6.4f64.ln());
    if f >= min_log_hz {
        min_log_mel + (f / min_log_hz).ln() * logstep
    } else {
        3.0 * f / 200.0
    }
}

fn mel_to_hz(m: f64) -> f64 {
    let (min_log_hz, min_log_mel, logstep) = (1000.0, 15.0, 6.4f64.ln() / 27.0);
    if m >= min_log_mel {
        min_log_hz * (logstep * (m - min_log_mel)).exp()
    } else {
        200.0 * m / 3.0
    }
}

impl LogMel {
    pub fn new() -> Self {
        let nyquist = SAMPLE_RATE as f64 / 2.0;
        let (mel_lo, mel_hi) = (hz_to_mel(0.0), hz_to_mel(nyquist));
        let edges: Vec<f64> = (0..N_MELS + 2)
            .map(|i| mel_to_hz(mel_lo + (mel_hi - mel_lo) * i as f64 / (N_MELS + 1) as f64))
            .collect();
        let filters = (0..N_MELS)
            .map(|m| {
                let norm = 2.0 / (edges[m + 2] - edges[m]); // Slaney area normalization
                let row: Vec<f64> = (0..N_BINS)
                    .map(|b| {
                        let f = nyquist * b as f64 / (N_BINS - 1) as f64;
                        let down = (f - edges[m]) / (edges[m + 1] - edges[m]);
                        let up = (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1]);
                        down.min(up).max(0.0) * norm
                    })
                    .collect();
                let first = row.iter().position(|&w| w > 0.0).unwrap_or(0);
                let last = row.iter().rposition(|&w| w > 0.0).unwrap_or(0);
                (first, row[first..=last].to_vec())
            })
            .collect();
        let window = (0..N_FFT)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / N_FFT as f64).cos())
            .collect();
        let fft = FftPlanner::new().plan_fft_forward(N_FFT);
        LogMel { filters, window, fft }
    }

    /// Features of the last 8 s of `audio` (16 kHz, [-1, 1]): `N_MELS * N_FRAMES` values,
    /// row `m` holding mel bin `m` over time.
    pub fn features(&self, audio: &[f32]) -> Vec<f32> {
        let tail = &audio[audio.len().saturating_sub(WINDOW_SAMPLES)..];
        let mut x = vec![0f64; WINDOW_SAMPLES];
        let pad = WINDOW_SAMPLES - tail.len();
        for (d, &s) in x[pad..].iter_mut().zip(tail) {
            *d = s as f64;
        }
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / x.len() as f64;
        let scale = 1.0 / (var + 1e-7).sqrt();
        for v in &mut x {
            *v = (*v - mean) * scale;
        }
        // Centred frames: reflect-pad N_FFT / 2 on each side.
        let half = N_FFT / 2;
        let n = x.len();
        let padded: Vec<f64> = (0..n + 2 * half)
            .map(|i| {
                if i < half {
                    x[half - i]
                } else if i < half + n {
                    x[i - half]
                } else {
                    x[2 * n + half - 2 - i]
                }
            })
            .collect();
        let mut log = vec![0f64; N_MELS * N_FRAMES];
        let mut buf = vec![Complex::new(0.0, 0.0); N_FFT];
        let mut scratch = vec![Complex::new(0.0, 0.0); self.fft.get_inplace_scratch_len()];
        let mut power = [0f64; N_BINS];
        // Frames inside the left padding are all the same constant: computed once.
        let constant = padded[0];
        let mut constant_mel: Option<[f64; N_MELS]> = None;
        for t in 0..N_FRAMES {
            let frame = &padded[t * HOP..t * HOP + N_FFT];
            let is_constant = frame.iter().all(|&v| v == constant);
            let mel = match (is_constant, constant_mel) {
                (true, Some(m)) => m,
                _ => {
                    for (i, c) in buf.iter_mut().enumerate() {
                        *c = Complex::new(frame[i] * self.window[i], 0.0);
                    }
                    self.fft.process_with_scratch(&mut buf, &mut scratch);
                    for (p, c) in power.iter_mut().zip(&buf) {
                        *p = c.norm_sqr();
                    }
                    let mut mel = [0f64; N_MELS];
                    for (out, (first, row)) in mel.iter_mut().zip(&self.filters) {
                        let e: f64 = row.iter().zip(&power[*first..]).map(|(w, p)| w * p).sum();
                        *out = e.max(1e-10).log10();
                    }
                    if is_constant {
                        constant_mel = Some(mel);
                    }
                    mel
                }
            };
            for (m, v) in mel.iter().enumerate() {
                log[m * N_FRAMES + t] = *v;
            }
        }
        let max = log.iter().copied().fold(f64::MIN, f64::max);
        log.iter().map(|&v| ((v.max(max - 8.0) + 4.0) / 4.0) as f32).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_the_slaney_filterbank() {
        let mel = LogMel::new();
        // Each filter is a triangle with a positive peak; the first starts at 0 Hz.
        for (m, (first, row)) in mel.filters.iter().enumerate() {
            assert!(row.iter().all(|&w| w >= 0.0));
            assert!(row.iter().any(|&w| w > 0.0), "filter {m} is empty");
            assert!(first + row.len() <= N_BINS);
        }
        // The first filter starts above 0 Hz; the filters climb the spectrum.
        assert!(mel.filters[0].0 <= 1);
        assert!(mel.filters.windows(2).all(|w| w[0].0 <= w[1].0));
        // The Slaney scale is linear below 1 kHz: 15 mels there.
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((mel_to_hz(hz_to_mel(3456.0)) - 3456.0).abs() < 1e-9);
    }

    #[test]
    fn a_tone_lights_its_mel_bin_in_the_last_frames_only() {
        // 1 s of 1 kHz at the end of the window: left-padded, so only the last ~100 frames
        // carry it.
        let audio: Vec<f32> = (0..SAMPLE_RATE)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / SAMPLE_RATE as f32).sin())
            .collect();
        let f = LogMel::new().features(&audio);
        assert_eq!(f.len(), N_MELS * N_FRAMES);
        let at = |m: usize, t: usize| f[m * N_FRAMES + t];
        let loudest = (0..N_MELS).max_by(|&a, &b| at(a, 750).total_cmp(&at(b, 750))).unwrap();
        // 1 kHz is mel 15 of 0..~45.2 over 81 intervals: bin ~26.
        assert!((25..=27).contains(&loudest), "{loudest}");
        assert!(at(loudest, 750) > at(loudest, 100) + 1.0);
        // Values are in the scaled range: the maximum is (max + 4) / 4, the floor 2 below it.
        let max = f.iter().copied().fold(f32::MIN, f32::max);
        let min = f.iter().copied().fold(f32::MAX, f32::min);
        assert!(max - min <= 2.0 + 1e-5, "{min} {max}");
    }

    #[test]
    fn only_the_last_eight_seconds_count() {
        let long: Vec<f32> = (0..WINDOW_SAMPLES + 5000)
            .map(|i| ((i % 97) as f32 / 97.0) - 0.5)
            .collect();
        let mel = LogMel::new();
        assert_eq!(mel.features(&long), mel.features(&long[5000..]));
    }
}
