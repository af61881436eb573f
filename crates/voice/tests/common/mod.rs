//! Fakes shared by the pipeline tests: speech engines whose output is exact, and a scripted
//! agent.
#![allow(dead_code)]

use parley_speech::{SpeechError, SpeechToText, TextToSpeech};
use parley_telephony::audio::{level_dbfs, FRAME_SAMPLES};
use parley_voice::agent::{Agent, AgentInput, AgentOutput, AgentResults, Summary};
use parley_voice::engines::{SttPool, TtsService};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Every synthesized sentence lasts this many frames (one second).
pub const SENTENCE_FRAMES: usize = 50;
pub const QUESTION: [&str; 3] = [
    "Hi Sam, this is Bright Dental.",
    "Can you still make your appointment tomorrow at ten?",
    "You can also press one for yes.",
];
pub const REPLY: &str = "This is Bright Dental calling.";
/// A caller frame louder than this holds speech; an agent frame louder than this is its voice.
pub const LOUD: f32 = -40.0;

/// A voiced-speech-like signal: a harmonic stack on `f0`, continuous over `frames` frames.
pub fn voiced(frames: usize, f0: f64, amp: f64) -> Vec<i16> {
    (0..frames * FRAME_SAMPLES)
        .map(|i| {
            let t = i as f64 / 8000.0;
            let v: f64 = (1..8)
                .map(|h| (2.0 * std::f64::consts::PI * f0 * h as f64 * t).sin() / h as f64)
                .sum();
            (amp * v) as i16
        })
        .collect()
}

pub fn loud_frames(pcm: &[i16]) -> Vec<bool> {
    pcm.chunks(FRAME_SAMPLES).map(|c| level_dbfs(c) > LOUD).collect()
}

/// One second of tone per sentence, whatever it says.
pub struct ToneTts;
impl TextToSpeech for ToneTts {
    fn synthesize(&self, _text: &str) -> Result<Vec<i16>, SpeechError> {
        Ok(voiced(SENTENCE_FRAMES, 150.0, 5000.0))
    }
}

/// Hears "Yeah." in up to 600 ms of speech and "Sorry, who is this?" in anything longer.
pub struct LengthStt;
impl SpeechToText for LengthStt {
    fn transcribe(&self, pcm: &[i16]) -> Result<String, SpeechError> {
        let speech = loud_frames(pcm).iter().filter(|&&l| l).count();
        Ok(match speech {
            0 => "",
            1..=30 => "Yeah.",
            _ => "Sorry, who is this?",
        }
        .to_string())
    }
}

pub fn engines() -> (SttPool, TtsService) {
    (
        SttPool::new(Arc::new(LengthStt), 1),
        TtsService::new(Arc::new(ToneTts), 1),
    )
}

/// Asks the three-sentence question (with `gap` between the first two sentences' delivery, as
/// a slow synthesis or a streaming LLM leaves) and ends its turn with `then`; answers anything
/// else with one sentence and hangs up.
pub struct Asker {
    /// Delay between handing over the first sentence and the second.
    pub gap: Duration,
    pub then: AgentOutput,
    pub inputs: Arc<Mutex<Vec<AgentInput>>>,
}

impl Agent for Asker {
    async fn handle(&mut self, input: AgentInput, out: &mpsc::Sender<AgentOutput>) {
        self.inputs.lock().unwrap().push(input.clone());
        let say = |t: &str| AgentOutput::Say {
            text: t.into(),
            fixed: false,
        };
        match input {
            AgentInput::Start => {
                let _ = out.send(say(QUESTION[0])).await;
                tokio::time::sleep(self.gap).await;
                let _ = out.send(say(QUESTION[1])).await;
                let _ = out.send(say(QUESTION[2])).await;
                let _ = out.send(self.then.clone()).await;
            }
            _ => {
                let _ = out.send(say(REPLY)).await;
                let _ = out.send(AgentOutput::Hangup).await;
            }
        }
    }

    fn results(&self) -> AgentResults {
        AgentResults::default()
    }

    async fn summarize(&self, _transcript: &str) -> Summary {
        Summary::default()
    }
}
