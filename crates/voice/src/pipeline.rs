//! The real-time pipeline of one answered call: a chain of small processors passing typed
//! frames ([`crate::frame`]), driven by one task per call.
//!
//! Two halves. [`core::CallCore`] is the call without I/O: the chain of synchronous processors
//! ([`crate::processors`]: VAD, the endpointer, screening, the barge-in judge, the silence
//! handler, the turn manager, the speaker, the playback pacer, the conversation log, the
//! recorder) and how the call ended. Each input (a tick, a frame of the caller's audio, a key,
//! a result of the slow parts) enters the chain as a frame and runs through it before the next,
//! so the ordering of barge-in against playback is never a race, and it carries its own time,
//! so the core can be driven frame by frame in a test. [`run_call`] is the shell: it owns the
//! clock (a 20 ms tick) and the line, and runs the slow parts beside the core, which report
//! back as inputs: speech-to-text (a bounded pool), the agent (an actor task that can be
//! cancelled), and the speaker (text-to-speech sentence by sentence, in order). Every frame of
//! the agent's output carries its turn id; a barge-in bumps the turn, so stale sentences are
//! dropped wherever they are.

use crate::agent::{Agent, AgentInput, AgentOutput, AgentResults, Summary};
use crate::frame::{Effect, Frame, SpeakerJob};
pub use crate::processors::endpointer::{TurnConfig, TurnRule};
use crate::recorder::Recorder;
use crate::vad::gate::GateConfig;
use crate::vad::VadEngine;
use parley_core::call::TurnLatency;
use parley_telephony::audio::FRAME;
use parley_telephony::{Endpoint, LineEvent};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, warn};

pub mod core;
pub mod speech_link;

pub use self::core::{CallCore, Finished, Input, Output};
pub use self::speech_link::CallEngines;
use self::speech_link::{spawn_speaker, SttLink, SttOut};

/// Tuning of one call's pipeline.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// When the caller's turn is over: the transcript rule's waits, or a fixed window, and
    /// the ceiling.
    pub turn: TurnConfig,
    /// The agent re-prompts after this much silence once it listens.
    pub silence_timeout: Duration,
    /// Caller speech over the agent no longer than this is a backchannel ("mhm"), not a barge-in.
    pub backchannel_max: Duration,
    /// Screen for answering machines before the agent speaks (outbound calls).
    pub screen_for_machine: bool,
    /// What to leave on an answering machine (None: hang up without a message).
    pub voicemail_message: Option<String>,
    /// A first utterance longer than this is an answering machine's greeting.
    pub machine_greeting: Duration,
    /// No audio at all from the network for this long: the line is dead.
    pub line_watchdog: Duration,
    /// The longest call.
    pub max_duration: Duration,
    /// The voice activity detector (each call runs its own stream of it).
    pub vad: VadEngine,
    /// The barge-in gate: which caller speech over the agent may stop it. `None`: the gate
    /// tuned for the detector ([`GateConfig::for_kind`]).
    pub barge_gate: Option<GateConfig>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            turn: TurnConfig::default(),
            silence_timeout: Duration::from_secs(6),
            backchannel_max: Duration::from_millis(700),
            screen_for_machine: true,
            voicemail_message: None,
            machine_greeting: Duration::from_millis(2500),
            line_watchdog: Duration::from_secs(10),
            max_duration: Duration::from_secs(30 * 60),
            vad: VadEngine::WebRtc,
            barge_gate: None,
        }
    }
}

/// Why the call ended.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEnd {
    /// The agent finished (an end node, or repeated silence).
    AgentHungUp,
    /// The caller hung up.
    CallerHungUp,
    /// Transferred to this number.
    Transferred(String),
    /// An answering machine answered (a message was left if configured).
    Voicemail { message_left: bool },
    /// No audio from the network for the watchdog period.
    LineSilent,
    /// The network ended the call for a reason of its own (its cause: `no RTP for 30 s`,
    /// `twilio: media stream closed`).
    LineFailed(String),
    /// The call reached the maximum duration.
    MaxDuration,
}

