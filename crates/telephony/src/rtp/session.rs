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

use super::codec::Codec;
use super::dtmf::{DtmfError, DtmfReceiver, DtmfSender};
use super::jitter::{JitterBuffer, JitterConfig, JitterStats};
use super::packet::RtpPacket;
use super::rtcp::{
    ntp_from_duration, ntp_middle, parse_compound, write_sdes_cname, Bye, ReceiverReport, ReportBlock, RtcpPacket,
    SenderReport,
};
use super::stats::ReceiveStats;
use crate::audio::{MulawFrame, FRAME_SAMPLES};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

const TICK_MICROS: u64 = 20_000;
/// Ticks a late `handle_timeout` runs at once; older ones are skipped.
const MAX_CATCH_UP: u64 = 10;
/// Skipped ticks the jitter buffer is stepped through; beyond, it starts over.
const MAX_SKIP_POPS: u64 = 50;
const FIRST_RTCP: Duration = Duration::from_millis(2500);
const RTCP_INTERVAL: Duration = Duration::from_secs(5);
/// Silence of the latched source after which another source may take over.
const RELATCH_SILENCE: Duration = Duration::from_secs(1);
const MAX_OUT_QUEUE: usize = 10;
const MAX_TRANSMITS: usize = 256;
const MAX_EVENTS: usize = 1024;
/// Comfort noise (RFC 3389): silence suppression; played as silence.
const PT_CN: u8 = 13;
/// Seconds from 1900 (NTP) to 1970 (Unix).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// The SDP direction of our media, as last negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    /// We hold the far end (or it sends only): we send no audio, RTCP goes on.
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

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

/// A session's parameters, from the SDP offer/answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our SSRC; random, chosen by the caller.
    pub local_ssrc: u32,
    /// First sequence number; random (RFC 3550 §5.1).
    pub initial_sequence: u16,
    /// First RTP timestamp; random.
    pub initial_timestamp: u32,
    pub codec: Codec,
    /// The telephone-event payload type, if negotiated.
    pub dtmf_payload_type: Option<u8>,
    /// The far end's RTP address from its SDP.
    pub remote: SocketAddr,
    /// Its RTCP address (`a=rtcp:`), if not RTP's port + 1.
    pub remote_rtcp: Option<SocketAddr>,
    pub rtcp_mux: bool,
    /// Latch onto the address RTP comes from.
    pub symmetric: bool,
    pub media_timeout: Duration,
    pub cname: String,
    pub jitter: JitterConfig,
    pub direction: Direction,
}

impl SessionConfig {
    /// The usual trunk call: telephone-event on 101, symmetric RTP, 30 s media timeout.
    pub fn new(
        local_ssrc: u32,
        initial_sequence: u16,
        initial_timestamp: u32,
        codec: Codec,
        remote: SocketAddr,
    ) -> Self {
        SessionConfig {
            local_ssrc,
            initial_sequence,
            initial_timestamp,
            codec,
            dtmf_payload_type: Some(101),
            remote,
            remote_rtcp: None,
            rtcp_mux: false,
            symmetric: true,
            media_timeout: Duration::from_secs(30),
            cname: format!("parley-{local_ssrc:08x}"),
            jitter: JitterConfig::default(),
            direction: Direction::SendRecv,
        }
    }
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

#[derive(Debug, Clone, Copy)]
enum Latch {
    /// Waiting for the first valid packet.
    Open,
    Latched {
        addr: SocketAddr,
        ssrc: u32,
        last_seen: Instant,
    },
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Audio(Codec),
    Event,
    ComfortNoise,
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

    /// One datagram from either of the call's ports.
    pub fn handle_packet(&mut self, datagram: &[u8], source: SocketAddr, now: Instant) {
        if self.closed {
            return;
        }
        if super::is_rtcp(datagram) {
            return self.handle_rtcp(datagram, source, now);
        }
        let Ok(pkt) = RtpPacket::parse(datagram) else {
            self.stats.malformed += 1;
            return;
        };
        let kind = if Some(pkt.payload_type) == self.cfg.dtmf_payload_type {
            Kind::Event
        } else if let Some(codec) = Codec::from_payload_type(pkt.payload_type) {
            Kind::Audio(codec)
        } else if pkt.payload_type == PT_CN {
            Kind::ComfortNoise
        } else {
            self.stats.unknown_payload_type += 1;
            return;
        };
        if !self.accept_source(source, pkt.ssrc, now) {
            self.stats.foreign += 1;
            return;
        }
        self.stats.packets_received += 1;
        self.last_rx = now;
        if self.recv.as_ref().is_none_or(|r| r.ssrc() != pkt.ssrc) {
            self.recv = Some(ReceiveStats::new(pkt.ssrc, pkt.sequence));
        }
        let arrival = self.rtp_clock(now);
        let recv = self.recv.as_mut().expect("set above");
        recv.update_seq(pkt.sequence);
        match kind {
            Kind::Audio(codec) => {
                recv.update_jitter(pkt.timestamp, arrival);
                let mut audio = pkt.payload.to_vec();
                codec.to_mulaw_in_place(&mut audio);
                self.jitter
                    .push(pkt.ssrc, pkt.sequence, pkt.timestamp, pkt.marker, &audio, now);
            }
            Kind::Event => {
                if let Some(key) = self.dtmf_rx.receive(pkt.timestamp, pkt.payload) {
                    self.push_event(MediaEvent::Dtmf(key));
                }
            }
            Kind::ComfortNoise => {}
        }
    }

