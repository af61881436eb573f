//! The call recording: a stereo WAV, caller on the left, agent on the right.
//!
//! Both channels advance one frame per 20 ms tick of the call's clock (the caller's frames as
//! they arrived, the agent's as they were sent), so the two stay aligned to the frame and the
//! recording shows exactly what each side heard and when: the barge-in tests read it.

use crate::frame::{Frame, Out, Processor};
use parley_telephony::audio::{PcmFrame, SAMPLE_RATE};
use std::path::Path;

#[derive(Default)]
pub struct Recorder {
    caller: Vec<i16>,
    agent: Vec<i16>,
}

impl Recorder {
    pub fn caller(&mut self, f: &PcmFrame) {
        self.caller.extend_from_slice(f);
    }

    pub fn agent(&mut self, f: &PcmFrame) {
        self.agent.extend_from_slice(f);
    }

    /// The caller's channel: what the pipeline heard, frame by frame.
    pub fn caller_pcm(&self) -> &[i16] {
        &self.caller
    }

    /// The agent's channel: what the pipeline sent, one frame per tick.
    pub fn agent_pcm(&self) -> &[i16] {
        &self.agent
    }

    /// Duration recorded so far, in milliseconds.
    pub fn duration_ms(&self) -> i64 {
        (self.caller.len().max(self.agent.len()) as i64) * 1000 / SAMPLE_RATE as i64
    }

    /// Writes the stereo WAV (16-bit, 8 kHz) atomically: a temporary file renamed into place.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("wav.part");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&tmp, spec).map_err(std::io::Error::other)?;
        let n = self.caller.len().max(self.agent.len());
        for i in 0..n {
            w.write_sample(self.caller.get(i).copied().unwrap_or(0))
                .map_err(std::io::Error::other)?;
            w.write_sample(self.agent.get(i).copied().unwrap_or(0))
                .map_err(std::io::Error::other)?;
        }
        w.finalize().map_err(std::io::Error::other)?;
        std::fs::rename(tmp, path)
    }
}

/// The chain's last stage: records the caller's frames as they arrive and the agent's as they
/// are sent.
impl Processor for Recorder {
    fn process(&mut self, frame: Frame, out: &mut Out) {
        match &frame {
            Frame::CallerAudio { pcm, .. } => self.caller(pcm),
            Frame::AgentFrame { pcm } => self.agent(pcm),
            _ => {}
        }
        out.pass(frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_caller_left_agent_right() {
        let dir = std::env::temp_dir().join(format!("parley-rec-{}", std::process::id()));
        let path = dir.join("x.wav");
        let mut r = Recorder::default();
        r.caller(&[100; 160]);
        r.agent(&[-7; 160]);
        r.caller(&[1; 160]);
        r.write(&path).unwrap();
        let mut rd = hound::WavReader::open(&path).unwrap();
        assert_eq!(rd.spec().channels, 2);
        let s: Vec<i16> = rd.samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(&s[..2], &[100, -7]);
        assert_eq!(&s[320..322], &[1, 0]);
        assert_eq!(r.duration_ms(), 40);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
