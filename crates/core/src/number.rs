//! How a team reaches real phones: its SIP trunks and its phone numbers (API.md, "Phone numbers
//! and SIP trunks"), their validation, and [`Cidr`], the inbound allow-list entry of a trunk.
//!
//! Secrets (a trunk's password, a Twilio auth token) are fields of these types so the worker side
//! gets them in one read, but they are never serialized: `#[serde(skip)]` keeps them out of every
//! API answer and webhook body by construction, and `has_password` says whether one is set.
//!
//! Decision: a `sandbox` phone number is a caller id on the sandbox network, nothing more. Inbound
//! sandbox calls keep their own routes (`/sandbox/numbers` binds a number to an agent,
//! `/sandbox/call_in` rings it), so a sandbox phone number takes no `inbound_interview_id`, and it
//! must be fictional (in the built-in range `+1 NPA 555 01xx`, or on the team's sandbox list):
//! numbers are unique across the server, and a sandbox entry must not hold a real number that its
//! owner will want to add on a real network.

use crate::time::Timestamp;
use crate::ValidationError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use utoipa::ToSchema;
use uuid::Uuid;

/// The longest trunk name or number label.
pub const MAX_NAME_CHARS: usize = 100;
/// The longest host name (DNS allows 253 characters).
pub const MAX_HOST_CHARS: usize = 253;
/// The longest SIP user name.
pub const MAX_USERNAME_CHARS: usize = 128;
/// The longest trunk password or Twilio auth token.
pub const MAX_SECRET_CHARS: usize = 256;
/// The most entries of a trunk's `inbound_addresses`.
pub const MAX_INBOUND_ADDRESSES: usize = 100;
/// The longest `inbound_addresses` entry (`ffff:…/128` is at most 43 characters).
pub const MAX_CIDR_CHARS: usize = 64;
/// The largest `max_concurrent_calls` of a trunk.
pub const MAX_TRUNK_CALLS: i64 = 10_000;
/// The default SIP port.
pub const DEFAULT_SIP_PORT: u16 = 5060;

/// How SIP messages travel to and from a trunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SipTransport {
    #[default]
    Udp,
    Tcp,
    Tls,
}
str_enum!(SipTransport { Udp = "udp", Tcp = "tcp", Tls = "tls" });

/// The phone network a number (and a call) is on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NetworkKind {
    Sip,
    Twilio,
    /// The built-in network of virtual people; every call before real telephony was on it.
    #[default]
    Sandbox,
}
str_enum!(NetworkKind { Sip = "sip", Twilio = "twilio", Sandbox = "sandbox" });

impl NetworkKind {
    /// Whether the network reaches real phones.
    pub fn is_real(self) -> bool {
        !matches!(self, NetworkKind::Sandbox)
    }
}

impl fmt::Display for NetworkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A carrier trunk of a team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SipTrunk {
    pub id: Uuid,
    pub created: Timestamp,
    pub updated: Timestamp,
    pub version: i64,
    pub name: String,
    /// The carrier's SIP host (a DNS name or an IP address).
    pub host: String,
    pub port: u16,
    pub transport: SipTransport,
    /// The user name of digest authentication (answered on 401/407), if the carrier asks.
    pub username: Option<String>,
    /// The digest password: write-only, never serialized (see `has_password`).
    #[serde(skip)]
    pub password: Option<String>,
    /// Whether a password is set (the password itself is never returned).
    pub has_password: bool,
    /// The domain of the `From` header of outbound INVITEs (default: `host`).
    pub from_domain: Option<String>,
    /// Addresses (CIDRs or single IPs) allowed to send INVITEs; empty means only `host`.
    pub inbound_addresses: Vec<String>,
    /// Calls the trunk may carry at once; none means no limit of its own.
    pub max_concurrent_calls: Option<i64>,
}

/// A team's Twilio account as a number shows it: the account SID only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TwilioAccount {
    /// `AC` and 32 hexadecimal digits.
    #[schema(example = "AC0123456789abcdef0123456789abcdef")]
    pub account_sid: String,
    /// Write-only, never serialized.
    #[serde(skip)]
    pub auth_token: String,
}

