//! Receive statistics of one remote source, for reception report blocks (RFC 3550 A.1, A.3, A.8).
//!
//! Decision: this follows the RFC's reference code closely, probation included (a new source
//! counts only after two packets in sequence), rather than a simpler count: the far end's RTCP
//! monitoring compares our numbers with its own, and the RFC's are the ones it expects.

use super::rtcp::ReportBlock;

const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;
const MIN_SEQUENTIAL: u32 = 2;
const SEQ_MOD: u32 = 1 << 16;

/// Sequence, loss and jitter bookkeeping for one SSRC.
#[derive(Debug, Clone)]
pub struct ReceiveStats {
    ssrc: u32,
    max_seq: u16,
    /// Shifted count of sequence number cycles.
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    transit: Option<i32>,
    /// Interarrival jitter in timestamp units (A.8's estimator, kept as a float).
    jitter: f64,
}

impl ReceiveStats {
    /// Starts tracking a source at its first packet.
    pub fn new(ssrc: u32, first_seq: u16) -> Self {
        let mut s = ReceiveStats {
            ssrc,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: 0,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter: 0.0,
        };
        s.init_seq(first_seq);
        s.max_seq = first_seq.wrapping_sub(1);
        s
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = seq as u32;
        self.max_seq = seq;
        self.bad_seq = SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// Accounts a packet's sequence number (A.1). False while the source is on probation or
    /// when the packet looks like a jump that needs a second packet to confirm.
    pub fn update_seq(&mut self, seq: u16) -> bool {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return true;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return false;
        } else if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(SEQ_MOD);
            }
            self.max_seq = seq;
        } else if (udelta as u32) <= SEQ_MOD - MAX_MISORDER as u32 {
            if seq as u32 == self.bad_seq {
                // Two sequential packets after a big jump: the source restarted.
                self.init_seq(seq);
            } else {
                self.bad_seq = (seq as u32 + 1) & (SEQ_MOD - 1);
                return false;
            }
        }
        // else: a duplicate or reordered packet, counted as received.
        self.received = self.received.wrapping_add(1);
        true
    }

    /// Feeds the jitter estimator (A.8): `arrival` in timestamp units on our clock.
    pub fn update_jitter(&mut self, rtp_timestamp: u32, arrival: u32) {
        let transit = arrival.wrapping_sub(rtp_timestamp) as i32;
        if let Some(prev) = self.transit {
            let d = transit.wrapping_sub(prev).unsigned_abs() as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.transit = Some(transit);
    }

    /// Forgets the last transit time (after a timestamp discontinuity the difference is noise).
    pub fn reset_transit(&mut self) {
        self.transit = None;
    }

    pub fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(self.max_seq as u32)
    }

    fn expected(&self) -> u32 {
        self.extended_max().wrapping_sub(self.base_seq).wrapping_add(1)
    }

    /// Packets lost over the session (A.3); negative when duplicates outnumber losses.
    pub fn cumulative_lost(&self) -> i64 {
        if self.probation > 0 {
            return 0;
        }
        self.expected() as i64 - self.received as i64
    }

    pub fn received(&self) -> u32 {
        self.received
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// A report block for an RTCP report, moving the "since the last report" interval on (A.3).
    /// `None` while the source is still on probation.
    pub fn report_block(&mut self, last_sr: u32, delay_since_last_sr: u32) -> Option<ReportBlock> {
        if self.probation > 0 {
            return None;
        }
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        Some(ReportBlock {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost: self.cumulative_lost().clamp(-0x80_0000, 0x7f_ffff) as i32,
            highest_sequence: self.extended_max(),
            jitter: self.jitter as u32,
            last_sr,
            delay_since_last_sr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_loss_across_a_sequence_wrap() {
        let mut s = ReceiveStats::new(1, 65530);
        for seq in (65530u16..=65535).chain(0..10) {
            if seq == 2 || seq == 3 {
                continue; // lost
            }
            s.update_seq(seq);
        }
        // Probation ate the first packet; the base is the second.
        let b = s.report_block(0, 0).unwrap();
        assert_eq!(b.highest_sequence, (1 << 16) | 9);
        assert_eq!(b.cumulative_lost, 2);
        assert_eq!(b.fraction_lost, (2 * 256 / 15) as u8);
        // The next interval, with no loss, reports a zero fraction but the same total.
        for seq in 10..20 {
            s.update_seq(seq);
        }
        let b = s.report_block(0, 0).unwrap();
        assert_eq!((b.fraction_lost, b.cumulative_lost), (0, 2));
    }

    #[test]
    fn a_restart_needs_two_sequential_packets() {
        let mut s = ReceiveStats::new(1, 100);
        for seq in 100..110 {
            s.update_seq(seq);
        }
        assert!(!s.update_seq(40000));
        assert!(s.update_seq(40001));
        assert_eq!(s.extended_max(), 40001);
        assert_eq!(s.cumulative_lost(), 0);
    }

    #[test]
    fn jitter_follows_a8() {
        let mut s = ReceiveStats::new(1, 0);
        // Packets every 160 samples, arriving alternately 0 and 80 samples late.
        for i in 0..200u32 {
            s.update_jitter(i * 160, i * 160 + if i % 2 == 1 { 80 } else { 0 });
        }
        assert!((s.jitter() - 80.0).abs() < 1.0, "{}", s.jitter());
        let mut steady = ReceiveStats::new(1, 0);
        for i in 0..50u32 {
            steady.update_jitter(i * 160, 1000 + i * 160);
        }
        assert_eq!(steady.jitter(), 0.0);
    }
}
