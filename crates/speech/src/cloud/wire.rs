//! What the WebSocket cloud engines share on the wire: the connection (plain for a loopback fake,
//! TLS for the vendor), G.711 mu-law and 16-bit PCM coding, and the task that runs a session,
//! moving Parley's inputs and the vendor's messages through a sans-I/O [`Protocol`]. The same
//! task serves text-to-speech (ElevenLabs, Cartesia) and speech-to-text (Deepgram): a protocol
//! names its session's input and event types.

use crate::session::{EngineSide, SttEvent, TtsEvent};
use crate::SpeechError;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::future::pending;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;
use tracing::debug;
use url::Url;

/// How long a connection (TCP, TLS and the WebSocket handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A byte stream a WebSocket can run over: TCP, or TLS over TCP.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub(crate) type Socket = WebSocketStream<Box<dyn Io>>;

/// A request header; `secret` ones are marked sensitive so the HTTP layer never shows them.
pub(crate) struct Header {
    pub name: &'static str,
    pub value: String,
    pub secret: bool,
}

/// Opens a WebSocket to `url` (`ws://` or `wss://`) with `headers`. An HTTP answer other than
/// the upgrade (a refused key: 401, 403) is an error naming the status, never the key.
pub(crate) async fn connect(url: &Url, headers: &[Header]) -> Result<Socket, SpeechError> {
    match timeout(CONNECT_TIMEOUT, connect_now(url, headers)).await {
        Ok(result) => result,
        Err(_) => Err(SpeechError::Engine(format!(
            "{} did not connect within {CONNECT_TIMEOUT:?}",
            where_to(url)
        ))),
    }
}

async fn connect_now(url: &Url, headers: &[Header]) -> Result<Socket, SpeechError> {
    let fail = |what: String| SpeechError::Engine(format!("{}: {what}", where_to(url)));
    let host = url.host_str().ok_or_else(|| fail("no host".into()))?.to_string();
    let port = url.port_or_known_default().ok_or_else(|| fail("no port".into()))?;
    let mut request = url.as_str().into_client_request().map_err(|e| fail(e.to_string()))?;
    for h in headers {
        let mut value = HeaderValue::from_str(&h.value).map_err(|_| fail(format!("bad {} header", h.name)))?;
        value.set_sensitive(h.secret);
        request.headers_mut().insert(HeaderName::from_static(h.name), value);
    }
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| fail(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Io> = match url.scheme() {
        "ws" => Box::new(tcp),
        "wss" => {
            let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| fail(e.to_string()))?;
            let tls = tokio_rustls::TlsConnector::from(tls_config())
                .connect(name, tcp)
                .await
                .map_err(|e| fail(format!("TLS: {e}")))?;
            Box::new(tls)
        }
        other => return Err(fail(format!("unsupported scheme {other}"))),
    };
    match tokio_tungstenite::client_async(request, stream).await {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(response)) => {
            let body = response
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned())
                .unwrap_or_default();
            Err(fail(format!(
                "refused the connection: HTTP {} {body}",
                response.status()
            )))
        }
        Err(e) => Err(fail(e.to_string())),
    }
}

/// The host and path of `url`, for errors: never its query (some vendors take keys there).
fn where_to(url: &Url) -> String {
    format!("{}{}", url.host_str().unwrap_or("?"), url.path())
}

/// The Mozilla roots with ring, built once per process.
fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let config =
                rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                    .with_safe_default_protocol_versions()
                    .expect("ring supports the default TLS versions")
                    .with_root_certificates(roots)
                    .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// Linear 16-bit PCM to G.711 mu-law (ITU-T G.711; Sun's reference `linear2ulaw`: bias 0x84,
/// clip at 32635, inverted bits).
pub(crate) fn pcm_to_mulaw(pcm: &[i16]) -> Vec<u8> {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    pcm.iter()
        .map(|&sample| {
            let s = i32::from(sample);
            let sign = if s < 0 { 0x80 } else { 0 };
            let biased = s.abs().min(CLIP) + BIAS;
            // The segment: the position of the highest set bit above bit 7.
            let exponent = (31 - biased.leading_zeros() as i32 - 7).clamp(0, 7);
            let mantissa = (biased >> (exponent + 3)) & 0x0F;
            !(sign | (exponent << 4) | mantissa) as u8
        })
        .collect()
}

/// G.711 mu-law to linear 16-bit PCM (ITU-T G.711; the table every telephony stack uses).
pub(crate) fn mulaw_to_pcm(bytes: &[u8]) -> Vec<i16> {
    bytes
        .iter()
        .map(|&b| {
            let b = !b;
            let exponent = (b >> 4) & 0x07;
            let mantissa = i32::from(b & 0x0F);
            let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
            (if b & 0x80 != 0 { -magnitude } else { magnitude }) as i16
        })
        .collect()
}

