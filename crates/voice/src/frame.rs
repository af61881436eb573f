//! The typed frames a call's processors pass to each other, and the processor contract.
//!
//! A call is a chain of small synchronous processors (see [`crate::processors`]) owned by the
//! call's core (`pipeline::CallCore`) and driven by one task per call (`pipeline::run_call`).
//! Everything that happens is a [`Frame`]: the 20 ms clock, the caller's audio, what VAD and
//! the endpointer make of it, the agent's text and audio, barge-in decisions. A processor takes
//! one frame at a time, changes its own state and pushes frames on: downstream (towards the
//! agent's voice and the line) or, for the few facts an earlier processor needs (the agent's
//! floor, a backchannel), upstream. Work that would block the 20 ms clock (speech-to-text, the
//! agent, text-to-speech) is asked for with an [`Effect`] frame that reaches the end of the
//! chain, and its result comes back as a frame.
//!
//! Processors get time only from frames (`Tick::now`, `CallerAudio::at`), never from a clock,
//! so each one can be driven frame by frame in a unit test.

use crate::agent::{AgentInput, AgentOutput};
use crate::engines::Transcription;
use crate::pipeline::{CallEnd, CallNote};
use parley_telephony::audio::PcmFrame;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What the agent's outgoing queue holds besides audio: how its turn ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Marker {
    Listen,
    Hangup,
    Transfer(String),
}

/// Where the call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Answered; listening for "Hello?" or an answering machine before the agent speaks.
    Screening,
    /// An answering machine: waiting for its beep (or the end of its greeting).
    Machine,
    /// Leaving the voicemail message; the call ends after it.
    Messaging,
    /// The conversation.
    Talking,
}

/// A caller utterance the endpointer has declared over, with where its time went.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    pub id: u64,
    /// The transcript, trimmed (empty: noise, a cough).
    pub text: String,
    /// The first voiced frame.
    pub started: Instant,
    /// The last voiced frame.
    pub last_voice: Instant,
    /// When the endpointer declared the turn over.
    pub ended_at: Instant,
    pub stt_queue: Duration,
    pub stt: Duration,
}

/// The agent's hold on the conversation, as the outgoing queue sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Floor {
    /// Audio is queued and playing (not paused).
    pub speaking: bool,
    /// Audio is queued (paused or not).
    pub has_audio: bool,
    /// The agent has the floor: audio is queued, or its turn has begun to play and has not
    /// ended (the next sentence may still be on its way).
    pub holds: bool,
}

/// One job for the speaker task, in the agent's order.
#[derive(Debug, Clone, PartialEq)]
pub enum SpeakerJob {
    Say {
        text: String,
        fixed: bool,
    },
    /// Queued after the sentences before it, so it plays when they have.
    Mark(Marker),
}

/// Work for the call's task (the end of the chain): I/O and the slow engines.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// More of the caller's utterance for speech-to-text, as it is heard (a streaming engine
    /// listens as the caller speaks; the first piece of an utterance includes its pre-roll).
    SttAudio { utterance: u64, pcm: Arc<[i16]> },
    /// Transcribe the utterance so far (the result comes back as [`Frame::SttResult`]).
    /// `primed`: prime the recognizer with `context`, the agent's last sentence.
    Transcribe {
        utterance: u64,
        samples: usize,
        pcm: Arc<Vec<i16>>,
        primed: bool,
        context: String,
    },
    /// The current turn is now this one: everything of earlier turns is stale (the agent's
    /// work in flight is cancelled, the speaker skips old sentences).
    Turn(u64),
    /// Give the agent an input.
    ToAgent { turn: u64, input: AgentInput },
    /// Give the speaker a job.
    Speak { turn: u64, job: SpeakerJob },
    /// Tell the outside world.
    Note(CallNote),
    /// Ask the network to transfer the caller.
    Transfer(String),
    /// Drop the agent's audio already sent but not yet played at the far end (a media
    /// stream's `clear`): the playback queue was just emptied under it.
    ClearLine,
    /// The call is over.
    End(CallEnd),
}

