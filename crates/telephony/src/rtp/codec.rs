//! G.711 on the wire: PCMU (static payload type 0) and PCMA (8). The pipeline speaks mu-law only.
//!
//! Decision: A-law is converted to and from mu-law byte by byte through two 256-entry tables
//! built once from `audio-codec`'s own G.711 (A-law -> linear -> mu-law and back), instead of a
//! trip through linear PCM for every frame. The tables are exactly that trip, precomputed: the
//! only loss is G.711's own re-quantization, which the tests bound. Mu-law passes through as is.

use crate::audio::MulawFrame;
use audio_codec::{Decoder, Encoder};
use std::sync::OnceLock;

/// A negotiated G.711 codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 mu-law, payload type 0.
    Pcmu,
    /// G.711 A-law, payload type 8.
    Pcma,
}

impl Codec {
    /// The static RTP payload type (RFC 3551).
    pub const fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The codec of a static payload type, if it is G.711.
    pub const fn from_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The SDP encoding name (`a=rtpmap:PT NAME/8000`).
    pub const fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// Appends one mu-law frame, encoded for the wire, to `out`.
    pub fn encode(self, frame: &MulawFrame, out: &mut Vec<u8>) {
        match self {
            Codec::Pcmu => out.extend_from_slice(frame),
            Codec::Pcma => {
                let t = &tables().mulaw_to_alaw;
                out.extend(frame.iter().map(|&b| t[b as usize]));
            }
        }
    }

    /// Converts a wire payload to mu-law in place.
    pub fn to_mulaw_in_place(self, payload: &mut [u8]) {
        if self == Codec::Pcma {
            let t = &tables().alaw_to_mulaw;
            for b in payload {
                *b = t[*b as usize];
            }
        }
    }
}

struct Tables {
    alaw_to_mulaw: [u8; 256],
    mulaw_to_alaw: [u8; 256],
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let all: Vec<u8> = (0..=255u8).collect();
        let mut pcm = [0i16; 256];
        let mut t = Tables {
            alaw_to_mulaw: [0; 256],
            mulaw_to_alaw: [0; 256],
        };
        let _ = audio_codec::pcma::PcmaDecoder::new().decode_into(&all, &mut pcm);
        let _ = audio_codec::pcmu::PcmuEncoder::new().encode_into(&pcm, &mut t.alaw_to_mulaw);
        let _ = audio_codec::pcmu::PcmuDecoder::new().decode_into(&all, &mut pcm);
        let _ = audio_codec::pcma::PcmaEncoder::new().encode_into(&pcm, &mut t.mulaw_to_alaw);
        t
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{decode, encode, FRAME_SAMPLES, MULAW_SILENCE};

    fn tone() -> [i16; FRAME_SAMPLES] {
        let mut pcm = [0i16; FRAME_SAMPLES];
        for (i, s) in pcm.iter_mut().enumerate() {
            *s = (12000.0 * (i as f64 * 2.0 * std::f64::consts::PI * 440.0 / 8000.0).sin()) as i16;
        }
        pcm
    }

    #[test]
    fn payload_types() {
        assert_eq!(Codec::from_payload_type(0), Some(Codec::Pcmu));
        assert_eq!(Codec::from_payload_type(8), Some(Codec::Pcma));
        assert_eq!(Codec::from_payload_type(18), None);
        assert_eq!(Codec::Pcma.payload_type(), 8);
    }

    #[test]
    fn an_alaw_stream_decodes_to_the_mulaw_audio_within_quantization_error() {
        let pcm = tone();
        // The far end encodes the same tone as A-law; we decode it to mu-law for the pipeline.
        let mut alaw = [0u8; FRAME_SAMPLES];
        audio_codec::pcma::PcmaEncoder::new()
            .encode_into(&pcm, &mut alaw)
            .unwrap();
        Codec::Pcma.to_mulaw_in_place(&mut alaw);
        let via_alaw = decode(&alaw);
        let via_mulaw = decode(&encode(&pcm));
        for ((a, b), orig) in via_alaw.iter().zip(via_mulaw.iter()).zip(pcm.iter()) {
            // Both within G.711's step at this level (|x| <= 12000: steps of at most 512).
            assert!((*a as i32 - *orig as i32).abs() <= 1024, "{a} vs {orig}");
            assert!((*a as i32 - *b as i32).abs() <= 1024, "{a} vs {b}");
        }
    }

    #[test]
    fn mulaw_frames_encode_to_alaw_and_back() {
        let mu = encode(&tone());
        let mut wire = Vec::new();
        Codec::Pcma.encode(&mu, &mut wire);
        assert_eq!(wire.len(), FRAME_SAMPLES);
        Codec::Pcma.to_mulaw_in_place(&mut wire);
        let (a, b) = (decode(&mu), decode(wire.as_slice().try_into().unwrap()));
        for (x, y) in a.iter().zip(b.iter()) {
            assert!((*x as i32 - *y as i32).abs() <= 1024);
        }
        let mut silence = Vec::new();
        Codec::Pcma.encode(&MULAW_SILENCE, &mut silence);
        Codec::Pcma.to_mulaw_in_place(&mut silence);
        assert!(decode(silence.as_slice().try_into().unwrap())
            .iter()
            .all(|s| s.abs() <= 8));
        let mut pass = Vec::new();
        Codec::Pcmu.encode(&mu, &mut pass);
        assert_eq!(pass, mu);
    }
}