/// Little-endian 16-bit PCM; an odd byte at the end waits in `carry` for the next chunk.
pub(crate) fn s16le_to_pcm(carry: &mut Option<u8>, bytes: &[u8]) -> Vec<i16> {
    let mut joined = Vec::with_capacity(bytes.len() + 1);
    joined.extend(carry.take());
    joined.extend_from_slice(bytes);
    if joined.len() % 2 == 1 {
        *carry = joined.pop();
    }
    joined
        .chunks_exact(2)
        .map(|p| i16::from_le_bytes([p[0], p[1]]))
        .collect()
}

/// A session event that can say the session failed (the last event a session sends).
pub(crate) trait Failure {
    fn failed(error: SpeechError) -> Self;
}

impl Failure for TtsEvent {
    fn failed(error: SpeechError) -> Self {
        TtsEvent::Failed(error)
    }
}

impl Failure for SttEvent {
    fn failed(error: SpeechError) -> Self {
        SttEvent::Failed(error)
    }
}

/// One vendor's protocol, sans I/O: Parley's inputs become messages to send, the vendor's
/// text messages become session events.
pub(crate) trait Protocol: Send + 'static {
    /// What the session's caller sends ([`crate::session::TtsInput`], [`crate::session::SttInput`]).
    type Input: Send + 'static;
    /// What the session's caller receives.
    type Event: Failure + Send + 'static;
    /// A message to the vendor: a `String` is a text frame, a `Message` may be binary (audio).
    type Out: Into<Message> + Send;
    /// The messages `input` asks for (none: nothing to send).
    fn input(&mut self, input: Self::Input) -> Vec<Self::Out>;
    /// A text message from the vendor; an error ends the session.
    fn message(&mut self, text: &str) -> Result<(), SpeechError>;
    /// Events ready for the caller, in order.
    fn events(&mut self) -> Vec<Self::Event>;
    /// No vendor context is live: a connection closed now loses nothing.
    fn idle(&self) -> bool;
    /// The vendor owes an answer (its silence for [`Pacing::stall`] fails the session).
    fn owed(&self) -> bool;
    /// Messages that keep the connection's open contexts alive after a quiet spell.
    fn keepalive(&self) -> Vec<Self::Out> {
        Vec::new()
    }
    /// Messages that say goodbye before the close frame when the session is dropped.
    fn goodbye(&self) -> Vec<Self::Out> {
        Vec::new()
    }
}

/// How the session task paces itself.
pub(crate) struct Pacing {
    /// After this long without sending, [`Protocol::keepalive`] is sent.
    pub keepalive: Option<Duration>,
    /// With an answer owed, this long without a word from the vendor fails the session.
    pub stall: Duration,
}

type Sink = SplitSink<Socket, Message>;
type Stream = SplitStream<Socket>;

