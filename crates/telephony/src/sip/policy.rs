//! Toll-fraud and flood defences the endpoint applies before any call state exists: which
//! sources may send INVITEs (a trunk's `inbound_addresses` CIDRs) and a per-source token
//! bucket for everyone else.
//!
//! Decision: the rate-limit table is bounded (4096 sources). When it is full of active
//! sources, new unknown sources are dropped outright instead of evicting live entries: under a
//! spoofed-source flood we stop answering strangers, while allowed trunks are never limited.

use super::uas::IncomingCall;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// What to do with an INVITE from an allowed source, once its number is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Create the call and ask the owner ([`super::EndpointEvent::Incoming`]).
    Offer,
    /// No agent is bound to this number: 404.
    NotFound,
    /// This node is at its call limit: 503.
    Full,
}

/// The owner's rules for inbound calls.
pub trait InboundPolicy {
    /// May `source` send us INVITEs? Anything else is answered 403 and never becomes a call.
    fn allows(&self, source: IpAddr) -> bool;
    /// Whether to offer, 404 or 503 a call from an allowed source.
    fn admit(&self, _call: &IncomingCall) -> Admission {
        Admission::Offer
    }
}

/// Address blocks are the domain's (the same parser validates a trunk's `inbound_addresses`
/// at the API and checks sources here).
pub use parley_core::number::Cidr;

/// The simplest policy: a list of allowed blocks, every number offered to the owner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CidrAllowList(pub Vec<Cidr>);

impl CidrAllowList {
    /// Parses blocks, skipping invalid ones (the API validates them on input).
    pub fn parse<'a>(blocks: impl IntoIterator<Item = &'a str>) -> CidrAllowList {
        CidrAllowList(blocks.into_iter().filter_map(|b| Cidr::parse(b.trim())).collect())
    }
}

impl InboundPolicy for CidrAllowList {
    fn allows(&self, source: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(source))
    }
}

const MAX_SOURCES: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets keyed by source address.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    burst: f64,
    per_sec: f64,
    buckets: HashMap<IpAddr, Bucket>,
}

impl RateLimiter {
    pub fn new(burst: u32, per_sec: u32) -> RateLimiter {
        RateLimiter {
            burst: f64::from(burst.max(1)),
            per_sec: f64::from(per_sec),
            buckets: HashMap::new(),
        }
    }

    /// Takes one token for `ip`; false means drop the message.
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        if !self.buckets.contains_key(&ip) && self.buckets.len() >= MAX_SOURCES {
            let (burst, per_sec) = (self.burst, self.per_sec);
            // Forget sources whose bucket has refilled: they are not flooding right now.
            self.buckets
                .retain(|_, b| b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * per_sec < burst);
            if self.buckets.len() >= MAX_SOURCES {
                return false;
            }
        }
        let b = self.buckets.entry(ip).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_sec).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub fn tracked_sources(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn cidrs_match_their_blocks_only() {
        let l = CidrAllowList::parse(["203.0.113.0/24", "2001:db8::/32", "198.51.100.7", "bogus"]);
        assert_eq!(l.0.len(), 3);
        assert!(l.allows("203.0.113.77".parse().unwrap()));
        assert!(l.allows("::ffff:203.0.113.1".parse().unwrap()));
        assert!(!l.allows("203.0.114.1".parse().unwrap()));
        assert!(l.allows("2001:db8:1::5".parse().unwrap()));
        assert!(l.allows("198.51.100.7".parse().unwrap()));
        assert!(!l.allows("198.51.100.8".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("1.2.3.4/33").is_none());
    }

    #[test]
    fn token_bucket_limits_and_refills_and_stays_bounded() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(3, 1);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!((0..10).filter(|_| r.allow(ip, t0)).count(), 3);
        assert!(r.allow(ip, t0 + Duration::from_secs(1)));
        assert!(!r.allow(ip, t0 + Duration::from_secs(1)));
        for i in 0..(MAX_SOURCES as u32 + 100) {
            r.allow(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert!(r.tracked_sources() <= MAX_SOURCES);
    }
}