/// Everything that passes between processors.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// The call was answered (the first frame).
    Answered { at: Instant },
    /// The 20 ms clock.
    Tick { now: Instant },
    /// 20 ms of the caller's audio, as it arrived.
    CallerAudio { pcm: PcmFrame, at: Instant },
    /// The caller pressed a key.
    Dtmf { digit: char, at: Instant },
    /// VAD: the caller started speaking; `at` is the first voiced frame, `frames_ago` frames back.
    SpeechStarted { at: Instant, frames_ago: u32 },
    /// The barge-in gate: the speech in progress is the caller's own voice (speech with a pitch,
    /// as loud as the caller), not noise or a voice behind them; it may stop the agent. At most
    /// once per speech, between its start and its end; `at` is the frame that decided it.
    CallerVoice { at: Instant },
    /// VAD: the caller has been quiet for a moment, not yet long enough to have stopped (they
    /// may go on without a new start). Only with the early start of speech-to-text on
    /// (`TurnConfig::early_stt`): the endpointer starts transcribing here, so the text is
    /// nearer ready when the stop is certain. At most once per quiet run, always before its
    /// [`Frame::SpeechEnded`].
    SpeechPaused { last_voice: Instant },
    /// VAD: the caller stopped; `last_voice` is the last voiced frame, `frames_ago` frames back.
    SpeechEnded { last_voice: Instant, frames_ago: u32 },
    /// A speech-to-text job finished.
    SttResult {
        utterance: u64,
        samples: usize,
        result: Result<Transcription, String>,
    },
    /// The endpointer opened an utterance.
    UtteranceStarted { id: u64, at: Instant },
    /// The latest transcript of the open utterance (speculative: the caller may go on).
    Transcript { utterance: u64, text: String },
    /// The caller's turn is over (`at`: the tick that decided it).
    UtteranceEnded { utterance: Utterance, at: Instant },
    /// The utterance is closed without being a turn of the conversation (a backchannel, the
    /// "Hello?" before the agent speaks, an answering machine's greeting).
    UtteranceDropped { id: u64 },
    /// Upstream, to the endpointer: throw the open utterance away.
    DropUtterance,
    /// Upstream, to the endpointer: over-talk is being judged (do not end the utterance).
    Judging(bool),
    /// Upstream, to the endpointer: the over-talk was a backchannel; drop it.
    Backchannel,
    /// Silence the agent (keep its place).
    Pause,
    /// Let the agent go on from where it was.
    Resume,
    /// The caller interrupted the agent: its reply is stale.
    Interruption,
    /// The call moved to this phase.
    Phase(Phase),
    /// A person answered: the agent speaks first.
    StartAgent { at: Instant },
    /// An answering machine's beep (or its greeting's end): leave this message.
    LeaveMessage { message: String },
    /// The caller stayed silent after the agent listened.
    Silence { at: Instant },
    /// Upstream, from playback: the agent's turn ended with a listen; it waits for the caller.
    Listening { at: Instant },
    /// Upstream, from playback: the agent's floor changed.
    Floor(Floor),
    /// The agent got an input: turn `turn` begins (`heard`: the utterance it answers).
    NewTurn {
        turn: u64,
        at: Instant,
        heard: Option<Utterance>,
    },
    /// Turn `turn` begins without an input (a barge-in, a voicemail message): earlier turns'
    /// output is stale.
    Superseded { turn: u64 },
    /// A line of the caller's side of the conversation.
    UserLine { at: Instant, text: String },
    /// The agent wants to say this.
    AgentText { turn: u64, text: String, fixed: bool },
    /// The agent's other outputs (listen, hang up, transfer, a failed action).
    AgentControl { turn: u64, out: AgentOutput },
    /// A synthesized sentence.
    AgentAudio {
        turn: u64,
        text: String,
        pcm: Arc<[i16]>,
        work: Duration,
        ready_at: Instant,
    },
    /// How the agent's turn ends, in order after its sentences.
    AgentMarker { turn: u64, marker: Marker },
    /// A sentence was queued to play (its synthesis finished at `ready_at` after `work`).
    SentenceQueued {
        turn: u64,
        ready_at: Instant,
        work: Duration,
    },
    /// The first frame of a sentence was sent.
    SentenceStarted { turn: u64, text: String, at: Instant },
    /// The agent's 20 ms for this tick.
    AgentFrame { pcm: PcmFrame },
    /// Work for the call's task.
    Do(Effect),
}

/// Which way a frame travels along the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Towards the agent's voice and the line (the usual way).
    Down,
    /// Back to earlier processors.
    Up,
}

/// What a processor pushes on, in order.
#[derive(Debug)]
pub struct Out {
    dir: Dir,
    frames: Vec<(Dir, Frame)>,
}

impl Out {
    /// Collects the output of a processor handling a frame that travels `dir`.
    pub fn new(dir: Dir) -> Self {
        Out { dir, frames: vec![] }
    }

    /// As [`Out::new`], collecting into `frames` (emptied first): the chain hands each stage a
    /// buffer it got back from [`Out::take`] earlier, so a frame costs no allocation.
    pub fn reusing(dir: Dir, mut frames: Vec<(Dir, Frame)>) -> Self {
        frames.clear();
        Out { dir, frames }
    }

    /// Passes a frame on the way it came.
    pub fn pass(&mut self, f: Frame) {
        self.frames.push((self.dir, f));
    }

    /// Pushes a frame downstream.
    pub fn down(&mut self, f: Frame) {
        self.frames.push((Dir::Down, f));
    }

    /// Pushes a frame upstream.
    pub fn up(&mut self, f: Frame) {
        self.frames.push((Dir::Up, f));
    }

    /// Takes what was pushed.
    pub fn take(&mut self) -> Vec<(Dir, Frame)> {
        std::mem::take(&mut self.frames)
    }

    /// What was pushed (for tests).
    pub fn frames(&self) -> &[(Dir, Frame)] {
        &self.frames
    }
}

/// One stage of a call's chain.
///
/// `process` must not block or await: it runs on the call's 20 ms clock. It pushes the frame on
/// (`out.pass`) unless it consumes it, and any frames that follow from it.
pub trait Processor {
    fn process(&mut self, frame: Frame, out: &mut Out);
}
