//! A cache of synthesized fixed texts (greetings, prompts, confirmations).
//!
//! An agent says the same fixed sentences in call after call; synthesizing them once saves the
//! CPU and, more importantly, makes them start at once. Audio is shared as `Arc<[i16]>` so many
//! calls can play the same clip without copies. Free text (an LLM's reply) goes through the
//! uncached [`TextToSpeech::synthesize`]: caching it would only fill the cache.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use crate::{SpeechError, TextToSpeech};

/// Cache counters, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Calls answered from the cache (including those that waited for another call's synthesis).
    pub hits: u64,
    /// Calls that synthesized.
    pub misses: u64,
    /// Entries dropped to stay within the size bound.
    pub evictions: u64,
    /// Entries now cached.
    pub entries: usize,
    /// Samples now cached (8 kHz: 8 000 per second of audio).
    pub samples: usize,
}

/// The outcome of one synthesis, shared with the calls that waited for it.
type Shared = Result<Arc<[i16]>, (bool, String)>;

/// One synthesis in progress; calls for the same text wait on it instead of synthesizing again.
#[derive(Default)]
struct Flight {
    done: Mutex<Option<Shared>>,
    ready: Condvar,
}

struct Entry {
    audio: Arc<[i16]>,
    tick: u64,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// Recency order: tick → text. The smallest tick is the least recently used.
    order: BTreeMap<u64, String>,
    flights: HashMap<String, Arc<Flight>>,
    tick: u64,
    samples: usize,
    stats: CacheStats,
}

impl State {
    fn touch(&mut self, text: &str) -> Option<Arc<[i16]>> {
        self.tick += 1;
        let tick = self.tick;
        let entry = self.entries.get_mut(text)?;
        self.order.remove(&entry.tick);
        entry.tick = tick;
        self.order.insert(tick, text.to_string());
        Some(entry.audio.clone())
    }
}

/// Wraps any [`TextToSpeech`] with a bounded, thread-safe cache for fixed texts.
///
/// - [`CachedTts::synthesize_cached`] returns the cached clip, or synthesizes and caches it.
///   Concurrent calls for the same text synthesize once ("single flight"): the others wait for
///   that result, which matters when many calls start at once and all greet.
/// - The bound is total samples; least recently used clips are dropped beyond it. A clip larger
///   than the whole bound is returned but not cached.
/// - Errors are not cached: the next call tries again.
/// - [`TextToSpeech::synthesize`] on the wrapper is the inner engine's, uncached.
pub struct CachedTts<T> {
    inner: T,
    max_samples: usize,
    state: Mutex<State>,
}

impl<T> std::fmt::Debug for CachedTts<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedTts")
            .field("max_samples", &self.max_samples)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Clears a flight whose synthesis did not finish (the engine panicked), so waiters get an error
/// instead of waiting forever and the next call tries again.
struct FlightGuard<'a, T> {
    cache: &'a CachedTts<T>,
    text: &'a str,
    flight: Arc<Flight>,
    finished: bool,
}

impl<T> Drop for FlightGuard<'_, T> {
    fn drop(&mut self) {
        if !self.finished {
            self.cache.lock().flights.remove(self.text);
            *self.flight.done.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(Err((false, "synthesis panicked".to_string())));
            self.flight.ready.notify_all();
        }
    }
}

impl<T> CachedTts<T> {
    /// Wraps `inner`, caching up to `max_samples` samples of audio in all (at 8 kHz, 8 000 per
    /// second; 10 minutes is 4.8 M samples, 9.6 MB).
    pub fn new(inner: T, max_samples: usize) -> Self {
        Self {
            inner,
            max_samples,
            state: Mutex::new(State::default()),
        }
    }

    /// The wrapped engine.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// Counters and current size.
    pub fn stats(&self) -> CacheStats {
        let state = self.lock();
        CacheStats {
            entries: state.entries.len(),
            samples: state.samples,
            ..state.stats
        }
    }

    /// The cached clip for `text`, if any (without synthesizing; counts as a use).
    pub fn get(&self, text: &str) -> Option<Arc<[i16]>> {
        self.lock().touch(text)
    }

    /// Drops every cached clip (e.g. after the voice changed).
    pub fn clear(&self) {
        let mut state = self.lock();
        state.entries.clear();
        state.order.clear();
        state.samples = 0;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert(&self, state: &mut State, text: &str, audio: Arc<[i16]>) {
        if audio.len() > self.max_samples {
            return;
        }
        state.tick += 1;
        let tick = state.tick;
        if let Some(old) = state.entries.insert(
            text.to_string(),
            Entry {
                audio: audio.clone(),
                tick,
            },
        ) {
            state.order.remove(&old.tick);
            state.samples -= old.audio.len();
        }
        state.order.insert(tick, text.to_string());
        state.samples += audio.len();
        while state.samples > self.max_samples {
            let Some((_, victim)) = state.order.pop_first() else {
                break;
            };
            if let Some(e) = state.entries.remove(&victim) {
                state.samples -= e.audio.len();
                state.stats.evictions += 1;
            }
        }
    }
}

impl<T: TextToSpeech> CachedTts<T> {
    /// The clip for a fixed `text`: from the cache, from a synthesis of the same text already
    /// running, or synthesized now and cached.
    pub fn synthesize_cached(&self, text: &str) -> Result<Arc<[i16]>, SpeechError> {
        let flight = {
            let mut state = self.lock();
            if let Some(audio) = state.touch(text) {
                state.stats.hits += 1;
                return Ok(audio);
            }
            if let Some(flight) = state.flights.get(text).cloned() {
                state.stats.hits += 1;
                drop(state);
                return wait(&flight);
            }
            state.stats.misses += 1;
            let flight = Arc::new(Flight::default());
            state.flights.insert(text.to_string(), flight.clone());
            flight
        };
        let mut guard = FlightGuard {
            cache: self,
            text,
            flight,
            finished: false,
        };
        let result = self.inner.synthesize(text).map(Arc::<[i16]>::from);
        {
            let mut state = self.lock();
            state.flights.remove(text);
            if let Ok(audio) = &result {
                self.insert(&mut state, text, audio.clone());
            }
        }
        let shared: Shared = match &result {
            Ok(audio) => Ok(audio.clone()),
            Err(e) => Err(error_parts(e)),
        };
        *guard.flight.done.lock().unwrap_or_else(PoisonError::into_inner) = Some(shared);
        guard.flight.ready.notify_all();
        guard.finished = true;
        result
    }

