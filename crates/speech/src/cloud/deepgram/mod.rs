//! Deepgram live transcription (`/v1/listen` over a WebSocket) as a [`StreamingStt`].
//!
//! The protocol, as Deepgram documents it (API reference "Live Audio" / streaming, and the
//! feature pages "Endpointing", "Interim Results", "Utterance End", "Speech Started",
//! "Finalize", "Close Stream", "Audio Keep Alive", "STT Troubleshooting WebSocket, NET, and
//! DATA Errors"):
//! - Handshake: `GET wss://api.deepgram.com/v1/listen?…` with `Authorization: Token <key>`; the
//!   options are query parameters. Parley sends `model`, `language`, `encoding=mulaw`,
//!   `sample_rate=8000`, `channels=1` (raw audio must name its encoding and rate),
//!   `interim_results=true`, `smart_format=true` (punctuation and formatting), `endpointing`
//!   (ms of silence before a `speech_final`), `utterance_end_ms` (at least 1000; needs interim
//!   results) and `vad_events=true` (for `SpeechStarted`). A refused handshake is an HTTP 4xx
//!   (401 for a bad key) with a JSON body (`err_code`, `err_msg`).
//! - Client messages: the audio as binary frames; text frames `{"type":"KeepAlive"}` ("every
//!   3-5 seconds"; with neither audio nor a keep-alive for 10 s the server closes with
//!   `NET-0001`), `{"type":"Finalize"}` ("process all remaining audio data and return the
//!   final results"; the answer "may" carry `"from_finalize": true`, "typically … when there is
//!   a noticeable amount of audio buffered") and `{"type":"CloseStream"}` (the server sends
//!   what is left, a `Metadata` summary, and closes).
//! - Server messages: `Results` (`channel.alternatives[0].transcript` and `words`, `is_final`,
//!   `speech_final`, `from_finalize`, `start` and `duration` in seconds of the stream),
//!   `SpeechStarted` (`timestamp`), `UtteranceEnd` (`last_word_end`), `Metadata`. Errors mid
//!   stream come as a close frame whose reason names them (`DATA-0000`, `NET-0000`, …).
//!
//! How Parley maps it (see [`protocol`]): interim results are `Partial`s of the utterance so
//! far; final results are kept as the utterance's segments; `Finalize { id }` answers with
//! `Final { id }` once Deepgram's results cover all the audio sent (at once if they already
//! do, else after a Deepgram `Finalize`); `speech_final` and `UtteranceEnd` are one
//! `EndOfSpeech` per stretch of speech. Any close of the connection fails the session: the
//! stream's clock (which places results in utterances) would restart on a new one.

mod protocol;

use super::wire::{self, Header, Pacing};
use super::ApiKey;
use crate::session::{StreamingStt, SttOptions, SttSession};
use crate::{Language, SpeechError};
use protocol::Live;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// A Deepgram live-transcription setup for Parley's calls.
#[derive(Debug, Clone)]
pub struct DeepgramConfig {
    /// Sent as `Authorization: Token <key>`.
    pub api_key: ApiKey,
    /// `wss://api.deepgram.com` (or a self-hosted or regional Deepgram: `ws://` or `wss://`).
    pub base_url: Url,
    /// e.g. `nova-3`, `nova-2-phonecall`.
    pub model: String,
    /// BCP-47 (`en-US`, `de`), or `multi` for the models that code-switch; none: the model's own.
    pub language: Option<String>,
    /// Milliseconds of silence before Deepgram ends a segment with `speech_final`; `None` sends
    /// `endpointing=false`.
    pub endpointing_ms: Option<u32>,
    /// Milliseconds of silence after the last word before `UtteranceEnd` (at least 1000).
    pub utterance_end_ms: u32,
    /// Deepgram's `smart_format` (punctuation, numbers, dates).
    pub smart_format: bool,
}

impl DeepgramConfig {
    /// The defaults: Deepgram's public server, the model's own language, 300 ms endpointing
    /// (Deepgram's "conversations where speakers pause mid-thought"), utterance end after 1 s,
    /// smart formatting on.
    pub fn new(api_key: impl Into<ApiKey>, model: impl Into<String>) -> Self {
        DeepgramConfig {
            api_key: api_key.into(),
            base_url: Url::parse("wss://api.deepgram.com").expect("a valid URL"),
            model: model.into(),
            language: None,
            endpointing_ms: Some(300),
            utterance_end_ms: 1000,
            smart_format: true,
        }
    }

