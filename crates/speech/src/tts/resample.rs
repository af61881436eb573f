//! Rational-ratio resampling with a Kaiser-windowed sinc, polyphase.
//!
//! Both voices produce 22 050 Hz; the phone wants 8 000 Hz. 22 050 → 8 000 is exactly 160/441,
//! so one precomputed filter per output phase (160 of them) does the job with no drift and no
//! interpolation between phases. Written here rather than taken from a crate because it is ~100
//! lines, needs no streaming, and its anti-aliasing is pinned to the phone band: flat to
//! 3.5 kHz, at least 80 dB down from 4.1 kHz on (what folds back lands above 3.9 kHz, outside
//! the 300–3 400 Hz telephone band). Cost: 192 multiply-adds per output sample, about 1.5 M per
//! second of audio — a millisecond or so.

/// A resampler between two fixed rates.
#[derive(Debug, Clone)]
pub struct Resampler {
    from: u32,
    to: u32,
    /// Up factor L and down factor M (`to/from = L/M`, reduced).
    up: usize,
    down: usize,
    /// Half the number of taps per phase.
    half: usize,
    /// `phases[p]` are the taps for output samples whose input position has fraction `p / up`.
    phases: Vec<Vec<f32>>,
}

/// Stopband attenuation of the anti-aliasing filter, dB.
const ATTENUATION_DB: f64 = 80.0;

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Zeroth-order modified Bessel function of the first kind (power series), for the Kaiser window.
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..64 {
        term *= q / (k as f64 * k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

impl Resampler {
    /// A resampler from `from` Hz to `to` Hz. The low-pass sits below the lower of the two
    /// Nyquist frequencies: passband to 87.5 % of it, stopband from 102.5 % (with the phone's
    /// 8 kHz: 3.5 kHz and 4.1 kHz).
    pub fn new(from: u32, to: u32) -> Self {
        assert!(from > 0 && to > 0, "sample rates must be positive");
        let g = gcd(from as u64, to as u64);
        let up = (to as u64 / g) as usize;
        let down = (from as u64 / g) as usize;
        let nyquist = from.min(to) as f64 / 2.0;
        // Band edges in cycles per input sample.
        let pass = 0.875 * nyquist / from as f64;
        let stop = 1.025 * nyquist / from as f64;
        let cutoff = (pass + stop) / 2.0;
        let transition = 2.0 * std::f64::consts::PI * (stop - pass);
        // Kaiser's estimate of the length for this attenuation and transition width.
        let taps = ((ATTENUATION_DB - 7.95) / (2.285 * transition)).ceil() as usize + 1;
        let half = taps.div_ceil(2).max(2);
        let beta = 0.1102 * (ATTENUATION_DB - 8.7);
        let i0_beta = bessel_i0(beta);
        let kernel = |d: f64| -> f64 {
            // d: distance in input samples between the output instant and the tap.
            let r = d / half as f64;
            if r.abs() >= 1.0 {
                return 0.0;
            }
            let x = 2.0 * cutoff * d;
            let sinc = if x.abs() < 1e-12 {
                1.0
            } else {
                (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
            };
            2.0 * cutoff * sinc * bessel_i0(beta * (1.0 - r * r).sqrt()) / i0_beta
        };
        let phases = (0..up)
            .map(|p| {
                let frac = p as f64 / up as f64;
                // Taps for input k0 - half + 1 + j, j in 0..2*half; d = frac + half - 1 - j.
                let raw: Vec<f64> = (0..2 * half)
                    .map(|j| kernel(frac + half as f64 - 1.0 - j as f64))
                    .collect();
                // Unit gain at DC for every phase, so a constant stays a constant.
                let sum: f64 = raw.iter().sum();
                raw.iter().map(|h| (h / sum) as f32).collect()
            })
            .collect();
        Self {
            from,
            to,
            up,
            down,
            half,
            phases,
        }
    }

    /// The input rate, Hz.
    pub fn from_rate(&self) -> u32 {
        self.from
    }

    /// The output rate, Hz.
    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// Resamples a whole signal (zeros assumed outside it). The output has
    /// `ceil(len · to / from)` samples.
    pub fn process(&self, input: &[f32]) -> Vec<f32> {
        if input.is_empty() {
            return Vec::new();
        }
        let out_len = (input.len() * self.up).div_ceil(self.down);
        let mut out = Vec::with_capacity(out_len);
        let n_in = input.len() as isize;
        for n in 0..out_len {
            let pos = n * self.down;
            let k0 = (pos / self.up) as isize;
            let taps = &self.phases[pos % self.up];
            let first = k0 - self.half as isize + 1;
            let acc = if first >= 0 && first + taps.len() as isize <= n_in {
                let window = &input[first as usize..first as usize + taps.len()];
                dot(window, taps)
            } else {
                taps.iter()
                    .enumerate()
                    .filter_map(|(j, h)| {
                        let k = first + j as isize;
                        (0..n_in).contains(&k).then(|| input[k as usize] * h)
                    })
                    .sum()
            };
            out.push(acc);
        }
        out
    }
}

/// A [`Resampler`] fed in pieces, for audio that arrives as it is made (a cloud voice's
/// stream): each output sample leaves as soon as every input tap it needs has arrived (half the
/// filter, about 4 ms at 24 kHz, behind), and [`StreamingResampler::finish`] pads the end with
/// zeros, so the pieces add up to [`Resampler::process`] of the whole signal.
#[derive(Debug, Clone)]
pub struct StreamingResampler {
    resampler: Resampler,
    /// Input kept for taps still to come; `buf[0]` is input sample `base`.
    buf: Vec<f32>,
    base: usize,
    /// Input samples received, and the next output sample's index.
    received: usize,
    next: usize,
}

impl StreamingResampler {
    pub fn new(resampler: Resampler) -> Self {
        Self {
            resampler,
            buf: Vec::new(),
            base: 0,
            received: 0,
            next: 0,
        }
    }

    /// Takes more input; returns the output it completes.
    pub fn push(&mut self, input: &[f32]) -> Vec<f32> {
        self.buf.extend_from_slice(input);
        self.received += input.len();
        let mut out = Vec::new();
        while let Some(y) = self.output(self.next, false) {
            out.push(y);
            self.next += 1;
        }
        // Drop the input no later output reaches back to.
        let (first, _) = self.window(self.next);
        let keep_from = first.max(0) as usize;
        if keep_from > self.base {
            let drop = (keep_from - self.base).min(self.buf.len());
            self.buf.drain(..drop);
            self.base += drop;
        }
        out
    }

    /// The end of the input: the rest of the output, zeros assumed after the last sample.
    pub fn finish(mut self) -> Vec<f32> {
        let r = &self.resampler;
        let total = (self.received * r.up).div_ceil(r.down);
        let mut out = Vec::with_capacity(total.saturating_sub(self.next));
        while self.next < total {
            out.push(self.output(self.next, true).unwrap_or(0.0));
            self.next += 1;
        }
        out
    }

    /// The first input sample output `n` reads, and its filter phase.
    fn window(&self, n: usize) -> (isize, usize) {
        let r = &self.resampler;
        let pos = n * r.down;
        ((pos / r.up) as isize - r.half as isize + 1, pos % r.up)
    }

    /// Output `n`, if its input has arrived (or, at the end, as far as it has).
    fn output(&self, n: usize, end: bool) -> Option<f32> {
        let (first, phase) = self.window(n);
        let taps = &self.resampler.phases[phase];
        let last = first + taps.len() as isize - 1;
        if !end && last >= self.received as isize {
            return None;
        }
        let base = self.base as isize;
        let kept = base + self.buf.len() as isize;
        if first >= base && last < kept {
            let from = (first - base) as usize;
            return Some(dot(&self.buf[from..from + taps.len()], taps));
        }
        Some(
            taps.iter()
                .enumerate()
                .filter_map(|(j, h)| {
                    let k = first + j as isize;
                    (base..kept).contains(&k).then(|| self.buf[(k - base) as usize] * h)
                })
                .sum(),
        )
    }
}

/// Dot product in eight independent lanes, which the compiler turns into SIMD (a single running
/// sum would force one add at a time, in order).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for ((l, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *l += x * y;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, secs: f64) -> Vec<f32> {
        let n = (rate as f64 * secs) as usize;
        (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin() as f32 * 0.5)
            .collect()
    }

    /// RMS of the middle half, away from the edges' transients.
    fn mid_rms(x: &[f32]) -> f64 {
        let mid = &x[x.len() / 4..3 * x.len() / 4];
        (mid.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / mid.len() as f64).sqrt()
    }

    #[test]
    fn ratio_and_length() {
        let r = Resampler::new(22050, 8000);
        assert_eq!((r.up, r.down), (160, 441));
        assert_eq!(r.process(&vec![0.0; 22050]).len(), 8000);
        assert_eq!(r.process(&[1.0]).len(), 1);
        let x: Vec<f32> = (0..19).map(|i| i as f32).collect();
        assert_eq!(dot(&x, &x), x.iter().map(|v| v * v).sum::<f32>());
        assert!(r.process(&[]).is_empty());
    }

    #[test]
    fn passband_is_kept_and_aliases_are_removed() {
        let r = Resampler::new(22050, 8000);
        let expected = 0.5 / 2f64.sqrt();
        for f in [300.0, 1000.0, 3400.0] {
            let out = r.process(&tone(f, 22050, 1.0));
            let rms = mid_rms(&out);
            assert!((rms / expected - 1.0).abs() < 0.01, "{f} Hz: rms {rms} vs {expected}");
        }
        // 4.5 kHz and 7 kHz would fold to 3.5 kHz and 1 kHz: must be at least 70 dB down.
        for f in [4500.0, 7000.0, 10000.0] {
            let out = r.process(&tone(f, 22050, 1.0));
            let db = 20.0 * (mid_rms(&out) / expected).log10();
            assert!(db < -70.0, "{f} Hz leaks at {db:.1} dB");
        }
    }

    #[test]
    fn streaming_in_pieces_matches_the_whole() {
        let r = Resampler::new(24000, 8000);
        let signal: Vec<f32> = tone(1000.0, 24000, 0.3)
            .iter()
            .zip(tone(3100.0, 24000, 0.3))
            .map(|(a, b)| a + b * 0.5)
            .collect();
        let whole = r.process(&signal);
        for piece in [1, 7, 333, 480, 5000] {
            let mut s = StreamingResampler::new(r.clone());
            let mut out = Vec::new();
            for chunk in signal.chunks(piece) {
                out.extend(s.push(chunk));
            }
            out.extend(s.finish());
            assert_eq!(out.len(), whole.len(), "pieces of {piece}");
            for (a, b) in out.iter().zip(&whole) {
                assert!((a - b).abs() < 1e-5, "pieces of {piece}: {a} vs {b}");
            }
        }
        // A length that does not divide: ceil(1001 / 3).
        let mut s = StreamingResampler::new(r);
        let mut n = s.push(&[0.1; 1001]).len();
        n += s.finish().len();
        assert_eq!(n, 334);
    }

    #[test]
    fn constant_stays_constant() {
        let r = Resampler::new(22050, 8000);
        let out = r.process(&vec![0.25; 4410]);
        for v in &out[200..out.len() - 200] {
            assert!((v - 0.25).abs() < 1e-4, "{v}");
        }
    }
}
