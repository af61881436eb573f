//! Async front ends for the blocking speech engines: bounded pools whose queueing is measured.
//!
//! Speech-to-text is the CPU bottleneck of the embedded stack, so it gets a fixed number of
//! concurrent jobs (a semaphore in front of the blocking thread pool): under load, utterances
//! wait in line and the wait shows in each turn's `stt_queue_ms`, instead of every call's
//! decoding slowing down together and the 20 ms frame clocks starving.

use parley_speech::session::{
    EngineTiming, StreamingStt, StreamingTts, SttEvent, SttInput, SttOptions, SttSession, TtsEvent, TtsInput,
    TtsSession,
};
use parley_speech::tts::CachedTts;
use parley_speech::{Language, SpeechError, SpeechToText, TextToSpeech};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// A transcription with where its time went.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcription {
    pub text: String,
    pub queue: Duration,
    pub work: Duration,
}

/// Speech-to-text with at most `workers` utterances decoding at once.
#[derive(Clone)]
pub struct SttPool {
    engine: Arc<dyn SpeechToText>,
    slots: Arc<Semaphore>,
}

impl SttPool {
    pub fn new(engine: Arc<dyn SpeechToText>, workers: usize) -> Self {
        SttPool {
            engine,
            slots: Arc::new(Semaphore::new(workers.max(1))),
        }
    }

    /// Transcribes 8 kHz PCM.
    pub async fn transcribe(&self, pcm: Arc<Vec<i16>>) -> Result<Transcription, SpeechError> {
        self.transcribe_in_context(pcm, String::new()).await
    }

    /// Transcribes 8 kHz PCM that answers `context` (the agent's last words).
    pub async fn transcribe_in_context(
        &self,
        pcm: Arc<Vec<i16>>,
        context: String,
    ) -> Result<Transcription, SpeechError> {
        self.transcribe_as(pcm, context, None).await
    }

    /// Transcribes 8 kHz PCM spoken in `language` (`None`: the engine's default language).
    pub async fn transcribe_as(
        &self,
        pcm: Arc<Vec<i16>>,
        context: String,
        language: Option<Language>,
    ) -> Result<Transcription, SpeechError> {
        let asked = Instant::now();
        let slot = self.slots.clone().acquire_owned().await.expect("never closed");
        let queue = asked.elapsed();
        let started = Instant::now();
        let engine = self.engine.clone();
        // The worker's slot goes with the blocking work: if the caller stops waiting (a
        // session reset), the decode already running still holds its slot until it ends.
        let text = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            match language {
                Some(language) => engine.transcribe_in_language(&pcm, &context, language),
                None => engine.transcribe_in_context(&pcm, &context),
            }
        })
        .await
        .map_err(|e| SpeechError::Engine(format!("speech-to-text worker died: {e}")))??;
        Ok(Transcription {
            text,
            queue,
            work: started.elapsed(),
        })
    }
}

/// The embedded engine as a session: the utterance's audio is gathered as it arrives and
/// decoded whole at each `Finalize` (Whisper does not stream) on the pool. A newer `Finalize`
/// or a `Reset` drops the decodes still waiting for a worker: their audio is stale.
impl StreamingStt for SttPool {
    fn name(&self) -> &str {
        "embedded"
    }

    fn open(&self) -> SttSession {
        self.open_with(&SttOptions::default())
    }

