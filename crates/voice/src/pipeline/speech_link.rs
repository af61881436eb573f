//! The shell's side of the speech engines: one session per call and engine, the core's requests
//! turned into session inputs, the sessions' answers turned back into frames, and the switch to
//! the embedded engine when a provider fails mid-call.
//!
//! Why here and not in the core: sessions are I/O (a cloud engine is a socket), and a failure
//! arrives at any time; the core only ever sees `SttResult` and `AgentAudio`/`AgentMarker`
//! frames, whichever engine produced them.

use crate::engines::Transcription;
use crate::frame::{Frame, Marker, SpeakerJob};
use crate::pipeline::{CallNote, SpeechPart};
use parley_speech::session::{
    StreamingStt, StreamingTts, SttEvent, SttInput, SttSession, TtsEvent, TtsInput, TtsSession,
};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::warn;

/// A call's speech engines: the chosen ones and what takes over when they fail.
#[derive(Clone)]
pub struct CallEngines {
    pub stt: Arc<dyn StreamingStt>,
    pub tts: Arc<dyn StreamingTts>,
    /// The embedded engines, when the chosen ones are remote (None: no fallback).
    pub stt_fallback: Option<Arc<dyn StreamingStt>>,
    pub tts_fallback: Option<Arc<dyn StreamingTts>>,
}

impl CallEngines {
    /// Engines with no fallback (the embedded ones, or a test's).
    pub fn new(stt: Arc<dyn StreamingStt>, tts: Arc<dyn StreamingTts>) -> Self {
        CallEngines {
            stt,
            tts,
            stt_fallback: None,
            tts_fallback: None,
        }
    }
}

/// Speech-to-text for one call.
pub struct SttLink {
    engine: Arc<dyn StreamingStt>,
    fallback: Option<Arc<dyn StreamingStt>>,
    session: SttSession,
    /// The utterance whose audio the session holds, and that audio (replayed into the
    /// fallback's session if the engine fails in the middle of it).
    utterance: Option<u64>,
    audio: Vec<i16>,
    next_id: u64,
    /// Finalize ids not answered yet: (utterance, samples, context).
    asked: HashMap<u64, (u64, usize, String)>,
    /// Set once no engine is left: every request is answered with this error.
    dead: Option<String>,
}

/// What the link hands the shell.
pub enum SttOut {
    /// A frame for the core (`SttResult`; boxed: frames are large, this one passes once a turn).
    Frame(Box<Frame>),
    /// The engine failed and another took over (or none could).
    Note(CallNote),
}

impl SttLink {
    pub fn new(engine: Arc<dyn StreamingStt>, fallback: Option<Arc<dyn StreamingStt>>) -> Self {
        let session = engine.open();
        SttLink {
            engine,
            fallback,
            session,
            utterance: None,
            audio: vec![],
            next_id: 0,
            asked: HashMap::new(),
            dead: None,
        }
    }

    /// The session holds `utterance` from now on (a new one starts from nothing).
    fn hold(&mut self, utterance: u64) {
        if self.utterance != Some(utterance) {
            if self.utterance.is_some() {
                self.session.send(SttInput::Reset);
            }
            self.utterance = Some(utterance);
            self.audio.clear();
        }
    }

    /// More of the caller's utterance, as it is heard.
    pub fn audio(&mut self, utterance: u64, pcm: Arc<[i16]>) {
        self.hold(utterance);
        self.audio.extend_from_slice(&pcm);
        self.session.send(SttInput::Audio(pcm));
    }

    /// The core asks for the transcript of `utterance` up to `samples` (`pcm` is that audio,
    /// in case some of it never went out as audio).
    pub fn transcribe(&mut self, utterance: u64, samples: usize, pcm: &[i16], context: String) -> Option<Frame> {
        if let Some(error) = &self.dead {
            return Some(Frame::SttResult {
                utterance,
                samples,
                result: Err(error.clone()),
            });
        }
        self.hold(utterance);
        if self.audio.len() < samples && pcm.len() >= samples {
            let missing: Arc<[i16]> = Arc::from(&pcm[self.audio.len()..samples]);
            self.audio.extend_from_slice(&missing);
            self.session.send(SttInput::Audio(missing));
        }
        self.next_id += 1;
        let id = self.next_id;
        // Only the newest request can still matter: the core drops answers to older ones.
        self.asked.clear();
        self.asked.insert(id, (utterance, samples, context.clone()));
        self.session.send(SttInput::Finalize { id, context });
        None
    }

