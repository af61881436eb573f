//! Detection of a steady tone (an answering machine's beep) in 20 ms frames.
//!
//! A beep is a pure tone: the normalized autocorrelation of the frame peaks near 1 at the
//! tone's period, and that period holds frame after frame. Voiced speech also correlates at
//! its pitch period, but neither as strongly nor as steadily for 120 ms at beep frequencies
//! (400-2000 Hz), which is what tells them apart here.

use parley_telephony::audio::{level_dbfs, PcmFrame};

/// Feeds frames; reports when a tone of at least `min_frames` has just ended.
#[derive(Debug, Default)]
pub struct ToneDetector {
    run: u32,
    lag: usize,
}

const MIN_FRAMES: u32 = 6;

impl ToneDetector {
    /// Returns true on the first frame after a tone of at least 120 ms.
    pub fn push(&mut self, f: &PcmFrame) -> bool {
        match tonal_lag(f) {
            Some(lag) if self.run == 0 || lag.abs_diff(self.lag) <= 1 => {
                self.run += 1;
                self.lag = lag;
                false
            }
            other => {
                let ended = self.run >= MIN_FRAMES;
                self.run = u32::from(other.is_some());
                self.lag = other.unwrap_or(0);
                ended
            }
        }
    }

    /// Whether a tone is sounding now (long enough to count).
    pub fn in_tone(&self) -> bool {
        self.run >= MIN_FRAMES
    }
}

/// The period (in samples) of the frame if it is a loud, pure tone between 400 and 2000 Hz.
fn tonal_lag(f: &PcmFrame) -> Option<usize> {
    if level_dbfs(f) < -35.0 {
        return None;
    }
    let x: Vec<f64> = f.iter().map(|&s| s as f64).collect();
    let energy: f64 = x.iter().map(|v| v * v).sum();
    let mut best = (0usize, 0.0f64);
    for lag in 4..=20 {
        let (mut num, mut e1, mut e2) = (0.0, 0.0, 0.0);
        for i in 0..x.len() - lag {
            num += x[i] * x[i + lag];
            e1 += x[i] * x[i];
            e2 += x[i + lag] * x[i + lag];
        }
        let r = num / (e1 * e2).sqrt().max(1.0);
        if r > best.1 {
            best = (lag, r);
        }
    }
    (energy > 0.0 && best.1 > 0.95).then_some(best.0)
}

/// A beep as answering machines play it (1 kHz, `ms` long, at -10 dBFS), for personas and tests.
pub fn beep(ms: u32) -> Vec<i16> {
    let n = (ms as usize) * 8;
    (0..n)
        .map(|i| (10362.0 * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 8000.0).sin()) as i16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_telephony::audio::frames;

    #[test]
    fn a_beep_is_found_when_it_ends_and_noise_is_not_a_beep() {
        let mut d = ToneDetector::default();
        let mut audio = beep(500);
        audio.extend(vec![0i16; 800]);
        let hits: Vec<usize> = frames(&audio)
            .enumerate()
            .filter(|(_, f)| d.push(f))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(hits, [25]);
        // Pseudo-random noise: never tonal.
        let mut d = ToneDetector::default();
        let mut seed = 12345u32;
        let noise: Vec<i16> = (0..8000)
            .map(|_| {
                seed = seed.wrapping_mul(1103515245).wrapping_add(12345);
                ((seed >> 16) as i16) / 4
            })
            .collect();
        assert!(!frames(&noise).any(|f| d.push(&f)));
    }
}
