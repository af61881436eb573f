//! The reorder/jitter buffer: packets in as they arrive, one 20 ms mu-law frame out per tick.
//!
//! Packets are placed by RTP timestamp (unwrapped, so a wrap is a non-event) on a grid of
//! 160-sample frames, which makes any packet time (10, 20, 30 ms...) and any reordering work
//! the same way; sequence numbers only tell duplicates. Playout starts `target` behind the first
//! packet, where `target` moves between 40 and 60 ms with the measured jitter (RFC 3550 A.8's
//! estimator: 40 ms plus twice the jitter). Each [`JitterBuffer::pop`] yields real audio, a
//! concealed frame (the last frame repeated, fading out over three frames) or silence.
//!
//! Decisions a reader would question:
//! - `pop` takes no time. Playout is clocked by the ticks themselves (each pop is 20 ms), so the
//!   buffer cannot drift from the packet clock that drives it; arrival times only feed the jitter
//!   estimate.
//! - A missing frame with nothing newer buffered is an *underrun*, not a loss: the playout point
//!   waits (the delay grows by a frame) instead of skipping audio that is merely late. When the
//!   buffer stays more than two frames above target for three ticks, one frame is dropped to win
//!   the delay back. That pair is the adaptation, and it also absorbs clock skew with the far end.
//! - A talkspurt after silence suppression (DTX), or any jump beyond what is buffered, re-anchors
//!   playout so the new audio plays `target` after it arrives, not after the skipped-over time.
//! - A packet more than a second from the playout point is a stream restart only when confirmed
//!   (marker bit, or a second packet in sequence); one stray packet cannot flush the buffer.

use crate::audio::{decode, encode, MulawFrame, FRAME_SAMPLES, MULAW_SILENCE};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

const FRAME: i64 = FRAME_SAMPLES as i64;
/// How far from the playout point (in samples, 1 s) a packet may land before it is a jump.
const WINDOW: i64 = 8000;
/// Gains of the concealment frames after a loss; silence after them.
const CONCEAL_GAINS: [f32; 3] = [0.7, 0.45, 0.2];

/// The delay bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            min_delay: Duration::from_millis(40),
            max_delay: Duration::from_millis(60),
        }
    }
}

/// What a popped frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayoutKind {
    /// Audio the far end sent.
    Audio,
    /// The last frame repeated and attenuated, in place of a missing one.
    Concealed,
    /// Nothing to play: before the first packet, between talkspurts, or after a long loss.
    Silence,
}

/// One tick's frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Playout {
    pub kind: PlayoutKind,
    pub frame: MulawFrame,
}

/// What became of a pushed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    Buffered,
    /// First packet, a new SSRC, or a confirmed jump: the buffer started over.
    Resynced,
    /// Its time had already been played (or concealed).
    Late,
    Duplicate,
    /// Empty, or an unconfirmed jump (kept in mind: the next packet may confirm it).
    Ignored,
}

/// Counters, cumulative over the buffer's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JitterStats {
    pub buffered: u64,
    pub late: u64,
    pub duplicates: u64,
    /// Frames of received audio played.
    pub played: u64,
    /// Frames filled by concealment (repeated, attenuated audio).
    pub concealed: u64,
    /// Frames of silence played.
    pub silence: u64,
    /// Missing frames with newer audio buffered: losses (or packets too late to wait for).
    pub lost: u64,
    /// Missing frames with nothing newer: the playout point waited.
    pub underruns: u64,
    /// Frames dropped to bring the delay back to target.
    pub skipped: u64,
    pub resyncs: u64,
}

#[derive(Debug)]
struct Stream {
    ssrc: u32,
    /// Unwrapping reference: the last accepted packet's timestamp and its extended value.
    ref_ts: u32,
    ref_ext: i64,
    /// Frame boundaries are at `phase + k * 160`.
    phase: i64,
    /// Start of the next frame to play.
    next_play: i64,
    /// End of the newest audio received.
    end: i64,
    /// Frames before this are lead-in silence, not loss.
    preroll_until: i64,
    slots: BTreeMap<i64, MulawFrame>,
    high_seq: u16,
    seq_window: u64,
    pending_jump: Option<u16>,
    over_target: u32,
    epoch: Instant,
    last_transit: Option<i64>,
}

