//! RFC 4733 telephone-events (DTMF): received as one digit per key press, and sent.
//!
//! Decisions a reader would question:
//! - A received digit is reported on the *first* packet of a press (any packet with a new RTP
//!   timestamp), not on its end packet: it comes 100 ms sooner, and a press whose end packets
//!   are all lost still counts. The three retransmitted end packets, and every update in
//!   between, share that timestamp and are recognised as the same press.
//! - A sent press lasts 100 ms: five packets of growing duration (160..800, marker on the first)
//!   then the end packet three times, one per 20 ms tick, on the audio stream's SSRC and
//!   sequence numbers, in place of the audio of those ticks. Presses queue with 40 ms of audio
//!   between them.

use thiserror::Error;

/// Sample clock of telephone-events with G.711.
pub const CLOCK: u32 = 8000;
/// Ticks (20 ms) a sent press lasts, end packets excluded.
pub const PRESS_TICKS: u16 = 5;
/// How many times the end packet is sent.
pub const END_REPEATS: u16 = 3;
/// Ticks of audio between two queued presses.
pub const GAP_TICKS: u16 = 2;
/// Volume field of sent events (-10 dBm0).
const VOLUME: u8 = 10;
/// Presses that may wait to be sent.
const MAX_QUEUED: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DtmfError {
    #[error("'{0}' is not a DTMF key (0-9, *, #, A-D)")]
    NotAKey(char),
    #[error("the far end did not negotiate telephone-event")]
    NotNegotiated,
    #[error("too many keys queued")]
    QueueFull,
}

/// The event code of a key.
pub fn event_of(key: char) -> Option<u8> {
    match key.to_ascii_uppercase() {
        c @ '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        c @ 'A'..='D' => Some(c as u8 - b'A' + 12),
        _ => None,
    }
}

/// The key of an event code (codes above 15, such as flash, are not keys).
pub fn key_of(event: u8) -> Option<char> {
    match event {
        0..=9 => Some((b'0' + event) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + event - 12) as char),
        _ => None,
    }
}

/// A telephone-event payload (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPayload {
    pub event: u8,
    pub end: bool,
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl EventPayload {
    /// Parses the first event of a payload (a shorter one is not an event).
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < 4 {
            return None;
        }
        Some(EventPayload {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [self.event, (u8::from(self.end) << 7) | (self.volume & 0x3f), d[0], d[1]]
    }
}

/// Turns the packets of presses into one digit per press.
#[derive(Debug, Default)]
pub struct DtmfReceiver {
    /// Timestamps of recent presses (a few, in case end packets of one trail the next).
    recent: [Option<u32>; 4],
    next: usize,
}

impl DtmfReceiver {
    /// One telephone-event packet; the key, if it starts a press.
    pub fn receive(&mut self, timestamp: u32, payload: &[u8]) -> Option<char> {
        let ev = EventPayload::parse(payload)?;
        let key = key_of(ev.event)?;
        if self.recent.contains(&Some(timestamp)) {
            return None;
        }
        self.recent[self.next] = Some(timestamp);
        self.next = (self.next + 1) % self.recent.len();
        Some(key)
    }
}

/// One packet of a press to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    pub marker: bool,
    pub timestamp: u32,
    pub payload: [u8; 4],
}

#[derive(Debug, Clone, Copy)]
struct Press {
    event: u8,
    /// RTP timestamp of the press's first tick.
    timestamp: u32,
    /// Packets sent so far.
    sent: u16,
}

/// Paces presses out, one packet per tick.
#[derive(Debug, Default)]
pub struct DtmfSender {
    queue: std::collections::VecDeque<u8>,
    current: Option<Press>,
    gap: u16,
}

impl DtmfSender {
    /// Queues a key press.
    pub fn press(&mut self, key: char) -> Result<(), DtmfError> {
        let event = event_of(key).ok_or(DtmfError::NotAKey(key))?;
        if self.queue.len() >= MAX_QUEUED {
            return Err(DtmfError::QueueFull);
        }
        self.queue.push_back(event);
        Ok(())
    }

