//! The sans-I/O core of one call: the chain of processors and the call's end, fed one input at a
//! time (a line event, a tick, a slow part's result), each carrying its own time, and answering
//! with the outputs to perform (audio for the line, work for the slow parts, the end).
//!
//! [`run_call`](super::run_call) is the shell around it: it reads the clock and the line, runs
//! speech-to-text, the agent and text-to-speech as tasks, and performs what the core asks for.
//! The core never reads a clock, awaits, or touches a channel, so a test drives a whole call
//! frame by frame with made-up time, faster than real time and the same on every run (as
//! str0m's tests drive its `Rtc`), instead of leaning on tokio's paused clock and the order in
//! which the runtime happens to wake tasks.
//!
//! Decision: a call to [`CallCore::handle`] appends everything that follows from its input to
//! the caller's vector, rather than queueing outputs for a `poll_output` loop as str0m does.
//! The chain settles everything that follows from one input before the next, so one batch per
//! input is the whole contract, and the shell reuses its vector: no allocation per frame.
//! Time is `tokio::time::Instant` only because the frames carry that type (a plain value, so
//! the shell's paused-clock tests keep working); nothing here reads it.

use super::{CallEnd, Line, PipelineConfig};
use crate::frame::{Dir, Effect, Frame, Out, Processor};
use crate::processors::conversation::Conversation;
use crate::processors::endpointer::Endpointer;
use crate::processors::judge::BargeJudge;
use crate::processors::pacer::Pacer;
use crate::processors::screening::Screening;
use crate::processors::silence::SilenceHandler;
use crate::processors::speaker::Speaker;
use crate::processors::turns::TurnManager;
use crate::processors::watchdog::Watchdog;
use crate::recorder::Recorder;
use crate::vad::gate::GateConfig;
use crate::vad::{VadConfig, VadStage};
use parley_core::call::TurnLatency;
use parley_telephony::audio::{self, MulawFrame};
use parley_telephony::LineEvent;
use tokio::time::Instant;
use tracing::debug;

/// One thing that happened to the call. Time comes in with the input, never from a clock.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// An event of the line, as it arrived at `at` (the arrival time is the audio's time: a
    /// burst of late frames is timed as it arrived, and the judge counts frames, not time).
    Line { event: LineEvent, at: Instant },
    /// The 20 ms clock.
    Tick(Instant),
    /// A slow part reports back: a speech-to-text job's [`Frame::SttResult`], the agent's
    /// [`Frame::AgentText`] and [`Frame::AgentControl`], the speaker's [`Frame::AgentAudio`]
    /// and [`Frame::AgentMarker`]. Each is tagged with its utterance or turn, so a stale one is
    /// dropped inside.
    Back(Frame),
}

/// What the core asks the shell to do, in the order it must be done.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// The agent's 20 ms for the line: one per tick, silence while the agent is quiet, so the
    /// far end hears a steady stream (as an RTP peer expects).
    Audio(MulawFrame),
    /// I/O or work for a slow part. [`Effect::End`] comes out once, when the call ends; the
    /// end is also kept ([`CallCore::end`]).
    Effect(Effect),
}

/// One answered call, sans I/O: the processors in chain order and how the call ended.
pub struct CallCore {
    chain: Chain,
    end: Option<CallEnd>,
    /// The chain's output for one input, reused from input to input.
    work: Vec<Frame>,
}

/// What the core leaves of a finished call: the parts of the call's report the pipeline made
/// (the agent's results and summary are the shell's).
pub struct Finished {
    pub end: CallEnd,
    pub conversation: Vec<Line>,
    pub latency: Vec<TurnLatency>,
    pub recording: Recorder,
    pub barge_ins: u32,
    pub backchannels: u32,
}

impl CallCore {
    /// A call answered at `answered`. The answer runs through the chain at once, and what it
    /// asks for is appended to `out`: with no screening for answering machines, the agent's
    /// first turn. (Held back for the first input instead, the agent would start a tick late,
    /// and a test would see the answer's outputs under another input's.)
    pub fn new(cfg: &PipelineConfig, answered: Instant, out: &mut Vec<Output>) -> Self {
        let mut core = CallCore {
            chain: Chain::new(cfg, answered),
            end: None,
            work: Vec::new(),
        };
        core.run(Frame::Answered { at: answered }, out);
        core
    }

    /// Takes one input; appends what follows from it to `out`, in order. After the end, inputs
    /// are ignored: the call is over (the shell stops feeding it then, but a late result of a
    /// slow part must not start anything).
    pub fn handle(&mut self, input: Input, out: &mut Vec<Output>) {
        if self.end.is_some() {
            return;
        }
        let frame = match input {
            Input::Line { event, at } => match event {
                // The line itself is over: nothing more to run through the chain.
                LineEvent::HungUp => return self.ended(CallEnd::CallerHungUp, out),
                LineEvent::Transferred(n) => return self.ended(CallEnd::Transferred(n), out),
                LineEvent::Failed(cause) => return self.ended(CallEnd::LineFailed(cause), out),
                LineEvent::Dtmf(digit) => Frame::Dtmf { digit, at },
                LineEvent::Audio(mu) => Frame::CallerAudio {
                    pcm: audio::decode(&mu),
                    at,
                },
                other => {
                    debug!(?other, "line event ignored after answer");
                    return;
                }
            },
            Input::Tick(now) => Frame::Tick { now },
            Input::Back(frame) => frame,
        };
        self.run(frame, out);
    }