impl Stream {
    fn frame_start(&self, x: i64) -> i64 {
        self.phase + (x - self.phase).div_euclid(FRAME) * FRAME
    }

    /// Marks `seq` as seen; true if it was already (within the last 64).
    fn seen(&mut self, seq: u16) -> bool {
        let d = seq.wrapping_sub(self.high_seq) as i16;
        if d > 0 {
            let shift = d as u32;
            self.seq_window = if shift >= 64 { 1 } else { (self.seq_window << shift) | 1 };
            self.high_seq = seq;
            false
        } else {
            let back = (-(d as i32)) as u32;
            if back >= 64 {
                return false;
            }
            let dup = self.seq_window & (1 << back) != 0;
            self.seq_window |= 1 << back;
            dup
        }
    }
}

/// The buffer for one call's incoming audio.
#[derive(Debug)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    stream: Option<Stream>,
    /// Jitter estimate in samples.
    jitter: f64,
    /// Target delay in samples.
    target: i64,
    last_frame: Option<MulawFrame>,
    conceal_run: usize,
    stats: JitterStats,
}

fn samples(d: Duration) -> i64 {
    (d.as_micros() as i64).saturating_mul(8) / 1000
}

impl JitterBuffer {
    pub fn new(cfg: JitterConfig) -> Self {
        let cfg = JitterConfig {
            min_delay: cfg.min_delay.min(cfg.max_delay),
            ..cfg
        };
        JitterBuffer {
            target: samples(cfg.min_delay),
            cfg,
            stream: None,
            jitter: 0.0,
            last_frame: None,
            conceal_run: 0,
            stats: JitterStats::default(),
        }
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// The current target delay.
    pub fn target_delay(&self) -> Duration {
        Duration::from_micros(self.target as u64 * 125)
    }

    /// The interarrival jitter estimate.
    pub fn jitter(&self) -> Duration {
        Duration::from_micros((self.jitter * 125.0) as u64)
    }

    /// Forgets the stream: the next packet starts over (after a long stall of the caller).
    pub fn reset(&mut self) {
        self.stream = None;
        self.last_frame = None;
    }

    fn target_frames(&self) -> i64 {
        (self.target + FRAME - 1) / FRAME
    }

    fn resync(&mut self, ssrc: u32, seq: u16, ts: u32, arrival: Instant) {
        if self.stream.is_some() {
            self.stats.resyncs += 1;
        }
        let lead = self.target_frames() * FRAME;
        self.stream = Some(Stream {
            ssrc,
            ref_ts: ts,
            ref_ext: 0,
            phase: 0,
            next_play: -lead,
            end: -lead,
            preroll_until: 0,
            slots: BTreeMap::new(),
            high_seq: seq.wrapping_sub(1),
            seq_window: 0,
            pending_jump: None,
            over_target: 0,
            epoch: arrival,
            last_transit: None,
        });
        self.last_frame = None;
    }

    /// Offers one packet's audio, already mu-law (any length; one sample per byte).
    pub fn push(
        &mut self,
        ssrc: u32,
        seq: u16,
        ts: u32,
        marker: bool,
        payload: &[u8],
        arrival: Instant,
    ) -> PushOutcome {
        if payload.is_empty() {
            return PushOutcome::Ignored;
        }
        let payload = &payload[..payload.len().min(WINDOW as usize)];
        let mut outcome = PushOutcome::Buffered;
        if self.stream.as_ref().is_none_or(|s| s.ssrc != ssrc) {
            self.resync(ssrc, seq, ts, arrival);
            outcome = PushOutcome::Resynced;
        }
        let lead = self.target_frames() * FRAME;
        let s = self.stream.as_mut().expect("set above");
        let ext = s.ref_ext + ts.wrapping_sub(s.ref_ts) as i32 as i64;
        let len = payload.len() as i64;
        if ext > s.next_play + WINDOW || ext + len <= s.next_play - WINDOW {
            if marker || s.pending_jump == Some(seq.wrapping_sub(1)) {
                self.resync(ssrc, seq, ts, arrival);
                return self.push(ssrc, seq, ts, false, payload, arrival).resynced();
            }
            s.pending_jump = Some(seq);
            return PushOutcome::Ignored;
        }
        s.pending_jump = None;
        if s.seen(seq) {
            self.stats.duplicates += 1;
            return PushOutcome::Duplicate;
        }
        if ext + len <= s.next_play {
            self.stats.late += 1;
            return PushOutcome::Late;
        }
        if s.slots.is_empty() && s.end <= s.next_play && ext > s.next_play + lead {
            // Nothing buffered and the packet is beyond the delay we keep: after silence
            // suppression or a pause. Play it `target` from now, not after the gap.
            s.phase = ext.rem_euclid(FRAME);
            s.next_play = ext - lead;
            s.preroll_until = ext;
            self.last_frame = None;
        }
        if ext < s.preroll_until {
            s.preroll_until = s.frame_start(ext);
        }
        // Jitter (A.8) on our own unwrapped timeline.
        let arrived = samples(arrival.saturating_duration_since(s.epoch));
        let transit = arrived - ext;
        if let Some(prev) = s.last_transit {
            let d = (transit - prev).unsigned_abs().min(WINDOW as u64) as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        s.last_transit = Some(transit);
        s.ref_ts = ts;
        s.ref_ext = ext;
        s.end = s.end.max(ext + len);
        let stop = ext + len;
        let mut pos = ext.max(s.next_play);
        while pos < stop {
            let f = s.frame_start(pos);
            let off = (pos - f) as usize;
            let n = (FRAME - (pos - f)).min(stop - pos) as usize;
            let from = (pos - ext) as usize;
            let slot = s.slots.entry(f).or_insert(MULAW_SILENCE);
            slot[off..off + n].copy_from_slice(&payload[from..from + n]);
            pos += n as i64;
        }
        self.stats.buffered += 1;
        let (lo, hi) = (samples(self.cfg.min_delay), samples(self.cfg.max_delay));
        self.target = (lo + (2.0 * self.jitter) as i64).clamp(lo, hi);
        outcome
    }

    /// The next 20 ms of audio. Call once per tick.
    pub fn pop(&mut self) -> Playout {
        let target = self.target;
        let Some(s) = self.stream.as_mut() else {
            self.stats.silence += 1;
            return Playout {
                kind: PlayoutKind::Silence,
                frame: MULAW_SILENCE,
            };
        };
        while let Some((&k, _)) = s.slots.first_key_value() {
            if k >= s.next_play {
                break;
            }
            s.slots.remove(&k);
        }
        if s.end - s.next_play > target + 2 * FRAME {
            s.over_target += 1;
            if s.over_target >= 3 {
                s.slots.remove(&s.next_play);
                s.next_play += FRAME;
                s.over_target = 0;
                self.stats.skipped += 1;
            }
        } else {
            s.over_target = 0;
        }
        if let Some(frame) = s.slots.remove(&s.next_play) {
            s.next_play += FRAME;
            self.stats.played += 1;
            self.last_frame = Some(frame);
            self.conceal_run = 0;
            return Playout {
                kind: PlayoutKind::Audio,
                frame,
            };
        }
        if s.next_play < s.preroll_until {
            s.next_play += FRAME;
            self.stats.silence += 1;
            return Playout {
                kind: PlayoutKind::Silence,
                frame: MULAW_SILENCE,
            };
        }
        if s.end > s.next_play {
            s.next_play += FRAME;
            self.stats.lost += 1;
        } else {
            self.stats.underruns += 1;
        }
        self.conceal()
    }

    fn conceal(&mut self) -> Playout {
        self.conceal_run += 1;
        match (self.last_frame, CONCEAL_GAINS.get(self.conceal_run - 1)) {
            (Some(last), Some(&gain)) => {
                self.stats.concealed += 1;
                let mut pcm = decode(&last);
                for s in pcm.iter_mut() {
                    *s = (*s as f32 * gain) as i16;
                }
                Playout {
                    kind: PlayoutKind::Concealed,
                    frame: encode(&pcm),
                }
            }
            _ => {
                self.stats.silence += 1;
                Playout {
                    kind: PlayoutKind::Silence,
                    frame: MULAW_SILENCE,
                }
            }
        }
    }
}

impl PushOutcome {
    fn resynced(self) -> Self {
        match self {
            PushOutcome::Buffered => PushOutcome::Resynced,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u32) -> MulawFrame {
        // A recognizable, non-silent frame per packet number.
        [(n % 100) as u8 + 1; FRAME_SAMPLES]
    }

    fn ms(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    /// Pushes packets `n` (seq 1000+n, ts 5000+160n) as scheduled, popping once per 20 ms tick.
    /// `arrivals[n] = Some(arrival ms)` or None (lost). Returns the playout per tick.
    fn run(arrivals: &[Option<u64>], ticks: u64) -> (Vec<Playout>, JitterBuffer) {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut out = vec![];
        let mut order: Vec<(u64, u32)> = arrivals
            .iter()
            .enumerate()
            .filter_map(|(n, a)| a.map(|a| (a, n as u32)))
            .collect();
        order.sort();
        let mut next = 0;
        for tick in 0..ticks {
            let now = tick * 20;
            while next < order.len() && order[next].0 <= now {
                let (a, n) = order[next];
                jb.push(7, 1000 + n as u16, 5000 + 160 * n, false, &frame(n), ms(t0, a));
                next += 1;
            }
            out.push(jb.pop());
        }
        (out, jb)
    }

    fn kinds(p: &[Playout]) -> Vec<PlayoutKind> {
        p.iter().map(|p| p.kind).collect()
    }

    #[test]
    fn in_order_stream_plays_after_the_target_delay() {
        let arrivals: Vec<_> = (0..50).map(|n| Some(n * 20)).collect();
        let (out, jb) = run(&arrivals, 52);
        assert_eq!(kinds(&out[..2]), vec![PlayoutKind::Silence; 2]); // 40 ms lead-in
        for (i, p) in out[2..52].iter().enumerate() {
            assert_eq!(p.kind, PlayoutKind::Audio, "tick {}", i + 2);
            assert_eq!(p.frame, frame(i as u32));
        }
        assert_eq!(jb.stats().lost, 0);
        assert_eq!(jb.target_delay(), Duration::from_millis(40));
    }

    #[test]
    fn other_packet_times_play_as_one_continuous_stream() {
        // 10 ms and 30 ms packets (ptime 10/30) land on the same 20 ms grid by timestamp.
        for ptime in [80u32, 240] {
            let t0 = Instant::now();
            let mut jb = JitterBuffer::new(JitterConfig::default());
            let sample = |i: u32| (i % 200) as u8 + 1;
            let mut played = vec![];
            let mut sent = 0u32; // samples sent so far
            for tick in 0..60u32 {
                while sent < (tick + 1) * 160 {
                    let payload: Vec<u8> = (sent..sent + ptime).map(sample).collect();
                    let seq = (sent / ptime) as u16;
                    jb.push(3, seq, 9_000 + sent, false, &payload, ms(t0, tick as u64 * 20));
                    sent += ptime;
                }
                let p = jb.pop();
                if p.kind == PlayoutKind::Audio {
                    played.extend_from_slice(&p.frame);
                }
            }
            assert!(played.len() >= 55 * 160, "ptime {ptime}: {}", played.len());
            for (i, b) in played.iter().enumerate() {
                assert_eq!(*b, sample(i as u32), "ptime {ptime}, sample {i}");
            }
            assert_eq!(jb.stats().lost, 0);
        }
    }

    #[test]
    fn reordered_packets_play_in_order() {
        // Packets swapped in pairs: 1 before 0, 3 before 2, ...
        let arrivals: Vec<_> = (0..40u64)
            .map(|n| Some(if n % 2 == 0 { n * 20 + 25 } else { n * 20 - 15 }))
            .collect();
        let (out, jb) = run(&arrivals, 44);
        let audio: Vec<_> = out.iter().filter(|p| p.kind == PlayoutKind::Audio).collect();
        assert_eq!(audio.len(), 40);
        for (i, p) in audio.iter().enumerate() {
            assert_eq!(p.frame, frame(i as u32));
        }
        assert_eq!((jb.stats().late, jb.stats().lost), (0, 0));
    }

    #[test]
    fn sequence_and_timestamp_wrap_are_seamless() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut audio = 0;
        for n in 0..100u32 {
            let seq = 65500u16.wrapping_add(n as u16);
            let ts = (u32::MAX - 160 * 40).wrapping_add(160 * n);
            let out = jb.push(1, seq, ts, false, &frame(n), ms(t0, n as u64 * 20));
            assert!(matches!(out, PushOutcome::Buffered | PushOutcome::Resynced));
            let p = jb.pop();
            if p.kind == PlayoutKind::Audio {
                assert_eq!(p.frame, frame(audio));
                audio += 1;
            }
        }
        assert_eq!(audio, 98);
        assert_eq!(jb.stats().resyncs, 0);
    }

    #[test]
    fn a_loss_is_concealed_then_faded_to_silence() {
        let mut arrivals: Vec<_> = (0..40).map(|n| Some(n * 20)).collect();
        arrivals[10] = None;
        for a in &mut arrivals[20..26] {
            *a = None;
        }
        let (out, jb) = run(&arrivals, 42);
        // Packet n plays at tick n + 2.
        assert_eq!(out[12].kind, PlayoutKind::Concealed);
        assert_ne!(out[12].frame, frame(9)); // attenuated, not a copy
        assert_eq!(out[13].frame, frame(11));
        assert_eq!(
            kinds(&out[22..29]),
            [
                [PlayoutKind::Concealed; 3].as_slice(),
                &[PlayoutKind::Silence; 3],
                &[PlayoutKind::Audio],
            ]
            .concat()
        );
        assert_eq!(out[28].frame, frame(26));
        // Packet 10's gap was seen (packet 11 was there): a loss. Packets 20-25 went missing at
        // the tail, with nothing newer: underruns, until packet 26 re-anchored playout.
        assert_eq!((jb.stats().lost, jb.stats().underruns), (1, 4));
        let level = |f: &MulawFrame| crate::audio::level_dbfs(&decode(f));
        assert!(level(&out[22].frame) > level(&out[23].frame));
        assert!(level(&out[23].frame) > level(&out[24].frame));
    }

    #[test]
    fn late_and_duplicate_packets_are_dropped_and_counted() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        for n in 0..10u32 {
            jb.push(1, n as u16, 160 * n, false, &frame(n), ms(t0, n as u64 * 20));
            if n == 5 {
                assert_eq!(
                    jb.push(1, 5, 800, false, &frame(5), ms(t0, 101)),
                    PushOutcome::Duplicate
                );
            }
            jb.pop();
        }
        // Packet 3 again, long after it played, with a fresh sequence number.
        assert_eq!(jb.push(1, 20, 480, false, &frame(3), ms(t0, 200)), PushOutcome::Late);
        assert_eq!((jb.stats().late, jb.stats().duplicates), (1, 1));
        assert_eq!(jb.stats().played, 8);
    }

    #[test]
    fn a_new_ssrc_resyncs() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        for n in 0..10u32 {
            jb.push(1, n as u16, 160 * n, false, &frame(n), ms(t0, n as u64 * 20));
            jb.pop();
        }
        let mut kinds = vec![];
        for n in 0..5u32 {
            let out = jb.push(
                2,
                40000 + n as u16,
                999_999 + 160 * n,
                false,
                &frame(50 + n),
                ms(t0, 200 + n as u64 * 20),
            );
            if n == 0 {
                assert_eq!(out, PushOutcome::Resynced);
            }
            let p = jb.pop();
            kinds.push(p.kind);
            if p.kind == PlayoutKind::Audio {
                assert_eq!(p.frame, frame(50 + n - 2));
            }
        }
        assert_eq!(
            kinds,
            [
                PlayoutKind::Silence,
                PlayoutKind::Silence,
                PlayoutKind::Audio,
                PlayoutKind::Audio,
                PlayoutKind::Audio
            ]
        );
        assert_eq!(jb.stats().resyncs, 1);
    }

    #[test]
    fn a_talkspurt_after_silence_suppression_plays_without_the_gap() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut tick = 0u64;
        let mut pops = vec![];
        for n in 0..10u32 {
            jb.push(1, n as u16, 160 * n, false, &frame(n), ms(t0, tick * 20));
            pops.push(jb.pop());
            tick += 1;
        }
        // Three seconds of DTX (more than the 1 s window), then packets resume: sequence
        // continues, timestamp jumps by the silent time, marker set.
        for _ in 0..150 {
            pops.push(jb.pop());
            tick += 1;
        }
        assert!(pops[12..].iter().all(|p| p.kind != PlayoutKind::Audio));
        for k in 0..5u32 {
            let n = 10 + 150 + k;
            jb.push(1, (10 + k) as u16, 160 * n, k == 0, &frame(n), ms(t0, tick * 20));
            let p = jb.pop();
            if k >= 2 {
                assert_eq!((p.kind, p.frame), (PlayoutKind::Audio, frame(n - 2)), "k={k}");
            }
            tick += 1;
        }
        // A shorter pause (0.5 s, inside the window, no marker) re-anchors as well.
        for _ in 0..25 {
            jb.pop();
        }
        let n = 10 + 150 + 5 + 25;
        jb.push(1, 15, 160 * n, false, &frame(n), ms(t0, tick * 20));
        assert_eq!(jb.pop().kind, PlayoutKind::Silence);
        assert_eq!(jb.pop().kind, PlayoutKind::Silence);
        jb.push(1, 16, 160 * (n + 1), false, &frame(n + 1), ms(t0, tick * 20 + 20));
        assert_eq!(jb.pop().frame, frame(n));
    }