    /// Nothing is being sent or waiting.
    pub fn is_idle(&self) -> bool {
        self.current.is_none() && self.queue.is_empty()
    }

    /// The packet for the tick whose RTP timestamp is `tick_ts`, if a press occupies it (the
    /// tick then carries no audio).
    pub fn next_packet(&mut self, tick_ts: u32) -> Option<EventPacket> {
        if self.current.is_none() {
            if self.gap > 0 {
                self.gap -= 1;
                return None;
            }
            let event = self.queue.pop_front()?;
            self.current = Some(Press {
                event,
                timestamp: tick_ts,
                sent: 0,
            });
        }
        let p = self.current.as_mut()?;
        p.sent += 1;
        let end = p.sent >= PRESS_TICKS;
        let duration = p.sent.min(PRESS_TICKS) * 160;
        let packet = EventPacket {
            marker: p.sent == 1,
            timestamp: p.timestamp,
            payload: EventPayload {
                event: p.event,
                end,
                volume: VOLUME,
                duration,
            }
            .to_bytes(),
        };
        if p.sent >= PRESS_TICKS + END_REPEATS - 1 {
            self.current = None;
            self.gap = GAP_TICKS;
        }
        Some(packet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_codes() {
        for (k, e) in [('0', 0), ('9', 9), ('*', 10), ('#', 11), ('A', 12), ('d', 15)] {
            assert_eq!(event_of(k), Some(e));
            assert_eq!(key_of(e), Some(k.to_ascii_uppercase()));
        }
        assert_eq!(event_of('E'), None);
        assert_eq!(key_of(16), None);
    }

    #[test]
    fn a_press_is_five_updates_and_three_end_packets() {
        let mut s = DtmfSender::default();
        s.press('5').unwrap();
        s.press('#').unwrap();
        assert_eq!(s.press('x'), Err(DtmfError::NotAKey('x')));
        let mut ticks = vec![];
        for i in 0..20u32 {
            ticks.push(s.next_packet(1000 + 160 * i));
        }
        let first: Vec<_> = ticks[..7].iter().map(|p| p.unwrap()).collect();
        for (i, p) in first.iter().enumerate() {
            let ev = EventPayload::parse(&p.payload).unwrap();
            assert_eq!(p.timestamp, 1000);
            assert_eq!(p.marker, i == 0);
            assert_eq!(ev.event, 5);
            assert_eq!(ev.volume, 10);
            assert_eq!(ev.duration, 160 * (i as u16 + 1).min(5));
            assert_eq!(ev.end, i >= 4);
        }
        assert_eq!(ticks[7], None);
        assert_eq!(ticks[8], None);
        let second = ticks[9].unwrap();
        assert!(second.marker);
        assert_eq!(second.timestamp, 1000 + 160 * 9);
        assert_eq!(EventPayload::parse(&second.payload).unwrap().event, 11);
        assert!(ticks[16..].iter().all(Option::is_none));
        assert!(s.is_idle());
    }

    #[test]
    fn retransmitted_packets_make_one_digit_per_press() {
        let mut tx = DtmfSender::default();
        let mut rx = DtmfReceiver::default();
        for k in "1*1".chars() {
            tx.press(k).unwrap();
        }
        let mut got = String::new();
        for i in 0..40u32 {
            if let Some(p) = tx.next_packet(160 * i) {
                // Every packet twice (a lossy, duplicating network): still one digit per press.
                for _ in 0..2 {
                    got.extend(rx.receive(p.timestamp, &p.payload));
                }
            }
        }
        assert_eq!(got, "1*1");
        // A press seen only by its end packet still counts; garbage does not.
        let end = EventPayload {
            event: 3,
            end: true,
            volume: 10,
            duration: 800,
        }
        .to_bytes();
        assert_eq!(rx.receive(99_999, &end), Some('3'));
        assert_eq!(rx.receive(99_999, &end), None);
        assert_eq!(rx.receive(5, &[1, 2]), None);
        assert_eq!(rx.receive(6, &[16, 0x80, 0, 1]), None);
    }
}