    /// The next answer for the shell; pending forever once the session is over.
    pub async fn next(&mut self) -> SttOut {
        loop {
            match self.session.next().await {
                Some(SttEvent::Final { id, text, timing }) => {
                    if let Some((utterance, samples, _)) = self.asked.remove(&id) {
                        return SttOut::Frame(Box::new(Frame::SttResult {
                            utterance,
                            samples,
                            result: Ok(Transcription {
                                text,
                                queue: timing.queue,
                                work: timing.work,
                            }),
                        }));
                    }
                }
                Some(SttEvent::Partial { .. } | SttEvent::SpeechStarted | SttEvent::EndOfSpeech) => {}
                Some(SttEvent::Failed(e)) => return self.fail(e.to_string()),
                None => {
                    if self.dead.is_none() {
                        return self.fail("the speech-to-text session ended".into());
                    }
                    std::future::pending::<()>().await;
                }
            }
        }
    }

    /// The engine failed: the fallback takes the rest of the call, hearing the utterance in
    /// progress again and the request still open; without one, requests fail from now on.
    fn fail(&mut self, error: String) -> SttOut {
        let provider = self.engine.name().to_string();
        warn!(provider, error, "speech-to-text failed mid-call");
        let note = |to: Option<&str>| {
            SttOut::Note(CallNote::EngineFallback {
                part: SpeechPart::Stt,
                provider: provider.clone(),
                fallback: to.map(str::to_string),
                error: error.clone(),
            })
        };
        match self.fallback.take() {
            Some(next) => {
                self.session = next.open();
                if !self.audio.is_empty() {
                    self.session.send(SttInput::Audio(Arc::from(&self.audio[..])));
                }
                for (&id, (_, _, context)) in &self.asked {
                    self.session.send(SttInput::Finalize {
                        id,
                        context: context.clone(),
                    });
                }
                let out = note(Some(next.name()));
                self.engine = next;
                out
            }
            None => {
                self.dead = Some(error.clone());
                // Whatever was asked is answered (with the error) by the next request; the
                // open one is answered now through a fresh closed session.
                let (session, _) = SttSession::pair();
                self.session = session;
                note(None)
            }
        }
    }

    /// Requests the failed engine left unanswered, answered with the error (no fallback).
    pub fn unanswered(&mut self) -> Vec<Frame> {
        let Some(error) = &self.dead else { return vec![] };
        self.asked
            .drain()
            .map(|(_, (utterance, samples, _))| Frame::SttResult {
                utterance,
                samples,
                result: Err(error.clone()),
            })
            .collect()
    }
}