/// A phone number a team owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PhoneNumber {
    pub id: Uuid,
    pub created: Timestamp,
    pub updated: Timestamp,
    pub version: i64,
    /// E.164; unique across the whole server.
    #[schema(example = "+14155550123")]
    pub phone_number: String,
    pub network: NetworkKind,
    /// The trunk that carries the number's calls (network `sip` only).
    pub sip_trunk_id: Option<Uuid>,
    /// The Twilio account that owns the number (network `twilio` only).
    pub twilio: Option<TwilioAccount>,
    /// The voice agent that answers calls to this number; none refuses inbound calls.
    pub inbound_interview_id: Option<String>,
    pub label: Option<String>,
    /// The caller id of the team's outbound calls when a call names no `from_number`; at most
    /// one number of a team has it.
    pub default_outbound: bool,
}

/// Refuses control characters (CR and LF would split a SIP header) and over-long values.
fn text(field: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.chars().count() > max {
        return Err(ValidationError::new(field, format!("must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(field, "must not contain control characters"));
    }
    Ok(())
}

/// A trunk's name or a number's label: trimmed, 1..=[`MAX_NAME_CHARS`] characters.
pub fn check_name(field: &str, value: &str) -> Result<String, ValidationError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    text(field, v, MAX_NAME_CHARS)?;
    Ok(v.to_string())
}

/// A host: an IP address (IPv6 with or without brackets) or a DNS name of letters, digits, `-`
/// and `.`, labels of 1 to 63 characters. Returned lower-cased, IPv6 without brackets.
pub fn check_host(field: &str, value: &str) -> Result<String, ValidationError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ValidationError::new(
            field,
            "is required: the carrier's SIP host name or IP address",
        ));
    }
    text(field, v, MAX_HOST_CHARS)?;
    let unbracketed = v.strip_prefix('[').and_then(|r| r.strip_suffix(']')).unwrap_or(v);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Ok(ip.to_string());
    }
    let v = v.strip_suffix('.').unwrap_or(v);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if v.is_empty() || !v.split('.').all(label_ok) {
        return Err(ValidationError::new(
            field,
            "is not a host name or an IP address (letters, digits, '-' and '.', e.g. sip.example.com)",
        ));
    }
    Ok(v.to_ascii_lowercase())
}

/// A SIP user name: the characters RFC 3261 allows unescaped in the user part of a URI.
pub fn check_username(field: &str, value: &str) -> Result<String, ValidationError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ValidationError::new(
            field,
            "must not be empty (leave it out for no authentication)",
        ));
    }
    text(field, v, MAX_USERNAME_CHARS)?;
    if let Some(bad) = v
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/%".contains(*c)))
    {
        return Err(ValidationError::new(
            field,
            format!("'{bad}' is not allowed in a SIP user name (letters, digits and -_.!~*'()&=+$,;?/%)"),
        ));
    }
    Ok(v.to_string())
}

/// A write-only secret: 1..=[`MAX_SECRET_CHARS`] characters, no control characters. The value is
/// never echoed in the message.
pub fn check_secret(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    text(field, value, MAX_SECRET_CHARS)
}

/// A Twilio account SID: `AC` and 32 hexadecimal digits.
pub fn check_account_sid(field: &str, value: &str) -> Result<String, ValidationError> {
    let v = value.trim();
    let ok = v.len() == 34 && v.starts_with("AC") && v[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        return Err(ValidationError::new(
            field,
            "is not a Twilio account SID (AC followed by 32 hexadecimal digits)",
        ));
    }
    Ok(v.to_string())
}

/// A trunk's `max_concurrent_calls`: 1..=[`MAX_TRUNK_CALLS`].
pub fn check_max_calls(field: &str, value: i64) -> Result<i64, ValidationError> {
    if !(1..=MAX_TRUNK_CALLS).contains(&value) {
        return Err(ValidationError::new(
            field,
            format!("must be between 1 and {MAX_TRUNK_CALLS} (leave it out for no limit)"),
        ));
    }
    Ok(value)
}