    /// Queues the next 20 ms of outgoing audio.
    pub fn send_frame(&mut self, frame: MulawFrame) {
        if self.out_queue.len() >= MAX_OUT_QUEUE {
            self.out_queue.pop_front();
            self.stats.frames_dropped += 1;
        }
        self.out_queue.push_back(frame);
    }

    /// Queues a key press; it starts at the next free tick (in place of that tick's audio).
    pub fn send_dtmf(&mut self, key: char) -> Result<(), DtmfError> {
        if self.cfg.dtmf_payload_type.is_none() {
            return Err(DtmfError::NotNegotiated);
        }
        self.dtmf_tx.press(key)
    }

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

    fn tick_timestamp(&self, n: u64) -> u32 {
        self.cfg
            .initial_timestamp
            .wrapping_add((n as u32).wrapping_mul(FRAME_SAMPLES as u32))
    }

    /// `now` on an 8 kHz clock (for jitter and SR): exact, not accumulated.
    fn rtp_clock(&self, now: Instant) -> u32 {
        (now.saturating_duration_since(self.start).as_micros() as u64 * 8 / 1000) as u32
    }

    fn ntp(&self, now: Instant) -> u64 {
        self.ntp_start
            .wrapping_add(ntp_from_duration(now.saturating_duration_since(self.start)))
    }

    fn timeout_at(&self) -> Option<Instant> {
        if !self.cfg.direction.receives() {
            return None;
        }
        self.last_rx.checked_add(self.cfg.media_timeout)
    }

    fn skip_ticks(&mut self, n: u64) {
        self.stats.skipped_ticks += n;
        self.tick += n;
        self.need_marker = true;
        for _ in 0..n.min(self.out_queue.len() as u64) {
            self.out_queue.pop_front();
        }
        if n <= MAX_SKIP_POPS {
            for _ in 0..n {
                self.jitter.pop();
            }
        } else {
            self.jitter.reset();
        }
    }

    fn run_tick(&mut self) {
        let ts = self.tick_timestamp(self.tick);
        self.tick += 1;
        self.stats.ticks += 1;
        let frame = self.out_queue.pop_front();
        if self.cfg.direction.sends() {
            let event = match self.cfg.dtmf_payload_type {
                Some(pt) => self.dtmf_tx.next_packet(ts).map(|e| (pt, e)),
                None => None,
            };
            if let Some((pt, ev)) = event {
                self.send_rtp(pt, ev.marker, ev.timestamp, &ev.payload);
                self.stats.dtmf_packets_sent += 1;
            } else if let Some(frame) = frame {
                let mut payload = Vec::with_capacity(FRAME_SAMPLES);
                self.cfg.codec.encode(&frame, &mut payload);
                let marker = std::mem::take(&mut self.need_marker);
                self.send_rtp(self.cfg.codec.payload_type(), marker, ts, &payload);
            } else {
                self.stats.send_underruns += 1;
                self.need_marker = true;
            }
        } else {
            self.need_marker = true;
        }
        let played = self.jitter.pop();
        self.push_event(MediaEvent::Audio(played.frame));
    }

