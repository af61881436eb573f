//! The real-time pipeline of one answered call.
//!
//! One task owns the call's clock (a 20 ms tick) and the synchronous processors: the caller's
//! [`Vad`], the endpointer, barge-in, the [`Playback`] queue and the [`Recorder`]. The slow
//! parts run beside it and report back as [`Async`] frames: speech-to-text (a bounded pool), the
//! agent (an actor task that can be cancelled), and the speaker (text-to-speech sentence by
//! sentence, in order). Every frame of the agent's output carries its turn id; a barge-in bumps
//! the turn, so stale sentences are dropped wherever they are.
//!
//! Latency design: speech-to-text starts when VAD first hears the caller stop (120 ms of
//! silence), speculatively, while the endpointer still waits out its silence window. If the
//! caller goes on, the guess is thrown away. So by the time the turn is declared over, the text
//! is usually ready, and the turn costs the window plus whatever of the decoding did not fit in it.

use crate::agent::{Agent, AgentInput, AgentOutput, AgentResults, Summary};
use crate::engines::{SttPool, TtsService};
use crate::playback::{Playback, Played};
use crate::recorder::Recorder;
use crate::tone::ToneDetector;
use crate::vad::{Vad, VadConfig, VadEvent};
use parley_core::call::TurnLatency;
use parley_telephony::audio::{self, PcmFrame, FRAME};
use parley_telephony::{Endpoint, LineEvent};
use std::collections::VecDeque;
use std::sync::Arc;
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

