//! The last steps every voice shares: to the phone's rate, trimmed, levelled, to i16.

use super::resample::Resampler;
use crate::PHONE_RATE;

/// Peak level of every synthesized utterance (−0.9 dBFS). Piper normalizes each sentence's peak
/// to full scale; a little headroom here keeps the G.711 encoder and any later mixing from
/// clipping, and gives the Piper and espeak-ng voices the same loudness.
pub const TARGET_PEAK: f32 = 0.9;

/// Silence kept before the first and after the last audible frame. The models pad their output
/// with up to a few hundred milliseconds of silence, which the caller would hear as a slow
/// answer; a little is kept so the first consonant is not clipped.
pub const KEEP_SILENCE_MS: usize = 30;

/// A frame is audible when its RMS is within this factor (−40 dB) of the loudest frame's.
const AUDIBLE_RELATIVE: f32 = 0.01;
/// … and above this absolute RMS (−70 dBFS), so a silent utterance yields nothing.
const AUDIBLE_ABSOLUTE: f32 = 3e-4;
/// Normalization never amplifies more than this, so a whispered artefact does not become a shout.
const MAX_GAIN: f32 = 20.0;

/// Native-rate float audio to the phone's 8 kHz i16: resampled (anti-aliased), leading and
/// trailing silence trimmed to [`KEEP_SILENCE_MS`], peak set to [`TARGET_PEAK`], clipped.
pub(crate) fn to_phone(native: &[f32], resampler: &Resampler) -> Vec<i16> {
    debug_assert_eq!(resampler.to_rate(), PHONE_RATE);
    let audio = resampler.process(native);
    let audio = trim_silence(&audio, PHONE_RATE as usize);
    let peak = audio.iter().fold(0f32, |m, v| m.max(v.abs()));
    let gain = if peak > 0.0 {
        (TARGET_PEAK / peak).min(MAX_GAIN)
    } else {
        1.0
    };
    audio.iter().map(|v| float_to_i16(v * gain)).collect()
}

/// Float in [-1, 1] to i16, clipping what lies outside.
pub(crate) fn float_to_i16(v: f32) -> i16 {
    (v * 32767.0).round().clamp(-32768.0, 32767.0) as i16
}

/// Keeps the audible part of `audio` plus [`KEEP_SILENCE_MS`] each side; empty when nothing is
/// audible.
pub(crate) fn trim_silence(audio: &[f32], rate: usize) -> &[f32] {
    let frame = (rate / 100).max(1); // 10 ms
    let rms: Vec<f32> = audio
        .chunks(frame)
        .map(|c| (c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32).sqrt())
        .collect();
    let loudest = rms.iter().fold(0f32, |m, v| m.max(*v));
    let threshold = (loudest * AUDIBLE_RELATIVE).max(AUDIBLE_ABSOLUTE);
    let Some(first) = rms.iter().position(|r| *r >= threshold) else {
        return &[];
    };
    let last = rms.iter().rposition(|r| *r >= threshold).unwrap_or(first);
    let keep = rate * KEEP_SILENCE_MS / 1000;
    let start = (first * frame).saturating_sub(keep);
    let end = ((last + 1) * frame + keep).min(audio.len());
    &audio[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_to_the_audible_part_with_margin() {
        let rate = 8000;
        let mut audio = vec![0.0f32; 4000];
        audio.extend((0..800).map(|i| (i as f32 * 0.3).sin() * 0.5));
        audio.extend(vec![0.0f32; 4000]);
        let t = trim_silence(&audio, rate);
        assert_eq!(t.len(), 800 + 2 * 240);
        assert!(trim_silence(&[0.0; 1000], rate).is_empty());
        assert!(trim_silence(&[], rate).is_empty());
    }

    #[test]
    fn levels_and_clips() {
        assert_eq!(float_to_i16(2.0), 32767);
        assert_eq!(float_to_i16(-2.0), -32768);
        assert_eq!(float_to_i16(0.0), 0);
        let r = Resampler::new(PHONE_RATE, PHONE_RATE);
        let pcm = to_phone(&(0..8000).map(|i| (i as f32 * 0.2).sin() * 0.1).collect::<Vec<_>>(), &r);
        let peak = pcm.iter().map(|v| v.unsigned_abs()).max().unwrap();
        assert!((29000..=29500).contains(&peak), "{peak}");
    }
}
