//! The fake Twilio's far party as a listener: it hears the agent's audio as it is played out,
//! answers with the next of its replies once the agent has spoken and fallen quiet, and notes
//! when each of its own utterances ended and when the agent's speech began, so a client can
//! measure turn latency where the callee would: at the phone.
//!
//! Sans-I/O like the rest of the protocol code: one call per 20 ms tick with the played and the
//! sent audio and the time; no clock or socket here.

use crate::audio::{decode, MulawFrame, FRAME_SAMPLES};
use std::collections::VecDeque;

/// RMS (linear 16-bit) above which a 20 ms frame counts as speech.
const VOICED_RMS: f64 = 300.0;
/// Quiet frames before a voiced one that make it an onset (300 ms: a pause inside a sentence
/// is not a new turn).
const ONSET_AFTER_QUIET_FRAMES: u32 = 15;

/// Whether a frame of mu-law is loud enough to be speech.
pub fn voiced(frame: &[u8]) -> bool {
    if frame.len() != FRAME_SAMPLES {
        return false;
    }
    let mut f: MulawFrame = [0xFF; FRAME_SAMPLES];
    f.copy_from_slice(frame);
    let pcm = decode(&f);
    let energy: f64 = pcm.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / FRAME_SAMPLES as f64;
    energy.sqrt() > VOICED_RMS
}

/// The listening side of a scripted far party.
#[derive(Debug)]
pub struct Party {
    replies: VecDeque<Vec<u8>>,
    reply_after_quiet_frames: u32,
    quiet_frames: u32,
    agent_spoke: bool,
    caller_speaking: bool,
    last_caller_voiced_ms: Option<u64>,
    /// Milliseconds (from the stream's start) at which each caller utterance's last voiced
    /// frame went out (the synthesized words' trailing silence is not part of the turn).
    pub caller_ends_ms: Vec<u64>,
    /// Milliseconds at which the agent's speech began after a quiet spell, as played out.
    pub agent_onsets_ms: Vec<u64>,
}

impl Party {
    /// A party that says `replies` one after another, each once the agent has spoken and then
    /// been quiet for `reply_after_quiet_ms`.
    pub fn new(replies: Vec<Vec<u8>>, reply_after_quiet_ms: u64) -> Self {
        Party {
            replies: replies.into(),
            reply_after_quiet_frames: (reply_after_quiet_ms / 20).max(1) as u32,
            quiet_frames: ONSET_AFTER_QUIET_FRAMES,
            agent_spoke: false,
            caller_speaking: false,
            last_caller_voiced_ms: None,
            caller_ends_ms: Vec::new(),
            agent_onsets_ms: Vec::new(),
        }
    }

    /// One tick at `now_ms`: `played` is the agent audio played out in it (may be short or
    /// empty), `sent` the caller's frame sent in it, `caller_left` how much of the caller's
    /// queued audio remains after it. Returns a reply to queue, if it is time for one.
    pub fn tick(&mut self, now_ms: u64, played: &[u8], sent: &[u8], caller_left: usize) -> Option<Vec<u8>> {
        if played.len() == FRAME_SAMPLES && voiced(played) {
            if self.quiet_frames >= ONSET_AFTER_QUIET_FRAMES {
                self.agent_onsets_ms.push(now_ms);
            }
            self.quiet_frames = 0;
            self.agent_spoke = true;
        } else {
            self.quiet_frames = self.quiet_frames.saturating_add(1);
        }
        if self.caller_speaking && voiced(sent) {
            self.last_caller_voiced_ms = Some(now_ms);
        }
        if self.caller_speaking && caller_left == 0 {
            self.caller_speaking = false;
            if let Some(at) = self.last_caller_voiced_ms.take() {
                self.caller_ends_ms.push(at);
            }
        }
        if caller_left == 0 && self.agent_spoke && self.quiet_frames >= self.reply_after_quiet_frames {
            let reply = self.replies.pop_front()?;
            self.agent_spoke = false;
            self.caller_speaking = !reply.is_empty();
            return Some(reply);
        }
        None
    }

    /// Queued audio the caller starts saying outside the replies (the script's opening audio).
    pub fn caller_says(&mut self, bytes: usize) {
        if bytes > 0 {
            self.caller_speaking = true;
        }
    }

    /// Per turn: from the end of a caller utterance to the agent's next onset, in ms.
    pub fn turn_latencies_ms(&self) -> Vec<u64> {
        turn_latencies_ms(&self.caller_ends_ms, &self.agent_onsets_ms)
    }
}

/// For each caller utterance's end, the time to the agent's first onset after it (ends with no
/// onset after them, such as the last "goodbye" exchange's, make no turn).
pub fn turn_latencies_ms(caller_ends_ms: &[u64], agent_onsets_ms: &[u64]) -> Vec<u64> {
    caller_ends_ms
        .iter()
        .filter_map(|&end| agent_onsets_ms.iter().find(|&&on| on > end).map(|on| on - end))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{encode, PcmFrame};

    fn loud() -> Vec<u8> {
        let mut pcm: PcmFrame = [0; FRAME_SAMPLES];
        for (i, s) in pcm.iter_mut().enumerate() {
            *s = if i % 2 == 0 { 4000 } else { -4000 };
        }
        encode(&pcm).to_vec()
    }

    #[test]
    fn a_reply_follows_the_agents_speech_and_quiet_and_latency_is_end_to_onset() {
        // Replies: one voiced frame then one quiet one; then a quiet frame only (no turn).
        let (speech, quiet) = (loud(), vec![0xFF; 160]);
        let mut p = Party::new(vec![[speech.clone(), quiet.clone()].concat(), quiet.clone()], 400);
        let mut queue: Vec<u8> = vec![];
        let mut t = 0;
        let mut said = vec![];
        // The agent speaks 1 s, then is quiet; the party answers after 400 ms of quiet.
        for i in 0..200 {
            t += 20;
            let played = if i < 50 || (120..150).contains(&i) {
                &speech
            } else {
                &quiet
            };
            let sent: Vec<u8> = if queue.is_empty() {
                quiet.clone()
            } else {
                queue.drain(..160).collect()
            };
            if let Some(r) = p.tick(t, played, &sent, queue.len()) {
                said.push((t, r.len()));
                queue = r;
            }
        }
        // Each reply 400 ms after the agent stopped (at 1000 and 3000 ms).
        assert_eq!(said, vec![(1400, 320), (3400, 160)]);
        // The first reply's voiced frame went out at 1420 ms (its quiet one at 1440); the
        // agent's next onset is at 2420 ms. The second reply is all quiet: no turn.
        assert_eq!(p.caller_ends_ms, vec![1420]);
        assert_eq!(p.agent_onsets_ms, vec![20, 2420]);
        assert_eq!(p.turn_latencies_ms(), vec![1000]);
    }

    #[test]
    fn no_reply_before_the_agent_has_spoken() {
        let mut p = Party::new(vec![vec![1; 160]], 100);
        for t in 0..100 {
            assert!(p.tick(t * 20, &[0xFF; 160], &[0xFF; 160], 0).is_none());
        }
        assert!(!voiced(&[0xFF; 160]) && !voiced(&[0x00; 10]));
    }
}