    fn send_rtp(&mut self, pt: u8, marker: bool, ts: u32, payload: &[u8]) {
        let mut pkt = RtpPacket::new(pt, self.seq, ts, self.cfg.local_ssrc, payload);
        pkt.marker = marker;
        self.seq = self.seq.wrapping_add(1);
        self.stats.packets_sent += 1;
        self.stats.octets_sent += payload.len() as u64;
        self.sent_since_report = true;
        let t = Transmit {
            channel: Channel::Rtp,
            destination: self.rtp_dest,
            payload: pkt.to_vec(),
        };
        self.push_transmit(t);
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

    fn accept_source(&mut self, source: SocketAddr, ssrc: u32, now: Instant) -> bool {
        if !self.cfg.symmetric {
            return true;
        }
        let take = match self.latch {
            Latch::Open => true,
            Latch::Latched {
                addr,
                ssrc: latched,
                last_seen,
            } => {
                if addr == source {
                    self.latch = Latch::Latched {
                        addr,
                        ssrc,
                        last_seen: now,
                    };
                    return true;
                }
                ssrc == latched || now.saturating_duration_since(last_seen) >= RELATCH_SILENCE
            }
        };
        if take {
            self.latch = Latch::Latched {
                addr: source,
                ssrc,
                last_seen: now,
            };
            if source != self.rtp_dest {
                self.rtp_dest = source;
                self.rtcp_latched = None;
                self.push_event(MediaEvent::RemoteAddrChanged(source));
            }
        }
        take
    }

    fn rtcp_destination(&self) -> SocketAddr {
        if self.cfg.rtcp_mux {
            return self.rtp_dest;
        }
        if let Some(a) = self.rtcp_latched {
            return a;
        }
        match (self.cfg.remote_rtcp, self.rtp_dest == self.cfg.remote) {
            (Some(a), true) => a,
            _ => {
                let d = self.rtp_dest;
                SocketAddr::new(d.ip(), d.port().checked_add(1).unwrap_or(d.port()))
            }
        }
    }

    fn handle_rtcp(&mut self, datagram: &[u8], source: SocketAddr, now: Instant) {
        let Ok(packets) = parse_compound(datagram) else {
            self.stats.malformed += 1;
            return;
        };
        let remote_ssrc = self.recv.as_ref().map(|r| r.ssrc());
        let sender_is_remote = packets.iter().any(|p| match p {
            RtcpPacket::SenderReport(sr) => Some(sr.ssrc) == remote_ssrc,
            RtcpPacket::ReceiverReport(rr) => Some(rr.ssrc) == remote_ssrc,
            _ => false,
        });
        if self.cfg.symmetric {
            // Same guard as RTP: the peer's address, or a report from the SSRC we latched.
            if !(source.ip() == self.rtp_dest.ip() || sender_is_remote) {
                self.stats.foreign += 1;
                return;
            }
            if !self.cfg.rtcp_mux {
                self.rtcp_latched = Some(source);
            }
        }
        self.stats.rtcp_received += 1;
        for p in packets {
            match p {
                RtcpPacket::SenderReport(sr) => {
                    if remote_ssrc.is_none_or(|r| r == sr.ssrc) {
                        self.last_sr = Some((ntp_middle(sr.ntp_time), now));
                    }
                    self.note_reports(&sr.reports, now);
                }
                RtcpPacket::ReceiverReport(rr) => self.note_reports(&rr.reports, now),
                RtcpPacket::Bye(bye) => {
                    if remote_ssrc.is_none_or(|r| bye.ssrcs.contains(&r)) {
                        self.push_event(MediaEvent::RemoteBye);
                    }
                }
                RtcpPacket::SourceDescription(_) | RtcpPacket::Other { .. } => {}
            }
        }
    }

    fn note_reports(&mut self, blocks: &[ReportBlock], now: Instant) {
        let now_mid = ntp_middle(self.ntp(now));
        for b in blocks.iter().filter(|b| b.ssrc == self.cfg.local_ssrc) {
            self.stats.remote_fraction_lost = Some(b.fraction_lost);
            self.stats.remote_cumulative_lost = Some(b.cumulative_lost);
            self.stats.remote_jitter_ms = Some(b.jitter as f64 / 8.0);
            if b.last_sr != 0 {
                let rtt = now_mid.wrapping_sub(b.last_sr).wrapping_sub(b.delay_since_last_sr);
                if rtt < 1 << 20 {
                    // Under 16 s: anything more is a stale or bogus report.
                    self.stats.round_trip = Some(Duration::from_micros((rtt as u64 * 1_000_000) >> 16));
                }
            }
        }
    }

    fn send_rtcp(&mut self, now: Instant, bye: bool) {
        let (lsr, dlsr) = match self.last_sr {
            Some((mid, at)) => {
                let d = now.saturating_duration_since(at);
                (mid, ((d.as_micros() as u64) << 16) / 1_000_000)
            }
            None => (0, 0),
        };
        let reports: Vec<_> = self
            .recv
            .as_mut()
            .and_then(|r| r.report_block(lsr, dlsr.min(u32::MAX as u64) as u32))
            .into_iter()
            .collect();
        let ssrc = self.cfg.local_ssrc;
        let mut buf = Vec::with_capacity(128);
        if self.sent_since_report {
            SenderReport {
                ssrc,
                ntp_time: self.ntp(now),
                rtp_time: self.cfg.initial_timestamp.wrapping_add(self.rtp_clock(now)),
                packet_count: self.stats.packets_sent as u32,
                octet_count: self.stats.octets_sent as u32,
                reports,
            }
            .write(&mut buf);
        } else {
            ReceiverReport { ssrc, reports }.write(&mut buf);
        }
        self.sent_since_report = false;
        write_sdes_cname(ssrc, &self.cfg.cname, &mut buf);
        if bye {
            Bye {
                ssrcs: vec![ssrc],
                reason: None,
            }
            .write(&mut buf);
        }
        self.stats.rtcp_sent += 1;
        let t = Transmit {
            channel: Channel::Rtcp,
            destination: self.rtcp_destination(),
            payload: buf,
        };
        self.push_transmit(t);
    }
}

#[cfg(test)]
mod tests;
