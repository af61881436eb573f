//! How evenly the SIP calls' RTP leaves this process: for `/metrics`, and for `bench/sip_load.sh`.
//!
//! Each leg ([`super::leg`]) notes the instant it hands each outgoing RTP packet to its socket,
//! and records the gap since the call's previous packet in a histogram. That instant is after
//! the session's clock, the task's scheduling and the runtime's load, so all of them show in
//! the gap; what happens after the `send_to` call (the kernel, the network) does not. A gap of
//! 20 ms is a frame on time; 40 ms is a frame late or missing.
//!
//! Beside the gaps, frames that left late or never left, from the session's own counters
//! ([`crate::rtp::SessionStats`]), counted from the call's first packet on (before it the call
//! is being set up and the agent has nothing to say yet):
//! - **late**: sent 20 ms or more after their time (the leg woke when the next frame was due);
//! - **missed, skipped**: never sent, because the leg woke over 200 ms late (the session drops
//!   the oldest frames rather than burst them);
//! - **missed, underrun**: no frame from the voice pipeline at the frame's time (a hole in the
//!   stream: the pipeline fell behind);
//! - **missed, queue full**: dropped because more than 200 ms of frames were waiting.
//!
//! Decision: a leg counts in plain fields of its own [`LegMeter`] and adds them to the
//! process-wide [`MediaMetrics`] (atomics) every 200 ms and at its end. A packet costs one
//! clock read and a few local increments; 400 calls make 20,000 packets a second, and a shared
//! write per packet would bounce one cache line between the cores that many times.

use crate::rtp::SessionStats;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tokio::time::Instant;

/// Upper bounds of the gap histogram's buckets, in microseconds (a last bucket holds the rest).
/// One millisecond wide around the 20 ms frame, so a percentile read from the buckets is
/// within a millisecond where it matters.
pub const GAP_BUCKETS_US: [u64; 28] = [
    1_000, 5_000, 10_000, 15_000, 16_000, 17_000, 18_000, 19_000, 20_000, 21_000, 22_000, 23_000, 24_000, 25_000,
    26_000, 28_000, 30_000, 35_000, 40_000, 50_000, 60_000, 80_000, 100_000, 150_000, 200_000, 300_000, 500_000,
    1_000_000,
];
const BUCKETS: usize = GAP_BUCKETS_US.len() + 1;

/// Packets a leg sends between two reports to [`MediaMetrics`] (200 ms of audio: a scrape
/// sees a leg's counts at most that late).
const REPORT_EVERY: u64 = 10;

/// The bucket of a gap.
fn bucket(gap_us: u64) -> usize {
    GAP_BUCKETS_US.partition_point(|&b| b < gap_us)
}

/// The process-wide media counters of the SIP network (see the module's doc).
#[derive(Debug)]
pub struct MediaMetrics {
    gaps: [AtomicU64; BUCKETS],
    gap_sum_us: AtomicU64,
    packets: AtomicU64,
    late: AtomicU64,
    skipped: AtomicU64,
    underrun: AtomicU64,
    queue_full: AtomicU64,
    caller_dropped: AtomicU64,
    rtcp_sent: AtomicU64,
    rtcp_received: AtomicU64,
    legs: AtomicU64,
}

impl Default for MediaMetrics {
    fn default() -> Self {
        MediaMetrics {
            gaps: std::array::from_fn(|_| AtomicU64::new(0)),
            gap_sum_us: AtomicU64::new(0),
            packets: AtomicU64::new(0),
            late: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            underrun: AtomicU64::new(0),
            queue_full: AtomicU64::new(0),
            caller_dropped: AtomicU64::new(0),
            rtcp_sent: AtomicU64::new(0),
            rtcp_received: AtomicU64::new(0),
            legs: AtomicU64::new(0),
        }
    }
}

/// A reading of [`MediaMetrics`].
#[derive(Debug, Clone, PartialEq)]
pub struct MediaSnapshot {
    /// Gaps between a call's consecutive outgoing RTP packets: `(upper bound in seconds, gaps
    /// in that bucket)`, not cumulative; the last bound is `f64::INFINITY`.
    pub gap_buckets: Vec<(f64, u64)>,
    /// Sum of the gaps, in seconds.
    pub gap_sum_seconds: f64,
    /// RTP packets sent (audio and RFC 4733 events).
    pub packets_sent: u64,
    /// Frames sent 20 ms or more after their time.
    pub frames_late: u64,
    /// Frames not sent because the leg woke over 200 ms late.
    pub frames_skipped: u64,
    /// Frame times at which the voice pipeline had no frame ready.
    pub frames_underrun: u64,
    /// Frames dropped because over 200 ms of audio was waiting to go.
    pub frames_queue_full: u64,
    /// The callers' frames dropped because a call's pipeline was a second behind.
    pub caller_frames_dropped: u64,
    /// RTCP compound packets sent (sender/receiver reports, BYE).
    pub rtcp_sent: u64,
    /// RTCP packets received from the far ends.
    pub rtcp_received: u64,
    /// Calls whose media task runs now.
    pub legs: u64,
}

