//! Typed views of the headers the call logic reads: URIs, name-addrs (From/To/Contact/Route),
//! Via and CSeq, plus the comma-list splitter they share.
//!
//! Decision: views are parsed on demand from the raw header text and never written back;
//! outgoing headers are built as strings. So a header we do not understand passes through a
//! proxy-style copy (Via, Record-Route) byte for byte, and a parse failure here only means
//! "absent", never a panic or a rejected message.

use super::message::Method;
use std::net::{IpAddr, SocketAddr};

/// `;name=value` parameters, in order; a bare `;lr` has no value.
pub type Params = Vec<(String, Option<String>)>;

/// Splits a header value at commas outside quotes and angle brackets.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b',' if !quoted && !angle => {
                out.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start <= value.len() {
        out.push(value[start.min(value.len())..].trim());
    }
    out.retain(|s| !s.is_empty());
    out
}

fn parse_params(s: &str) -> Params {
    s.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim().to_string())),
            None => (p.to_ascii_lowercase(), None),
        })
        .collect()
}

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_deref().unwrap_or(""))
}

/// Splits `host[:port]`, IPv6 in brackets.
fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        host.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((format!("[{host}]"), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h.to_string(), Some(p.parse().ok()?))),
        Some(_) => None,
        None => Some((s.to_string(), None)),
    }
}

/// A SIP/SIPS/TEL URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    pub scheme: String,
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
}

impl Uri {
    pub fn parse(s: &str) -> Option<Uri> {
        let (scheme, rest) = s.trim().split_once(':')?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme == "tel" {
            let (num, params) = rest.split_once(';').unwrap_or((rest, ""));
            return Some(Uri {
                scheme,
                user: Some(num.to_string()),
                host: String::new(),
                port: None,
                params: parse_params(params),
            });
        }
        if scheme != "sip" && scheme != "sips" {
            return None;
        }
        let rest = rest.split('?').next().unwrap_or("");
        let (userhost, params) = match rest.find(';') {
            // A ';' inside the user part (user params) comes before '@'.
            Some(i) if !rest[i..].contains('@') => (&rest[..i], &rest[i + 1..]),
            _ => (rest, ""),
        };
        let (user, hostport) = match userhost.rsplit_once('@') {
            Some((u, h)) => (Some(u.split(':').next().unwrap_or("").to_string()), h),
            None => (None, userhost),
        };
        let (host, port) = split_host_port(hostport)?;
        Some(Uri {
            scheme,
            user,
            host,
            port,
            params: parse_params(params),
        })
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.params, name)
    }

    /// The socket address when the host is an IP literal (no DNS here: the shell resolves names).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = host.parse().ok()?;
        let default = if self.scheme == "sips" || self.param("transport") == Some("tls") {
            5061
        } else {
            5060
        };
        Some(SocketAddr::new(ip, self.port.unwrap_or(default)))
    }
}

/// `"Display" <uri>;params` or a bare `uri;params` (From, To, Contact, Route, Refer-To).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    pub display: Option<String>,
    /// The URI text exactly as received (copied into Request-URIs and Routes unchanged).
    pub uri_text: String,
    pub uri: Uri,
    pub params: Params,
}

impl NameAddr {
    pub fn parse(s: &str) -> Option<NameAddr> {
        let s = s.trim();
        let (display, uri_text, rest) = if let Some(lt) = s.find('<') {
            let gt = lt + s[lt..].find('>')?;
            let display = s[..lt].trim().trim_matches('"').trim();
            let display = (!display.is_empty()).then(|| display.to_string());
            (display, &s[lt + 1..gt], &s[gt + 1..])
        } else {
            // addr-spec: parameters after the URI belong to the header, not the URI.
            let (u, r) = s.split_once(';').unwrap_or((s, ""));
            (None, u, r)
        };
        let uri = Uri::parse(uri_text)?;
        Some(NameAddr {
            display,
            uri_text: uri_text.trim().to_string(),
            uri,
            params: parse_params(rest),
        })
    }
    pub fn tag(&self) -> Option<&str> {
        param(&self.params, "tag").filter(|t| !t.is_empty())
    }
    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.params, name)
    }
}

