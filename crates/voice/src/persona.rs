//! Sandbox personas: scripted callers that speak with the offline TTS and listen with VAD.
//!
//! A persona hears the agent only as audio. It takes the agent's turn as over when the agent
//! has spoken and then been silent for [`TURN_GAP`]; then it plays its next scripted step.
//! While the agent speaks it may interrupt or backchannel, as its script says. Only `when_heard`
//! rules make it transcribe what the agent said (so most personas cost no speech-to-text).

use crate::engines::{SttPool, TtsService};
use crate::playback::Playback;
use crate::tone;
use crate::vad::{Vad, VadConfig, VadEvent};
use parley_core::persona::{AnswerMode, OverTalk, PersonaScript, Step};
use parley_telephony::audio::{self, FRAME};
use parley_telephony::network::BoxFuture;
use parley_telephony::sandbox::{Pickup, Subscriber};
use parley_telephony::{Endpoint, LineEvent};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, warn};

/// Agent silence that ends its turn, from the persona's point of view.
pub const TURN_GAP: Duration = Duration::from_millis(800);
/// A persona hangs up on its own after this long, whatever happens.
const MAX_CALL: Duration = Duration::from_secs(600);

/// A persona ready to answer (or place) one call.
pub struct Persona {
    script: PersonaScript,
    tts: TtsService,
    stt: Option<SttPool>,
}

impl Persona {
    /// `stt` is only used when the script has `when_heard` rules.
    pub fn new(script: PersonaScript, tts: TtsService, stt: Option<SttPool>) -> Self {
        Persona { script, tts, stt }
    }
}

impl Subscriber for Persona {
    fn pickup(&self) -> Pickup {
        match self.script.answer {
            AnswerMode::Answer => Pickup::AfterRings(self.script.rings),
            AnswerMode::Never => Pickup::Never,
            AnswerMode::Busy => Pickup::Busy,
            AnswerMode::Reject => Pickup::Reject,
        }
    }

    fn run(self: Box<Self>, line: Endpoint) -> BoxFuture<'static, ()> {
        Box::pin(run(*self, line))
    }
}

/// What the persona queues to play.
#[derive(Clone, Debug, PartialEq)]
enum Cue {
    /// Its own speech finished (the agent's next turn starts after this).
    TurnSpoken,
    /// Its backchannel finished: the agent's turn goes on.
    BackchannelSpoken,
    HangUp,
}

struct State {
    playback: Playback<Cue>,
    /// The agent has spoken since the persona last did.
    agent_turn: Option<Instant>,
    /// The agent's current turn's audio (only kept when rules need it).
    heard: Vec<i16>,
    agent_turns: u32,
    step: usize,
    interrupts: u32,
    backchannels: u32,
    overtalked_this_turn: bool,
    last_agent_voice: Option<Instant>,
}

async fn speak(tts: &TtsService, text: &str, pause_ms: u32, pb: &mut Playback<Cue>, turn: u64) {
    for (i, part) in text.split('|').enumerate() {
        if i > 0 {
            pb.push_audio(turn, vec![0i16; pause_ms as usize * 8].into(), String::new());
        }
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        match tts.synthesize(part, true).await {
            Ok(s) => pb.push_audio(turn, s.pcm, part.to_string()),
            Err(e) => warn!(error = %e, "persona speech synthesis failed"),
        }
    }
}