/// What the helpers report back to the call's loop.
enum Async {
    Stt {
        utterance: u64,
        samples: usize,
        result: Result<crate::engines::Transcription, String>,
    },
    Spoken {
        turn: u64,
        text: String,
        pcm: Arc<[i16]>,
        work: Duration,
        ready_at: Instant,
    },
    Control {
        turn: u64,
        out: AgentOutput,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Marker {
    Listen,
    Hangup,
    Transfer(String),
}

/// The caller's utterance being listened to.
struct Utterance {
    id: u64,
    started: Instant,
    audio: Vec<i16>,
    /// Set when VAD heard the caller stop (cleared if they go on).
    last_voice: Option<Instant>,
    /// The speculative transcript: (samples it covers, text, queue, work).
    text: Option<(usize, String, Duration, Duration)>,
    /// Samples covered by the transcription in flight.
    asked: Option<usize>,
    /// The endpointer has declared the turn over and waits for the text.
    ended_at: Option<Instant>,
}

/// A reply being timed: from the caller's last voiced frame to the agent's first sound.
struct Pending {
    turn: u64,
    last_voice: Instant,
    endpointing: Duration,
    stt_queue: Duration,
    stt: Duration,
    sent_at: Instant,
    first_ready: Option<(Instant, Duration)>,
}

enum Mode {
    /// Answered; listening for "Hello?" or an answering machine before the agent speaks.
    Screening { since: Instant },
    /// An answering machine: waiting for its beep (or the end of its greeting).
    Machine {
        since: Instant,
        quiet_since: Option<Instant>,
    },
    /// Leaving the voicemail message; the call ends after it.
    Messaging,
    /// The conversation.
    Talking,
}

/// The agent's side of the call, as an actor: one input at a time, cancellable by turn.
fn spawn_agent<A: Agent>(
    mut agent: A,
    mut inputs: mpsc::UnboundedReceiver<(u64, AgentInput)>,
    current: watch::Receiver<u64>,
    outputs: mpsc::UnboundedSender<(u64, AgentOutput)>,
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
                    let _ = outputs.send((turn, o));
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

/// Synthesizes the agent's sentences in order and forwards its controls after them.
fn spawn_speaker(
    tts: TtsService,
    mut outputs: mpsc::UnboundedReceiver<(u64, AgentOutput)>,
    current: watch::Receiver<u64>,
    back: mpsc::UnboundedSender<Async>,
) {
    tokio::spawn(async move {
        while let Some((turn, out)) = outputs.recv().await {
            if *current.borrow() != turn {
                continue;
            }
            match out {
                AgentOutput::Say { text, fixed } => match tts.synthesize(&text, fixed).await {
                    Ok(s) => {
                        let _ = back.send(Async::Spoken {
                            turn,
                            text,
                            pcm: s.pcm,
                            work: s.work,
                            ready_at: Instant::now(),
                        });
                    }
                    Err(e) => warn!(error = %e, "text-to-speech failed; sentence skipped"),
                },
                other => {
                    let _ = back.send(Async::Control { turn, out: other });
                }
            }
        }
    });
}

/// Endpoints a caller utterance: a few words ending mid-phrase get a longer window.
fn sounds_unfinished(text: &str) -> bool {
    let text = text.trim();
    if text.ends_with("...") || text.ends_with('…') {
        return true; // Whisper's mark for speech that trails off
    }
    if !text.is_empty() && !text.ends_with(['.', '!', '?']) {
        // Whisper closes a complete sentence with punctuation; a cut one often has none.
        return true;
    }
    let t = text.trim_end_matches(['.', '!', '?']).to_lowercase();
    if t.ends_with(',') || t.ends_with("...") {
        return true;
    }
    const TAILS: [&str; 14] = [
        "and", "or", "but", "at", "on", "the", "a", "to", "um", "uh", "so", "because", "with", "is",
    ];
    t.split_whitespace().last().is_some_and(|w| TAILS.contains(&w))
}

/// Quiet after a short over-talk (counted from its last voiced frame) before it is judged: a
/// backchannel if its words are backchannel words, else an interruption.
const BACKCHANNEL_QUIET: Duration = Duration::from_millis(250);

/// Whether a short over-talk's words are an acknowledgement ("mhm", "yeah", "okay, right"),
/// which lets the agent carry on, rather than the start of something the caller wants to say.
fn is_backchannel(text: &str) -> bool {
    const WORDS: [&str; 22] = [
        "m", "h", "mm", "mhm", "hmm", "mm-hmm", "uh-huh", "uh", "huh", "ah", "yeah", "yes", "yep", "yup", "ok", "okay",
        "right", "sure", "alright", "i", "see", "gotcha",
    ];
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == '.' || c == '!' || c == '?')
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect();
    words.len() <= 4 && words.iter().all(|w| WORDS.contains(&w.as_str()))
}

/// The pre-roll kept so an utterance includes the frames before VAD's onset decision.
const PREROLL_FRAMES: usize = 10;

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
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let (back_tx, mut back) = mpsc::unbounded_channel::<Async>();
    let agent_task = spawn_agent(agent, in_rx, turn_rx.clone(), out_tx);
    spawn_speaker(tts.clone(), out_rx, turn_rx, back_tx.clone());

    let mut vad = Vad::new(VadConfig::default());
    let mut tone = ToneDetector::default();
    let mut playback: Playback<Marker> = Playback::default();
    let mut rec = Recorder::default();
    let mut conversation: Vec<Line> = vec![];
    let mut latency: Vec<TurnLatency> = vec![];
    let mut preroll: VecDeque<PcmFrame> = VecDeque::with_capacity(PREROLL_FRAMES);
    let mut utt: Option<Utterance> = None;
    let mut utt_seq = 0u64;
    let mut turn = 0u64;
    let mut pending: Option<Pending> = None;
    let mut listening_since: Option<Instant> = None;
    let mut barge: Option<Instant> = None;
    // Caller frames heard since a short over-talk stopped: media time, not the wall clock, so a
    // loaded machine delivering frames in bursts does not shorten the wait.
    let mut barge_quiet_frames: Option<u32> = None;
    let (mut barge_ins, mut backchannels) = (0u32, 0u32);
    let mut last_audio = Instant::now();
    let mut mode = if cfg.screen_for_machine {
        Mode::Screening { since: answered }
    } else {
        Mode::Talking
    };
    let mut end: Option<CallEnd> = None;
    let mut played: Vec<Played<Marker>> = vec![];
    let at_ms = |t: Instant| t.saturating_duration_since(answered).as_millis() as i64;

    // Sends one input to the agent as a new turn (cancelling whatever it was doing).
    let new_turn = |turn: &mut u64, playback: &mut Playback<Marker>, input: AgentInput| {
        *turn += 1;
        let _ = turn_tx.send(*turn);
        playback.clear();
        let _ = in_tx.send((*turn, input));
    };
    if matches!(mode, Mode::Talking) {
        new_turn(&mut turn, &mut playback, AgentInput::Start);
    }

    let mut tick = tokio::time::interval(FRAME);
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    while end.is_none() {
        tokio::select! {
            biased;
            ev = line.events.recv() => match ev {
                None | Some(LineEvent::HungUp) => end = Some(CallEnd::CallerHungUp),
                Some(LineEvent::Transferred(n)) => end = Some(CallEnd::Transferred(n)),
                Some(LineEvent::Dtmf(d)) => {
                    last_audio = Instant::now();
                    if matches!(mode, Mode::Talking) {
                        conversation.push(Line { at_ms: at_ms(Instant::now()), author: "user", text: format!("[pressed {d}]") });
                        listening_since = None;
                        pending = None;
                        new_turn(&mut turn, &mut playback, AgentInput::Dtmf(d));
                    }
                }
                Some(LineEvent::Audio(mu)) => {
                    let now = Instant::now();
                    last_audio = now;
                    let pcm = audio::decode(&mu);
                    rec.caller(&pcm);
                    let beep_ended = tone.push(&pcm);
                    let event = vad.push(&pcm);
                    if let Some(q) = barge_quiet_frames.as_mut() {
                        *q += 1;
                    }
                    if preroll.len() == PREROLL_FRAMES {
                        preroll.pop_front();
                    }
                    preroll.push_back(pcm);
                    if let Some(u) = utt.as_mut() {
                        u.audio.extend_from_slice(&pcm);
                    }
                    match event {
                        Some(VadEvent::Start { frames_ago }) => {
                            listening_since = None;
                            match utt.as_mut() {
                                Some(u) => {
                                    // The caller went on within the window: same utterance.
                                    u.last_voice = None;
                                    u.text = None;
                                    u.ended_at = None;
                                }
                                None => {
                                    utt_seq += 1;
                                    let keep = (frames_ago as usize + 4).min(preroll.len());
                                    let audio = preroll.iter().skip(preroll.len() - keep).flatten().copied().collect();
                                    utt = Some(Utterance {
                                        id: utt_seq,
                                        started: now - FRAME * frames_ago,
                                        audio,
                                        last_voice: None,
                                        text: None,
                                        asked: None,
                                        ended_at: None,
                                    });
                                }
                            }
                            barge_quiet_frames = None;
                            if playback.is_speaking() && matches!(mode, Mode::Talking) {
                                // Barge-in candidate: silence the agent now; decide shortly.
                                playback.pause();
                                barge = Some(now - FRAME * frames_ago);
                            }
                        }
                        Some(VadEvent::End { frames_ago }) => {
                            if let Some(u) = utt.as_mut() {
                                let last = now - FRAME * frames_ago;
                                u.last_voice = Some(last);
                                if let Some(b) = barge {
                                    if last.saturating_duration_since(b) <= cfg.backchannel_max {
                                        // Short so far: a backchannel if the caller now stays
                                        // quiet and said a backchannel word (decided below,
                                        // once the transcription asked for here is back).
                                        barge_quiet_frames = Some(frames_ago);
                                    } else {
                                        barge = None;
                                    }
                                }
                                // Speculative transcription while the endpointer waits.
                                let samples = u.audio.len();
                                u.asked = Some(samples);
                                let pcm = Arc::new(u.audio.clone());
                                let (id, stt, back) = (u.id, stt.clone(), back_tx.clone());
                                // The agent's last sentence primes the recognizer.
                                // (Not for a short over-talk: primed with the agent's words, Whisper
                                // turns a lone "mhm" into words of the prompt.)
                                let context = match barge_quiet_frames {
                                    Some(_) => String::new(),
                                    None => conversation.iter().rev().find(|l| l.author == "ai").map(|l| l.text.clone()).unwrap_or_default(),
                                };
                                tokio::spawn(async move {
                                    let result = stt.transcribe_in_context(pcm, context).await.map_err(|e| e.to_string());
                                    let _ = back.send(Async::Stt { utterance: id, samples, result });
                                });
                            }
                        }
                        None => {}
                    }
                    if beep_ended {
                        if let Mode::Machine { .. } = mode {
                            mode = leave_message(&cfg, &mut turn, &turn_tx, &mut playback, &back_tx, &tts, &mut end);
                        }
                    }
                }
                Some(other) => debug!(?other, "line event ignored after answer"),
            },
            Some(a) = back.recv() => match a {
                Async::Stt { utterance, samples, result } => {
                    if let Some(u) = utt.as_mut().filter(|u| u.id == utterance && u.asked == Some(samples)) {
                        match result {
                            Ok(t) => u.text = Some((samples, t.text, t.queue, t.work)),
                            Err(e) => {
                                warn!(error = %e, "speech-to-text failed");
                                u.text = Some((samples, String::new(), Duration::ZERO, Duration::ZERO));
                            }
                        }
                    }
                }
                Async::Spoken { turn: t, text, pcm, work, ready_at } => {
                    if t == turn {
                        if let Some(p) = pending.as_mut().filter(|p| p.turn == t && p.first_ready.is_none()) {
                            p.first_ready = Some((ready_at, work));
                        }
                        playback.push_audio(t, pcm, text);
                    }
                }
                Async::Control { turn: t, out } => {
                    if t == turn || matches!(mode, Mode::Messaging) {
                        match out {
                            AgentOutput::Listen => playback.push_marker(t, Marker::Listen),
                            AgentOutput::Hangup => playback.push_marker(t, Marker::Hangup),
                            AgentOutput::Transfer { phone_number } => playback.push_marker(t, Marker::Transfer(phone_number)),
                            AgentOutput::ActionFailed { action, error } => {
                                let _ = notes.send(CallNote::ActionFailed { action, error });
                            }
                            AgentOutput::Say { .. } => {}
                        }
                    }
                }
            },
            _ = tick.tick() => {
                let now = Instant::now();
                // 0. Never start talking over the caller: the agent's next sentence waits while
                //    the caller speaks, judged like any over-talk (backchannel or interruption).
                if vad.speaking() && barge.is_none() && playback.is_speaking() && matches!(mode, Mode::Talking) {
                    playback.pause();
                    barge = Some(utt.as_ref().map_or(now, |u| u.started));
                }
                // 1. The agent's next frame.
                played.clear();
                let frame = playback.next_frame(&mut played);
                line.sender.audio(audio::encode(&frame)).await;
                rec.agent(&frame);
                for p in played.drain(..) {
                    match p {
                        Played::SentenceStarted { turn: t, text } => {
                            conversation.push(Line { at_ms: at_ms(now), author: "ai", text });
                            if let Some(p) = pending.take_if(|p| p.turn == t) {
                                let (ready_at, tts_work) = p.first_ready.unwrap_or((now, Duration::ZERO));
                                let agent_ms = ready_at.saturating_duration_since(p.sent_at).saturating_sub(tts_work);
                                latency.push(TurnLatency {
                                    endpointing_ms: p.endpointing.as_millis() as i64,
                                    stt_queue_ms: p.stt_queue.as_millis() as i64,
                                    stt_ms: p.stt.as_millis() as i64,
                                    agent_ms: agent_ms.as_millis() as i64,
                                    tts_first_audio_ms: tts_work.as_millis() as i64,
                                    total_ms: now.saturating_duration_since(p.last_voice).as_millis() as i64,
                                });
                            }
                        }
                        Played::Marker { marker, .. } => match marker {
                            Marker::Listen => listening_since = Some(now),
                            Marker::Hangup => {
                                end = Some(match mode {
                                    Mode::Messaging => CallEnd::Voicemail { message_left: true },
                                    _ => CallEnd::AgentHungUp,
                                });
                            }
                            Marker::Transfer(n) => {
                                let _ = notes.send(CallNote::Transferring { phone_number: n.clone() });
                                line.sender.transfer(&n).await;
                            }
                        },
                    }
                }
                if end.is_some() {
                    break;
                }
                // 2. Barge-in: speech over the agent that outlasts a backchannel interrupts it;
                //    a short one followed by quiet was a backchannel: the agent carries on.
                if let (Some(_), Some(q)) = (barge, barge_quiet_frames) {
                    let heard = utt.as_ref().and_then(|u| u.text.as_ref()).map(|t| t.1.clone());
                    if let (false, true, Some(text)) = (vad.speaking(), FRAME * q >= BACKCHANNEL_QUIET, heard) {
                        barge = None;
                        barge_quiet_frames = None;
                        if is_backchannel(&text) {
                            backchannels += 1;
                            playback.resume();
                            utt = None;
                        } else {
                            // Short, but words ("Sorry, wait"): an interruption after all.
                            barge_ins += 1;
                            turn += 1;
                            let _ = turn_tx.send(turn);
                            playback.clear();
                            pending = None;
                        }
                    }
                }
                if let Some(b) = barge {
                    if vad.speaking() && now.saturating_duration_since(b) > cfg.backchannel_max {
                        barge = None;
                        barge_ins += 1;
                        turn += 1; // drops the stale reply everywhere
                        let _ = turn_tx.send(turn);
                        playback.clear();
                        pending = None;
                    }
                }
                // 3. Endpointing.
                let mut finished: Option<Utterance> = None;
                if let Some(u) = utt.as_mut() {
                    if let (Some(last), false) = (u.last_voice, vad.speaking()) {
                        let silent = now.saturating_duration_since(last);
                        if silent >= cfg.endpoint && u.ended_at.is_none() {
                            let unfinished = u.text.as_ref().is_some_and(|(_, t, _, _)| sounds_unfinished(t));
                            if !unfinished || silent >= cfg.endpoint_max {
                                u.ended_at = Some(now);
                            }
                        }
                        if u.ended_at.is_some() && u.text.is_some() {
                            finished = utt.take();
                        }
                    }
                }
                if let Some(u) = finished {
                    let (_, text, q, w) = u.text.clone().unwrap_or_default();
                    let text = text.trim().to_string();
                    let last = u.last_voice.unwrap_or(now);
                    let speech = last.saturating_duration_since(u.started);
                    match mode {
                        Mode::Screening { .. } => {
                            if !text.is_empty() {
                                conversation.push(Line { at_ms: at_ms(u.started), author: "user", text });
                            }
                            if speech >= cfg.machine_greeting {
                                mode = Mode::Machine { since: now, quiet_since: Some(now) };
                            } else {
                                mode = Mode::Talking;
                                new_turn(&mut turn, &mut playback, AgentInput::Start);
                            }
                        }
                        Mode::Machine { since, .. } => mode = Mode::Machine { since, quiet_since: Some(now) },
                        Mode::Messaging => {}
                        Mode::Talking => {
                            if text.is_empty() {
                                // Noise, or a cough: keep waiting as before.
                                if !playback.has_audio() {
                                    listening_since = Some(now);
                                }
                            } else {
                                conversation.push(Line { at_ms: at_ms(u.started), author: "user", text: text.clone() });
                                new_turn(&mut turn, &mut playback, AgentInput::Utterance { text });
                                pending = Some(Pending {
                                    turn,
                                    last_voice: last,
                                    endpointing: u.ended_at.unwrap_or(now).saturating_duration_since(last),
                                    stt_queue: q,
                                    stt: w,
                                    sent_at: now,
                                    first_ready: None,
                                });
                            }
                        }
                    }
                }
                // 4. Timers.
                match mode {
                    Mode::Screening { since } => {
                        if utt.is_none() && now.saturating_duration_since(since) >= Duration::from_millis(1500) {
                            // Nobody said hello: a person waiting for us, most likely.
                            mode = Mode::Talking;
                            new_turn(&mut turn, &mut playback, AgentInput::Start);
                        } else if utt.as_ref().is_some_and(|u| {
                            // Still talking after the length of a greeting: a machine.
                            vad.speaking() && now.saturating_duration_since(u.started) >= cfg.machine_greeting
                        }) {
                            mode = Mode::Machine { since: now, quiet_since: None };
                        }
                    }
                    Mode::Machine { since, quiet_since } => {
                        let quiet = !vad.speaking() && !tone.in_tone();
                        let quiet_since = if quiet { quiet_since.or(Some(now)) } else { None };
                        mode = Mode::Machine { since, quiet_since };
                        let greeting_over = quiet_since.is_some_and(|q| now.saturating_duration_since(q) >= Duration::from_millis(2500));
                        if greeting_over || now.saturating_duration_since(since) >= Duration::from_secs(30) {
                            utt = None;
                            mode = leave_message(&cfg, &mut turn, &turn_tx, &mut playback, &back_tx, &tts, &mut end);
                        }
                    }
                    Mode::Messaging => {}
                    Mode::Talking => {
                        if let Some(since) = listening_since {
                            if utt.is_none() && now.saturating_duration_since(since) >= cfg.silence_timeout {
                                listening_since = None;
                                new_turn(&mut turn, &mut playback, AgentInput::Silence);
                            }
                        }
                    }
                }
                if now.saturating_duration_since(last_audio) >= cfg.line_watchdog {
                    end = Some(CallEnd::LineSilent);
                } else if now.saturating_duration_since(answered) >= cfg.max_duration {
                    end = Some(CallEnd::MaxDuration);
                }
            }
        }
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
        latency,
        recording: rec,
        results,
        summary,
        barge_ins,
        backchannels,
    }
}

/// Answering machine: queue the voicemail message (then hang up), or hang up at once.
fn leave_message(
    cfg: &PipelineConfig,
    turn: &mut u64,
    turn_tx: &watch::Sender<u64>,
    playback: &mut Playback<Marker>,
    back: &mpsc::UnboundedSender<Async>,
    tts: &TtsService,
    end: &mut Option<CallEnd>,
) -> Mode {
    *turn += 1;
    let _ = turn_tx.send(*turn);
    playback.clear();
    let Some(message) = cfg.voicemail_message.clone() else {
        *end = Some(CallEnd::Voicemail { message_left: false });
        return Mode::Messaging;
    };
    let (t, tts, back) = (*turn, tts.clone(), back.clone());
    tokio::spawn(async move {
        match tts.synthesize(&message, false).await {
            Ok(s) => {
                let _ = back.send(Async::Spoken {
                    turn: t,
                    text: message,
                    pcm: s.pcm,
                    work: s.work,
                    ready_at: Instant::now(),
                });
            }
            Err(e) => warn!(error = %e, "voicemail message synthesis failed"),
        }
        let _ = back.send(Async::Control {
            turn: t,
            out: AgentOutput::Hangup,
        });
    });
    Mode::Messaging
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backchannels_are_acknowledgements_only() {
        for b in ["Mhm.", "M. H. M.", "Yeah.", "Okay, right.", "Uh-huh", ""] {
            assert!(is_backchannel(b), "{b}");
        }
        for n in ["Sorry,", "Wait.", "No.", "Stop", "Yeah, but wait a second"] {
            assert!(!is_backchannel(n), "{n}");
        }
    }

    #[test]
    fn unfinished_phrases_are_recognized() {
        assert!(sounds_unfinished("Thursday at"));
        assert!(sounds_unfinished("I think, um"));
        assert!(sounds_unfinished("yes and,"));
        assert!(!sounds_unfinished("Thursday at three pm."));
        assert!(!sounds_unfinished("Yes."));
        assert!(sounds_unfinished("My internet"));
        assert!(sounds_unfinished("My internet is down since..."));
        assert!(!sounds_unfinished(""));
    }
}
