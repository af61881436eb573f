//! One call's media and line: the RTP socket and [`MediaSession`] on one side, the call's
//! [`crate::Endpoint`] on the other.
//!
//! The session's clock drives everything: every 20 ms tick sends the frame the pipeline last
//! queued and yields one frame of the far end's audio (from the jitter buffer, concealed or
//! silent when nothing came), so the voice pipeline gets a steady 20 ms frame stream from the
//! network as it does from the sandbox.
//!
//! Decision: audio towards the pipeline is `try_send` (a frame is dropped, and counted, if the
//! pipeline is a second behind), control events are awaited. Blocking on a slow pipeline
//! would stop this task's RTP clock, which is worse for the caller than a lost frame.

use super::metrics::{LegMeter, MediaMetrics};
use super::Command;
use crate::line::{LineEvent, Signal};
use crate::rtp::{self, Channel, MediaEvent, MediaSession, SessionConfig};
use crate::sip::{self, Negotiated};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, warn};

/// Orders from signalling.
#[derive(Debug)]
pub(crate) enum LegOrder {
    /// The media is negotiated (early media, the answer, a re-INVITE): start or update.
    Media(Negotiated),
    /// The call is up: tell the line.
    Answered,
    /// A line event from signalling (DTMF by INFO, the call's end, a transfer).
    Event(LineEvent),
    /// The call's protocol is over: send the last RTCP and stop.
    Stop,
}

/// A leg not started yet: its parts, until signalling knows the call's handle.
pub(crate) struct LegHandle {
    rtp: UdpSocket,
    signals: mpsc::Receiver<Signal>,
    events: mpsc::Sender<LineEvent>,
    media_timeout: Duration,
    metrics: Arc<MediaMetrics>,
}

impl LegHandle {
    pub fn new(
        rtp: UdpSocket,
        signals: mpsc::Receiver<Signal>,
        events: mpsc::Sender<LineEvent>,
        media_timeout: Duration,
        metrics: Arc<MediaMetrics>,
    ) -> Self {
        LegHandle {
            rtp,
            signals,
            events,
            media_timeout,
            metrics,
        }
    }

    /// Starts the leg's task for call `call`; returns where signalling sends its orders.
    pub fn spawn(
        self,
        call: sip::CallHandle,
        commands: mpsc::UnboundedSender<Command>,
    ) -> mpsc::UnboundedSender<LegOrder> {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(self, call, commands, rx));
        tx
    }
}

fn codec(c: sip::Codec) -> rtp::Codec {
    match c {
        sip::Codec::Pcmu => rtp::Codec::Pcmu,
        sip::Codec::Pcma => rtp::Codec::Pcma,
    }
}

fn direction(d: sip::Direction) -> rtp::Direction {
    match d {
        sip::Direction::SendRecv => rtp::Direction::SendRecv,
        sip::Direction::SendOnly => rtp::Direction::SendOnly,
        sip::Direction::RecvOnly => rtp::Direction::RecvOnly,
        sip::Direction::Inactive => rtp::Direction::Inactive,
    }
}

/// Four random numbers for SSRC, first sequence and first timestamp.
fn random() -> (u32, u16, u32) {
    let b = uuid::Uuid::new_v4().into_bytes();
    (
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
        u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
    )
}

struct Leg {
    session: Option<MediaSession>,
    events: mpsc::Sender<LineEvent>,
    answered: bool,
    dropped_frames: u64,
    media_timeout: Duration,
    meter: LegMeter,
}

impl Leg {
    fn media(&mut self, m: Negotiated, now: Instant) {
        // New media, hold or resume: the pause before the next packet is not a late frame.
        self.meter.restart();
        let dir = direction(m.direction);
        match (&mut self.session, m.remote_rtp) {
            (Some(s), remote) => {
                if let Some(r) = remote {
                    s.set_remote(r, m.remote_rtcp, m.rtcp_mux);
                }
                s.set_codec(codec(m.codec), m.dtmf_payload_type);
                s.set_direction(
                    if remote.is_none() {
                        rtp::Direction::Inactive
                    } else {
                        dir
                    },
                    now,
                );
            }
            (None, Some(remote)) => {
                let (ssrc, seq, ts) = random();
                let mut cfg = SessionConfig::new(ssrc, seq, ts, codec(m.codec), remote);
                cfg.dtmf_payload_type = m.dtmf_payload_type;
                cfg.remote_rtcp = m.remote_rtcp;
                cfg.rtcp_mux = m.rtcp_mux;
                cfg.media_timeout = self.media_timeout;
                cfg.direction = dir;
                self.session = Some(MediaSession::new(cfg, now, SystemTime::now()));
            }
            (None, None) => {} // held from the start: media starts with the resume
        }
    }
}