async fn run(p: Persona, mut line: Endpoint) {
    let script = p.script;
    let started = Instant::now();
    let mut vad = Vad::new(VadConfig::default());
    let mut st = State {
        playback: Playback::default(),
        agent_turn: None,
        heard: vec![],
        agent_turns: 0,
        step: 0,
        interrupts: 0,
        backchannels: 0,
        overtalked_this_turn: false,
        last_agent_voice: None,
    };
    // Synthesize over-talk lines now, so cutting in costs no synthesis time when it is due.
    for o in [&script.interrupt, &script.backchannel].into_iter().flatten() {
        let _ = p.tts.synthesize(&o.text, true).await;
    }
    match &script.voicemail_greeting {
        Some(greeting) => {
            speak(&p.tts, greeting, 0, &mut st.playback, 0).await;
            st.playback.push_audio(0, vec![0i16; 2400].into(), String::new());
            st.playback.push_audio(0, tone::beep(500).into(), String::new());
        }
        None => {
            speak(&p.tts, script.hello(), 0, &mut st.playback, 0).await;
            st.playback.push_marker(0, Cue::TurnSpoken);
        }
    }
    let wants_words = script.needs_stt() && p.stt.is_some();
    let mut tick = tokio::time::interval(FRAME);
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut events = vec![];
    loop {
        tokio::select! {
            biased;
            ev = line.events.recv() => match ev {
                None | Some(LineEvent::HungUp) | Some(LineEvent::Transferred(_)) => return,
                Some(LineEvent::Audio(mu)) => {
                    let pcm = audio::decode(&mu);
                    let now = Instant::now();
                    match vad.push(&pcm) {
                        Some(VadEvent::Start { .. }) => {
                            if st.agent_turn.is_none() {
                                st.agent_turn = Some(now);
                                st.agent_turns += 1;
                                st.overtalked_this_turn = false;
                                st.heard.clear();
                                if script.hang_up_at_turn == Some(st.agent_turns) {
                                    debug!(turn = st.agent_turns, "persona hangs up mid-turn");
                                    line.sender.hang_up().await;
                                    return;
                                }
                            }
                            st.last_agent_voice = None;
                        }
                        Some(VadEvent::End { frames_ago }) => st.last_agent_voice = Some(now - FRAME * frames_ago),
                        Some(VadEvent::Pause { .. }) | None => {}
                    }
                    if wants_words && st.agent_turn.is_some() {
                        st.heard.extend_from_slice(&pcm);
                    }
                }
                Some(_) => {}
            },
            _ = tick.tick() => {
                let now = Instant::now();
                events.clear();
                let frame = st.playback.next_frame(&mut events);
                line.sender.audio(audio::encode(&frame)).await;
                for e in events.drain(..) {
                    if let crate::playback::Played::Marker { marker, .. } = e {
                        match marker {
                            Cue::TurnSpoken => {
                                // The agent's next turn starts with its next words.
                                st.agent_turn = None;
                                st.last_agent_voice = None;
                            }
                            Cue::BackchannelSpoken => {
                                // Having said "yeah", a person expects the agent to go on, and
                                // gives it the usual gap from here before taking the turn: the
                                // agent's pause while it judged the over-talk, with the silence
                                // between two of its sentences, is no end of its turn.
                                if st.last_agent_voice.is_some() {
                                    st.last_agent_voice = Some(now);
                                }
                            }
                            Cue::HangUp => {
                                line.sender.hang_up().await;
                                return;
                            }
                        }
                    }
                }
                if now.saturating_duration_since(started) > MAX_CALL {
                    line.sender.hang_up().await;
                    return;
                }
                // Idle once everything queued has played, markers included: a sentence that ends on a
                // frame boundary leaves its marker for the next tick, and until that marker has
                // played the persona has not finished speaking.
                let idle = st.playback.is_empty();
                // Over-talk while the agent speaks.
                // Over-talk starts in the middle of the agent's words (100 ms voiced in a row), as a person
                // cutting in would, not in the tail of a sentence.
                if let (Some(t0), true, true) = (st.agent_turn, vad.speaking() && vad.voiced_run() >= 5, idle) {
                    let talking = now.saturating_duration_since(t0);
                    if !st.overtalked_this_turn {
                        if let Some(o) = due(&script.interrupt, st.interrupts, talking) {
                            st.interrupts += 1;
                            st.overtalked_this_turn = true;
                            speak(&p.tts, &o.text, 0, &mut st.playback, 0).await;
                            st.playback.push_marker(0, Cue::TurnSpoken);
                            continue;
                        }
                        if let Some(o) = due(&script.backchannel, st.backchannels, talking) {
                            st.backchannels += 1;
                            st.overtalked_this_turn = true;
                            speak(&p.tts, &o.text, 0, &mut st.playback, 0).await;
                            st.playback.push_marker(0, Cue::BackchannelSpoken);
                            continue;
                        }
                    }
                }
                // The agent's turn is over: the next step.
                let turn_over = st.agent_turn.is_some()
                    && !vad.speaking()
                    && st.last_agent_voice.is_some_and(|l| now.saturating_duration_since(l) >= TURN_GAP);
                if turn_over && idle {
                    let mut step = None;
                    if wants_words {
                        if let Some(stt) = &p.stt {
                            let heard = std::mem::take(&mut st.heard);
                            if let Ok(t) = stt.transcribe(Arc::new(heard)).await {
                                let said = t.text.to_lowercase();
                                step = script.rules.iter().find(|r| said.contains(&r.when_heard.to_lowercase())).map(|r| r.then.clone());
                            }
                        }
                    }
                    let step = step.or_else(|| {
                        let s = script.steps.get(st.step).cloned();
                        st.step += 1;
                        s
                    });
                    st.agent_turn = None;
                    st.last_agent_voice = None;
                    match step {
                        Some(Step::Say { text, pause_ms }) => {
                            speak(&p.tts, &text, pause_ms, &mut st.playback, 0).await;
                            st.playback.push_marker(0, Cue::TurnSpoken);
                        }
                        Some(Step::Dtmf { digits }) => {
                            for d in digits.chars() {
                                line.sender.dtmf(d).await;
                            }
                        }
                        Some(Step::HangUp) => st.playback.push_marker(0, Cue::HangUp),
                        Some(Step::Silent) | None => {}
                    }
                }
            }
        }
    }
}

/// The over-talk due now, if any (within its budget and after its delay).
fn due(o: &Option<OverTalk>, done: u32, talking: Duration) -> Option<&OverTalk> {
    o.as_ref()
        .filter(|o| (o.times == 0 || done < o.times) && talking >= Duration::from_millis(o.after_ms as u64))
}
