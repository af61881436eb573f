//! One call's media, sans-I/O: the socket shell feeds datagrams and time, and drains datagrams to
//! send, events, and the instant it should call back.
//!
//! The shell's loop: `handle_packet` for every datagram (RTP and RTCP alike; they are told apart
//! by content), `handle_timeout(now)` when `poll_timeout()` is reached, then `poll_transmit()`
//! and `poll_event()` until `None`. The pipeline hands outgoing frames to `send_frame` and gets a
//! [`MediaEvent::Audio`] frame from the jitter buffer on every 20 ms tick.
//!
//! Decisions a reader would question:
//! - **The clock.** Tick `n` is due at `start + n * 20 ms` and carries RTP timestamp
//!   `initial + n * 160`, both computed from `n`, never by adding to the previous tick's time.
//!   A late `handle_timeout` runs every tick that came due (so lateness never accumulates and
//!   timestamps never drift); past 200 ms behind (a stalled shell) the oldest ticks are skipped
//!   instead of sent in a burst, and the next packet carries the marker bit.
//! - **No frame queued at a tick sends nothing**, not silence: the pipeline paces one frame per
//!   tick, silence included, so an empty queue is a hiccup, and the far end's loss concealment
//!   covers a missing packet better than a hole of digital silence in the middle of speech. The
//!   next packet carries the marker bit. The queue holds at most 200 ms; older frames are dropped.
//! - **Symmetric RTP.** We send to the address RTP actually comes from (RFC 4961). The first valid
//!   packet (version 2, a payload type we expect) latches it. After that, another address is
//!   taken only if it carries the latched SSRC (a NAT rebinding: an off-path attacker cannot
//!   guess a 32-bit SSRC), or after the latched source has been silent for a second (the far
//!   end moved its media without telling us). RTCP is sent to port + 1 until RTCP arrives,
//!   then to where it came from; with rtcp-mux, to the RTP address.
//! - **The media timeout** counts only while we expect audio (send-receive or receive-only):
//!   a party on hold may legitimately stop sending RTP.
//! - Incoming PCMU and PCMA are both decoded whatever was negotiated, so a codec change by
//!   re-INVITE never drops the packets already in flight.
//!
//! Where each part lives (one `impl MediaSession` block per file, all on the state below):
//! - `config.rs`: what offer/answer negotiated ([`SessionConfig`], [`Direction`]).
//! - `receive.rs`: incoming RTP, classified by payload type into the jitter buffer or DTMF.
//! - `symmetric.rs`: which source is accepted, and where RTP and RTCP go.
//! - `send.rs`: outgoing audio and DTMF, and the 20 ms tick that paces them.
//! - `reports.rs`: RTCP in (reports, round trip, BYE) and out.
//! - here: the state, the time-driven loop (`handle_timeout`, `poll_*`), re-INVITE changes.

mod config;
mod receive;
mod reports;
mod send;
mod symmetric;

pub use config::{Direction, SessionConfig};

use super::codec::Codec;
use super::dtmf::{DtmfReceiver, DtmfSender};
use super::jitter::{JitterBuffer, JitterStats};
use super::rtcp::ntp_from_duration;
use super::stats::ReceiveStats;
use crate::audio::MulawFrame;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use symmetric::Latch;
use tokio::time::Instant;

const TICK_MICROS: u64 = 20_000;
/// Ticks a late `handle_timeout` runs at once; older ones are skipped.
const MAX_CATCH_UP: u64 = 10;
const FIRST_RTCP: Duration = Duration::from_millis(2500);
const RTCP_INTERVAL: Duration = Duration::from_secs(5);
const MAX_TRANSMITS: usize = 256;
const MAX_EVENTS: usize = 1024;
/// Seconds from 1900 (NTP) to 1970 (Unix).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// Which of the call's two local ports a datagram goes out of (one, with rtcp-mux).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Rtp,
    Rtcp,
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub channel: Channel,
    pub destination: SocketAddr,
    pub payload: Vec<u8>,
}

/// What the call learns from its media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// The far end's next 20 ms (from the jitter buffer: audio, concealment or silence).
    Audio(MulawFrame),
    /// A key press (one per press).
    Dtmf(char),
    /// No RTP for the media timeout: the call should end.
    Timeout,
    /// Symmetric RTP latched onto a new address; audio now goes there.
    RemoteAddrChanged(SocketAddr),
    /// The far end's RTCP BYE.
    RemoteBye,
}

