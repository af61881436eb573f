//! The wire format of every Parley phone network: 8 kHz mono G.711 mu-law, 20 ms per frame.

use audio_codec::{Decoder, Encoder};

/// Samples per second on the phone network.
pub const SAMPLE_RATE: u32 = 8000;
/// Samples (and mu-law bytes) in one 20 ms frame.
pub const FRAME_SAMPLES: usize = 160;
/// The frame duration.
pub const FRAME: std::time::Duration = std::time::Duration::from_millis(20);
/// One frame of mu-law audio as carried by the network.
pub type MulawFrame = [u8; FRAME_SAMPLES];
/// One frame of linear PCM.
pub type PcmFrame = [i16; FRAME_SAMPLES];
/// Mu-law's encoding of silence (linear 0).
pub const MULAW_SILENCE: MulawFrame = [0xFF; FRAME_SAMPLES];

/// Encodes one PCM frame to mu-law.
pub fn encode(pcm: &PcmFrame) -> MulawFrame {
    let mut out = [0u8; FRAME_SAMPLES];
    let mut enc = audio_codec::pcmu::PcmuEncoder::new();
    let n = enc.encode_into(pcm, &mut out).unwrap_or(0);
    debug_assert_eq!(n, FRAME_SAMPLES);
    out
}

/// Decodes one mu-law frame to PCM.
pub fn decode(mu: &MulawFrame) -> PcmFrame {
    let mut out = [0i16; FRAME_SAMPLES];
    let mut dec = audio_codec::pcmu::PcmuDecoder::new();
    let n = dec.decode_into(mu, &mut out).unwrap_or(0);
    debug_assert_eq!(n, FRAME_SAMPLES);
    out
}

/// Splits PCM into whole frames, padding the last one with silence.
pub fn frames(pcm: &[i16]) -> impl Iterator<Item = PcmFrame> + '_ {
    pcm.chunks(FRAME_SAMPLES).map(|c| {
        let mut f = [0i16; FRAME_SAMPLES];
        f[..c.len()].copy_from_slice(c);
        f
    })
}

/// Root-mean-square level of a frame in dBFS (-100 for digital silence).
pub fn level_dbfs(pcm: &[i16]) -> f32 {
    if pcm.is_empty() {
        return -100.0;
    }
    let sum: f64 = pcm.iter().map(|&s| (s as f64) * (s as f64)).sum();
    let rms = (sum / pcm.len() as f64).sqrt();
    if rms < 1.0 {
        -100.0
    } else {
        (20.0 * (rms / 32768.0).log10()) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mulaw_round_trip_keeps_a_tone_within_quantization_error() {
        let mut pcm = [0i16; FRAME_SAMPLES];
        for (i, s) in pcm.iter_mut().enumerate() {
            *s = (8000.0 * (i as f64 * 2.0 * std::f64::consts::PI * 440.0 / 8000.0).sin()) as i16;
        }
        let back = decode(&encode(&pcm));
        for (a, b) in pcm.iter().zip(back.iter()) {
            assert!((*a as i32 - *b as i32).abs() <= 8000 / 16, "{a} vs {b}");
        }
        assert_eq!(decode(&MULAW_SILENCE), [0i16; FRAME_SAMPLES]);
        assert!(level_dbfs(&pcm) > -16.0 && level_dbfs(&[0; 160]) == -100.0);
    }

    #[test]
    fn frames_pad_the_tail() {
        let v: Vec<_> = frames(&[1i16; 170]).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1][9], 1);
        assert_eq!(v[1][10], 0);
    }
}