/// A trunk's `inbound_addresses`: at most [`MAX_INBOUND_ADDRESSES`] CIDRs or single IPs,
/// returned in their canonical form (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7/32`), without
/// duplicates.
pub fn check_inbound_addresses(field: &str, values: &[String]) -> Result<Vec<String>, ValidationError> {
    if values.len() > MAX_INBOUND_ADDRESSES {
        return Err(ValidationError::new(
            field,
            format!("at most {MAX_INBOUND_ADDRESSES} addresses (got {})", values.len()),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        let f = format!("{field}[{i}]");
        text(&f, v, MAX_CIDR_CHARS)?;
        let c = Cidr::parse(v.trim()).ok_or_else(|| {
            ValidationError::new(
                &f,
                "is not an IP address or a CIDR block (e.g. 203.0.113.0/24, 192.0.2.7 or 2001:db8::/32)",
            )
        })?;
        let s = c.to_string();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

/// An IPv4 or IPv6 block: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `203.0.113.0/24`, `2001:db8::/32`, or a single address (a /32 or /128).
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
        };
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    /// Whether `ip` is in the block (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Where an outbound call goes: its network and its caller id (one of the team's numbers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRoute {
    pub network: NetworkKind,
    pub from_number: Option<String>,
}

impl CallRoute {
    /// A call on the sandbox network.
    pub fn sandbox(from_number: Option<String>) -> CallRoute {
        CallRoute {
            network: NetworkKind::Sandbox,
            from_number,
        }
    }
}

/// What the team's numbers offer an outbound call (see [`OutboundNumbers::route`]).
#[derive(Debug, Clone, Default)]
pub struct OutboundNumbers {
    /// The number the request named as `from_number` (already checked to be the team's).
    pub chosen: Option<PhoneNumber>,
    /// The team's `default_outbound` number.
    pub default: Option<PhoneNumber>,
    /// Whether the team has any number on a real network.
    pub has_real: bool,
    /// Calls to numbers outside the sandbox ranges by a team with no real number go to the
    /// sandbox network (where they fail "not reachable") instead of being refused: Parley's
    /// behaviour before phone numbers existed, kept for deployments (and tests) that rely on it.
    pub unrouted_to_sandbox: bool,
}

/// The message of a call to a real destination by a team without a real number.
pub const NO_REAL_NUMBER: &str = "this team has no phone number on a real network; add one with POST /phone_number";

impl OutboundNumbers {
    /// The route of a call to `to` (E.164); `to_is_sandbox` when it is in the built-in sandbox
    /// range or on the team's sandbox list. A sandbox destination always rings the sandbox network
    /// (the caller id is the chosen or default number, if any); any other needs a number on a
    /// real network: the chosen one, else the default one.
    pub fn route(&self, to: &str, to_is_sandbox: bool) -> Result<CallRoute, ValidationError> {
        let from = self.chosen.as_ref().or(self.default.as_ref());
        if to_is_sandbox {
            return Ok(CallRoute::sandbox(from.map(|n| n.phone_number.clone())));
        }
        match (from, &self.chosen) {
            (Some(n), _) if n.network.is_real() => Ok(CallRoute {
                network: n.network,
                from_number: Some(n.phone_number.clone()),
            }),
            (Some(n), Some(_)) => Err(ValidationError::new(
                "from_number",
                format!(
                    "{} is on the sandbox network, which reaches only sandbox numbers, and {to} is not one;                      call it from a number on a real network (sip or twilio)",
                    n.phone_number
                ),
            )
            .with_code("from_number_sandbox")),
            _ if !self.has_real => {
                if self.unrouted_to_sandbox {
                    Ok(CallRoute::sandbox(from.map(|n| n.phone_number.clone())))
                } else {
                    Err(ValidationError::new("", NO_REAL_NUMBER).with_code("no_phone_number"))
                }
            }
            _ => Err(ValidationError::new(
                "from_number",
                format!(
                    "{to} is not a sandbox number and this team has no default_outbound number on a real network;                      pass from_number, or set default_outbound on one of its numbers (POST /phone_number/{{id}}/update)"
                ),
            )
            .with_code("no_default_outbound")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_canonicalize_and_match() {
        let c = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(c.contains("203.0.113.77".parse().unwrap()));
        assert!(!c.contains("203.0.114.1".parse().unwrap()));
        assert!(c.contains("::ffff:203.0.113.9".parse().unwrap()));
        assert_eq!(Cidr::parse("192.0.2.7").unwrap().to_string(), "192.0.2.7/32");
        let v6 = Cidr::parse("2001:DB8::/32").unwrap();
        assert_eq!(v6.to_string(), "2001:db8::/32");
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("203.0.113.1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "host/8",
            "1.2.3.4/08x",
        ] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
        let out = check_inbound_addresses("inbound_addresses", &["10.0.0.1".into(), " 10.0.0.1/32 ".into()]).unwrap();
        assert_eq!(out, ["10.0.0.1/32"]);
        let e = check_inbound_addresses("inbound_addresses", &["10.0.0.1".into(), "nope".into()]).unwrap_err();
        assert_eq!(e.field, "inbound_addresses[1]");
        let many = vec!["10.0.0.1".to_string(); MAX_INBOUND_ADDRESSES + 1];
        assert!(check_inbound_addresses("inbound_addresses", &many).is_err());
    }

    #[test]
    fn hosts_user_names_and_sids_are_checked() {
        assert_eq!(check_host("host", "SIP.Example.com.").unwrap(), "sip.example.com");
        assert_eq!(check_host("host", "[2001:db8::1]").unwrap(), "2001:db8::1");
        assert_eq!(check_host("host", "192.0.2.1").unwrap(), "192.0.2.1");
        for bad in [
            "",
            "a b",
            "-x.com",
            "x..com",
            "sip.example.com\r\nVia: x",
            &"a".repeat(64),
        ] {
            assert!(check_host("host", bad).is_err(), "{bad}");
        }
        assert!(check_username("username", "acme_01").is_ok());
        assert!(check_username("username", "a@b").is_err());
        assert!(check_username("username", "a\r\nb").is_err());
        assert!(check_account_sid("twilio.account_sid", "AC0123456789abcdef0123456789ABCDEF").is_ok());
        for bad in [
            "AC123",
            "XX0123456789abcdef0123456789abcdef",
            "AC0123456789abcdef0123456789abcdeg",
        ] {
            assert!(check_account_sid("twilio.account_sid", bad).is_err(), "{bad}");
        }
        assert!(check_secret("password", "").is_err());
        assert!(check_secret("password", &"x".repeat(MAX_SECRET_CHARS + 1)).is_err());
        let e = check_secret("password", "hunter2\n").unwrap_err();
        assert!(!e.message.contains("hunter2"));
        assert!(check_max_calls("max_concurrent_calls", 0).is_err());
        assert!(check_name("name", "  ").is_err());
        assert_eq!(check_name("name", " Main ").unwrap(), "Main");
    }

    fn number(e164: &str, network: NetworkKind) -> PhoneNumber {
        PhoneNumber {
            id: Uuid::nil(),
            created: Timestamp(0),
            updated: Timestamp(0),
            version: 1,
            phone_number: e164.into(),
            network,
            sip_trunk_id: None,
            twilio: None,
            inbound_interview_id: None,
            label: None,
            default_outbound: false,
        }
    }

    #[test]
    fn outbound_calls_are_routed_by_destination_and_number() {
        let sip = number("+14155550123", NetworkKind::Sip);
        let sandbox = number("+12025550100", NetworkKind::Sandbox);
        let real = "+14155550999";
        // No number at all: sandbox destinations ring the sandbox network, others are refused.
        let none = OutboundNumbers::default();
        assert_eq!(none.route("+12125550100", true).unwrap(), CallRoute::sandbox(None));
        let e = none.route(real, false).unwrap_err();
        assert_eq!(e.to_string(), NO_REAL_NUMBER);
        let legacy = OutboundNumbers {
            unrouted_to_sandbox: true,
            ..Default::default()
        };
        assert_eq!(legacy.route(real, false).unwrap(), CallRoute::sandbox(None));
        // The default number is the caller id; a sandbox destination stays on the sandbox.
        let with_default = OutboundNumbers {
            default: Some(sip.clone()),
            has_real: true,
            ..Default::default()
        };
        let r = with_default.route(real, false).unwrap();
        assert_eq!(
            (r.network, r.from_number.as_deref()),
            (NetworkKind::Sip, Some("+14155550123"))
        );
        let r = with_default.route("+12125550100", true).unwrap();
        assert_eq!(
            (r.network, r.from_number.as_deref()),
            (NetworkKind::Sandbox, Some("+14155550123"))
        );
        // A chosen sandbox number cannot reach a real destination.
        let chosen_sandbox = OutboundNumbers {
            chosen: Some(sandbox.clone()),
            default: Some(sip.clone()),
            has_real: true,
            ..Default::default()
        };
        assert_eq!(chosen_sandbox.route(real, false).unwrap_err().field, "from_number");
        // Real numbers but no default: the request must choose.
        let no_default = OutboundNumbers {
            has_real: true,
            ..Default::default()
        };
        assert_eq!(no_default.route(real, false).unwrap_err().code, "no_default_outbound");
    }

    #[test]
    fn secrets_never_serialize() {
        let t = TwilioAccount {
            account_sid: "AC0123456789abcdef0123456789abcdef".into(),
            auth_token: "tok-secret".into(),
        };
        let s = serde_json::to_string(&t).unwrap();
        assert!(!s.contains("tok-secret"), "{s}");
        assert_eq!(serde_json::to_value(NetworkKind::Twilio).unwrap(), "twilio");
        assert_eq!(NetworkKind::parse("sip"), Some(NetworkKind::Sip));
        assert_eq!(SipTransport::parse("tls"), Some(SipTransport::Tls));
    }
}