    /// The caller's language goes with every decode of the session.
    fn open_with(&self, options: &SttOptions) -> SttSession {
        let language = options.language;
        let (session, mut side) = SttSession::pair();
        let pool = self.clone();
        tokio::spawn(async move {
            let mut audio: Vec<i16> = vec![];
            let mut decodes = JoinSet::new();
            while let Some(input) = side.input.recv().await {
                match input {
                    SttInput::Audio(pcm) => audio.extend_from_slice(&pcm),
                    SttInput::Finalize { id, context } => {
                        decodes.abort_all();
                        let (pool, pcm, events) = (pool.clone(), Arc::new(audio.clone()), side.events.clone());
                        decodes.spawn(async move {
                            let event = match pool.transcribe_as(pcm, context, language).await {
                                Ok(t) => SttEvent::Final {
                                    id,
                                    text: t.text,
                                    timing: EngineTiming {
                                        queue: t.queue,
                                        work: t.work,
                                    },
                                },
                                Err(e) => SttEvent::Failed(e),
                            };
                            let _ = events.send(event);
                        });
                    }
                    SttInput::Reset => {
                        decodes.abort_all();
                        audio.clear();
                    }
                }
                // Reap finished decodes so the set does not grow over a long call.
                while decodes.try_join_next().is_some() {}
            }
        });
        session
    }
}

/// Synthesized speech with its cost (zero when it came from the cache).
#[derive(Debug, Clone)]
pub struct Synthesis {
    pub pcm: Arc<[i16]>,
    pub work: Duration,
}

/// Any engine, shared, as the cache's inner engine.
struct Shared(Arc<dyn TextToSpeech>);

impl TextToSpeech for Shared {
    fn synthesize(&self, text: &str) -> Result<Vec<i16>, SpeechError> {
        self.0.synthesize(text)
    }
}

/// Text-to-speech with the cache of fixed texts and at most `workers` syntheses at once.
///
/// Fixed texts (greetings, questions) are synthesized once per process and shared by every
/// call (`parley_speech`'s [`CachedTts`]: an LRU bounded by samples, single flight when two
/// calls ask for the same text at once); a cache hit does not wait for a worker.
#[derive(Clone)]
pub struct TtsService {
    cache: Arc<CachedTts<Shared>>,
    slots: Arc<Semaphore>,
}

/// Cached audio kept per process: about 30 minutes of speech at 8 kHz (28 MB).
const CACHE_SAMPLES: usize = 8000 * 60 * 30;

impl TtsService {
    pub fn new(engine: Arc<dyn TextToSpeech>, workers: usize) -> Self {
        TtsService {
            cache: Arc::new(CachedTts::new(Shared(engine), CACHE_SAMPLES)),
            slots: Arc::new(Semaphore::new(workers.max(1))),
        }
    }

    /// Synthesizes `text`; `fixed` texts are cached.
    pub async fn synthesize(&self, text: &str, fixed: bool) -> Result<Synthesis, SpeechError> {
        if fixed {
            if let Some(pcm) = self.cache.get(text) {
                return Ok(Synthesis {
                    pcm,
                    work: Duration::ZERO,
                });
            }
        }
        let started = Instant::now();
        let _slot = self.slots.acquire().await.expect("never closed");
        let (cache, text) = (self.cache.clone(), text.to_string());
        let pcm = tokio::task::spawn_blocking(move || {
            if fixed {
                cache.synthesize_cached(&text)
            } else {
                cache.inner().synthesize(&text).map(Arc::from)
            }
        })
        .await
        .map_err(|e| SpeechError::Engine(format!("text-to-speech worker died: {e}")))??;
        Ok(Synthesis {
            pcm,
            work: started.elapsed(),
        })
    }
}

/// The embedded engine as a session: sentences are synthesized one at a time in the order
/// they came (the first is ready while the agent still writes the rest); a turn's `Cancel`
/// drops its queued sentences and the audio of the one being synthesized.
impl StreamingTts for TtsService {
    fn name(&self) -> &str {
        "embedded"
    }

