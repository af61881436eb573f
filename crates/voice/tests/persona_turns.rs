//! The sandbox personas' turn taking, deterministically: a persona (with a fake TTS whose
//! speech is a tone of whole frames) against a scripted agent on the other end of the line, on
//! tokio's paused clock.
//!
//! A persona stands in for a person in the end-to-end tests, so its mistakes read as the
//! pipeline's: one that takes the agent's pause after its own "yeah" as the end of the agent's
//! turn answers over the rest of the question, and the agent seems to have dropped it.
// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use parley_core::persona::{OverTalk, PersonaScript};
use parley_speech::{SpeechError, TextToSpeech};
use parley_telephony::audio::{self, level_dbfs, FRAME, FRAME_SAMPLES};
use parley_telephony::line::pair;
use parley_telephony::sandbox::Subscriber;
use parley_telephony::{Endpoint, LineEvent};
use parley_voice::engines::TtsService;
use parley_voice::persona::Persona;
use std::sync::Arc;

/// A voiced-speech-like signal: a harmonic stack on `f0`, `frames` whole frames long.
fn voiced(frames: usize, f0: f64) -> Vec<i16> {
    (0..frames * FRAME_SAMPLES)
        .map(|i| {
            let t = i as f64 / 8000.0;
            let v: f64 = (1..8)
                .map(|h| (2.0 * std::f64::consts::PI * f0 * h as f64 * t).sin() / h as f64)
                .sum();
            (5000.0 * v) as i16
        })
        .collect()
}

/// A second for "Sorry who is this", 300 ms for anything else; always whole frames, so each
/// line ends exactly on a frame boundary (its marker plays on the next tick).
struct FrameTts;
impl TextToSpeech for FrameTts {
    fn synthesize(&self, text: &str) -> Result<Vec<i16>, SpeechError> {
        Ok(voiced(if text.starts_with("Sorry") { 50 } else { 15 }, 120.0))
    }
}

/// What the scripted agent does when the caller talks over it.
#[derive(Clone, Copy)]
enum OnOvertalk {
    /// Pauses while the caller talks and this many frames after (VAD hangover and a judge's
    /// wait), then goes on with the rest of its turn: a backchannel.
    Resume { hold: usize },
    /// Stops (a barge-in) and, once the caller has been quiet this many frames, says a reply of
    /// `frames` and listens.
    Reply { after_quiet: usize, frames: usize },
}

/// The frame-by-frame record of a call, from the agent's side.
struct Record {
    /// Per tick: whether the agent sent voice.
    agent: Vec<bool>,
    /// Per caller frame: whether it was loud.
    caller: Vec<bool>,
}

/// Runs the agent: waits for the persona's hello, speaks `turn` frames (reacting to over-talk as
/// told), then listens until the persona has answered and gone quiet.
async fn agent(mut line: Endpoint, turn: usize, on: OnOvertalk) -> Record {
    let mut tick = tokio::time::interval(FRAME);
    let mut rec = Record {
        agent: vec![],
        caller: vec![],
    };
    let voice = voiced(1, 150.0);
    let voice: [i16; FRAME_SAMPLES] = voice.try_into().unwrap();
    let mut budget = 0usize;
    let mut started = false;
    let mut overtalked = false;
    let mut reply_due = false;
    loop {
        tokio::select! {
            biased;
            ev = line.events.recv() => match ev {
                Some(LineEvent::Audio(mu)) => rec.caller.push(level_dbfs(&audio::decode(&mu)) > -40.0),
                None | Some(LineEvent::HungUp) => return rec,
                Some(_) => {}
            },
            _ = tick.tick() => {
                let c = &rec.caller;
                let quiet_for = c.iter().rev().take_while(|&&l| !l).count();
                let spoke = c.iter().any(|&l| l);
                if !started {
                    // The persona's hello, then our turn.
                    if spoke && quiet_for >= 10 {
                        started = true;
                        budget = turn;
                    }
                } else if !overtalked && budget > 0 && c.len() >= 2 && c[c.len() - 2..].iter().all(|&l| l) {
                    overtalked = true;
                    if let OnOvertalk::Reply { .. } = on {
                        budget = 0;
                        reply_due = true;
                    }
                }
                if let OnOvertalk::Reply { after_quiet, frames } = on {
                    if reply_due && quiet_for >= after_quiet {
                        reply_due = false;
                        budget = frames;
                    }
                }
                let holding = match on {
                    OnOvertalk::Resume { hold } => overtalked && (quiet_for < 6 + hold),
                    OnOvertalk::Reply { .. } => false,
                };
                let talk = budget > 0 && !holding;
                if talk {
                    budget -= 1;
                }
                rec.agent.push(talk);
                line.sender.audio(audio::encode(if talk { &voice } else { &[0; FRAME_SAMPLES] })).await;
                // Done once the persona has answered (a third burst of speech) and gone quiet.
                if segments(&rec.caller).len() >= 3 && quiet_for >= 50 {
                    line.sender.hang_up().await;
                    return rec;
                }
                if rec.agent.len() > 1500 {
                    return rec;
                }
            }
        }
    }
}