/// The speaker task: the agent's sentences and markers, in order, through a text-to-speech
/// session; audio and markers go back to the core as frames. A turn that is no longer current
/// is cancelled in the session, and its markers are dropped.
pub fn spawn_speaker(
    engines: (Arc<dyn StreamingTts>, Option<Arc<dyn StreamingTts>>),
    mut jobs: mpsc::UnboundedReceiver<(u64, SpeakerJob)>,
    mut current: watch::Receiver<u64>,
    back: mpsc::UnboundedSender<Frame>,
    notes: mpsc::UnboundedSender<CallNote>,
) {
    tokio::spawn(async move {
        let (mut engine, mut fallback) = engines;
        let mut session: TtsSession = engine.open();
        // Markers waiting for their turn's audio to be out (one flush each), in order.
        let mut markers: VecDeque<(u64, Marker)> = VecDeque::new();
        // Sentences sent whose audio has not started: said again by a fallback.
        let mut unsaid: VecDeque<(u64, String, bool)> = VecDeque::new();
        let mut turn = *current.borrow();
        let mut jobs_open = true;
        loop {
            tokio::select! {
                job = jobs.recv(), if jobs_open => match job {
                    Some((t, _)) if t != *current.borrow() => {}
                    Some((t, SpeakerJob::Say { text, fixed })) => {
                        unsaid.push_back((t, text.clone(), fixed));
                        session.send(TtsInput::Text { context: t, text, fixed });
                    }
                    Some((t, SpeakerJob::Mark(marker))) => {
                        markers.push_back((t, marker));
                        session.send(TtsInput::Flush { context: t });
                    }
                    None => jobs_open = false,
                },
                changed = current.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let now = *current.borrow();
                    if now != turn {
                        session.send(TtsInput::Cancel { context: turn });
                        markers.retain(|(t, _)| *t == now);
                        unsaid.retain(|(t, _, _)| *t == now);
                        turn = now;
                    }
                }
                event = session.next() => match event {
                    Some(TtsEvent::Audio { context, text, pcm, timing }) => {
                        if !text.is_empty() {
                            if let Some(i) = unsaid.iter().position(|(t, s, _)| *t == context && *s == text) {
                                unsaid.remove(i);
                            }
                        }
                        if context == *current.borrow() {
                            let _ = back.send(Frame::AgentAudio { turn: context, text, pcm, work: timing.work, ready_at: Instant::now() });
                        }
                    }
                    Some(TtsEvent::Done { context }) => {
                        if markers.front().is_some_and(|(t, _)| *t == context) {
                            let (t, marker) = markers.pop_front().expect("front");
                            if t == *current.borrow() {
                                let _ = back.send(Frame::AgentMarker { turn: t, marker });
                            }
                        }
                    }
                    Some(TtsEvent::Skipped { text, error, .. }) => {
                        warn!(error = %error, text, "text-to-speech failed; sentence skipped");
                        unsaid.retain(|(_, s, _)| *s != text);
                    }
                    Some(TtsEvent::Failed(error)) => {
                        let error = error.to_string();
                        let to = fallback.take();
                        warn!(provider = engine.name(), error, "text-to-speech failed mid-call");
                        let _ = notes.send(CallNote::EngineFallback {
                            part: SpeechPart::Tts,
                            provider: engine.name().to_string(),
                            fallback: to.as_ref().map(|f| f.name().to_string()),
                            error,
                        });
                        let Some(next) = to else { break };
                        engine = next;
                        session = engine.open();
                        // The current turn's unsaid sentences and its pending markers again.
                        let now = *current.borrow();
                        for (t, text, fixed) in unsaid.iter().filter(|(t, ..)| *t == now) {
                            session.send(TtsInput::Text { context: *t, text: text.clone(), fixed: *fixed });
                        }
                        for (t, _) in markers.iter().filter(|(t, _)| *t == now) {
                            session.send(TtsInput::Flush { context: *t });
                        }
                    }
                    None => break,
                },
            }
            if !jobs_open && markers.is_empty() && unsaid.is_empty() {
                break;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::{SttPool, TtsService};
    use parley_speech::session::{EngineSide, SttSession};
    use parley_speech::{SpeechError, SpeechToText, TextToSpeech};
    use std::time::Duration;

    /// Hears how many samples it was given.
    struct Length;
    impl SpeechToText for Length {
        fn transcribe(&self, pcm: &[i16]) -> Result<String, SpeechError> {
            Ok(format!("{} samples", pcm.len()))
        }
    }

    /// One sample per character of the text.
    struct Chars;
    impl TextToSpeech for Chars {
        fn synthesize(&self, text: &str) -> Result<Vec<i16>, SpeechError> {
            Ok(vec![1; text.len()])
        }
    }

    /// A remote engine whose connection drops as soon as it is asked anything.
    struct Broken;
    impl StreamingStt for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        fn open(&self) -> SttSession {
            let (session, mut side): (SttSession, EngineSide<_, _>) = SttSession::pair();
            tokio::spawn(async move {
                while let Some(i) = side.input.recv().await {
                    if matches!(i, SttInput::Finalize { .. }) {
                        side.emit(SttEvent::Failed(SpeechError::Engine("connection reset".into())));
                        return;
                    }
                }
            });
            session
        }
    }
    impl StreamingTts for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        fn open(&self) -> TtsSession {
            let (session, side) = TtsSession::pair();
            side.emit(TtsEvent::Failed(SpeechError::Engine("401 unauthorized".into())));
            session
        }
    }

    #[tokio::test]
    async fn a_failed_stt_engine_hands_the_utterance_and_its_request_to_the_fallback() {
        let fallback: Arc<dyn StreamingStt> = Arc::new(SttPool::new(Arc::new(Length), 1));
        let mut link = SttLink::new(Arc::new(Broken), Some(fallback));
        link.audio(1, vec![0; 160].into());
        link.audio(1, vec![0; 160].into());
        assert!(link.transcribe(1, 320, &[0; 320], String::new()).is_none());
        match link.next().await {
            SttOut::Note(CallNote::EngineFallback {
                part,
                provider,
                fallback,
                error,
            }) => {
                assert_eq!(
                    (part, provider.as_str(), fallback.as_deref()),
                    (SpeechPart::Stt, "broken", Some("embedded"))
                );
                assert!(error.contains("connection reset"), "{error}");
            }
            _ => panic!("expected the fallback note"),
        }
        let SttOut::Frame(f) = link.next().await else {
            panic!("expected the request answered by the fallback")
        };
        assert!(
            matches!(&*f, Frame::SttResult { utterance: 1, samples: 320, result: Ok(t) } if t.text == "320 samples"),
            "{f:?}"
        );
    }

    #[tokio::test]
    async fn without_a_fallback_a_failed_stt_engine_answers_with_the_error() {
        let mut link = SttLink::new(Arc::new(Broken), None);
        link.audio(1, vec![0; 160].into());
        link.transcribe(1, 160, &[0; 160], String::new());
        assert!(matches!(
            link.next().await,
            SttOut::Note(CallNote::EngineFallback { fallback: None, .. })
        ));
        let answered = link.unanswered();
        assert!(
            matches!(
                &answered[..],
                [Frame::SttResult {
                    utterance: 1,
                    result: Err(_),
                    ..
                }]
            ),
            "{answered:?}"
        );
        // Later requests fail at once instead of waiting forever.
        assert!(matches!(
            link.transcribe(2, 160, &[0; 160], String::new()),
            Some(Frame::SttResult { result: Err(_), .. })
        ));
    }

    #[tokio::test]
    async fn a_failed_tts_engine_is_replaced_and_the_turn_is_still_said_in_order() {
        let (jobs_tx, jobs) = mpsc::unbounded_channel();
        let (turn_tx, turn) = watch::channel(1u64);
        let (back, mut frames) = mpsc::unbounded_channel();
        let (notes, mut noted) = mpsc::unbounded_channel();
        let fallback: Arc<dyn StreamingTts> = Arc::new(TtsService::new(Arc::new(Chars), 1));
        spawn_speaker((Arc::new(Broken), Some(fallback)), jobs, turn, back, notes);
        let say = |t: &str| SpeakerJob::Say {
            text: t.into(),
            fixed: false,
        };
        jobs_tx.send((1, say("Hello."))).unwrap();
        jobs_tx.send((1, say("Is now good?"))).unwrap();
        jobs_tx.send((1, SpeakerJob::Mark(Marker::Listen))).unwrap();
        let mut got = vec![];
        while got.len() < 3 {
            match tokio::time::timeout(Duration::from_secs(5), frames.recv())
                .await
                .expect("in time")
                .expect("open")
            {
                Frame::AgentAudio { text, pcm, .. } => got.push(format!("{text}:{}", pcm.len())),
                Frame::AgentMarker { marker, .. } => got.push(format!("{marker:?}")),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(got, ["Hello.:6", "Is now good?:12", "Listen"]);
        assert!(matches!(
            noted.try_recv(),
            Ok(CallNote::EngineFallback {
                part: SpeechPart::Tts,
                ..
            })
        ));
        drop(turn_tx);
    }
}
