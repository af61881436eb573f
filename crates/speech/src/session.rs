//! Streaming speech engines: a call talks to each engine through a *session*.
//!
//! Why sessions and not functions: cloud engines (Deepgram, ElevenLabs, Cartesia) stream over
//! one connection per call, hearing audio as it arrives and sending transcripts and audio back
//! as they are ready, and the embedded engines must not block the runtime either. A session is
//! a pair of channels: inputs go in without waiting ([`SttSession::send`], [`TtsSession::send`]),
//! events come out in order ([`SttSession::next`], [`TtsSession::next`]). The engine's work runs
//! on tasks (and, for CPU-bound engines, bounded blocking pools) that the engine spawns when the
//! session opens; dropping the session closes its inputs, which ends that work (cancel).
//!
//! Time and identity: every request that expects an answer carries an id chosen by the caller
//! (a `Finalize` for speech-to-text, a turn's context for text-to-speech), and the answer names
//! it, so the caller can drop answers to requests it has moved past without racing the engine.

use crate::{Language, SpeechError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Where an engine's time went for one answer: waiting for a worker or the network, and work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineTiming {
    /// Waiting for a free worker (embedded engines) before the work started.
    pub queue: Duration,
    /// From the start of the work (or the request, for a remote engine) to the answer.
    pub work: Duration,
}

/// What goes into a speech-to-text session. Audio is 8 kHz mono PCM, the phone's format.
#[derive(Debug, Clone, PartialEq)]
pub enum SttInput {
    /// The caller's audio, in order, as it arrives (any length; 20 ms frames in a call).
    Audio(Arc<[i16]>),
    /// The caller may have finished: answer with [`SttEvent::Final`] for everything since the
    /// last [`SttInput::Reset`]. `context` is what the caller just heard (the agent's last
    /// sentence); engines that can be primed with it use it. Audio may keep coming after it:
    /// a later `Finalize` covers the longer utterance.
    Finalize { id: u64, context: String },
    /// The utterance is over (answered or dropped): forget its audio and words; what follows
    /// starts a new one.
    Reset,
}

/// What comes out of a speech-to-text session.
#[derive(Debug)]
pub enum SttEvent {
    /// Words heard so far in the current utterance; they may still change.
    Partial { text: String },
    /// The transcript of the utterance up to the [`SttInput::Finalize`] with this id.
    Final {
        id: u64,
        text: String,
        timing: EngineTiming,
    },
    /// The engine's own voice detection heard speech start (engines that have one).
    SpeechStarted,
    /// The engine's own end-of-speech decision (Deepgram's `speech_final` / `UtteranceEnd`).
    EndOfSpeech,
    /// The session failed and is over: no event follows. The caller may fall back to another
    /// engine.
    Failed(SpeechError),
}

/// What goes into a text-to-speech session. A *context* is one turn of the agent's: its text
/// arrives sentence by sentence as the agent produces it.
#[derive(Debug, Clone, PartialEq)]
pub enum TtsInput {
    /// More text of `context`. `fixed` texts (greetings, questions) recur across calls and
    /// may be served from a cache.
    Text { context: u64, text: String, fixed: bool },
    /// No more text for `context`: synthesize what is left and end with [`TtsEvent::Done`].
    Flush { context: u64 },
    /// Drop `context`: its queued text and audio are stale (a barge-in).
    Cancel { context: u64 },
}

/// What comes out of a text-to-speech session, in the order of the text.
#[derive(Debug)]
pub enum TtsEvent {
    /// Audio of `context` at 8 kHz. `text` is the sentence this chunk begins, or empty when
    /// the chunk continues the previous one (a streaming engine sends a sentence in pieces).
    Audio {
        context: u64,
        text: String,
        pcm: Arc<[i16]>,
        timing: EngineTiming,
    },
    /// Everything of `context` up to its flush has been sent.
    Done { context: u64 },
    /// Synthesis of `context`'s sentence failed; the session goes on with the next one.
    Skipped {
        context: u64,
        text: String,
        error: SpeechError,
    },
    /// The session failed and is over: no event follows.
    Failed(SpeechError),
}

/// How one speech-to-text session is opened: what differs from call to call on one engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SttOptions {
    /// The language the caller speaks; `None`: the engine's own setting (English for the
    /// embedded Whisper, the configured or detected language for a cloud engine).
    pub language: Option<Language>,
}

impl SttOptions {
    /// Options for a caller speaking `language`.
    pub fn language(language: Language) -> Self {
        SttOptions {
            language: Some(language),
        }
    }
}

/// A streaming speech-to-text engine.
pub trait StreamingStt: Send + Sync + 'static {
    /// A short name for records and logs ("whisper", "deepgram").
    fn name(&self) -> &str;
    /// Opens a session for one caller. Call it within a Tokio runtime; it never blocks (a
    /// remote engine connects on its task and reports a failure as [`SttEvent::Failed`]).
    fn open(&self) -> SttSession;
    /// Opens a session for one caller with per-call options (the caller's language). The
    /// default serves engines without such options: a plain [`StreamingStt::open`] when the
    /// options ask for nothing or for English, and otherwise a session that fails at once
    /// (one [`SttEvent::Failed`]), so the call can fall back instead of hearing Spanish as
    /// English words.
    fn open_with(&self, options: &SttOptions) -> SttSession {
        match options.language {
            None | Some(Language::ENGLISH) => self.open(),
            Some(language) => SttSession::failed(SpeechError::Engine(format!(
                "the {} speech-to-text engine cannot be told the caller's language ({language})",
                self.name()
            ))),
        }
    }
}

