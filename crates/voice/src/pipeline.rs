//! The real-time pipeline of one answered call: a chain of small processors passing typed
//! frames ([`crate::frame`]), driven by one task per call.
//!
//! The task owns the call's clock (a 20 ms tick) and the chain of synchronous processors
//! ([`crate::processors`]: VAD, the endpointer, screening, the barge-in judge, the silence
//! handler, the turn manager, the speaker, the playback pacer, the conversation log, the
//! recorder). Each event (a tick, a frame of the caller's audio, a key, a result of the slow
//! parts) enters the chain as a frame and runs through it before the next, so the ordering of
//! barge-in against playback is never a race. The slow parts run beside the chain and report
//! back as frames: speech-to-text (a bounded pool), the agent (an actor task that can be
//! cancelled), and the speaker (text-to-speech sentence by sentence, in order). Every frame of
//! the agent's output carries its turn id; a barge-in bumps the turn, so stale sentences are
//! dropped wherever they are.

use crate::agent::{Agent, AgentInput, AgentOutput, AgentResults, Summary};
use crate::engines::{SttPool, TtsService};
use crate::frame::{Dir, Effect, Frame, Out, Processor, SpeakerJob};
use crate::processors::conversation::Conversation;
use crate::processors::endpointer::Endpointer;
use crate::processors::judge::BargeJudge;
use crate::processors::pacer::Pacer;
use crate::processors::screening::Screening;
use crate::processors::silence::SilenceHandler;
use crate::processors::speaker::{spawn_speaker, Speaker};
use crate::processors::turns::TurnManager;
use crate::processors::watchdog::Watchdog;
use crate::recorder::Recorder;
use crate::vad::{VadConfig, VadStage};
use parley_core::call::TurnLatency;
use parley_telephony::audio::{self, FRAME};
use parley_telephony::{Endpoint, LineEvent};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, warn};

/// Tuning of one call's pipeline.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Silence after the caller's last voiced frame that ends their turn.
    pub endpoint: Duration,
    /// The window is stretched up to this when the words so far end mid-phrase ("at", "and").
    pub endpoint_max: Duration,
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
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            endpoint: Duration::from_millis(400),
            endpoint_max: Duration::from_millis(1200),
            silence_timeout: Duration::from_secs(6),
            backchannel_max: Duration::from_millis(700),
            screen_for_machine: true,
            voicemail_message: None,
            machine_greeting: Duration::from_millis(2500),
            line_watchdog: Duration::from_secs(10),
            max_duration: Duration::from_secs(30 * 60),
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
            vad: VadStage::new(VadConfig::default()),
            endpointer: Endpointer::new(cfg.endpoint, cfg.endpoint_max),
            screening: Screening::new(
                cfg.screen_for_machine,
                answered,
                cfg.machine_greeting,
                cfg.voicemail_message.clone(),
            ),
            judge: BargeJudge::new(cfg.backchannel_max),
            silence: SilenceHandler::new(cfg.silence_timeout),
            turns: TurnManager::default(),
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
    /// for the call's task, in order.
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

/// Runs one answered call to its end. `voicemail_message` etc. come from `cfg`.
pub async fn run_call<A: Agent>(
    agent: A,
    mut line: Endpoint,
    stt: SttPool,
    tts: TtsService,
    cfg: PipelineConfig,
    notes: mpsc::UnboundedSender<CallNote>,
) -> CallReport {
    let answered = Instant::now();
    let (turn_tx, turn_rx) = watch::channel(0u64);
    let (in_tx, in_rx) = mpsc::unbounded_channel();
    let (speak_tx, speak_rx) = mpsc::unbounded_channel::<(u64, SpeakerJob)>();
    let (back_tx, mut back) = mpsc::unbounded_channel::<Frame>();
    let agent_task = spawn_agent(agent, in_rx, turn_rx.clone(), back_tx.clone());
    spawn_speaker(tts, speak_rx, turn_rx, back_tx.clone());

    let mut chain = Chain::new(&cfg, answered);
    let mut end: Option<CallEnd> = None;
    let mut work = vec![];
    chain.run(Frame::Answered { at: answered }, &mut work);
    let mut tick = tokio::time::interval(FRAME);
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    loop {
        // The chain's work: I/O and the slow parts.
        for f in work.drain(..) {
            match f {
                Frame::AgentFrame { pcm } => line.sender.audio(audio::encode(&pcm)).await,
                Frame::Do(e) => match e {
                    Effect::Transcribe {
                        utterance,
                        samples,
                        pcm,
                        context,
                        ..
                    } => {
                        let (stt, back) = (stt.clone(), back_tx.clone());
                        tokio::spawn(async move {
                            let result = stt.transcribe_in_context(pcm, context).await.map_err(|e| e.to_string());
                            let _ = back.send(Frame::SttResult {
                                utterance,
                                samples,
                                result,
                            });
                        });
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
                    Effect::End(e) => {
                        end.get_or_insert(e);
                    }
                },
                _ => {}
            }
        }
        if end.is_some() {
            break;
        }
        let frame = tokio::select! {
            biased;
            ev = line.events.recv() => match ev {
                None | Some(LineEvent::HungUp) => {
                    end = Some(CallEnd::CallerHungUp);
                    break;
                }
                Some(LineEvent::Transferred(n)) => {
                    end = Some(CallEnd::Transferred(n));
                    break;
                }
                Some(LineEvent::Failed(cause)) => {
                    end = Some(CallEnd::LineFailed(cause));
                    break;
                }
                Some(LineEvent::Dtmf(digit)) => Frame::Dtmf { digit, at: Instant::now() },
                Some(LineEvent::Audio(mu)) => Frame::CallerAudio { pcm: audio::decode(&mu), at: Instant::now() },
                Some(other) => {
                    debug!(?other, "line event ignored after answer");
                    continue;
                }
            },
            Some(f) = back.recv() => f,
            _ = tick.tick() => Frame::Tick { now: Instant::now() },
        };
        chain.run(frame, &mut work);
    }
    let end = end.unwrap_or(CallEnd::CallerHungUp);
    if matches!(
        end,
        CallEnd::AgentHungUp | CallEnd::MaxDuration | CallEnd::LineSilent | CallEnd::Voicemail { .. }
    ) {
        line.sender.hang_up().await;
    }
    // Stop the agent (cancel any turn in flight) and collect what it captured.
    let _ = turn_tx.send(u64::MAX);
    drop(in_tx);
    let agent = agent_task.await;
    let conversation = std::mem::take(&mut chain.conversation.lines);
    let (results, summary) = match agent {
        Ok(a) => {
            let s = a.summarize(&transcript(&conversation)).await;
            (a.results(), s)
        }
        Err(e) => {
            warn!(error = %e, "the agent task failed");
            (AgentResults::default(), Summary::default())
        }
    };
    CallReport {
        end,
        conversation,
        latency: std::mem::take(&mut chain.conversation.latency),
        recording: std::mem::take(&mut chain.recorder),
        results,
        summary,
        barge_ins: chain.judge.barge_ins,
        backchannels: chain.judge.backchannels,
    }
}
