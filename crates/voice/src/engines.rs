//! Async front ends for the blocking speech engines: bounded pools whose queueing is measured.
//!
//! Speech-to-text is the CPU bottleneck of the embedded stack, so it gets a fixed number of
//! concurrent jobs (a semaphore in front of the blocking thread pool): under load, utterances
//! wait in line and the wait shows in each turn's `stt_queue_ms`, instead of every call's
//! decoding slowing down together and the 20 ms frame clocks starving.

use parley_speech::tts::CachedTts;
use parley_speech::{SpeechError, SpeechToText, TextToSpeech};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
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
        let asked = Instant::now();
        let _slot = self.slots.acquire().await.expect("never closed");
        let queue = asked.elapsed();
        let started = Instant::now();
        let engine = self.engine.clone();
        let text = tokio::task::spawn_blocking(move || engine.transcribe_in_context(&pcm, &context))
            .await
            .map_err(|e| SpeechError::Engine(format!("speech-to-text worker died: {e}")))??;
        Ok(Transcription {
            text,
            queue,
            work: started.elapsed(),
        })
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
}