    fn open(&self) -> TtsSession {
        let (session, mut side) = TtsSession::pair();
        let tts = self.clone();
        tokio::spawn(async move {
            let mut queue: VecDeque<TtsInput> = VecDeque::new();
            let mut open = true;
            while open || !queue.is_empty() {
                // Take every input already there, so a cancel overtakes the queue.
                while open {
                    match side.input.try_recv() {
                        Ok(i) => take(&mut queue, i),
                        Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break,
                        Err(_) => open = false,
                    }
                }
                let Some(job) = queue.pop_front() else {
                    match side.input.recv().await {
                        Some(i) => take(&mut queue, i),
                        None => open = false,
                    }
                    continue;
                };
                let event = match job {
                    TtsInput::Text { context, text, fixed } => {
                        // Inputs that arrive meanwhile are queued; a cancel of this turn
                        // drops the sentence being made.
                        let mut cancelled = false;
                        let result = {
                            let work = tts.synthesize(&text, fixed);
                            tokio::pin!(work);
                            loop {
                                tokio::select! {
                                    r = &mut work => break r,
                                    i = side.input.recv(), if open => match i {
                                        Some(TtsInput::Cancel { context: c }) if c == context => {
                                            cancelled = true;
                                            take(&mut queue, TtsInput::Cancel { context: c });
                                        }
                                        Some(i) => take(&mut queue, i),
                                        None => open = false,
                                    },
                                }
                            }
                        };
                        if cancelled {
                            continue;
                        }
                        match result {
                            Ok(s) => TtsEvent::Audio {
                                context,
                                text,
                                pcm: s.pcm,
                                timing: EngineTiming {
                                    queue: Duration::ZERO,
                                    work: s.work,
                                },
                            },
                            Err(error) => TtsEvent::Skipped { context, text, error },
                        }
                    }
                    TtsInput::Flush { context } => TtsEvent::Done { context },
                    TtsInput::Cancel { .. } => continue,
                };
                if !side.emit(event) {
                    break;
                }
            }
        });
        session
    }
}