/// An engine whose every session is opened with the same options: a call's engine, handed to a
/// pipeline that knows nothing of languages and simply calls [`StreamingStt::open`].
pub struct SttWithOptions<E> {
    pub engine: E,
    pub options: SttOptions,
}

impl<E: StreamingStt> StreamingStt for SttWithOptions<E> {
    fn name(&self) -> &str {
        self.engine.name()
    }
    fn open(&self) -> SttSession {
        self.engine.open_with(&self.options)
    }
    fn open_with(&self, options: &SttOptions) -> SttSession {
        self.engine.open_with(options)
    }
}

/// A streaming text-to-speech engine.
pub trait StreamingTts: Send + Sync + 'static {
    /// A short name for records and logs ("piper", "elevenlabs").
    fn name(&self) -> &str;
    /// Opens a session for one call, like [`StreamingStt::open`].
    fn open(&self) -> TtsSession;
}

/// One end of a session's channel pair.
pub struct Session<I, E> {
    input: mpsc::UnboundedSender<I>,
    events: mpsc::UnboundedReceiver<E>,
}

/// The engine's end of a session: where its inputs arrive and its events go.
pub struct EngineSide<I, E> {
    pub input: mpsc::UnboundedReceiver<I>,
    pub events: mpsc::UnboundedSender<E>,
}

/// A speech-to-text session (the caller's end).
pub type SttSession = Session<SttInput, SttEvent>;
/// A text-to-speech session (the caller's end).
pub type TtsSession = Session<TtsInput, TtsEvent>;

impl<I, E> Session<I, E> {
    /// A connected pair: the caller's end and the engine's.
    pub fn pair() -> (Session<I, E>, EngineSide<I, E>) {
        let (input_tx, input_rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        (
            Session {
                input: input_tx,
                events: events_rx,
            },
            EngineSide {
                input: input_rx,
                events: events_tx,
            },
        )
    }

    /// Sends an input without waiting; false once the engine's side is gone.
    pub fn send(&self, input: I) -> bool {
        self.input.send(input).is_ok()
    }

    /// The next event; `None` once the engine's side is gone and every event was read.
    pub async fn next(&mut self) -> Option<E> {
        self.events.recv().await
    }

    /// The next event if one is ready.
    pub fn try_next(&mut self) -> Option<E> {
        self.events.try_recv().ok()
    }

    /// Splits the session so inputs and events can live in different tasks.
    pub fn split(self) -> (mpsc::UnboundedSender<I>, mpsc::UnboundedReceiver<E>) {
        (self.input, self.events)
    }
}

impl SttSession {
    /// A session that has already failed: its only event is [`SttEvent::Failed`].
    pub fn failed(error: SpeechError) -> SttSession {
        let (session, side) = SttSession::pair();
        side.emit(SttEvent::Failed(error));
        session
    }
}

impl<I, E> EngineSide<I, E> {
    /// Sends an event; false once the caller's end is gone (the engine can stop).
    pub fn emit(&self, event: E) -> bool {
        self.events.send(event).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_session_carries_inputs_and_events_in_order_and_closes_when_dropped() {
        let (mut s, mut engine) = SttSession::pair();
        assert!(s.send(SttInput::Audio(vec![1i16; 160].into())));
        assert!(s.send(SttInput::Finalize {
            id: 7,
            context: String::new()
        }));
        assert!(matches!(engine.input.recv().await, Some(SttInput::Audio(a)) if a.len() == 160));
        assert!(matches!(
            engine.input.recv().await,
            Some(SttInput::Finalize { id: 7, .. })
        ));
        assert!(engine.emit(SttEvent::Final {
            id: 7,
            text: "yes".into(),
            timing: EngineTiming::default()
        }));
        assert!(matches!(s.next().await, Some(SttEvent::Final { id: 7, text, .. }) if text == "yes"));
        drop(s);
        assert!(
            engine.input.recv().await.is_none(),
            "dropping the session is its cancel"
        );
        assert!(!engine.emit(SttEvent::SpeechStarted));
    }

    /// An engine with no per-session options, as the default `open_with` serves it.
    struct EnglishOnly;

    impl StreamingStt for EnglishOnly {
        fn name(&self) -> &str {
            "english-only"
        }

        fn open(&self) -> SttSession {
            let (session, side) = SttSession::pair();
            side.emit(SttEvent::SpeechStarted);
            session
        }
    }

    #[tokio::test]
    async fn an_engine_without_options_refuses_another_language_instead_of_ignoring_it() {
        let engine = EnglishOnly;
        for options in [SttOptions::default(), SttOptions::language(Language::ENGLISH)] {
            let mut s = engine.open_with(&options);
            assert!(matches!(s.next().await, Some(SttEvent::SpeechStarted)), "{options:?}");
        }
        let mut s = engine.open_with(&SttOptions::language(Language::SPANISH));
        match s.next().await {
            Some(SttEvent::Failed(e)) => assert!(e.to_string().contains("(es)"), "{e}"),
            other => panic!("expected a failed session, got {other:?}"),
        }
        assert!(s.next().await.is_none(), "nothing follows a failure");
    }
}