    /// The listen URL with every option in its query.
    fn url(&self) -> Url {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .expect("a ws(s) URL has a path")
            .pop_if_empty()
            .extend(["v1", "listen"]);
        {
            let mut q = url.query_pairs_mut();
            q.clear();
            q.append_pair("model", &self.model);
            if let Some(language) = &self.language {
                q.append_pair("language", language);
            }
            q.append_pair("encoding", "mulaw");
            q.append_pair("sample_rate", &crate::PHONE_RATE.to_string());
            q.append_pair("channels", "1");
            q.append_pair("interim_results", "true");
            q.append_pair("smart_format", if self.smart_format { "true" } else { "false" });
            match self.endpointing_ms {
                Some(ms) => q.append_pair("endpointing", &ms.to_string()),
                None => q.append_pair("endpointing", "false"),
            };
            q.append_pair("utterance_end_ms", &self.utterance_end_ms.to_string());
            q.append_pair("vad_events", "true");
        }
        url
    }
}

/// Deepgram as a [`StreamingStt`]: one WebSocket per session (per call).
pub struct DeepgramStt {
    config: Arc<DeepgramConfig>,
    keepalive: Duration,
    stall: Duration,
}

impl DeepgramStt {
    /// Checks the config (a `ws`/`wss` base URL, a model, an utterance end Deepgram takes).
    pub fn new(config: DeepgramConfig) -> Result<Self, SpeechError> {
        let bad = |what: &str| Err(SpeechError::Engine(format!("Deepgram config: {what}")));
        if !matches!(config.base_url.scheme(), "ws" | "wss") || config.base_url.cannot_be_a_base() {
            return bad("the base URL must be ws:// or wss://");
        }
        if config.model.trim().is_empty() {
            return bad("a model is needed");
        }
        if config.utterance_end_ms < 1000 {
            return bad("utterance_end_ms is at least 1000");
        }
        Ok(DeepgramStt {
            config: Arc::new(config),
            // Deepgram asks for a keep-alive every 3-5 s of no audio (it closes after 10 s).
            keepalive: Duration::from_secs(4),
            // With a Finalize unanswered, this long without a word from Deepgram fails the session.
            stall: Duration::from_secs(5),
        })
    }

    /// Shorter pacing, for tests of the keep-alive and the stall.
    #[doc(hidden)]
    pub fn with_pacing(mut self, keepalive: Duration, stall: Duration) -> Self {
        self.keepalive = keepalive;
        self.stall = stall;
        self
    }
}

impl StreamingStt for DeepgramStt {
    fn name(&self) -> &str {
        "deepgram"
    }

    fn open(&self) -> SttSession {
        self.open_config(self.config.clone())
    }

    /// The caller's language replaces the configured one, unless that one is the same
    /// language with a region (`es-419` is kept for `es`).
    fn open_with(&self, options: &SttOptions) -> SttSession {
        match options.language {
            Some(language) if self.config.language.as_deref().and_then(Language::parse) != Some(language) => {
                let mut config = (*self.config).clone();
                config.language = Some(language.to_string());
                self.open_config(Arc::new(config))
            }
            _ => self.open(),
        }
    }
}

impl DeepgramStt {
    fn open_config(&self, config: Arc<DeepgramConfig>) -> SttSession {
        let (session, side) = SttSession::pair();
        let pacing = Pacing {
            keepalive: Some(self.keepalive),
            stall: self.stall,
        };
        tokio::spawn(async move {
            let url = config.url();
            let connect = || {
                let headers = [Header {
                    name: "authorization",
                    value: format!("Token {}", config.api_key.expose()),
                    secret: true,
                }];
                let url = url.clone();
                async move { wire::connect(&url, &headers).await }
            };
            wire::run(Live::default(), connect, pacing, side).await;
        });
        session
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_carries_every_option_in_its_query() {
        let mut c = DeepgramConfig::new("k", "nova-3");
        c.language = Some("en-US".into());
        assert_eq!(
            c.url().as_str(),
            "wss://api.deepgram.com/v1/listen?model=nova-3&language=en-US&encoding=mulaw&sample_rate=8000\
             &channels=1&interim_results=true&smart_format=true&endpointing=300&utterance_end_ms=1000&vad_events=true"
        );
        c.endpointing_ms = None;
        assert!(c.url().as_str().contains("endpointing=false"));
        assert!(!format!("{c:?}").contains("\"k\""));
        c.utterance_end_ms = 500;
        assert!(DeepgramStt::new(c).is_err());
    }
}