/// Counters for monitoring and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SessionStats {
    /// Ticks run.
    pub ticks: u64,
    /// Ticks run after a later tick had already come due (caught up).
    pub late_ticks: u64,
    /// Ticks skipped because the shell was more than 200 ms late.
    pub skipped_ticks: u64,
    pub packets_sent: u64,
    /// Payload octets sent (as RTCP counts them).
    pub octets_sent: u64,
    pub dtmf_packets_sent: u64,
    /// Ticks at which we sent and no frame was queued.
    pub send_underruns: u64,
    /// Outgoing frames dropped because the queue was full.
    pub frames_dropped: u64,
    pub rtcp_sent: u64,
    pub packets_received: u64,
    pub rtcp_received: u64,
    /// Datagrams that were not RTP or RTCP.
    pub malformed: u64,
    /// Valid packets from a source we did not accept.
    pub foreign: u64,
    pub unknown_payload_type: u64,
    /// Datagrams or events dropped because the shell did not drain them.
    pub overflow: u64,
    /// The jitter buffer's counters (late, duplicates, lost, concealed, ...).
    pub jitter_buffer: JitterStats,
    /// Packets lost per RFC 3550 A.3 (expected minus received).
    pub lost: i64,
    /// Interarrival jitter per RFC 3550 A.8, in ms.
    pub jitter_ms: f64,
    pub target_delay_ms: f64,
    /// What the far end reports about our stream.
    pub remote_fraction_lost: Option<u8>,
    pub remote_cumulative_lost: Option<i32>,
    pub remote_jitter_ms: Option<f64>,
    pub round_trip: Option<Duration>,
}

/// One call's RTP session.
#[derive(Debug)]
pub struct MediaSession {
    cfg: SessionConfig,
    start: Instant,
    ntp_start: u64,
    /// Index of the next tick.
    tick: u64,
    seq: u16,
    need_marker: bool,
    out_queue: VecDeque<MulawFrame>,
    rtp_dest: SocketAddr,
    rtcp_latched: Option<SocketAddr>,
    latch: Latch,
    recv: Option<ReceiveStats>,
    jitter: JitterBuffer,
    dtmf_rx: DtmfReceiver,
    dtmf_tx: DtmfSender,
    /// Middle bits of the far end's last SR, and when it came.
    last_sr: Option<(u32, Instant)>,
    rtcp_count: u32,
    next_rtcp: Instant,
    sent_since_report: bool,
    last_rx: Instant,
    timed_out: bool,
    closed: bool,
    transmits: VecDeque<Transmit>,
    events: VecDeque<MediaEvent>,
    stats: SessionStats,
}

impl MediaSession {
    /// Starts the session: tick 0 is due at `now`. `wall_clock` is the same instant as a date,
    /// for RTCP's NTP timestamps.
    pub fn new(cfg: SessionConfig, now: Instant, wall_clock: SystemTime) -> Self {
        let since_unix = wall_clock.duration_since(UNIX_EPOCH).unwrap_or_default();
        let ntp_start = ntp_from_duration(since_unix).wrapping_add(NTP_UNIX_OFFSET << 32);
        MediaSession {
            start: now,
            ntp_start,
            tick: 0,
            seq: cfg.initial_sequence,
            need_marker: true,
            out_queue: VecDeque::new(),
            rtp_dest: cfg.remote,
            rtcp_latched: None,
            latch: Latch::Open,
            recv: None,
            jitter: JitterBuffer::new(cfg.jitter),
            dtmf_rx: DtmfReceiver::default(),
            dtmf_tx: DtmfSender::default(),
            last_sr: None,
            rtcp_count: 0,
            next_rtcp: now + FIRST_RTCP,
            sent_since_report: false,
            last_rx: now,
            timed_out: false,
            closed: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: SessionStats::default(),
            cfg,
        }
    }

    // ----- inputs -------------------------------------------------------------------------
    // (`handle_packet` is in `receive.rs`; `send_frame` and `send_dtmf` are in `send.rs`.)