    /// Runs a frame through the chain and turns what came out of its end into outputs.
    fn run(&mut self, frame: Frame, out: &mut Vec<Output>) {
        self.chain.run(frame, &mut self.work);
        for f in self.work.drain(..) {
            match f {
                Frame::AgentFrame { pcm } => out.push(Output::Audio(audio::encode(&pcm))),
                // The first end is the call's (a hang-up marker and the watchdog can fire on
                // the same tick); what else the same input asked for is still performed.
                Frame::Do(Effect::End(e)) if self.end.is_none() => {
                    self.end = Some(e.clone());
                    out.push(Output::Effect(Effect::End(e)));
                }
                Frame::Do(Effect::End(_)) => {}
                Frame::Do(e) => out.push(Output::Effect(e)),
                _ => {}
            }
        }
    }

    fn ended(&mut self, end: CallEnd, out: &mut Vec<Output>) {
        self.end = Some(end.clone());
        out.push(Output::Effect(Effect::End(end)));
    }

    /// How the call ended, once it has.
    pub fn end(&self) -> Option<&CallEnd> {
        self.end.as_ref()
    }

    /// The conversation so far, each line timed from the answer.
    pub fn conversation(&self) -> &[Line] {
        &self.chain.conversation.lines
    }

    /// Each answered turn's latency parts so far.
    pub fn latency(&self) -> &[TurnLatency] {
        &self.chain.conversation.latency
    }

    /// The stereo recording so far: one frame per side per tick.
    pub fn recording(&self) -> &Recorder {
        &self.chain.recorder
    }

    /// Caller speech over the agent that interrupted it.
    pub fn barge_ins(&self) -> u32 {
        self.chain.judge.barge_ins
    }

    /// Caller speech over the agent that was only an acknowledgement ("mhm").
    pub fn backchannels(&self) -> u32 {
        self.chain.judge.backchannels
    }

    /// What the call leaves. A call that never ended (the shell gave up feeding it) counts as
    /// the caller's hang-up, as a vanished line does.
    pub fn finish(self) -> Finished {
        let Chain {
            conversation,
            recorder,
            judge,
            ..
        } = self.chain;
        Finished {
            end: self.end.unwrap_or(CallEnd::CallerHungUp),
            conversation: conversation.lines,
            latency: conversation.latency,
            recording: recorder,
            barge_ins: judge.barge_ins,
            backchannels: judge.backchannels,
        }
    }
}

/// The processors of one call, in chain order (see [`crate::processors`]).
struct Chain {
    watchdog: Watchdog,
    vad: VadStage,
    endpointer: Endpointer,
    screening: Screening,
    judge: BargeJudge,
    silence: SilenceHandler,
    turns: TurnManager,
    speaker: Speaker,
    pacer: Pacer,
    conversation: Conversation,
    recorder: Recorder,
    /// The stages' output buffers, reused from frame to frame. Every event crosses all eleven
    /// stages, each collecting its output in a vector: allocated afresh, that was a malloc and
    /// a free per stage per frame, a tenth of a call's CPU.
    spare: Vec<Vec<(Dir, Frame)>>,
}

impl Chain {
    const LEN: usize = 11;

    fn new(cfg: &PipelineConfig, answered: Instant) -> Self {
        Chain {
            watchdog: Watchdog::new(answered, cfg.line_watchdog, cfg.max_duration),
            vad: VadStage::with_engine(
                &cfg.vad,
                VadConfig {
                    pause_frames: (cfg.turn.early_stt.as_millis() / parley_telephony::audio::FRAME.as_millis()) as u32,
                    ..VadConfig::for_kind(cfg.vad.kind())
                },
                cfg.barge_gate.unwrap_or_else(|| GateConfig::for_kind(cfg.vad.kind())),
            ),
            endpointer: Endpointer::new(cfg.turn),
            screening: Screening::new(
                cfg.screen_for_machine,
                answered,
                cfg.machine_greeting,
                cfg.voicemail_message.clone(),
            ),
            judge: BargeJudge::new(cfg.backchannel_max),
            silence: SilenceHandler::new(cfg.silence_timeout),
            turns: TurnManager::new(cfg.turn.continue_window),
            speaker: Speaker::default(),
            pacer: Pacer::default(),
            conversation: Conversation::new(answered),
            recorder: Recorder::default(),
            spare: Vec::new(),
        }
    }

    fn stage(&mut self, i: usize) -> &mut dyn Processor {
        match i {
            0 => &mut self.watchdog,
            1 => &mut self.vad,
            2 => &mut self.endpointer,
            3 => &mut self.screening,
            4 => &mut self.judge,
            5 => &mut self.silence,
            6 => &mut self.turns,
            7 => &mut self.speaker,
            8 => &mut self.pacer,
            9 => &mut self.conversation,
            _ => &mut self.recorder,
        }
    }

    /// Runs a frame through the chain from the top. Each frame a processor pushes travels on
    /// (down or up) before the next one it pushed, so everything that follows from one event
    /// is settled before the next event. Adds what came out of the bottom to `sink`: the work
    /// for the call's shell, in order.
    fn run(&mut self, frame: Frame, sink: &mut Vec<Frame>) {
        self.deliver(0, Dir::Down, frame, sink);
    }

    fn deliver(&mut self, i: usize, dir: Dir, frame: Frame, sink: &mut Vec<Frame>) {
        let mut out = Out::reusing(dir, self.spare.pop().unwrap_or_default());
        self.stage(i).process(frame, &mut out);
        let mut frames = out.take();
        for (d, f) in frames.drain(..) {
            match d {
                Dir::Down if i + 1 < Self::LEN => self.deliver(i + 1, d, f, sink),
                Dir::Down => sink.push(f),
                Dir::Up if i > 0 => self.deliver(i - 1, d, f, sink),
                Dir::Up => {}
            }
        }
        self.spare.push(frames);
    }
}
