//! Caller speech over the agent, against the whole pipeline, deterministically: fake engines
//! (TTS: a voiced tone of fixed length per sentence; STT: words by the length of the clip), a
//! scripted caller on the other end of the line, and tokio's paused clock, so every case plays
//! out the same frame by frame on every run.
//!
//! A backchannel ("yeah") anywhere in the agent's turn (mid-sentence, exactly on the boundary
//! between two sentences, in the gap while the next sentence is still being synthesized, or
//! delivered late in a burst by a loaded network) must leave the agent's turn whole: every
//! sentence played, no caller line, no input to the agent. Real words over the agent must
//! interrupt it, silencing its audio within 100 ms of the caller's onset.
// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use parley_telephony::audio::{self, level_dbfs, PcmFrame, FRAME, FRAME_SAMPLES};
use parley_telephony::line::pair;
use parley_telephony::{Endpoint, LineEvent};
use parley_voice::agent::{AgentInput, AgentOutput};
use parley_voice::pipeline::{run_call, CallEnd, CallEngines, CallReport, PipelineConfig};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// When and how the scripted caller talks over the agent.
#[derive(Clone, Copy, Debug)]
struct Overtalk {
    /// Starts after hearing this many loud agent frames...
    after_loud: usize,
    /// ...and then this many more frames of anything (the gap after a sentence).
    then_frames: usize,
    /// Voiced frames it says.
    voiced: usize,
    /// Holds back its frames for this many ticks from this frame of its over-talk on (counted
    /// from its first voiced frame), then sends the backlog at once (a loaded machine or network
    /// delivering audio in a burst).
    stall: Option<(usize, usize)>,
}

/// The caller: silence, one over-talk as scripted, silence until the agent hangs up.
async fn caller(mut line: Endpoint, o: Overtalk) {
    let mut tick = tokio::time::interval(FRAME);
    let mut loud = 0usize;
    let mut countdown: Option<usize> = None;
    let mut speech: VecDeque<PcmFrame> = VecDeque::new();
    let mut started = false;
    let mut sent = 0usize;
    let mut held: Vec<PcmFrame> = vec![];
    let mut stall_left: Option<usize> = None;
    loop {
        tokio::select! {
            biased;
            ev = line.events.recv() => match ev {
                Some(LineEvent::Audio(mu)) => {
                    if level_dbfs(&audio::decode(&mu)) > LOUD {
                        loud += 1;
                    }
                    if !started && countdown.is_none() && loud >= o.after_loud {
                        countdown = Some(o.then_frames);
                    }
                }
                None | Some(LineEvent::HungUp) => return,
                Some(_) => {}
            },
            _ = tick.tick() => {
                if let Some(c) = countdown.as_mut() {
                    if *c == 0 {
                        countdown = None;
                        started = true;
                        speech.extend(audio::frames(&voiced(o.voiced, 120.0, 6000.0)));
                    } else {
                        *c -= 1;
                    }
                }
                let f = speech.pop_front().unwrap_or([0; FRAME_SAMPLES]);
                if started {
                    sent += 1;
                }
                if let Some((at, ticks)) = o.stall {
                    if stall_left.is_none() && sent == at + 1 {
                        stall_left = Some(ticks);
                    }
                }
                match stall_left.as_mut() {
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        held.push(f);
                        continue;
                    }
                    _ => {}
                }
                for h in held.drain(..) {
                    line.sender.audio(audio::encode(&h)).await;
                }
                line.sender.audio(audio::encode(&f)).await;
            }
        }
    }
}

struct Call {
    report: CallReport,
    inputs: Vec<AgentInput>,
}

async fn call(gap: Duration, o: Overtalk) -> Call {
    let (agent_end, caller_end) = pair();
    let inputs = Arc::new(Mutex::new(vec![]));
    let agent = Asker {
        gap,
        then: AgentOutput::Hangup,
        inputs: inputs.clone(),
    };
    let cfg = PipelineConfig {
        screen_for_machine: false,
        max_duration: Duration::from_secs(60),
        ..PipelineConfig::default()
    };
    let (stt, tts) = engines();
    let (notes, _notes_rx) = mpsc::unbounded_channel();
    let person = tokio::spawn(caller(caller_end, o));
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
    Call { report, inputs }
}