    /// Synthesizes and caches each text (at start-up, so the first call's greeting is instant).
    /// Stops at the first error.
    pub fn warm<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> Result<(), SpeechError> {
        for text in texts {
            self.synthesize_cached(text)?;
        }
        Ok(())
    }
}

/// [`SpeechError`] is not `Clone`; waiters get an equal error rebuilt from its parts.
fn error_parts(e: &SpeechError) -> (bool, String) {
    match e {
        SpeechError::MissingModel(m) => (true, m.clone()),
        SpeechError::Engine(m) => (false, m.clone()),
    }
}

fn wait(flight: &Flight) -> Result<Arc<[i16]>, SpeechError> {
    let mut done = flight.done.lock().unwrap_or_else(PoisonError::into_inner);
    while done.is_none() {
        done = flight.ready.wait(done).unwrap_or_else(PoisonError::into_inner);
    }
    match done.as_ref().expect("checked above") {
        Ok(audio) => Ok(audio.clone()),
        Err((true, m)) => Err(SpeechError::MissingModel(m.clone())),
        Err((false, m)) => Err(SpeechError::Engine(m.clone())),
    }
}

impl<T: TextToSpeech> TextToSpeech for CachedTts<T> {
    /// Uncached: free text would only churn the cache. Use
    /// [`CachedTts::synthesize_cached`] for fixed texts.
    fn synthesize(&self, text: &str) -> Result<Vec<i16>, SpeechError> {
        self.inner.synthesize(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Returns `len(text) * 10` samples after a delay, counting calls.
    struct Slow {
        calls: AtomicUsize,
        delay: Duration,
    }

    impl TextToSpeech for Slow {
        fn synthesize(&self, text: &str) -> Result<Vec<i16>, SpeechError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(self.delay);
            if text == "fail" {
                return Err(SpeechError::Engine("no".into()));
            }
            if text == "panic" {
                panic!("engine bug");
            }
            Ok(vec![1; text.len() * 10])
        }
    }

    fn slow(ms: u64) -> Slow {
        Slow {
            calls: AtomicUsize::new(0),
            delay: Duration::from_millis(ms),
        }
    }

    #[test]
    fn caches_and_returns_the_same_clip() {
        let c = CachedTts::new(slow(0), 1000);
        let a = c.synthesize_cached("hello").unwrap();
        let b = c.synthesize_cached("hello").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(c.inner().calls.load(Ordering::SeqCst), 1);
        assert_eq!(c.synthesize("hello").unwrap().len(), 50);
        assert_eq!(c.inner().calls.load(Ordering::SeqCst), 2, "synthesize is uncached");
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.entries, s.samples), (1, 1, 1, 50));
    }

    #[test]
    fn evicts_least_recently_used_by_samples() {
        let c = CachedTts::new(slow(0), 100);
        c.synthesize_cached("aaaa").unwrap(); // 40
        c.synthesize_cached("bbbb").unwrap(); // 40
        c.synthesize_cached("aaaa").unwrap(); // a is now the most recent
        c.synthesize_cached("cccc").unwrap(); // 120 > 100: b goes
        assert!(c.get("aaaa").is_some() && c.get("cccc").is_some());
        assert!(c.get("bbbb").is_none());
        assert_eq!(c.stats().samples, 80);
        assert_eq!(c.stats().evictions, 1);
        let big = "x".repeat(20); // 200 samples: returned, not cached
        assert_eq!(c.synthesize_cached(&big).unwrap().len(), 200);
        assert!(c.get(&big).is_none());
        assert_eq!(c.stats().samples, 80);
    }

    #[test]
    fn single_flight_and_errors_are_not_cached() {
        let c = Arc::new(CachedTts::new(slow(200), 10_000));
        let clips: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || c.synthesize_cached("same text").unwrap())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        assert_eq!(c.inner().calls.load(Ordering::SeqCst), 1);
        assert!(clips.iter().all(|x| Arc::ptr_eq(x, &clips[0])));
        assert!(c.synthesize_cached("fail").is_err());
        assert!(c.synthesize_cached("fail").is_err());
        assert_eq!(c.inner().calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_panicking_engine_releases_waiters() {
        let c = Arc::new(CachedTts::new(slow(100), 10_000));
        let c2 = c.clone();
        let first = std::thread::spawn(move || c2.synthesize_cached("panic"));
        std::thread::sleep(Duration::from_millis(30));
        let waiter = c.synthesize_cached("panic");
        assert!(first.join().is_err());
        assert!(matches!(waiter, Err(SpeechError::Engine(_))));
        assert!(c.lock().flights.is_empty());
    }
}