    #[test]
    fn one_stray_far_packet_does_not_flush_the_buffer() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        for n in 0..10u32 {
            jb.push(1, n as u16, 160 * n, false, &frame(n), ms(t0, n as u64 * 20));
            if n == 5 {
                assert_eq!(
                    jb.push(1, 30000, 9_000_000, false, &[1; 160], ms(t0, 100)),
                    PushOutcome::Ignored
                );
            }
            jb.pop();
        }
        assert_eq!(jb.stats().resyncs, 0);
        assert_eq!(jb.stats().played, 8);
        // Two in sequence confirm a restart of the same source.
        assert_eq!(
            jb.push(1, 500, 7_000_000, false, &[1; 160], ms(t0, 200)),
            PushOutcome::Ignored
        );
        assert_eq!(
            jb.push(1, 501, 7_000_160, false, &[1; 160], ms(t0, 220)),
            PushOutcome::Resynced
        );
    }

    #[test]
    fn jitter_raises_the_target_and_a_burst_is_drained() {
        // Arrival jitter of +-15 ms: the target climbs to the 60 ms bound.
        let arrivals: Vec<_> = (0..200u64)
            .map(|n| Some(n * 20 + [0, 15, 5, 30][n as usize % 4]))
            .collect();
        let (_, jb) = run(&arrivals, 205);
        assert_eq!(jb.target_delay(), Duration::from_millis(60));
        // A 200 ms network stall then a burst: the buffer waits (underruns), then drops frames
        // to come back near the target instead of keeping 200 ms of delay.
        let arrivals: Vec<_> = (0..300u64)
            .map(|n| Some(if (50..60).contains(&n) { 1200 } else { n * 20 }))
            .collect();
        let (out, jb) = run(&arrivals, 300);
        let st = jb.stats();
        assert!(st.underruns > 0 && st.skipped > 0, "{st:?}");
        assert_eq!(st.lost, 0);
        // By the end, packet n plays within 3 ticks of its arrival tick.
        let last = out.last().unwrap();
        assert_eq!(last.kind, PlayoutKind::Audio);
        let n = (last.frame[0] - 1) as u64;
        assert!(299 % 100 - n % 100 <= 3, "{n}");
    }
}