/// Something worth telling the outside world while the call runs.
#[derive(Debug, Clone, PartialEq)]
pub enum CallNote {
    /// A side action failed (`ACTION_FAILED`).
    ActionFailed { action: String, error: String },
    /// The agent is transferring the call (`PHONE_TRANSFER`).
    Transferring { phone_number: String },
    /// A line was added to the conversation (what a live transcript shows as people speak).
    Said(Line),
    /// A speech engine failed mid-call; `fallback` took over for the rest of the call (None:
    /// nothing could, and that side of the call is silent from here).
    EngineFallback {
        part: SpeechPart,
        provider: String,
        fallback: Option<String>,
        error: String,
    },
}

/// Which side of the speech a note is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeechPart {
    Stt,
    Tts,
}

impl SpeechPart {
    pub fn as_str(self) -> &'static str {
        match self {
            SpeechPart::Stt => "stt",
            SpeechPart::Tts => "tts",
        }
    }
}

/// One line of the conversation, timed from the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub at_ms: i64,
    /// `ai` or `user`.
    pub author: &'static str,
    pub text: String,
}

/// Everything the call produced.
pub struct CallReport {
    pub end: CallEnd,
    pub conversation: Vec<Line>,
    pub latency: Vec<TurnLatency>,
    pub recording: Recorder,
    pub results: AgentResults,
    pub summary: Summary,
    pub barge_ins: u32,
    pub backchannels: u32,
}

impl CallReport {
    /// "Agent: …" / "Caller: …" lines.
    pub fn transcript(&self) -> String {
        transcript(&self.conversation)
    }
}

