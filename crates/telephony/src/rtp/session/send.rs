//! The send side: outgoing audio and DTMF queued by the pipeline, and the 20 ms tick that
//! sends one packet (or none) and plays one frame out of the jitter buffer.

use super::{Channel, MediaEvent, MediaSession, Transmit};
use crate::audio::{MulawFrame, FRAME_SAMPLES};
use crate::rtp::dtmf::DtmfError;
use crate::rtp::packet::RtpPacket;

/// Skipped ticks the jitter buffer is stepped through; beyond, it starts over.
const MAX_SKIP_POPS: u64 = 50;
const MAX_OUT_QUEUE: usize = 10;

impl MediaSession {
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

    fn tick_timestamp(&self, n: u64) -> u32 {
        self.cfg
            .initial_timestamp
            .wrapping_add((n as u32).wrapping_mul(FRAME_SAMPLES as u32))
    }

    pub(super) fn skip_ticks(&mut self, n: u64) {
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

    pub(super) fn run_tick(&mut self) {
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
}