async fn run(
    parts: LegHandle,
    call: sip::CallHandle,
    commands: mpsc::UnboundedSender<Command>,
    mut orders: mpsc::UnboundedReceiver<LegOrder>,
) {
    let LegHandle {
        rtp,
        mut signals,
        events,
        media_timeout,
        metrics,
    } = parts;
    let mut leg = Leg {
        session: None,
        events,
        answered: false,
        dropped_frames: 0,
        media_timeout,
        meter: LegMeter::new(metrics),
    };
    let mut buf = vec![0u8; 2048];
    let mut hung_up = false;
    let mut signals_open = true;
    // One timer for the leg's life, moved when the session's next wake-up moves (once a tick),
    // not a new one at every turn of the loop: a packet in, a frame from the pipeline and the
    // tick each turn it, and each new timer was an insertion into the runtime's shared wheel.
    let timer = tokio::time::sleep_until(Instant::now());
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;
    loop {
        let wake = leg.session.as_ref().and_then(|s| s.poll_timeout());
        if let Some(w) = wake.filter(|w| armed != Some(*w)) {
            timer.as_mut().reset(w);
            armed = Some(w);
        }
        tokio::select! {
            order = orders.recv() => match order {
                Some(LegOrder::Media(m)) => leg.media(m, Instant::now()),
                Some(LegOrder::Answered) => {
                    leg.answered = true;
                    let _ = leg.events.send(LineEvent::Answered).await;
                }
                Some(LegOrder::Event(ev)) => {
                    let _ = leg.events.send(ev).await;
                }
                Some(LegOrder::Stop) | None => break,
            },
            sig = signals.recv(), if signals_open => match sig {
                Some(Signal::Audio(f)) => {
                    if let Some(s) = leg.session.as_mut().filter(|_| leg.answered) {
                        s.send_frame(f);
                    }
                }
                Some(Signal::Dtmf(d)) => {
                    if let Some(s) = leg.session.as_mut() {
                        if let Err(e) = s.send_dtmf(d) {
                            debug!(error = ?e, "DTMF not sent");
                        }
                    }
                }
                // RTP plays what it receives at once: nothing waits at the far end to clear,
                // and everything sent before a mark has gone out once the mark is read here.
                Some(Signal::Clear) => {}
                Some(Signal::Mark(name)) => {
                    let _ = leg.events.send(LineEvent::Marked(name)).await;
                }
                Some(Signal::Transfer(target)) => {
                    let _ = commands.send(Command::Refer(call, target));
                }
                Some(Signal::HangUp) | None => {
                    signals_open = false;
                    if !hung_up {
                        hung_up = true;
                        let _ = commands.send(Command::HangUp(call));
                    }
                }
            },
            r = rtp.recv_from(&mut buf) => match r {
                Ok((n, from)) => {
                    if let Some(s) = leg.session.as_mut() {
                        s.handle_packet(&buf[..n], from, Instant::now());
                    }
                }
                Err(e) => debug!(error = %e, "RTP receive error"),
            },
            _ = &mut timer, if wake.is_some() => {
                armed = None;
                if let Some(s) = leg.session.as_mut() {
                    s.handle_timeout(Instant::now());
                }
            }
        }
        if flush(&mut leg, &rtp).await && !hung_up {
            hung_up = true;
            let _ = commands.send(Command::HangUp(call));
        }
    }
    if let Some(s) = leg.session.as_mut() {
        s.close(Instant::now());
    }
    flush(&mut leg, &rtp).await;
    let stats = leg.session.as_ref().map(MediaSession::stats).unwrap_or_default();
    leg.meter.report(&stats, Some(leg.dropped_frames));
    if leg.dropped_frames > 0 {
        warn!(
            frames = leg.dropped_frames,
            "frames dropped: the pipeline fell behind the line"
        );
    }
}

/// Sends what the session has to send and passes its events on. `true` when the media timed
/// out (the caller hangs up the call).
async fn flush(leg: &mut Leg, rtp: &UdpSocket) -> bool {
    let Some(s) = leg.session.as_mut() else {
        return false;
    };
    while let Some(t) = s.poll_transmit() {
        let dest: SocketAddr = t.destination;
        // One socket for RTP and RTCP: RTCP goes out of the RTP port to the peer's RTCP port
        // (its `a=rtcp:`, RTP's port + 1, or the RTP port with rtcp-mux); our SDP asks the peer
        // to send its RTCP to this socket too (`a=rtcp-mux`, `a=rtcp:`).
        if t.channel == Channel::Rtp {
            leg.meter.sent(Instant::now(), || s.stats());
        }
        if let Err(e) = rtp.send_to(&t.payload, dest).await {
            debug!(error = %e, "RTP send error");
        }
    }
    let mut timed_out = false;
    while let Some(ev) = s.poll_event() {
        match ev {
            MediaEvent::Audio(f) => {
                if leg.answered && leg.events.try_send(LineEvent::Audio(f)).is_err() {
                    leg.dropped_frames += 1;
                }
            }
            MediaEvent::Dtmf(d) => {
                let _ = leg.events.send(LineEvent::Dtmf(d)).await;
            }
            MediaEvent::Timeout => {
                let secs = leg.media_timeout.as_secs();
                let _ = leg
                    .events
                    .send(LineEvent::Failed(format!("no RTP from the carrier for {secs} s")))
                    .await;
                timed_out = true;
            }
            MediaEvent::RemoteAddrChanged(a) => debug!(remote = %a, "RTP latched"),
            MediaEvent::RemoteBye => debug!("RTCP BYE from the far end"),
        }
    }
    timed_out
}