fn transcript(lines: &[Line]) -> String {
    lines
        .iter()
        .map(|l| format!("{}: {}", if l.author == "ai" { "Agent" } else { "Caller" }, l.text))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The agent's side of the call, as an actor: one input at a time, cancellable by turn. Its
/// outputs come back to the chain as frames.
fn spawn_agent<A: Agent>(
    mut agent: A,
    mut inputs: mpsc::UnboundedReceiver<(u64, AgentInput)>,
    current: watch::Receiver<u64>,
    outputs: mpsc::UnboundedSender<Frame>,
) -> tokio::task::JoinHandle<A> {
    tokio::spawn(async move {
        while let Some((turn, input)) = inputs.recv().await {
            if *current.borrow() != turn {
                continue; // superseded before it started
            }
            let (tx, mut rx) = mpsc::channel(32);
            let mut cancel = current.clone();
            let a = &mut agent;
            let work = async move {
                let tx = tx;
                a.handle(input, &tx).await;
            };
            let forward = async {
                while let Some(o) = rx.recv().await {
                    let frame = match o {
                        AgentOutput::Say { text, fixed } => Frame::AgentText { turn, text, fixed },
                        out => Frame::AgentControl { turn, out },
                    };
                    let _ = outputs.send(frame);
                }
            };
            let cancelled = async {
                while *cancel.borrow_and_update() == turn {
                    if cancel.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            };
            tokio::select! {
                _ = async { tokio::join!(work, forward) } => {}
                _ = cancelled => debug!(turn, "agent turn cancelled"),
            }
        }
        agent
    })
}

/// Runs one answered call to its end: the I/O shell around [`CallCore`]. It owns the clock
/// (a 20 ms tick, and the time stamped on each input) and the slow parts, and performs the
/// core's outputs in order before it takes the next input. `voicemail_message` etc. come from
/// `cfg`.
pub async fn run_call<A: Agent>(
    agent: A,
    mut line: Endpoint,
    engines: CallEngines,
    cfg: PipelineConfig,
    notes: mpsc::UnboundedSender<CallNote>,
) -> CallReport {
    let answered = Instant::now();
    let (turn_tx, turn_rx) = watch::channel(0u64);
    let (in_tx, in_rx) = mpsc::unbounded_channel();
    let (speak_tx, speak_rx) = mpsc::unbounded_channel::<(u64, SpeakerJob)>();
    let (back_tx, mut back) = mpsc::unbounded_channel::<Frame>();
    let agent_task = spawn_agent(agent, in_rx, turn_rx.clone(), back_tx.clone());
    spawn_speaker(
        (engines.tts.clone(), engines.tts_fallback.clone()),
        speak_rx,
        turn_rx,
        back_tx.clone(),
        notes.clone(),
    );
    let mut stt = SttLink::new(engines.stt.clone(), engines.stt_fallback.clone());

    let mut work = vec![];
    let mut core = CallCore::new(&cfg, answered, &mut work);
    // Conversation lines already told to `notes` (as `CallNote::Said`).
    let mut told = 0;
    let mut tick = tokio::time::interval(FRAME);
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    loop {
        // The core's outputs: I/O and the slow parts.
        for o in work.drain(..) {
            let e = match o {
                Output::Audio(mu) => {
                    line.sender.audio(mu).await;
                    continue;
                }
                Output::Effect(e) => e,
            };
            match e {
                Effect::SttAudio { utterance, pcm } => stt.audio(utterance, pcm),
                Effect::Transcribe {
                    utterance,
                    samples,
                    pcm,
                    context,
                    ..
                } => {
                    if let Some(f) = stt.transcribe(utterance, samples, &pcm, context) {
                        let _ = back_tx.send(f);
                    }
                }
                Effect::Turn(t) => {
                    let _ = turn_tx.send(t);
                }
                Effect::ToAgent { turn, input } => {
                    let _ = in_tx.send((turn, input));
                }
                Effect::Speak { turn, job } => {
                    let _ = speak_tx.send((turn, job));
                }
                Effect::Note(n) => {
                    let _ = notes.send(n);
                }
                Effect::Transfer(n) => line.sender.transfer(&n).await,
                Effect::ClearLine => line.sender.clear().await,
                // The core keeps the end (read below, once the rest of this batch is done).
                Effect::End(_) => {}
            }
        }
        if core.end().is_some() {
            break;
        }
        // Line events first, then the slow parts' results, then the clock.
        let input = tokio::select! {
            biased;
            ev = line.events.recv() => Input::Line {
                // A line that vanished is a caller who hung up.
                event: ev.unwrap_or(LineEvent::HungUp),
                at: Instant::now(),
            },
            Some(f) = back.recv() => Input::Back(f),
            out = stt.next() => match out {
                SttOut::Frame(f) => Input::Back(*f),
                SttOut::Note(n) => {
                    let _ = notes.send(n);
                    for f in stt.unanswered() {
                        let _ = back_tx.send(f);
                    }
                    continue;
                }
            },
            _ = tick.tick() => Input::Tick(Instant::now()),
        };
        core.handle(input, &mut work);
        for l in core.conversation().get(told..).unwrap_or_default() {
            let _ = notes.send(CallNote::Said(l.clone()));
        }
        told = core.conversation().len();
    }
    let call = core.finish();
    if matches!(
        call.end,
        CallEnd::AgentHungUp | CallEnd::MaxDuration | CallEnd::LineSilent | CallEnd::Voicemail { .. }
    ) {
        line.sender.hang_up().await;
    }
    // Stop the agent (cancel any turn in flight) and collect what it captured.
    let _ = turn_tx.send(u64::MAX);
    drop(in_tx);
    let agent = agent_task.await;
    let (results, summary) = match agent {
        Ok(a) => {
            let s = a.summarize(&transcript(&call.conversation)).await;
            (a.results(), s)
        }
        Err(e) => {
            warn!(error = %e, "the agent task failed");
            (AgentResults::default(), Summary::default())
        }
    };
    CallReport {
        end: call.end,
        conversation: call.conversation,
        latency: call.latency,
        recording: call.recording,
        results,
        summary,
        barge_ins: call.barge_ins,
        backchannels: call.backchannels,
    }
}