    /// Runs every tick due by `now`, the RTCP report if due, and the media timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        let due_through = now.saturating_duration_since(self.start).as_micros() as u64 / TICK_MICROS;
        if due_through >= self.tick {
            let due = due_through - self.tick + 1;
            self.stats.late_ticks += due - 1;
            if due > MAX_CATCH_UP {
                self.skip_ticks(due - MAX_CATCH_UP);
            }
            while self.tick <= due_through {
                self.run_tick();
            }
        }
        if now >= self.next_rtcp {
            self.send_rtcp(now, false);
            // The first report time after `now`, computed (not stepped): missed ones are skipped.
            let since_first = now.saturating_duration_since(self.start + FIRST_RTCP);
            let k = since_first.as_micros() / RTCP_INTERVAL.as_micros() + 1;
            self.rtcp_count = k.min(u32::MAX as u128) as u32;
            self.next_rtcp = self.start + FIRST_RTCP + RTCP_INTERVAL * self.rtcp_count;
        }
        if !self.timed_out && self.timeout_at().is_some_and(|t| now >= t) {
            self.timed_out = true;
            self.push_event(MediaEvent::Timeout);
        }
    }

    /// A re-INVITE moved the far end's media: audio goes there, and latching starts over.
    pub fn set_remote(&mut self, rtp: SocketAddr, rtcp: Option<SocketAddr>, rtcp_mux: bool) {
        self.cfg.remote = rtp;
        self.cfg.remote_rtcp = rtcp;
        self.cfg.rtcp_mux = rtcp_mux;
        self.rtp_dest = rtp;
        self.rtcp_latched = None;
        self.latch = Latch::Open;
    }

    /// A re-INVITE changed the codec (takes effect at the next tick).
    pub fn set_codec(&mut self, codec: Codec, dtmf_payload_type: Option<u8>) {
        if codec != self.cfg.codec {
            self.need_marker = true;
        }
        self.cfg.codec = codec;
        self.cfg.dtmf_payload_type = dtmf_payload_type;
    }

    /// Hold and resume. Not sending stops audio (and DTMF) but never RTCP; the media timeout
    /// starts afresh.
    pub fn set_direction(&mut self, direction: Direction, now: Instant) {
        if direction.sends() && !self.cfg.direction.sends() {
            self.need_marker = true;
        }
        self.cfg.direction = direction;
        self.last_rx = now;
    }

    /// Ends the session: a last RTCP report with BYE is queued; nothing else happens after.
    pub fn close(&mut self, now: Instant) {
        if !self.closed {
            self.send_rtcp(now, true);
            self.closed = true;
        }
    }

    // ----- outputs ------------------------------------------------------------------------

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// When to call [`MediaSession::handle_timeout`] next; `None` once closed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let mut next = self.tick_time(self.tick).min(self.next_rtcp);
        if !self.timed_out {
            if let Some(t) = self.timeout_at() {
                next = next.min(t);
            }
        }
        Some(next)
    }

    pub fn stats(&self) -> SessionStats {
        let mut s = self.stats;
        s.jitter_buffer = self.jitter.stats();
        s.target_delay_ms = self.jitter.target_delay().as_secs_f64() * 1000.0;
        if let Some(r) = &self.recv {
            s.lost = r.cumulative_lost();
            s.jitter_ms = r.jitter() / 8.0;
        }
        s
    }

    /// Where audio goes now.
    pub fn remote(&self) -> SocketAddr {
        self.rtp_dest
    }

    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    // ----- internals ----------------------------------------------------------------------

    fn tick_time(&self, n: u64) -> Instant {
        self.start + Duration::from_micros(n.saturating_mul(TICK_MICROS))
    }

    /// `now` on an 8 kHz clock (for jitter and SR): exact, not accumulated.
    fn rtp_clock(&self, now: Instant) -> u32 {
        (now.saturating_duration_since(self.start).as_micros() as u64 * 8 / 1000) as u32
    }

    fn timeout_at(&self) -> Option<Instant> {
        if !self.cfg.direction.receives() {
            return None;
        }
        self.last_rx.checked_add(self.cfg.media_timeout)
    }

    fn push_transmit(&mut self, t: Transmit) {
        if self.transmits.len() >= MAX_TRANSMITS {
            self.transmits.pop_front();
            self.stats.overflow += 1;
        }
        self.transmits.push_back(t);
    }

    fn push_event(&mut self, e: MediaEvent) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
            self.stats.overflow += 1;
        }
        self.events.push_back(e);
    }
}

#[cfg(test)]
mod tests;