/// Runs of loud frames (split by at least 5 quiet ones): (first, last) frame.
fn segments(loud: &[bool]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = vec![];
    for (i, &l) in loud.iter().enumerate() {
        if !l {
            continue;
        }
        match out.last_mut() {
            Some((_, end)) if i - *end <= 5 => *end = i,
            _ => out.push((i, i)),
        }
    }
    out
}

fn script(interrupt: Option<OverTalk>, backchannel: Option<OverTalk>) -> PersonaScript {
    PersonaScript {
        interrupt,
        backchannel,
        ..PersonaScript::builtin(0).unwrap()
    }
}

async fn call(script: PersonaScript, turn: usize, on: OnOvertalk) -> Record {
    let tts = TtsService::new(Arc::new(FrameTts), 1);
    let (agent_end, persona_end) = pair();
    let persona = tokio::spawn(Box::new(Persona::new(script, tts, None)).run(persona_end));
    let rec = agent(agent_end, turn, on).await;
    persona.abort();
    rec
}

#[tokio::test(start_paused = true)]
async fn after_its_backchannel_a_persona_lets_the_agent_go_on() {
    let yeah = OverTalk {
        text: "Yeah.".into(),
        after_ms: 900,
        times: 0,
    };
    // The agent's turn: three seconds; it pauses for the "yeah" and 500 ms after it.
    let rec = call(script(None, Some(yeah)), 150, OnOvertalk::Resume { hold: 19 }).await;
    let said = segments(&rec.caller);
    assert_eq!(said.len(), 3, "hello, yeah, answer: {said:?}");
    assert_eq!(said[1].1 - said[1].0 + 1, 15, "the yeah alone: {said:?}");
    let agent_done = rec.agent.iter().rposition(|&a| a).unwrap();
    assert_eq!(
        rec.agent.iter().filter(|&&a| a).count(),
        150,
        "the agent said all of its turn"
    );
    // The answer comes after the whole turn, and the usual gap (the persona's 800 ms, less the
    // VAD's hangover and a frame or two of line delay).
    let answer = said[2].0;
    assert!(
        answer > agent_done + 30,
        "answered at frame {answer}, the agent finished at {agent_done}"
    );
}

#[tokio::test(start_paused = true)]
async fn after_its_interruption_a_persona_waits_for_the_agent() {
    let sorry = OverTalk {
        text: "Sorry who is this".into(),
        after_ms: 900,
        times: 1,
    };
    // The agent stops at once and replies 600 ms after the caller went quiet.
    let on = OnOvertalk::Reply {
        after_quiet: 30,
        frames: 50,
    };
    let rec = call(script(Some(sorry), None), 150, on).await;
    let said = segments(&rec.caller);
    assert_eq!(said.len(), 3, "hello, interruption, answer: {said:?}");
    assert_eq!(said[1].1 - said[1].0 + 1, 50, "the interruption alone: {said:?}");
    let reply_done = rec.agent.iter().rposition(|&a| a).unwrap();
    let answer = said[2].0;
    assert!(
        answer > reply_done + 30,
        "answered at frame {answer}, the agent's reply ended at {reply_done}"
    );
}