impl MediaMetrics {
    pub fn snapshot(&self) -> MediaSnapshot {
        let bounds = GAP_BUCKETS_US.iter().map(|&us| us as f64 / 1e6).chain([f64::INFINITY]);
        MediaSnapshot {
            gap_buckets: bounds.zip(self.gaps.iter().map(|g| g.load(Relaxed))).collect(),
            gap_sum_seconds: self.gap_sum_us.load(Relaxed) as f64 / 1e6,
            packets_sent: self.packets.load(Relaxed),
            frames_late: self.late.load(Relaxed),
            frames_skipped: self.skipped.load(Relaxed),
            frames_underrun: self.underrun.load(Relaxed),
            frames_queue_full: self.queue_full.load(Relaxed),
            caller_frames_dropped: self.caller_dropped.load(Relaxed),
            rtcp_sent: self.rtcp_sent.load(Relaxed),
            rtcp_received: self.rtcp_received.load(Relaxed),
            legs: self.legs.load(Relaxed),
        }
    }
}

/// The session counters a meter reports, as of some instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Frames {
    late: u64,
    skipped: u64,
    underrun: u64,
    queue_full: u64,
    rtcp_sent: u64,
    rtcp_received: u64,
}

impl Frames {
    fn of(s: &SessionStats) -> Self {
        Frames {
            late: s.late_ticks,
            skipped: s.skipped_ticks,
            underrun: s.send_underruns,
            queue_full: s.frames_dropped,
            rtcp_sent: s.rtcp_sent,
            rtcp_received: s.rtcp_received,
        }
    }
}

/// One leg's share of [`MediaMetrics`]: counts locally, reports now and then (sans-I/O: the
/// leg passes the instants and the session's counters).
#[derive(Debug)]
pub struct LegMeter {
    shared: Arc<MediaMetrics>,
    /// When the previous packet was sent, while the stream is continuous.
    last_send: Option<Instant>,
    gaps: [u64; BUCKETS],
    gap_sum_us: u64,
    packets: u64,
    /// The session's counters at the call's first packet (`None` before it), and as last reported.
    reported: Option<Frames>,
    caller_dropped_reported: u64,
}

impl LegMeter {
    /// A meter for a new leg (counted in [`MediaSnapshot::legs`] until dropped).
    pub fn new(shared: Arc<MediaMetrics>) -> Self {
        shared.legs.fetch_add(1, Relaxed);
        LegMeter {
            shared,
            last_send: None,
            gaps: [0; BUCKETS],
            gap_sum_us: 0,
            packets: 0,
            reported: None,
            caller_dropped_reported: 0,
        }
    }

    /// An RTP packet is being handed to the socket at `now`. `session` is the session's
    /// counters, read at the call's first packet (to leave the set-up out) and at each report.
    pub fn sent(&mut self, now: Instant, session: impl FnOnce() -> SessionStats) {
        if let Some(last) = self.last_send.replace(now) {
            let us = now.saturating_duration_since(last).as_micros() as u64;
            self.gaps[bucket(us)] += 1;
            self.gap_sum_us += us;
        }
        self.packets += 1;
        if self.reported.is_none() {
            self.reported = Some(Frames::of(&session()));
        } else if self.packets >= REPORT_EVERY {
            self.report(&session(), None);
        }
    }

    /// The stream restarts (new media, hold, resume): the next packet's gap is not measured.
    pub fn restart(&mut self) {
        self.last_send = None;
    }

    /// Adds what was counted since the last report to the shared metrics: the gaps, the
    /// packets, the session's frame counters (`session`, from the call's first packet on) and
    /// the caller's frames the leg dropped (`caller_dropped`, the leg's running total, if known).
    pub fn report(&mut self, session: &SessionStats, caller_dropped: Option<u64>) {
        let m = &self.shared;
        for (shared, local) in m.gaps.iter().zip(self.gaps.iter_mut()) {
            if *local > 0 {
                shared.fetch_add(std::mem::take(local), Relaxed);
            }
        }
        m.gap_sum_us.fetch_add(std::mem::take(&mut self.gap_sum_us), Relaxed);
        m.packets.fetch_add(std::mem::take(&mut self.packets), Relaxed);
        if let Some(before) = self.reported {
            let now = Frames::of(session);
            m.late.fetch_add(now.late.saturating_sub(before.late), Relaxed);
            m.skipped.fetch_add(now.skipped.saturating_sub(before.skipped), Relaxed);
            m.underrun
                .fetch_add(now.underrun.saturating_sub(before.underrun), Relaxed);
            m.queue_full
                .fetch_add(now.queue_full.saturating_sub(before.queue_full), Relaxed);
            m.rtcp_sent
                .fetch_add(now.rtcp_sent.saturating_sub(before.rtcp_sent), Relaxed);
            m.rtcp_received
                .fetch_add(now.rtcp_received.saturating_sub(before.rtcp_received), Relaxed);
            self.reported = Some(now);
        }
        if let Some(total) = caller_dropped {
            m.caller_dropped
                .fetch_add(total.saturating_sub(self.caller_dropped_reported), Relaxed);
            self.caller_dropped_reported = total;
        }
    }
}

