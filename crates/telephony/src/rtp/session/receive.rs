//! Incoming RTP: one datagram classified by payload type (audio, telephone-event, comfort
//! noise) and handed to the jitter buffer or the DTMF receiver, after the source check.

use super::{MediaEvent, MediaSession};
use crate::rtp::codec::Codec;
use crate::rtp::packet::RtpPacket;
use crate::rtp::stats::ReceiveStats;
use std::net::SocketAddr;
use tokio::time::Instant;

/// Comfort noise (RFC 3389): silence suppression; played as silence.
const PT_CN: u8 = 13;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Audio(Codec),
    Event,
    ComfortNoise,
}

impl MediaSession {
    /// One datagram from either of the call's ports.
    pub fn handle_packet(&mut self, datagram: &[u8], source: SocketAddr, now: Instant) {
        if self.closed {
            return;
        }
        if crate::rtp::is_rtcp(datagram) {
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
}
