//! "Test in browser": a dashboard user talks to a voice agent with the microphone, over a
//! WebSocket at `GET /call/browser?interview_id=…&team_id=…`. The call is a `BROWSER_CALL`,
//! written and run as an inbound call is (its job claimed by this process, heartbeated, the same
//! pipeline and agent), so it gets a transcript, a recording, a replay and the live view.
//!
//! The wire, both ways binary frames of 16-bit little-endian PCM at 16 kHz, 20 ms each (640
//! bytes); from the server also text frames: `{"type":"clear"}` when the caller barges in (drop
//! what is queued for playback), `{"type":"call","call_id":…}` once the call exists, and
//! `{"type":"ended"}` before the server closes. The phone network's format is 8 kHz mu-law, so
//! the bridge halves and doubles the rate (a two-tap average down, linear interpolation up):
//! telephone quality is what the agent hears on a real call too.
//!
//! Auth: the session cookie (a WebSocket cannot carry the API's headers, so the team comes in
//! the query) of a member of the team; the `Origin` must be this server's, so another site
//! cannot open a call with a visitor's cookie.

use crate::calls::CallRunner;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use parley_telephony::audio::{decode, encode, PcmFrame, FRAME_SAMPLES};
use parley_telephony::line::{far_end, FarEnd, Signal};
use parley_telephony::LineEvent;
use serde::Deserialize;
use std::sync::Arc;
use tracing::{info, info_span, warn, Instrument};

/// Bytes of one 20 ms frame of 16 kHz 16-bit PCM.
pub const BROWSER_FRAME_BYTES: usize = FRAME_SAMPLES * 2 * 2;

#[derive(Clone)]
pub struct BrowserCalls {
    pub runner: Arc<CallRunner>,
    pub jobs: parley_jobs::JobsHandle,
    /// The origins a browser may open a call from (this server's public URL; the Host's own).
    pub public_url: String,
}

#[derive(Debug, Deserialize)]
pub struct Params {
    interview_id: String,
    team_id: String,
}

pub fn routes(calls: BrowserCalls) -> Router {
    Router::new().route("/call/browser", get(open)).with_state(calls)
}

/// 16 kHz PCM (one 20 ms frame) to the network's 8 kHz: each pair of samples averaged, which
/// also filters what would alias.
pub fn down(pcm16k: &[i16]) -> PcmFrame {
    let mut out = [0i16; FRAME_SAMPLES];
    for (o, pair) in out.iter_mut().zip(pcm16k.chunks_exact(2)) {
        *o = ((pair[0] as i32 + pair[1] as i32) / 2) as i16;
    }
    out
}

/// 8 kHz PCM to 16 kHz: each sample, then the midpoint to the next (the last repeats).
pub fn up(pcm8k: &PcmFrame, next_first: i16) -> [i16; FRAME_SAMPLES * 2] {
    let mut out = [0i16; FRAME_SAMPLES * 2];
    for i in 0..FRAME_SAMPLES {
        let a = pcm8k[i] as i32;
        let b = if i + 1 < FRAME_SAMPLES {
            pcm8k[i + 1]
        } else {
            next_first
        } as i32;
        out[2 * i] = a as i16;
        out[2 * i + 1] = ((a + b) / 2) as i16;
    }
    out
}

fn same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let public = public_url.trim_end_matches('/');
    origin == public || origin == format!("http://{host}") || origin == format!("https://{host}")
}

async fn open(
    State(b): State<BrowserCalls>,
    headers: HeaderMap,
    Query(p): Query<Params>,
    ws: WebSocketUpgrade,
) -> Response {
    let refused = |status: StatusCode, why: &'static str| (status, why).into_response();
    if !same_origin(&headers, &b.public_url) {
        return refused(
            StatusCode::FORBIDDEN,
            "a browser call must come from this server's dashboard",
        );
    }
    let store = &b.runner.store;
    let Some(cookie) = parley_api::session::cookie(&headers) else {
        return refused(StatusCode::UNAUTHORIZED, "Unauthorized.");
    };
    let Ok(Some(session)) = store.session(cookie).await else {
        return refused(StatusCode::UNAUTHORIZED, "Unauthorized.");
    };
    if !matches!(store.role_in_team(&session.user.id, &p.team_id).await, Ok(Some(_))) {
        return refused(StatusCode::UNAUTHORIZED, "Unauthorized.");
    }
    if store.interview(&p.team_id, &p.interview_id).await.is_err() {
        return refused(StatusCode::NOT_FOUND, "Interview not found");
    }
    if !b.runner.has_room(&p.team_id).await {
        return refused(
            StatusCode::TOO_MANY_REQUESTS,
            "the team is at its limit of concurrent calls",
        );
    }
    let email = session.user.email.clone();
    ws.on_upgrade(move |socket| async move {
        if let Err(e) = run(b, socket, p, email).await {
            warn!(error = %e, "browser call failed");
        }
    })
}

