//! The address a request came from, for the per-address rate limits of the public routes and of
//! failed authentication.
//!
//! It is the TCP peer (the server is served with `into_make_service_with_connect_info`), unless
//! the peer is one of the operator's trusted proxies (`PARLEY_TRUSTED_PROXIES`, none by
//! default): then `X-Forwarded-For` is read from the right, each trusted hop skipped, and the
//! first address not trusted is the client. Without that setting the header is ignored, since
//! any client can write it; behind a proxy that is not declared, every client shares the
//! proxy's address (and its quota).
//!
//! Decision: an IPv6 client is counted by its /64. One subscriber line usually gets a whole
//! /64, so counting single addresses would let one client rotate through 2^64 of them, each
//! with a fresh quota and a fresh entry in the limiter's memory.

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};
pub use ipnet::IpNet;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// The client of a request as [`of`] finds it, put in the request's extensions by the public
/// routes' middleware for their handlers.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

/// The operator's trusted proxies, as one setting: a comma-separated list ("" for none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<IpNet>);

/// Parses a comma-separated list of trusted proxies; empty entries are skipped, so an empty
/// variable means none.
pub fn parse_trusted_proxies(s: &str) -> Result<TrustedProxies, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(parse_trusted_proxy)
        .collect::<Result<_, _>>()
        .map(TrustedProxies)
}

/// Parses one trusted proxy: an address (`10.0.0.7`) or a network (`10.0.0.0/8`).
pub fn parse_trusted_proxy(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("'{s}' is neither an IP address nor a CIDR network (e.g. 10.0.0.0/8)"))
}

/// The client of a request, as a rate-limit key (`"unknown"` when the server was not given the
/// peer address, as a router served without connect info: such requests share one key).
pub fn of<B>(req: &Request<B>, trusted: &[IpNet]) -> String {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    match peer {
        Some(peer) => key(client(peer, req.headers(), trusted)),
        None => "unknown".into(),
    }
}

/// The client's address: the peer, or what trusted proxies say in `X-Forwarded-For`.
fn client(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(&canonical(*ip)));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops: Vec<&str> = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        let Ok(v) = v.to_str() else {
            return peer; // not text: nothing in it can be trusted
        };
        hops.extend(v.split(',').map(str::trim));
    }
    let mut client = peer;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // An entry that is not an address: the hop that wrote it is the last one known.
            None => break,
        }
    }
    client
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:80`.
fn parse_hop(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, what a dual-stack socket reports) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The key of an address: IPv4 as it is, IPv6 by its /64.
fn key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(peer: &str, xff: &[&str]) -> Request<()> {
        let mut r = Request::new(());
        r.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        for v in xff {
            r.headers_mut().append("x-forwarded-for", v.parse().unwrap());
        }
        r
    }

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|s| parse_trusted_proxy(s).unwrap()).collect()
    }

    #[test]
    fn the_peer_unless_it_is_a_trusted_proxy() {
        assert_eq!(of(&req("203.0.113.9:5000", &["1.1.1.1"]), &[]), "203.0.113.9");
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            of(&req("203.0.113.9:5000", &["1.1.1.1"]), &trusted),
            "203.0.113.9",
            "an untrusted peer's header is ignored"
        );
        assert_eq!(of(&req("10.0.0.2:5000", &["1.1.1.1"]), &trusted), "1.1.1.1");
        // Read from the right: what the client wrote itself (the leftmost) is not believed.
        assert_eq!(
            of(&req("10.0.0.2:5000", &["6.6.6.6, 1.1.1.1, 10.0.0.5"]), &trusted),
            "1.1.1.1"
        );
        assert_eq!(
            of(&req("10.0.0.2:5000", &["6.6.6.6", "1.1.1.1:443"]), &trusted),
            "1.1.1.1",
            "several headers are one list"
        );
        assert_eq!(of(&req("10.0.0.2:5000", &["junk"]), &trusted), "10.0.0.2");
        assert_eq!(of(&req("10.0.0.2:5000", &[]), &trusted), "10.0.0.2");
    }

    #[test]
    fn ipv6_by_its_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(of(&req("[2001:db8:1:2:3:4:5:6]:80", &[]), &[]), "2001:db8:1:2::/64");
        assert_eq!(
            of(&req("[2001:db8:1:2:ffff::1]:80", &[]), &[]),
            of(&req("[2001:db8:1:2::9]:80", &[]), &[])
        );
        assert_eq!(of(&req("[::ffff:192.0.2.1]:80", &[]), &[]), "192.0.2.1");
        assert_eq!(of(&Request::new(()), &[]), "unknown");
    }

    #[test]
    fn trusted_proxies_parse_as_addresses_or_networks() {
        assert!(parse_trusted_proxy("10.0.0.7")
            .unwrap()
            .contains(&"10.0.0.7".parse::<IpAddr>().unwrap()));
        assert!(parse_trusted_proxy("fd00::/8").is_ok());
        assert!(parse_trusted_proxy("proxy.local").unwrap_err().contains("proxy.local"));
        assert_eq!(parse_trusted_proxies("").unwrap(), TrustedProxies::default());
        assert_eq!(parse_trusted_proxies(" 10.0.0.1 , fd00::/8,").unwrap().0.len(), 2);
        assert!(parse_trusted_proxies("10.0.0.1,nope").is_err());
    }
}