impl Drop for LegMeter {
    fn drop(&mut self) {
        self.shared.legs.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn stats(late: u64, skipped: u64, underrun: u64, queue_full: u64) -> SessionStats {
        SessionStats {
            late_ticks: late,
            skipped_ticks: skipped,
            send_underruns: underrun,
            frames_dropped: queue_full,
            ..SessionStats::default()
        }
    }

    fn count(s: &MediaSnapshot, upper_ms: u64) -> u64 {
        s.gap_buckets
            .iter()
            .find(|(b, _)| (*b * 1e6).round() as u64 == upper_ms * 1000)
            .map(|(_, n)| *n)
            .unwrap()
    }

    #[test]
    fn buckets_hold_their_upper_bound() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1_000), 0);
        assert_eq!(bucket(1_001), 1);
        assert_eq!(bucket(20_000), 8);
        assert_eq!(bucket(20_001), 9);
        assert_eq!(bucket(1_000_000), BUCKETS - 2);
        assert_eq!(bucket(5_000_000), BUCKETS - 1);
    }

    #[test]
    fn gaps_between_consecutive_packets_are_counted_and_a_restart_breaks_the_chain() {
        let shared = Arc::new(MediaMetrics::default());
        let mut m = LegMeter::new(shared.clone());
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        // Setup: the session already counted 7 underruns before the first packet.
        m.sent(ms(0), || stats(0, 0, 7, 0));
        m.sent(ms(20), || unreachable!("read at the first packet and at reports only"));
        m.sent(ms(40), || unreachable!());
        m.sent(ms(85), || unreachable!()); // a 45 ms gap: a frame late or missing
        m.restart(); // held, then resumed: the pause is not a gap
        m.sent(ms(3_000), || unreachable!());
        m.sent(ms(3_019), || unreachable!());
        assert_eq!(shared.snapshot().packets_sent, 0, "nothing reported yet");
        m.report(&stats(1, 0, 9, 0), Some(3));

        let s = shared.snapshot();
        assert_eq!(s.packets_sent, 6);
        assert_eq!(
            s.gap_buckets.iter().map(|(_, n)| n).sum::<u64>(),
            4,
            "5 gaps minus the restart"
        );
        assert_eq!(count(&s, 20), 2);
        assert_eq!(count(&s, 19), 1);
        assert_eq!(count(&s, 50), 1);
        assert!((s.gap_sum_seconds - 0.104).abs() < 1e-9, "{}", s.gap_sum_seconds);
        assert_eq!(s.gap_buckets.last().unwrap().0, f64::INFINITY);
        // Frame counters from the first packet on: the set-up's 7 underruns are left out.
        assert_eq!((s.frames_late, s.frames_underrun, s.frames_skipped), (1, 2, 0));
        assert_eq!(s.caller_frames_dropped, 3);
        assert_eq!(s.legs, 1);

        // A second report adds only what is new.
        m.report(&stats(1, 10, 9, 2), Some(3));
        let s = shared.snapshot();
        assert_eq!(s.packets_sent, 6);
        assert_eq!((s.frames_late, s.frames_skipped, s.frames_queue_full), (1, 10, 2));
        assert_eq!(s.caller_frames_dropped, 3);
        drop(m);
        assert_eq!(shared.snapshot().legs, 0);
    }

    #[test]
    fn a_leg_reports_by_itself_every_ten_packets() {
        let shared = Arc::new(MediaMetrics::default());
        let mut m = LegMeter::new(shared.clone());
        let t0 = Instant::now();
        for i in 0..REPORT_EVERY {
            m.sent(t0 + Duration::from_millis(20 * i), || stats(0, 0, 0, 0));
        }
        let s = shared.snapshot();
        assert_eq!(s.packets_sent, REPORT_EVERY);
        assert_eq!(count(&s, 20), REPORT_EVERY - 1);
    }

    #[test]
    fn frames_before_the_first_packet_are_never_counted() {
        let shared = Arc::new(MediaMetrics::default());
        let mut m = LegMeter::new(shared.clone());
        // The call ended before the agent sent anything.
        m.report(&stats(3, 4, 50, 0), None);
        let s = shared.snapshot();
        assert_eq!((s.frames_late, s.frames_skipped, s.frames_underrun), (0, 0, 0));
    }
}
