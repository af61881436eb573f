//! The processors of one call's chain, in chain order (downstream = towards the agent's voice):
//!
//! 0. [`watchdog::Watchdog`]: no audio from the network for too long, or the call too long.
//! 1. [`crate::vad::VadStage`]: caller audio in, speech start and end out.
//! 2. [`endpointer::Endpointer`]: gathers the caller's utterance, asks for speculative
//!    transcriptions and decides when the caller's turn is over.
//! 3. [`screening::Screening`]: "Hello?" or an answering machine, before the agent speaks; the
//!    beep; the voicemail message.
//! 4. [`judge::BargeJudge`]: caller speech over the agent: a backchannel, or an interruption.
//! 5. [`silence::SilenceHandler`]: the caller's silence once the agent listens.
//! 6. [`turns::TurnManager`]: the agent bridge: numbers the agent's turns and gives it inputs
//!    (a caller going on right after their turn ended: both parts as one).
//! 7. [`speaker::Speaker`]: the agent's text to speech, sentence by sentence, in order.
//! 8. [`pacer::Pacer`]: the agent's audio out, one 20 ms frame per tick.
//! 9. [`conversation::Conversation`]: the transcript and each turn's latency.
//! 10. [`crate::recorder::Recorder`]: the stereo recording.
//!
//! The facts that flow back up are few: the agent's floor and its listening (from the pacer,
//! for the judge and the silence handler), and what the endpointer must do with the open
//! utterance (judged over-talk, a backchannel, an answering machine's greeting).

pub mod conversation;
pub mod endpointer;
pub mod judge;
pub mod pacer;
pub mod screening;
pub mod silence;
pub mod speaker;
pub mod turns;
pub mod watchdog;

#[cfg(test)]
pub(crate) mod test_util {
    use crate::frame::{Dir, Frame, Out, Processor};

    /// Feeds one downstream frame; returns what came out.
    pub fn feed(p: &mut impl Processor, f: Frame) -> Vec<(Dir, Frame)> {
        let mut out = Out::new(Dir::Down);
        p.process(f, &mut out);
        out.take()
    }

    /// Feeds one upstream frame; returns what came out.
    pub fn feed_up(p: &mut impl Processor, f: Frame) -> Vec<(Dir, Frame)> {
        let mut out = Out::new(Dir::Up);
        p.process(f, &mut out);
        out.take()
    }

    /// The frames that came out, without the frame fed (passed through unchanged).
    pub fn new_frames(out: Vec<(Dir, Frame)>, passed: &Frame) -> Vec<(Dir, Frame)> {
        out.into_iter().filter(|(_, f)| f != passed).collect()
    }
}