/// The whole question was played and nothing the caller said reached the agent.
fn assert_turn_whole(c: &Call, case: &str) {
    let r = &c.report;
    let said: Vec<&str> = r.conversation.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(said, QUESTION, "{case}: {}", r.transcript());
    assert_eq!(c.inputs, [AgentInput::Start], "{case}: {}", r.transcript());
    assert_eq!((r.backchannels, r.barge_ins), (1, 0), "{case}: backchannels, barge-ins");
    assert_eq!(r.end, CallEnd::AgentHungUp, "{case}");
    let agent_loud = loud_frames(r.recording.agent_pcm()).iter().filter(|&&l| l).count();
    assert_eq!(
        agent_loud,
        3 * SENTENCE_FRAMES,
        "{case}: every frame of the question was sent"
    );
}

fn yeah(after_loud: usize, then_frames: usize) -> Overtalk {
    Overtalk {
        after_loud,
        then_frames,
        voiced: 15,
        stall: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_backchannel_anywhere_in_a_sentence_or_on_its_boundary_is_not_a_turn() {
    // The caller's "yeah" starts after 10 to 90 loud frames of the agent heard: mid-sentence
    // and, frame by frame, across the boundary between sentences one and two (frame 50).
    for after in (10..44).step_by(6).chain(44..=56).chain((60..=90).step_by(10)) {
        let c = call(Duration::ZERO, yeah(after, 0)).await;
        assert_turn_whole(&c, &format!("yeah after {after} agent frames"));
    }
}

#[tokio::test(start_paused = true)]
async fn a_backchannel_while_the_next_sentence_is_still_being_synthesized_is_not_a_turn() {
    // Sentence two arrives a second after sentence one has finished playing. The "yeah" starts
    // 0 to 60 frames into that gap: wholly inside it (and endpointed there, as an utterance
    // would be), still going when sentence two arrives, or just after.
    let gap = FRAME * SENTENCE_FRAMES as u32 + Duration::from_secs(1);
    for then in (0..=60).step_by(3) {
        let c = call(gap, yeah(SENTENCE_FRAMES, then)).await;
        assert_turn_whole(&c, &format!("yeah {then} frames into the gap"));
    }
}

#[tokio::test(start_paused = true)]
async fn a_backchannel_delivered_in_a_burst_is_still_a_backchannel() {
    // The caller's frames stall for 200 to 700 ms inside its "yeah" (15 voiced frames), in the
    // VAD's hangover after it, or while the judge waits for quiet, and then arrive all at once:
    // the over-talk and the quiet after it are as long as the audio, not as the wall clock.
    for (at, ticks) in [(5, 15), (10, 25), (14, 35), (17, 20), (23, 25), (25, 40)] {
        let o = Overtalk {
            stall: Some((at, ticks)),
            ..yeah(20, 0)
        };
        let c = call(Duration::ZERO, o).await;
        assert_turn_whole(&c, &format!("stall of {ticks} ticks after {at} voiced frames"));
    }
}

#[tokio::test(start_paused = true)]
async fn real_words_over_the_agent_interrupt_it_within_100_ms() {
    for after in [25, 49, 50, 51, 75] {
        let case = format!("over-talk after {after} agent frames");
        let o = Overtalk {
            after_loud: after,
            then_frames: 0,
            voiced: 75,
            stall: None,
        };
        let c = call(Duration::ZERO, o).await;
        let r = &c.report;
        assert_eq!((r.barge_ins, r.backchannels), (1, 0), "{case}: {}", r.transcript());
        assert_eq!(
            c.inputs,
            [
                AgentInput::Start,
                AgentInput::Utterance {
                    text: "Sorry, who is this?".into()
                }
            ],
            "{case}"
        );
        // The stale rest of the question is dropped; the reply follows the caller's words.
        let said: Vec<&str> = r.conversation.iter().map(|l| l.text.as_str()).collect();
        let user = said
            .iter()
            .position(|&t| t == "Sorry, who is this?")
            .expect("the caller's line");
        assert_eq!(said.last(), Some(&REPLY), "{case}: {}", r.transcript());
        assert!(!said[..user].contains(&QUESTION[2]), "{case}: {}", r.transcript());
        // On the recording: the agent goes quiet within 100 ms of the caller's onset and stays
        // quiet while the caller talks.
        let caller = loud_frames(r.recording.caller_pcm());
        let agent = loud_frames(r.recording.agent_pcm());
        let onset = caller.iter().position(|&l| l).expect("the caller spoke");
        assert!(
            agent[onset.saturating_sub(3)..onset].iter().all(|&l| l),
            "{case}: the agent was talking"
        );
        let quiet = (onset..agent.len()).find(|&i| !agent[i]).unwrap();
        assert!(
            quiet - onset <= 5,
            "{case}: agent quiet {} ms after the onset",
            (quiet - onset) * 20
        );
        assert!(agent[quiet..onset + 75].iter().all(|&l| !l), "{case}: and stays quiet");
    }
}