/// Queues a text-to-speech input; a cancel removes what is queued of its turn instead.
fn take(queue: &mut VecDeque<TtsInput>, input: TtsInput) {
    match input {
        TtsInput::Cancel { context } => queue.retain(|i| match i {
            TtsInput::Text { context: c, .. } | TtsInput::Flush { context: c } | TtsInput::Cancel { context: c } => {
                *c != context
            }
        }),
        other => queue.push_back(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting(AtomicUsize);
    impl TextToSpeech for Counting {
        fn synthesize(&self, text: &str) -> Result<Vec<i16>, SpeechError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            Ok(vec![1; text.len()])
        }
    }

    #[tokio::test]
    async fn fixed_texts_are_synthesized_once_even_when_asked_concurrently() {
        let engine = Arc::new(Counting(AtomicUsize::new(0)));
        let tts = TtsService::new(engine.clone(), 2);
        let (a, b) = tokio::join!(tts.synthesize("hello", true), tts.synthesize("hello", true));
        assert_eq!(a.unwrap().pcm.len(), 5);
        assert_eq!(b.unwrap().pcm.len(), 5);
        let again = tts.synthesize("hello", true).await.unwrap();
        assert_eq!(again.work, Duration::ZERO);
        assert_eq!(engine.0.load(Ordering::SeqCst), 1);
        tts.synthesize("hello", false).await.unwrap();
        assert_eq!(engine.0.load(Ordering::SeqCst), 2);
    }

    /// Hears how many samples it was given.
    struct Length;
    impl SpeechToText for Length {
        fn transcribe(&self, pcm: &[i16]) -> Result<String, SpeechError> {
            Ok(format!("{} samples", pcm.len()))
        }
    }

    #[tokio::test]
    async fn the_embedded_stt_session_decodes_the_utterance_so_far_at_each_finalize() {
        let stt = SttPool::new(Arc::new(Length), 1);
        let mut s = stt.open();
        let frame: Arc<[i16]> = vec![0i16; 160].into();
        s.send(SttInput::Audio(frame.clone()));
        s.send(SttInput::Audio(frame.clone()));
        s.send(SttInput::Finalize {
            id: 1,
            context: String::new(),
        });
        match s.next().await {
            Some(SttEvent::Final { id: 1, text, .. }) => assert_eq!(text, "320 samples"),
            other => panic!("{other:?}"),
        }
        // The caller went on: the next finalize covers the longer utterance.
        s.send(SttInput::Audio(frame.clone()));
        s.send(SttInput::Finalize {
            id: 2,
            context: String::new(),
        });
        assert!(matches!(s.next().await, Some(SttEvent::Final { id: 2, text, .. }) if text == "480 samples"));
        // A new utterance starts from nothing.
        s.send(SttInput::Reset);
        s.send(SttInput::Audio(frame));
        s.send(SttInput::Finalize {
            id: 3,
            context: String::new(),
        });
        assert!(matches!(s.next().await, Some(SttEvent::Final { id: 3, text, .. }) if text == "160 samples"));
    }

    /// Writes down the language it was told.
    struct Polyglot;
    impl SpeechToText for Polyglot {
        fn transcribe(&self, _: &[i16]) -> Result<String, SpeechError> {
            Ok("default".into())
        }
        fn transcribe_in_language(&self, _: &[i16], _: &str, language: Language) -> Result<String, SpeechError> {
            Ok(language.to_string())
        }
    }

    #[tokio::test]
    async fn the_embedded_stt_session_decodes_in_the_language_it_was_opened_with() {
        let stt = SttPool::new(Arc::new(Polyglot), 1);
        let finalize = |s: &SttSession, id| {
            s.send(SttInput::Audio(vec![0i16; 160].into()));
            s.send(SttInput::Finalize {
                id,
                context: String::new(),
            });
        };
        let spanish = Language::parse("es-MX").unwrap();
        let mut es = stt.open_with(&SttOptions::language(spanish));
        let mut plain = stt.open();
        finalize(&es, 1);
        finalize(&plain, 1);
        assert!(matches!(es.next().await, Some(SttEvent::Final { text, .. }) if text == "es"));
        assert!(matches!(plain.next().await, Some(SttEvent::Final { text, .. }) if text == "default"));
        // An engine that knows only English refuses Spanish instead of mishearing it.
        let mut english_only = SttPool::new(Arc::new(Length), 1).open_with(&SttOptions::language(spanish));
        finalize(&english_only, 2);
        assert!(matches!(english_only.next().await, Some(SttEvent::Failed(e)) if e.to_string().contains("es")));
    }

    #[tokio::test]
    async fn the_embedded_tts_session_speaks_in_order_and_a_cancel_drops_its_turn() {
        let engine = Arc::new(Counting(AtomicUsize::new(0)));
        let mut s = TtsService::new(engine, 1).open();
        let say = |context, text: &str| TtsInput::Text {
            context,
            text: text.into(),
            fixed: false,
        };
        s.send(say(1, "one"));
        s.send(say(1, "three"));
        s.send(TtsInput::Flush { context: 1 });
        assert!(
            matches!(s.next().await, Some(TtsEvent::Audio { context: 1, text, pcm, .. }) if text == "one" && pcm.len() == 3)
        );
        assert!(matches!(s.next().await, Some(TtsEvent::Audio { context: 1, text, .. }) if text == "three"));
        assert!(matches!(s.next().await, Some(TtsEvent::Done { context: 1 })));
        // Turn 2 is cancelled while its first sentence is being made (20 ms each): nothing of
        // it comes out; turn 3 does.
        s.send(say(2, "stale"));
        s.send(say(2, "stale too"));
        tokio::time::sleep(Duration::from_millis(5)).await;
        s.send(TtsInput::Cancel { context: 2 });
        s.send(say(3, "fresh"));
        s.send(TtsInput::Flush { context: 3 });
        assert!(matches!(s.next().await, Some(TtsEvent::Audio { context: 3, text, .. }) if text == "fresh"));
        assert!(matches!(s.next().await, Some(TtsEvent::Done { context: 3 })));
    }
}