/// Runs one session: connects at once (so the first sentence does not pay for it), then moves
/// inputs and messages until the caller drops the session (goodbye, close frame) or the vendor
/// fails (a `Failed` event, and nothing after it). A connection the vendor closes while the
/// protocol is idle is opened again when there is something to send.
pub(crate) async fn run<P, C, F>(mut proto: P, connect: C, pacing: Pacing, mut side: EngineSide<P::Input, P::Event>)
where
    P: Protocol,
    C: Fn() -> F + Send,
    F: std::future::Future<Output = Result<Socket, SpeechError>> + Send,
{
    let (mut sink, mut stream) = match connect().await {
        Ok(socket) => {
            let (sink, stream) = socket.split();
            (Some(sink), Some(stream))
        }
        Err(error) => {
            side.emit(P::Event::failed(error));
            return;
        }
    };
    let mut last_sent = Instant::now();
    let mut last_heard = Instant::now();
    let far = Duration::from_secs(86_400);
    loop {
        let keepalive_at = last_sent + pacing.keepalive.unwrap_or(far);
        let stall_at = last_heard + pacing.stall;
        let connected = sink.is_some();
        let owed = proto.owed();
        let failure = tokio::select! {
            input = side.input.recv() => match input {
                None => {
                    if let Some(sink) = sink.as_mut() {
                        goodbye(sink, stream.as_mut(), proto.goodbye()).await;
                    }
                    return;
                }
                Some(input) => {
                    let was_owed = proto.owed();
                    let messages = proto.input(input);
                    if !emit(&mut side, &mut proto) {
                        return;
                    }
                    if messages.is_empty() {
                        continue;
                    }
                    if sink.is_none() {
                        match connect().await {
                            Ok(socket) => {
                                let (s, r) = socket.split();
                                (sink, stream) = (Some(s), Some(r));
                            }
                            Err(error) => {
                                side.emit(P::Event::failed(error));
                                return;
                            }
                        }
                    }
                    if !was_owed {
                        // The vendor's time to answer starts now.
                        last_heard = Instant::now();
                    }
                    last_sent = Instant::now();
                    send(sink.as_mut(), messages).await.err()
                }
            },
            message = next(&mut stream) => {
                last_heard = Instant::now();
                match message {
                    Some(Ok(Message::Text(text))) => proto.message(&text).err(),
                    Some(Ok(Message::Binary(bytes))) => {
                        debug!(bytes = bytes.len(), "binary message from a cloud speech service ignored");
                        None
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => None,
                    closed => {
                        let why = match closed {
                            Some(Ok(Message::Close(Some(frame)))) => format!("closed the connection ({} {})", frame.code, frame.reason),
                            Some(Err(e)) => format!("connection failed: {e}"),
                            _ => "closed the connection".to_string(),
                        };
                        (sink, stream) = (None, None);
                        if proto.idle() {
                            debug!(why, "cloud speech connection closed while idle; reopened when needed");
                            None
                        } else {
                            Some(SpeechError::Engine(why))
                        }
                    }
                }
            },
            _ = sleep_until(keepalive_at), if connected && pacing.keepalive.is_some() => {
                last_sent = Instant::now();
                send(sink.as_mut(), proto.keepalive()).await.err()
            },
            _ = sleep_until(stall_at), if connected && owed => {
                Some(SpeechError::Engine(format!("no answer for {:?} with audio owed", pacing.stall)))
            },
        };
        if let Some(error) = failure {
            side.emit(P::Event::failed(error));
            return;
        }
        if !emit(&mut side, &mut proto) {
            return;
        }
    }
}

/// Passes the protocol's events on; false once the caller is gone.
fn emit<P: Protocol>(side: &mut EngineSide<P::Input, P::Event>, proto: &mut P) -> bool {
    proto.events().into_iter().all(|event| side.emit(event))
}

async fn next(stream: &mut Option<Stream>) -> Option<Result<Message, tungstenite::Error>> {
    match stream.as_mut() {
        Some(stream) => stream.next().await,
        None => pending().await,
    }
}

async fn send<M: Into<Message>>(sink: Option<&mut Sink>, messages: Vec<M>) -> Result<(), SpeechError> {
    let Some(sink) = sink else { return Ok(()) };
    for message in messages {
        sink.feed(message.into())
            .await
            .map_err(|e| SpeechError::Engine(format!("sending to the service failed: {e}")))?;
    }
    sink.flush()
        .await
        .map_err(|e| SpeechError::Engine(format!("sending to the service failed: {e}")))
}

/// The goodbye messages and a close frame, then the vendor's last messages until its close
/// frame, all within a second: the caller is gone, so nothing waits longer. Reading on to the
/// vendor's close completes the closing handshake (RFC 6455, 7.1.1): a socket dropped with the
/// vendor's answer unread is reset, and the reset can destroy the close frame just sent.
async fn goodbye<M: Into<Message>>(sink: &mut Sink, stream: Option<&mut Stream>, messages: Vec<M>) {
    let _ = timeout(Duration::from_secs(1), async {
        let _ = send(Some(sink), messages).await;
        let _ = sink.send(Message::Close(None)).await;
        if let Some(stream) = stream {
            while let Some(Ok(message)) = stream.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mulaw_decodes_as_g711_says() {
        // Silence, the extremes and a mid value, as the reference decoder (Sun's g711.c,
        // `ulaw2linear`) gives them.
        assert_eq!(mulaw_to_pcm(&[0xFF, 0x7F, 0x80, 0x00]), vec![0, 0, 32124, -32124]);
        assert_eq!(mulaw_to_pcm(&[0xCF, 0x4F]), vec![924, -924]);
    }

    #[test]
    fn mulaw_encodes_as_g711_says_and_round_trips() {
        // Sun's g711.c `linear2ulaw`: 0 -> 0xFF, the extremes -> 0x80 / 0x00, 924 -> 0xCF.
        assert_eq!(
            pcm_to_mulaw(&[0, 32767, -32768, 924, -924]),
            vec![0xFF, 0x80, 0x00, 0xCF, 0x4F]
        );
        for x in (-32768i32..32768).step_by(7) {
            let back = i32::from(mulaw_to_pcm(&pcm_to_mulaw(&[x as i16]))[0]);
            // The quantization step of mu-law's top segment is 1024 (and the clip at 32635).
            assert!((back - x).abs() <= 1024 + 133, "{x} came back as {back}");
        }
    }

    #[test]
    fn pcm_keeps_an_odd_byte_for_the_next_chunk() {
        let mut carry = None;
        assert_eq!(s16le_to_pcm(&mut carry, &[0x01, 0x00, 0x02]), vec![1]);
        assert_eq!(s16le_to_pcm(&mut carry, &[0x01]), vec![0x0102]);
        assert_eq!(carry, None);
    }
}
