//! Which addresses an outbound request may reach, and which URL hosts are addresses already.
//!
//! A webhook URL or an automation's HTTP step is chosen by a customer; without this check they
//! could make Parley probe the operator's own network (SSRF: a cloud metadata endpoint, an admin
//! port on loopback). The tables follow IANA's IPv4 and IPv6 Special-Purpose Address Registries
//! (every block not globally reachable, plus the deprecated ones still routed somewhere), and
//! every IPv6 form that carries an IPv4 address is judged by that IPv4 address.
//!
//! IPv6 is checked by allow-list: outside global unicast (`2000::/3`) nothing is reachable on
//! the Internet today, so everything there is refused except the forms that embed IPv4
//! (judged by the embedded address). A block IANA adds later outside `2000::/3` is refused
//! without a change here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 blocks an outbound request must not reach: (network, prefix length, what it is).
const V4_REFUSED: &[([u8; 4], u8, &str)] = &[
    ([0, 0, 0, 0], 8, "\"this network\""),
    ([10, 0, 0, 0], 8, "private"),
    ([100, 64, 0, 0], 10, "shared address space (carrier-grade NAT)"),
    ([127, 0, 0, 0], 8, "loopback"),
    ([169, 254, 0, 0], 16, "link-local (cloud metadata)"),
    ([172, 16, 0, 0], 12, "private"),
    ([192, 0, 0, 0], 24, "IETF protocol assignments"),
    ([192, 0, 2, 0], 24, "documentation (TEST-NET-1)"),
    ([192, 88, 99, 0], 24, "6to4 relay anycast (deprecated)"),
    ([192, 168, 0, 0], 16, "private"),
    ([198, 18, 0, 0], 15, "benchmarking"),
    ([198, 51, 100, 0], 24, "documentation (TEST-NET-2)"),
    ([203, 0, 113, 0], 24, "documentation (TEST-NET-3)"),
    ([224, 0, 0, 0], 4, "multicast"),
    ([240, 0, 0, 0], 4, "reserved (and broadcast)"),
];

