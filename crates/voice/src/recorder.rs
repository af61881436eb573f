//! The call recording: a stereo WAV, caller on the left, agent on the right.
//!
//! Both channels advance one frame per 20 ms tick of the call's clock (the caller's frames as
//! they arrived, the agent's as they were sent), so the two stay aligned to the frame and the
//! recording shows exactly what each side heard and when: the barge-in tests read it.

use crate::frame::{Frame, Out, Processor};
use parley_telephony::audio::{PcmFrame, SAMPLE_RATE};
use std::fs::Permissions;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
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
    /// A call's audio is private: the file is 0600 and a folder made for it 0700, set explicitly
    /// (not left to the umask).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
            std::fs::set_permissions(dir, Permissions::from_mode(0o700))?;
        }
        let tmp = path.with_extension("wav.part");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        // Also for a stale temporary file left with other permissions.
        file.set_permissions(Permissions::from_mode(0o600))?;
        let mut w = hound::WavWriter::new(std::io::BufWriter::new(file), spec).map_err(std::io::Error::other)?;
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

    /// Recordings are readable by Parley's user only, whatever the umask (the test process's is
    /// typically 022, which would leave a plain create 0644 and a folder 0755).
    #[test]
    fn recordings_are_private() {
        let dir = std::env::temp_dir().join(format!("parley-rec-perm-{}", std::process::id()));
        let path = dir.join("recordings").join("x.wav");
        let mut r = Recorder::default();
        r.caller(&[1; 160]);
        r.write(&path).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        // A second recording in the existing folder, over a stale temporary file left 0644.
        let stale = dir.join("recordings").join("y.wav.part");
        std::fs::write(&stale, b"junk").unwrap();
        std::fs::set_permissions(&stale, std::fs::Permissions::from_mode(0o644)).unwrap();
        let second = dir.join("recordings").join("y.wav");
        r.write(&second).unwrap();
        assert_eq!(mode(&second), 0o600);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