/// One Via value: `SIP/2.0/UDP host:port;branch=…;rport;received=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    pub transport: String,
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    pub fn parse(s: &str) -> Option<Via> {
        let s = s.trim();
        let (proto, rest) = s.split_once(|c: char| c.is_ascii_whitespace())?;
        let mut p = proto.split('/');
        let (Some(name), Some(ver), Some(transport), None) = (p.next(), p.next(), p.next(), p.next()) else {
            return None;
        };
        if !name.eq_ignore_ascii_case("SIP") || ver != "2.0" || transport.is_empty() {
            return None;
        }
        let rest = rest.trim();
        let (sent_by, params) = rest.split_once(';').unwrap_or((rest, ""));
        let (host, port) = split_host_port(sent_by.trim())?;
        Some(Via {
            transport: transport.to_ascii_uppercase(),
            host,
            port,
            params: parse_params(params),
        })
    }
    pub fn branch(&self) -> Option<&str> {
        param(&self.params, "branch").filter(|b| !b.is_empty())
    }
    pub fn received(&self) -> Option<&str> {
        param(&self.params, "received")
    }
    /// `Some(None)` for a bare `;rport` (asking for it), `Some(Some(port))` once filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        param(&self.params, "rport").map(|v| v.parse().ok())
    }
}

/// `CSeq: 4711 INVITE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    pub fn parse(s: &str) -> Option<CSeq> {
        let mut it = s.split_ascii_whitespace();
        let seq = it.next()?.parse().ok()?;
        let method = Method::parse(it.next()?)?;
        it.next().is_none().then_some(CSeq { seq, method })
    }
}

/// The user part of a URI as E.164 when it looks like a phone number (`+` optional, digits,
/// visual separators dropped); the raw user part otherwise.
pub fn normalize_number(user: &str) -> String {
    let user = user.split(';').next().unwrap_or("");
    let digits: String = user
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' '))
        .collect();
    let bare = digits.strip_prefix('+').unwrap_or(&digits);
    if !bare.is_empty() && bare.len() <= 15 && bare.bytes().all(|b| b.is_ascii_digit()) {
        format!("+{bare}")
    } else {
        user.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_name_addr_with_tag_and_uri_params() {
        let n = NameAddr::parse("\"Bob\" <sip:+15551234@10.0.0.1:5080;transport=tcp>;tag=abc").unwrap();
        assert_eq!(n.display.as_deref(), Some("Bob"));
        assert_eq!(n.tag(), Some("abc"));
        assert_eq!(n.uri.user.as_deref(), Some("+15551234"));
        assert_eq!(n.uri.port, Some(5080));
        assert_eq!(n.uri.param("transport"), Some("tcp"));
        let bare = NameAddr::parse("sip:alice@example.com;tag=9").unwrap();
        assert_eq!(bare.tag(), Some("9"));
        assert!(bare.uri.params.is_empty());
    }

    #[test]
    fn parses_via_and_list() {
        let list = split_list("SIP/2.0/UDP 1.2.3.4:5060;branch=z9hG4bK1;rport, SIP/2.0/TCP [::1];branch=x");
        assert_eq!(list.len(), 2);
        let v = Via::parse(list[0]).unwrap();
        assert_eq!(v.branch(), Some("z9hG4bK1"));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(Via::parse(list[1]).unwrap().host, "[::1]");
        assert_eq!(split_list("<sip:a,b@x>, \"c,d\" <sip:e@f>").len(), 2);
    }

    #[test]
    fn normalizes_numbers() {
        assert_eq!(normalize_number("15551234567"), "+15551234567");
        assert_eq!(normalize_number("+1-555-123"), "+1555123");
        assert_eq!(normalize_number("agent"), "agent");
    }

    #[test]
    fn uri_socket_addr_only_for_ip_literals() {
        assert_eq!(
            Uri::parse("sip:1.2.3.4;lr").unwrap().socket_addr(),
            Some("1.2.3.4:5060".parse().unwrap())
        );
        assert_eq!(Uri::parse("sip:proxy.example.com;lr").unwrap().socket_addr(), None);
    }
}
