//! A call's phases against the whole pipeline, deterministically (fake engines, a caller who
//! plays a fixed recording, tokio's paused clock): the hello before the agent speaks, the
//! silence re-prompt, answering machines.
// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use parley_telephony::audio::{self, FRAME_SAMPLES};
use parley_telephony::line::pair;
use parley_telephony::{Endpoint, LineEvent};
use parley_voice::agent::{AgentInput, AgentOutput};
use parley_voice::pipeline::{run_call, CallEnd, CallEngines, CallNote, CallReport, PipelineConfig};
use parley_voice::tone::beep;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Plays `pcm` from the answer on, then silence, until the call ends; presses `key` at its
/// frame.
async fn caller(mut line: Endpoint, pcm: Vec<i16>, key: Option<(usize, char)>) {
    let mut frames = audio::frames(&pcm).collect::<Vec<_>>().into_iter();
    let mut tick = tokio::time::interval(parley_telephony::audio::FRAME);
    let mut sent = 0;
    loop {
        tokio::select! {
            ev = line.events.recv() => {
                if matches!(ev, None | Some(LineEvent::HungUp)) {
                    return;
                }
            }
            _ = tick.tick() => {
                let f = frames.next().unwrap_or([0; FRAME_SAMPLES]);
                line.sender.audio(audio::encode(&f)).await;
                sent += 1;
                if let Some((_, digit)) = key.filter(|&(at, _)| at == sent) {
                    line.sender.dtmf(digit).await;
                }
            }
        }
    }
}

fn silence(ms: usize) -> Vec<i16> {
    vec![0; ms * 8]
}

async fn call(pcm: Vec<i16>, voicemail: Option<&str>) -> (CallReport, Vec<AgentInput>) {
    let (r, inputs, _) = call_with(pcm, voicemail, None, AgentOutput::Listen).await;
    (r, inputs)
}

async fn call_with(
    pcm: Vec<i16>,
    voicemail: Option<&str>,
    key: Option<(usize, char)>,
    then: AgentOutput,
) -> (CallReport, Vec<AgentInput>, Vec<CallNote>) {
    let (agent_end, caller_end) = pair();
    let inputs = Arc::new(Mutex::new(vec![]));
    let agent = Asker {
        gap: Duration::ZERO,
        then,
        inputs: inputs.clone(),
    };
    let cfg = PipelineConfig {
        screen_for_machine: true,
        voicemail_message: voicemail.map(str::to_string),
        silence_timeout: Duration::from_secs(2),
        max_duration: Duration::from_secs(60),
        ..PipelineConfig::default()
    };
    let (stt, tts) = engines();
    let (notes, mut notes_rx) = mpsc::unbounded_channel();
    let person = tokio::spawn(caller(caller_end, pcm, key));
    let report = run_call(
        agent,
        agent_end,
        CallEngines::new(Arc::new(stt), Arc::new(tts)),
        cfg,
        notes,
    )
    .await;
    let _ = person.await;
    let inputs = inputs.lock().unwrap().clone();
    let mut noted = vec![];
    while let Ok(n) = notes_rx.try_recv() {
        noted.push(n);
    }
    (report, inputs, noted)
}

fn lines(r: &CallReport) -> Vec<(&str, &str)> {
    r.conversation.iter().map(|l| (l.author, l.text.as_str())).collect()
}

#[tokio::test(start_paused = true)]
async fn a_hello_then_silence_gets_the_question_and_a_reprompt() {
    let mut pcm = silence(100);
    pcm.extend(voiced(12, 120.0, 6000.0));
    let (r, inputs) = call(pcm, None).await;
    assert_eq!(inputs, [AgentInput::Start, AgentInput::Silence], "{}", r.transcript());
    assert_eq!(
        lines(&r),
        [
            ("user", "Yeah."),
            ("ai", QUESTION[0]),
            ("ai", QUESTION[1]),
            ("ai", QUESTION[2]),
            ("ai", REPLY)
        ]
    );
    // The re-prompt comes the silence window after the question has been played.
    let asked_end = r.conversation[3].at_ms + 1000;
    let reprompt = r.conversation[4].at_ms;
    assert!(
        (2000..2100).contains(&(reprompt - asked_end)),
        "{reprompt} - {asked_end}"
    );
    assert_eq!(r.end, CallEnd::AgentHungUp);
}

#[tokio::test(start_paused = true)]
async fn nobody_saying_hello_starts_the_agent_after_a_wait() {
    let (r, inputs) = call(vec![], None).await;
    assert_eq!(inputs, [AgentInput::Start, AgentInput::Silence]);
    assert!(
        (1500..1600).contains(&r.conversation[0].at_ms),
        "{:?}",
        r.conversation[0]
    );
}

#[tokio::test(start_paused = true)]
async fn an_answering_machine_gets_the_message_after_its_beep() {
    let mut pcm = voiced(150, 120.0, 6000.0);
    pcm.extend(silence(300));
    pcm.extend(beep(500));
    let (r, inputs) = call(pcm, Some("Please call us back.")).await;
    assert_eq!(inputs, [], "the agent never spoke: {}", r.transcript());
    assert_eq!(lines(&r), [("ai", "Please call us back.")]);
    let beep_end = 3000 + 300 + 500;
    assert!(
        (beep_end..beep_end + 100).contains(&r.conversation[0].at_ms),
        "{:?}",
        r.conversation
    );
    assert_eq!(r.end, CallEnd::Voicemail { message_left: true });
    // Without a message to leave, the machine is hung up on.
    let mut pcm = voiced(150, 120.0, 6000.0);
    pcm.extend(silence(300));
    pcm.extend(beep(500));
    let (r, _) = call(pcm, None).await;
    assert_eq!(r.end, CallEnd::Voicemail { message_left: false });
    assert!(r.conversation.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_key_pressed_over_the_question_is_the_callers_turn() {
    // "Hello", then key 1 half a second into the question.
    let mut pcm = silence(100);
    pcm.extend(voiced(12, 120.0, 6000.0));
    let (r, inputs, _) = call_with(pcm, None, Some((70, '1')), AgentOutput::Listen).await;
    assert_eq!(inputs, [AgentInput::Start, AgentInput::Dtmf('1')], "{}", r.transcript());
    assert_eq!(
        lines(&r),
        [
            ("user", "Yeah."),
            ("ai", QUESTION[0]),
            ("user", "[pressed 1]"),
            ("ai", REPLY)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_transfer_follows_the_question_and_is_noted() {
    let to = "+12125550100".to_string();
    let then = AgentOutput::Transfer {
        phone_number: to.clone(),
    };
    let (r, _, notes) = call_with(vec![], None, None, then).await;
    assert_eq!(r.end, CallEnd::Transferred(to.clone()));
    assert_eq!(r.conversation.len(), 3, "the whole question first: {}", r.transcript());
    // Each conversation line is told as it is said, in order, before the transfer.
    let said: Vec<_> = notes
        .iter()
        .filter_map(|n| match n {
            CallNote::Said(l) => Some(l.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(said, r.conversation);
    let others: Vec<_> = notes.iter().filter(|n| !matches!(n, CallNote::Said(_))).collect();
    assert_eq!(others, [&CallNote::Transferring { phone_number: to }]);
}
