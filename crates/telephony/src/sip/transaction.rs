//! RFC 3261 §17 timers and the non-INVITE client transaction (BYE, CANCEL, REFER, …) that both
//! call directions use; outputs and identifiers shared by every state machine.
//!
//! Decision: retransmission only on UDP. On TCP/TLS the stream is reliable (§17.1.1.2), so
//! Timers A/E/G never fire there, while the give-up timers (B/F/H, 64*T1) run on every
//! transport: a dead peer must end the call on TCP too.

use super::message::{Message, Method};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub const T1: Duration = Duration::from_millis(500);
pub const T2: Duration = Duration::from_secs(4);
/// Timers B, F, H, and how long a finished call lingers to absorb retransmissions.
pub const TIMEOUT_64T1: Duration = Duration::from_secs(32);

/// How a message travels. `Tls` is a stream like `Tcp`; the shell owns the TLS session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }
    /// The `;transport=` URI parameter (none for UDP, the default).
    pub fn uri_param(self) -> &'static str {
        match self {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
        }
    }
}

/// Bytes for the shell to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub dest: SocketAddr,
    pub transport: Transport,
    pub payload: Vec<u8>,
}

/// A random token for tags, branches and cnonces (122 random bits, hex).
pub fn token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A branch with the RFC 3261 magic cookie.
pub fn branch() -> String {
    format!("z9hG4bK{}", &token()[..20])
}

/// Doubling retransmission schedule (Timers A/E/G): T1, 2T1, 4T1 … capped at `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retransmit {
    pub next: Instant,
    pub interval: Duration,
    pub cap: Duration,
}

impl Retransmit {
    /// `None` on reliable transports.
    pub fn start(now: Instant, transport: Transport, cap: Duration) -> Option<Retransmit> {
        (!transport.is_reliable()).then_some(Retransmit {
            next: now + T1,
            interval: T1,
            cap,
        })
    }
    /// True (and rescheduled) when due.
    pub fn due(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.interval = self.interval.saturating_mul(2).min(self.cap);
        self.next = now + self.interval;
        true
    }
}

/// A non-INVITE client transaction (RFC 3261 §17.1.2).
#[derive(Debug, Clone)]
pub struct NonInviteTx {
    pub method: Method,
    pub branch: String,
    pub request: Message,
    pub dest: SocketAddr,
    pub transport: Transport,
    pub retransmit: Option<Retransmit>,
    /// Timer F.
    pub deadline: Instant,
    /// Whether a digest retry was already made for this request.
    pub auth_retried: bool,
}

impl NonInviteTx {
    pub fn new(request: Message, branch: String, dest: SocketAddr, transport: Transport, now: Instant) -> Self {
        NonInviteTx {
            method: request.method().cloned().unwrap_or(Method::Other(String::new())),
            branch,
            request,
            dest,
            transport,
            retransmit: Retransmit::start(now, transport, T2),
            deadline: now + TIMEOUT_64T1,
            auth_retried: false,
        }
    }
    pub fn transmit(&self) -> Transmit {
        Transmit {
            dest: self.dest,
            transport: self.transport,
            payload: self.request.to_bytes(),
        }
    }
    pub fn next_timeout(&self) -> Instant {
        self.retransmit.map_or(self.deadline, |r| r.next.min(self.deadline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retransmissions_double_to_the_cap_and_only_on_udp() {
        let t0 = Instant::now();
        let mut r = Retransmit::start(t0, Transport::Udp, T2).unwrap();
        let mut fired = Vec::new();
        let mut now = t0;
        while now < t0 + Duration::from_secs(12) {
            now += Duration::from_millis(100);
            if r.due(now) {
                fired.push((now - t0).as_millis());
            }
        }
        assert_eq!(fired, vec![500, 1500, 3500, 7500, 11500]);
        assert!(Retransmit::start(t0, Transport::Tcp, T2).is_none());
        assert!(branch().starts_with("z9hG4bK"));
    }
}
