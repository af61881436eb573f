//! Loopback fakes of the cloud speech services: real WebSocket servers on 127.0.0.1
//! that check the handshake (path, query, key header) and every message's shape against the
//! vendor's documentation, and answer with audio shaped like the vendor's own messages.
//! Whatever breaks the documented protocol is recorded as a violation, which the tests assert
//! to be none.
//!
//! Behind the `fakes` feature, for tests only (this crate's, and the server's end-to-end call
//! through a failing provider): never in the product.

pub mod cartesia;
pub mod deepgram;
pub mod elevenlabs;
pub mod openai;

use futures_util::StreamExt;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::WebSocketStream;

/// What a fake saw.
#[derive(Default, Debug)]
pub struct Log {
    /// Every client message, parsed, in order.
    pub messages: Vec<Value>,
    /// Breaches of the documented protocol.
    pub violations: Vec<String>,
    /// Close frames received from the client.
    pub close_frames: usize,
    /// Connections upgraded, and refused at the handshake.
    pub connections: usize,
    pub refused: usize,
    /// Audio bytes received (Deepgram).
    pub audio_bytes: usize,
}

pub type Shared = Arc<Mutex<Log>>;

pub fn violation(log: &Shared, what: impl Into<String>) {
    log.lock().expect("log").violations.push(what.into());
}

/// A running fake: where it listens and what it saw.
pub struct Fake {
    pub base_url: String,
    pub log: Shared,
}

impl Fake {
    pub fn snapshot<T>(&self, f: impl FnOnce(&Log) -> T) -> T {
        f(&self.log.lock().expect("log"))
    }

    /// Waits up to 3 s for `f` to hold.
    pub async fn eventually(&self, what: &str, f: impl Fn(&Log) -> bool) {
        for _ in 0..300 {
            if self.snapshot(&f) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the fake never saw {what}: {:?}", self.log.lock().expect("log"));
    }
}

/// The handshake's verdict: upgrade, or refuse with a status and a body.
pub type Verdict = Result<(), (StatusCode, String)>;

/// Serves WebSockets on a loopback port: `check` judges each handshake, `serve` runs each
/// upgraded connection.
pub async fn listen<C, S, F>(check: C, serve: S) -> Fake
where
    C: Fn(&Request, &Shared) -> Verdict + Send + Sync + 'static,
    S: Fn(WebSocketStream<TcpStream>, Shared) -> F + Send + Sync + 'static,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let log: Shared = Arc::default();
    let check = Arc::new(check);
    let serve = Arc::new(serve);
    let shared = log.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (check, serve, log) = (check.clone(), serve.clone(), shared.clone());
            tokio::spawn(async move {
                let verdict_log = log.clone();
                // The signature tungstenite's handshake callback requires.
                #[allow(clippy::result_large_err)]
                let callback = move |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
                    match check(request, &verdict_log) {
                        Ok(()) => Ok(response),
                        Err((status, body)) => {
                            verdict_log.lock().expect("log").refused += 1;
                            let mut refusal = ErrorResponse::new(Some(body));
                            *refusal.status_mut() = status;
                            Err(refusal)
                        }
                    }
                };
                if let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await {
                    log.lock().expect("log").connections += 1;
                    serve(ws, log).await;
                }
            });
        }
    });
    Fake {
        base_url: format!("ws://{addr}"),
        log,
    }
}

/// The query of a handshake as a map (each name once).
pub fn query(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

pub fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The level of the audio a fake speaks for `sentence`: distinct per sentence, so a test can
/// tell whose audio a chunk is.
pub fn level_of(sentence: &str) -> i16 {
    let sum: u32 = sentence.trim().bytes().map(u32::from).sum();
    1000 + (sum % 40) as i16 * 500
}

/// G.711 mu-law encoding (the reference `linear2ulaw`), the fakes' own, independent of the
/// decoder under test.
pub fn mulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let s = i32::from(sample);
    let (sign, magnitude) = if s < 0 {
        (0x80, (-s).min(CLIP))
    } else {
        (0, s.min(CLIP))
    };
    let biased = magnitude + BIAS;
    let exponent = (0..8).rev().find(|e| biased & (0x80 << e) != 0).unwrap_or(0);
    let mantissa = (biased >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// Reads text messages until the client closes, handing each to `on_text`; counts close frames.
pub async fn read_texts<S>(stream: &mut S, log: &Shared, mut on_text: impl FnMut(&str))
where
    S: futures_util::Stream<
            Item = Result<tokio_tungstenite::tungstenite::Message, tokio_tungstenite::tungstenite::Error>,
        > + Unpin,
{
    use tokio_tungstenite::tungstenite::Message;
    while let Some(message) = stream.next().await {
        match message {
            Ok(Message::Text(text)) => on_text(&text),
            Ok(Message::Close(_)) => {
                log.lock().expect("log").close_frames += 1;
                break;
            }
            Ok(Message::Binary(_)) => violation(log, "a binary message (the protocol is JSON text)"),
            Ok(_) => {}
            Err(_) => break,
        }
    }
}
