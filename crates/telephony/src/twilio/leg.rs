//! One Twilio call's task: the setup of an outbound call (status callbacks, the local ring
//! timeout, a cancel), then the media stream bridged to the [`crate::Endpoint`], both ways.
//!
//! Decision: nothing is paced here. The pipeline sends one frame per 20 ms and Twilio plays what
//! it is sent in order, so frames are forwarded as they come; `clear` and marks rely on Twilio's
//! own playback queue.

use super::frames::{MediaStream, StreamEvent};
use super::network::Shared;
use super::rest::Account;
use super::status::{Progress, StatusCallback};
use super::twiml;
use crate::line::{LineEvent, Signal};
use axum::extract::ws::{Message, WebSocket};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

/// How long past the ring timeout Twilio's own `no-answer` may take before the local timer
/// decides (Twilio's answer carries its cause, so it goes first).
const RING_GRACE: Duration = Duration::from_secs(2);
/// How long an answered call (`in-progress`) may take to open its stream.
const STREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What reaches a leg from the HTTP routes.
pub(super) enum LegInput {
    /// A signed status callback for the leg's token.
    Status(StatusCallback),
    /// The leg's media stream, started.
    Stream(Box<Streaming>),
}

/// A media-stream socket past its `start`.
pub(super) struct Streaming {
    pub socket: WebSocket,
    pub session: MediaStream,
    pub call_sid: String,
}

/// An outbound call, placed, until it ends.
pub(super) struct Outbound {
    pub shared: Arc<Shared>,
    pub token: String,
    pub account: Account,
    pub call_sid: String,
    pub ring_timeout: Duration,
}

impl Outbound {
    pub async fn run(
        self,
        events: mpsc::Sender<LineEvent>,
        mut signals: mpsc::Receiver<Signal>,
        mut inputs: mpsc::UnboundedReceiver<LegInput>,
    ) {
        let streaming = self.set_up(&events, &mut signals, &mut inputs).await;
        let Outbound {
            shared,
            token,
            account,
            call_sid,
            ..
        } = self;
        if let Some(s) = streaming {
            let _ = events.send(LineEvent::Answered).await;
            let leg = Leg {
                shared: shared.clone(),
                account,
                call_sid,
            };
            leg.bridge(*s, events, signals, Some(&mut inputs)).await;
        }
        shared.retire(token);
    }

    /// Until the stream starts (`Some`) or the call ends before it (`None`, reported).
    async fn set_up(
        &self,
        events: &mpsc::Sender<LineEvent>,
        signals: &mut mpsc::Receiver<Signal>,
        inputs: &mut mpsc::UnboundedReceiver<LegInput>,
    ) -> Option<Box<Streaming>> {
        let mut deadline = Instant::now() + self.ring_timeout + RING_GRACE;
        let mut answered = false;
        let mut last_sequence: Option<u32> = None;
        loop {
            tokio::select! {
                _ = sleep_until(deadline) => {
                    let ev = if answered {
                        LineEvent::Failed("twilio: the media stream did not connect".into())
                    } else {
                        LineEvent::NoAnswer(Some(format!(
                            "twilio: no answer within {} s",
                            self.ring_timeout.as_secs()
                        )))
                    };
                    let _ = events.send(ev).await;
                    self.end_call(answered).await;
                    return None;
                }
                sig = signals.recv() => match sig {
                    None | Some(Signal::HangUp) | Some(Signal::Transfer(_)) => {
                        self.end_call(answered).await;
                        return None;
                    }
                    Some(_) => {} // audio, clear, marks before the answer go nowhere
                },
                input = inputs.recv() => match input {
                    Some(LegInput::Status(cb)) => {
                        if cb.call_sid != self.call_sid {
                            continue;
                        }
                        // Callbacks may arrive out of order: an older one changes nothing.
                        if let (Some(seq), Some(last)) = (cb.sequence_number, last_sequence) {
                            if seq <= last {
                                continue;
                            }
                        }
                        last_sequence = cb.sequence_number.or(last_sequence);
                        let end = match cb.progress() {
                            Progress::Pending => None,
                            Progress::Ringing => {
                                if !answered {
                                    let _ = events.send(LineEvent::Ringing).await;
                                }
                                None
                            }
                            Progress::Answered => {
                                answered = true;
                                deadline = Instant::now() + STREAM_CONNECT_TIMEOUT;
                                None
                            }
                            Progress::Busy { reason } => Some(LineEvent::Busy(Some(reason))),
                            Progress::NoAnswer { reason } => Some(LineEvent::NoAnswer(Some(reason))),
                            Progress::Failed { reason } => Some(LineEvent::Failed(reason)),
                            Progress::Ended => Some(LineEvent::Failed(
                                "twilio: the call ended before its media stream connected".into(),
                            )),
                        };
                        if let Some(ev) = end {
                            let _ = events.send(ev).await;
                            return None;
                        }
                    }
                    Some(LegInput::Stream(mut s)) => {
                        if s.call_sid == self.call_sid {
                            return Some(s);
                        }
                        close(&mut s.socket).await;
                    }
                    // The table holds the sender while the leg lives; gone means shut down.
                    None => {
                        let _ = events.send(LineEvent::Failed("twilio: the network shut down".into())).await;
                        return None;
                    }
                },
            }
        }
    }