async fn run(b: BrowserCalls, mut socket: WebSocket, p: Params, email: String) -> anyhow::Result<()> {
    let lease = b.runner.settings.lease.as_millis() as i64;
    let worker = b.jobs.worker_id().map(str::to_string);
    let (call, job_id) = b
        .runner
        .store
        .create_browser_call(
            &p.team_id,
            &p.interview_id,
            &email,
            worker.as_deref().map(|w| (w, parley_store::now_ms() + lease)),
        )
        .await?;
    let note = serde_json::json!({ "type": "call", "call_id": call.id }).to_string();
    socket.send(Message::Text(note.into())).await?;
    let (agent_end, far) = far_end();
    let runner = b.runner.clone();
    let span = info_span!("call", call_id = %call.id, team_id = %p.team_id, browser = true);
    let team = p.team_id.clone();
    let conversation =
        tokio::spawn(async move { runner.answered_inbound(job_id, team, call, agent_end).await }.instrument(span));
    info!("browser call started");
    bridge(socket, far).await;
    let _ = conversation.await;
    Ok(())
}

/// Carries the call between the socket and the agent's line until either side ends it.
async fn bridge(mut socket: WebSocket, far: FarEnd) {
    let FarEnd { mut signals, events } = far;
    // Half a sample of look-ahead for the upsampler: the previous frame's last sample is the
    // midpoint's other end, so frames are joined without a step.
    let mut pending: Option<PcmFrame> = None;
    loop {
        tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(Message::Binary(bytes))) => {
                    for chunk in bytes.chunks_exact(BROWSER_FRAME_BYTES) {
                        let pcm: Vec<i16> = chunk.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
                        let _ = events.send(LineEvent::Audio(encode(&down(&pcm)))).await;
                    }
                }
                Some(Ok(Message::Text(t))) if t.contains("\"hangup\"") => {
                    let _ = events.send(LineEvent::HungUp).await;
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    let _ = events.send(LineEvent::HungUp).await;
                    break;
                }
                Some(Ok(_)) => {}
            },
            sig = signals.recv() => match sig {
                Some(Signal::Audio(mu)) => {
                    let pcm = decode(&mu);
                    if let Some(prev) = pending.replace(pcm) {
                        let out = up(&prev, pcm[0]);
                        let bytes: Vec<u8> = out.iter().flat_map(|s| s.to_le_bytes()).collect();
                        if socket.send(Message::Binary(bytes.into())).await.is_err() {
                            let _ = events.send(LineEvent::HungUp).await;
                            break;
                        }
                    }
                }
                Some(Signal::Clear) => {
                    pending = None;
                    let _ = socket.send(Message::Text(r#"{"type":"clear"}"#.into())).await;
                }
                Some(Signal::Mark(name)) => {
                    let _ = events.send(LineEvent::Marked(name)).await;
                }
                Some(Signal::Transfer(n)) => {
                    let _ = events.send(LineEvent::Transferred(n)).await;
                }
                Some(Signal::Dtmf(_)) => {}
                Some(Signal::HangUp) | None => {
                    if let Some(prev) = pending.take() {
                        let out = up(&prev, prev[FRAME_SAMPLES - 1]);
                        let bytes: Vec<u8> = out.iter().flat_map(|s| s.to_le_bytes()).collect();
                        let _ = socket.send(Message::Binary(bytes.into())).await;
                    }
                    let _ = socket.send(Message::Text(r#"{"type":"ended"}"#.into())).await;
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_halve_and_double_without_a_step_between_frames() {
        let pcm16: Vec<i16> = (0..320).map(|i| (i * 10) as i16).collect();
        let d = down(&pcm16);
        assert_eq!(d[0], 5);
        assert_eq!(d[159], ((3180 + 3190) / 2) as i16);
        let ramp: PcmFrame = std::array::from_fn(|i| (i * 100) as i16);
        let u = up(&ramp, 16000);
        assert_eq!(&u[..4], &[0, 50, 100, 150]);
        assert_eq!(u[319], ((15900 + 16000) / 2) as i16);
        // Down after up is the identity but for the half-sample shift's rounding.
        let back = down(&u);
        assert!(back.iter().zip(ramp.iter()).all(|(a, b)| (a - b).abs() <= 50));
    }
}
