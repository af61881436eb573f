//! Digest authentication for a trunk's 401/407 challenges (RFC 2617, RFC 7616 as RFC 8760
//! applies it to SIP): MD5 and SHA-256, with or without `qop=auth`.
//!
//! Decision: we answer `qop=auth` only. `auth-int` (hashing the body) is almost never the only
//! offer of a carrier, and a challenge offering nothing we support is reported as a failed call
//! instead of a guess. The cnonce is passed in so tests can use the RFCs' own vectors.

use md5::{Digest as _, Md5};
use sha2::Sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha256,
}

/// A parsed `WWW-Authenticate` / `Proxy-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// Whether the server offered `qop=auth` (then we must use it).
    pub qop_auth: bool,
}

/// Splits `a="x, y", b=z` into pairs, honouring quotes.
fn auth_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().trim_start_matches(',').trim().to_ascii_lowercase();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(q) = rest.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            value = q[..end].to_string();
            rest = q.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        rest = rest.trim_start().trim_start_matches(',').trim_start();
        out.push((key, value));
    }
    out
}

impl Challenge {
    /// Parses a `Digest …` challenge; `None` for other schemes or an unsupported algorithm.
    pub fn parse(header: &str) -> Option<Challenge> {
        let h = header.trim();
        let (scheme, rest) = h.split_once(char::is_whitespace)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return None;
        }
        let params = auth_params(rest);
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let algorithm = match get("algorithm").as_deref().map(str::to_ascii_uppercase).as_deref() {
            None | Some("MD5") => Algorithm::Md5,
            Some("SHA-256") => Algorithm::Sha256,
            Some(_) => return None,
        };
        let qop = get("qop");
        let qop_auth = qop
            .as_deref()
            .is_some_and(|q| q.split(',').any(|t| t.trim().eq_ignore_ascii_case("auth")));
        if qop.is_some() && !qop_auth {
            return None; // auth-int only
        }
        Some(Challenge {
            realm: get("realm")?,
            nonce: get("nonce")?,
            opaque: get("opaque"),
            algorithm,
            qop_auth,
        })
    }
}

fn hash(alg: Algorithm, data: &str) -> String {
    let bytes: Vec<u8> = match alg {
        Algorithm::Md5 => Md5::digest(data.as_bytes()).to_vec(),
        Algorithm::Sha256 => Sha256::digest(data.as_bytes()).to_vec(),
    };
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `response=` value.
pub fn response(
    c: &Challenge,
    username: &str,
    password: &str,
    method: &str,
    uri: &str,
    cnonce: &str,
    nc: u32,
) -> String {
    let ha1 = hash(c.algorithm, &format!("{username}:{}:{password}", c.realm));
    let ha2 = hash(c.algorithm, &format!("{method}:{uri}"));
    if c.qop_auth {
        hash(c.algorithm, &format!("{ha1}:{}:{nc:08x}:{cnonce}:auth:{ha2}", c.nonce))
    } else {
        hash(c.algorithm, &format!("{ha1}:{}:{ha2}", c.nonce))
    }
}

/// The whole `Authorization` / `Proxy-Authorization` header value.
pub fn authorization(
    c: &Challenge,
    username: &str,
    password: &str,
    method: &str,
    uri: &str,
    cnonce: &str,
    nc: u32,
) -> String {
    let resp = response(c, username, password, method, uri, cnonce, nc);
    let alg = match c.algorithm {
        Algorithm::Md5 => "MD5",
        Algorithm::Sha256 => "SHA-256",
    };
    let mut v = format!(
        "Digest username=\"{username}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", response=\"{resp}\", algorithm={alg}",
        c.realm, c.nonce
    );
    if c.qop_auth {
        v.push_str(&format!(", qop=auth, nc={nc:08x}, cnonce=\"{cnonce}\""));
    }
    if let Some(o) = &c.opaque {
        v.push_str(&format!(", opaque=\"{o}\""));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_md5_vector() {
        let c = Challenge::parse(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        assert!(c.qop_auth);
        let r = response(&c, "Mufasa", "Circle Of Life", "GET", "/dir/index.html", "0a4f113b", 1);
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn rfc7616_sha256_and_md5_vectors() {
        let h = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
        let c = Challenge::parse(h).unwrap();
        assert_eq!(c.algorithm, Algorithm::Sha256);
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let r = response(&c, "Mufasa", "Circle of Life", "GET", "/dir/index.html", cnonce, 1);
        assert_eq!(r, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
        let md5 = Challenge {
            algorithm: Algorithm::Md5,
            ..c
        };
        let r = response(&md5, "Mufasa", "Circle of Life", "GET", "/dir/index.html", cnonce, 1);
        assert_eq!(r, "8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn no_qop_and_unsupported() {
        let c = Challenge::parse("Digest realm=\"a\", nonce=\"n\"").unwrap();
        assert!(!c.qop_auth);
        assert!(!authorization(&c, "u", "p", "INVITE", "sip:x@y", "c", 1).contains("qop"));
        assert!(Challenge::parse("Digest realm=\"a\", nonce=\"n\", qop=\"auth-int\"").is_none());
        assert!(Challenge::parse("Basic realm=\"a\"").is_none());
        assert!(Challenge::parse("Digest realm=\"a\", nonce=\"n\", algorithm=SHA-512-256").is_none());
    }
}