    /// Ends a call that has no stream: cancel while it rings, hang up once answered.
    async fn end_call(&self, answered: bool) {
        let rest = &self.shared.rest;
        let result = if answered {
            rest.hang_up(&self.account, &self.call_sid).await
        } else {
            rest.cancel(&self.account, &self.call_sid).await
        };
        if let Err(e) = result {
            tracing::warn!(call_sid = %self.call_sid, error = %e, "twilio: could not end the call");
        }
    }
}

/// How a streaming leg ended.
enum End {
    /// Twilio's side ended it (`stop`, the socket closed, a final status).
    Remote,
    /// Our side hung up (or dropped its sender).
    HangUp,
    Transfer(String),
    /// No frame for the idle timeout.
    Idle,
}

/// An answered call: the account and sid its REST requests name.
pub(super) struct Leg {
    pub shared: Arc<Shared>,
    pub account: Account,
    pub call_sid: String,
}

impl Leg {
    /// Carries the call until it ends; then hangs up, transfers or just closes, as it ended.
    pub async fn bridge(
        self,
        streaming: Streaming,
        events: mpsc::Sender<LineEvent>,
        mut signals: mpsc::Receiver<Signal>,
        mut inputs: Option<&mut mpsc::UnboundedReceiver<LegInput>>,
    ) {
        let Streaming {
            mut socket,
            mut session,
            ..
        } = streaming;
        let idle = self.shared.idle;
        let mut last_frame = Instant::now();
        let mut dtmf_warned = false;
        let end = loop {
            if let Some(end) = flush(&mut session, &mut socket, &events).await {
                break end;
            }
            tokio::select! {
                msg = socket.recv() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        last_frame = Instant::now();
                        if let Err(e) = session.handle_text(t.as_str(), std::time::Instant::now()) {
                            tracing::debug!(call_sid = %self.call_sid, error = %e, "twilio: frame ignored");
                        }
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break End::Remote,
                    Some(Ok(_)) => {}
                },
                sig = signals.recv() => match sig {
                    Some(Signal::Audio(f)) => { let _ = session.send_audio(&f); }
                    Some(Signal::Clear) => { let _ = session.clear(); }
                    Some(Signal::Mark(m)) => { let _ = session.mark(&m); }
                    Some(Signal::Dtmf(_)) => {
                        if !dtmf_warned {
                            dtmf_warned = true;
                            tracing::warn!(call_sid = %self.call_sid, "twilio: media streams cannot send DTMF; ignored");
                        }
                    }
                    Some(Signal::HangUp) | None => break End::HangUp,
                    Some(Signal::Transfer(n)) => break End::Transfer(n),
                },
                input = next_input(&mut inputs) => match input {
                    Some(LegInput::Status(cb)) => {
                        if cb.call_sid == self.call_sid && cb.status.is_final() {
                            break End::Remote;
                        }
                    }
                    Some(LegInput::Stream(mut extra)) => {
                        close(&mut extra.socket).await;
                    }
                    None => inputs = None,
                },
                _ = sleep_until(last_frame + idle) => break End::Idle,
            }
        };
        // Frames already queued (marks, the last audio) go out before the socket closes.
        let _ = flush(&mut session, &mut socket, &events).await;
        match end {
            End::Remote => {
                let _ = events.send(LineEvent::HungUp).await;
            }
            End::HangUp => self.hang_up().await,
            End::Idle => {
                let secs = idle.as_secs();
                let _ = events
                    .send(LineEvent::Failed(format!("twilio: no media for {secs} s")))
                    .await;
                self.hang_up().await;
            }
            End::Transfer(number) => {
                let rest = &self.shared.rest;
                match rest
                    .redirect(&self.account, &self.call_sid, &twiml::dial(&number))
                    .await
                {
                    Ok(_) => {
                        let _ = events.send(LineEvent::Transferred(number)).await;
                    }
                    Err(e) => {
                        let _ = events
                            .send(LineEvent::Failed(format!("twilio: transfer to {number} failed: {e}")))
                            .await;
                        self.hang_up().await;
                    }
                }
            }
        }
        close(&mut socket).await;
    }

    async fn hang_up(&self) {
        if let Err(e) = self.shared.rest.hang_up(&self.account, &self.call_sid).await {
            tracing::warn!(call_sid = %self.call_sid, error = %e, "twilio: hang-up failed");
        }
    }
}

/// Sends a close frame (the peer then ends the socket; dropping it ends ours).
pub(super) async fn close(socket: &mut WebSocket) {
    let _ = socket.send(Message::Close(None)).await;
}

async fn next_input(inputs: &mut Option<&mut mpsc::UnboundedReceiver<LegInput>>) -> Option<LegInput> {
    match inputs {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Writes what the session has to send and delivers what it heard. `Some` when it has ended.
async fn flush(session: &mut MediaStream, socket: &mut WebSocket, events: &mpsc::Sender<LineEvent>) -> Option<End> {
    while let Some(t) = session.poll_transmit() {
        if socket.send(Message::Text(t.into())).await.is_err() {
            return Some(End::Remote);
        }
    }
    while let Some(e) = session.poll_event() {
        let ev = match e {
            StreamEvent::Audio(f) => LineEvent::Audio(f),
            StreamEvent::Dtmf(d) => LineEvent::Dtmf(d),
            StreamEvent::Marked(m) => LineEvent::Marked(m),
            StreamEvent::Stopped => return Some(End::Remote),
            StreamEvent::Started { .. } => continue,
        };
        let _ = events.send(ev).await;
    }
    None
}