/// IPv6 blocks refused inside global unicast `2000::/3` (outside it everything is refused).
const V6_REFUSED_GLOBAL: &[([u16; 8], u8, &str)] = &[
    // Teredo 2001::/32, benchmarking 2001:2::/48, ORCHID, and the other protocol assignments.
    (
        [0x2001, 0, 0, 0, 0, 0, 0, 0],
        23,
        "IETF protocol assignments (Teredo, benchmarking, ORCHID)",
    ),
    ([0x2001, 0x0db8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation"),
];

/// IPv6 blocks outside `2000::/3` named for messages (all of them are refused anyway).
const V6_NAMED: &[([u16; 8], u8, &str)] = &[
    ([0x0064, 0xff9b, 0x0001, 0, 0, 0, 0, 0], 48, "local-use NAT64"),
    ([0x0100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only"),
    ([0x0100, 0, 0, 1, 0, 0, 0, 0], 64, "dummy prefix"),
    ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "SRv6 SIDs"),
    ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique local (private)"),
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
    ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local (deprecated)"),
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
];

fn v4_in(ip: Ipv4Addr, net: [u8; 4], len: u8) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn v6_in(ip: Ipv6Addr, net: [u16; 8], len: u8) -> bool {
    let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

/// The IPv4 address an IPv6 address carries, for the forms that route to it: IPv4-mapped
/// `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d` (deprecated, still accepted by some stacks),
/// NAT64 `64:ff9b::a.b.c.d` (a NAT64 gateway connects to a.b.c.d) and 6to4 `2002:aabb:ccdd::/48`
/// (a 6to4 relay forwards to a.b.c.d).
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0; 6] && !ip.is_unspecified() && !ip.is_loopback() {
        return Some(low); // ::a.b.c.d
    }
    if v6_in(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        return Some(low);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

/// What kind of non-public address `ip` is, or `None` for a public one. Used for operators'
/// logs; customers are told only that the address is refused (naming the block would tell them
/// what the operator's internal names resolve to).
pub fn refused_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => V4_REFUSED
            .iter()
            .find(|(net, len, _)| v4_in(v4, *net, *len))
            .map(|(_, _, what)| *what),
        IpAddr::V6(v6) => {
            if v6.is_unspecified() {
                return Some("unspecified");
            }
            if v6.is_loopback() {
                return Some("loopback");
            }
            if let Some(v4) = embedded_v4(v6) {
                return refused_range(IpAddr::V4(v4));
            }
            if let Some((_, _, what)) = V6_NAMED.iter().find(|(net, len, _)| v6_in(v6, *net, *len)) {
                return Some(what);
            }
            if !v6_in(v6, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
                return Some("reserved (outside global unicast 2000::/3)");
            }
            V6_REFUSED_GLOBAL
                .iter()
                .find(|(net, len, _)| v6_in(v6, *net, *len))
                .map(|(_, _, what)| *what)
        }
    }
}

/// Whether `ip` is one an outbound request from a public service must not reach.
pub fn is_private(ip: IpAddr) -> bool {
    refused_range(ip).is_some()
}

/// The address a URL host names without DNS: an IP literal in any spelling the `url` crate
/// accepts (it normalizes `2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1` and percent-encoded or
/// full-width digits to `127.0.0.1`, exactly as the HTTP client will connect), or a loopback
/// name (`localhost`, `*.localhost`, with or without the final dot; RFC 6761 reserves them,
/// and resolvers answer them without asking DNS).
pub fn literal_address(host: &url::Host<&str>) -> Option<IpAddr> {
    match host {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(*ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(*ip)),
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            (d == "localhost" || d.ends_with(".localhost")).then_some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ip: &str) -> bool {
        is_private(ip.parse().unwrap_or_else(|e| panic!("{ip}: {e}")))
    }

    #[test]
    fn every_special_purpose_ipv4_block_is_refused() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.9",
            "192.0.0.170",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(refused(ip), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.88.98.255",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert!(!refused(ip), "{ip}");
        }
    }

    #[test]
    fn ipv6_private_and_special_blocks_are_refused() {
        for ip in [
            "::",
            "::1",
            "fd00::1",
            "fc00::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "feff::1",
            "ff02::1",
            "100::1",
            "100:0:0:1::1",
            "5f00::1",
            "2001::1",                 // Teredo
            "2001:0:4136:e378::1",     // Teredo with a server address
            "2001:2::1",               // benchmarking
            "2001:10::1",              // ORCHID
            "2001:db8::1",             // documentation
            "3fff::1",                 // documentation (RFC 9637)
            "64:ff9b:1::a00:1",        // local-use NAT64
            "64:ff9b:1:ffff::808:808", // local-use NAT64, even with a public v4 inside
            "::ffff:0:7f00:1",         // SIIT IPv4-translated
            "1::1",                    // reserved, outside 2000::/3
            "4000::1",                 // reserved, outside 2000::/3
        ] {
            assert!(refused(ip), "{ip}");
        }
        for ip in [
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "2001:4860:4860::8888",
            "2620:4f:8000::1",
        ] {
            assert!(!refused(ip), "{ip}");
        }
    }

    #[test]
    fn ipv6_forms_that_embed_ipv4_are_judged_by_their_ipv4() {
        for (ip, private) in [
            ("::ffff:127.0.0.1", true),
            ("::ffff:169.254.169.254", true),
            ("::ffff:8.8.8.8", false),
            ("::127.0.0.1", true),
            ("::10.0.0.1", true),
            ("::169.254.169.254", true),
            ("::0.0.0.2", true),
            ("::8.8.8.8", false),
            ("64:ff9b::127.0.0.1", true),
            ("64:ff9b::a9fe:a9fe", true),
            ("64:ff9b::192.168.0.1", true),
            ("64:ff9b::8.8.8.8", false),
            ("2002:7f00:1::", true),
            ("2002:a9fe:a9fe::1", true),
            ("2002:c0a8:101:1::1", true),
            ("2002:c058:6301::", true), // 192.88.99.1, the relay block itself
            ("2002:808:808::1", false),
        ] {
            assert_eq!(refused(ip), private, "{ip}");
        }
        assert_eq!(
            embedded_v4("2002:a9fe:a9fe::1".parse().unwrap()),
            Some(Ipv4Addr::new(169, 254, 169, 254))
        );
        assert_eq!(embedded_v4("::7f00:1".parse().unwrap()), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(embedded_v4("2606:4700::1111".parse().unwrap()), None);
    }

    /// Every spelling of a literal address in a URL is seen as the address the client connects to.
    #[test]
    fn literal_hosts_in_every_spelling_are_addresses() {
        for (raw, ip) in [
            ("http://127.0.0.1/", "127.0.0.1"),
            ("http://2130706433/", "127.0.0.1"),
            ("http://017700000001/", "127.0.0.1"),
            ("http://0177.0.0.1/", "127.0.0.1"),
            ("http://0x7f.0.0.1/", "127.0.0.1"),
            ("http://0x7f000001/", "127.0.0.1"),
            ("http://0X7F.1/", "127.0.0.1"),
            ("http://127.1/", "127.0.0.1"),
            ("http://127.0.1/", "127.0.0.1"),
            ("http://127.0.0.1./", "127.0.0.1"),
            ("http://%31%32%37.0.0.1/", "127.0.0.1"),
            ("http://\u{ff11}\u{ff12}\u{ff17}.0.0.1/", "127.0.0.1"),
            ("http://0/", "0.0.0.0"),
            ("http://169.254.43518/", "169.254.169.254"),
            ("http://0xa9fea9fe/", "169.254.169.254"),
            ("https://[::1]/", "::1"),
            ("https://[0:0:0:0:0:0:0:1]/", "::1"),
            ("https://[::ffff:7f00:1]/", "::ffff:127.0.0.1"),
            ("https://[::127.0.0.1]/", "::127.0.0.1"),
            ("https://[64:ff9b::7f00:1]/", "64:ff9b::127.0.0.1"),
            ("https://[2002:7f00:1::]/", "2002:7f00:1::"),
            ("http://localhost/", "127.0.0.1"),
            ("http://LOCALHOST./", "127.0.0.1"),
            ("http://api.localhost/", "127.0.0.1"),
            ("http://api.localhost./", "127.0.0.1"),
        ] {
            let u = url::Url::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            let got = literal_address(&u.host().unwrap());
            assert_eq!(got, Some(ip.parse().unwrap()), "{raw} (host {:?})", u.host_str());
            assert!(is_private(got.unwrap()), "{raw}");
        }
        for raw in [
            "http://example.com/",
            "http://localhost.example.com/",
            "http://127.0.0.1.nip.io/",
        ] {
            let u = url::Url::parse(raw).unwrap();
            assert_eq!(literal_address(&u.host().unwrap()), None, "{raw}");
        }
    }
}
