//! Twilio's request validation (`X-Twilio-Signature`), for webhooks in and (in the fake) out.
//!
//! The signature is base64(HMAC-SHA1(auth token, full URL + each POST parameter's name and
//! value, in name order)). A JSON body is signed instead through a `bodySHA256` query
//! parameter (hex SHA-256 of the raw body) that is part of the signed URL.
//!
//! Decision: the URL is the one Twilio was given (Parley's public URL), not the one the request
//! arrived at: behind a proxy they differ, and only the caller of [`validate_request`] knows the
//! public one. A URL with an explicit default port (`:443`) and one without are both tried, as
//! Twilio's own libraries do, because Twilio's edge may sign either. Parameters with the same
//! name are ordered by value; Twilio does not document that case, and its libraries agree on it.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The header Twilio signs its requests with.
pub const HEADER: &str = "X-Twilio-Signature";

/// Why a request is not Twilio's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no X-Twilio-Signature header")]
    Missing,
    #[error("X-Twilio-Signature does not match")]
    Mismatch,
    #[error("the body does not match the signed bodySHA256")]
    BodyMismatch,
}

/// The signature Twilio would send for this URL and these POST parameters.
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    B64.encode(mac.finalize().into_bytes())
}

/// Hex SHA-256 of a body, as Twilio puts it in the `bodySHA256` query parameter.
pub fn body_sha256(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `signature` is Twilio's for a form POST (or a GET, with no parameters).
pub fn validate(auth_token: &str, signature: &str, url: &str, params: &[(String, String)]) -> bool {
    url_variants(url)
        .iter()
        .any(|u| ct_eq(&sign(auth_token, u, params), signature))
}

/// Whether a request with a JSON (or any non-form) body is Twilio's: the URL, with its
/// `bodySHA256`, is signed, and the body hashes to that value.
pub fn validate_with_body(auth_token: &str, signature: &str, url: &str, body: &[u8]) -> Result<(), SignatureError> {
    if !validate(auth_token, signature, url, &[]) {
        return Err(SignatureError::Mismatch);
    }
    let signed = url::Url::parse(url).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "bodySHA256")
            .map(|(_, v)| v.into_owned())
    });
    match signed {
        Some(h) if ct_eq(&h.to_ascii_lowercase(), &body_sha256(body)) => Ok(()),
        _ => Err(SignatureError::BodyMismatch),
    }
}

/// Checks a whole request: a form body is signed through its parameters, anything else through
/// `bodySHA256` when the URL has one (else the body must be empty, as on a GET).
///
/// `url` is the public URL Twilio requested, query string included; `signature` is the header.
pub fn validate_request(
    auth_token: &str,
    signature: Option<&str>,
    url: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let signature = signature.ok_or(SignatureError::Missing)?;
    let is_form = content_type.is_some_and(|c| {
        c.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    });
    if is_form {
        let params = parse_form(body);
        return if validate(auth_token, signature, url, &params) {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        };
    }
    if url.contains("bodySHA256=") {
        return validate_with_body(auth_token, signature, url, body);
    }
    if !body.is_empty() {
        return Err(SignatureError::BodyMismatch);
    }
    if validate(auth_token, signature, url, &[]) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Decodes an `application/x-www-form-urlencoded` body into its pairs, in order.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The URL as given, plus the same URL with its scheme's default port added or removed.
fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_string()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return out;
    };
    let default = match scheme.to_ascii_lowercase().as_str() {
        "https" | "wss" => "443",
        "http" | "ws" => "80",
        _ => return out,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    // The port is after the last ':' that follows the host (an IPv6 host ends with ']').
    let host_end = authority.rfind(']').map_or(0, |i| i + 1);
    let host_start = authority
        .rfind('@')
        .map_or(0, |i| i + 1)
        .max(host_end.min(authority.len()));
    match authority[host_start..].rfind(':') {
        Some(i) if &authority[host_start + i + 1..] == default => {
            out.push(format!("{scheme}://{}{path}", &authority[..host_start + i]));
        }
        Some(_) => {}
        None => out.push(format!("{scheme}://{authority}:{default}{path}")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Twilio's worked example (docs: "Secure webhooks"): token 12345, this URL and these
    /// parameters sign to `GvWf1cFY/Q7PnoempGyD5oXAezc=`. The docs use +14158675310 as the
    /// caller; with any other caller number the signature differs.
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    fn doc_params() -> Vec<(String, String)> {
        pairs(&[
            ("To", "+18005551212"),
            ("From", "+14158675310"),
            ("Digits", "1234"),
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675310"),
        ])
    }

    #[test]
    fn twilios_documented_example() {
        assert_eq!(sign("12345", URL, &doc_params()), "GvWf1cFY/Q7PnoempGyD5oXAezc=");
        assert!(validate("12345", "GvWf1cFY/Q7PnoempGyD5oXAezc=", URL, &doc_params()));
    }

    #[test]
    fn forged_or_altered_requests_are_refused() {
        let good = "GvWf1cFY/Q7PnoempGyD5oXAezc=";
        assert!(!validate("12345", "GvWf1cFY/Q7PnoempGyD5oXAezd=", URL, &doc_params()));
        assert!(!validate("54321", good, URL, &doc_params()));
        assert!(!validate(
            "12345",
            good,
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &doc_params()
        ));
        let mut p = doc_params();
        p[2].1 = "9999".into();
        assert!(!validate("12345", good, URL, &p));
        assert!(!validate("12345", "", URL, &doc_params()));
        let body = b"To=%2B18005551212&From=%2B14158675310&Digits=1234&CallSid=CA1234567890ABCDE&Caller=%2B14158675310";
        let form = Some("application/x-www-form-urlencoded; charset=utf-8");
        assert_eq!(validate_request("12345", Some(good), URL, form, body), Ok(()));
        assert_eq!(
            validate_request("12345", None, URL, form, body),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            validate_request("12345", Some(good), URL, form, b"To=%2B18005551212"),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn default_port_is_tried_both_ways() {
        let sig = sign(
            "12345",
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &doc_params(),
        );
        assert!(validate("12345", &sig, URL, &doc_params()));
        let sig = sign("12345", URL, &doc_params());
        assert!(validate(
            "12345",
            &sig,
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &doc_params()
        ));
        assert!(!validate(
            "12345",
            &sig,
            "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
            &doc_params()
        ));
    }

    #[test]
    fn json_bodies_are_signed_through_body_sha256() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let url = format!("https://mycompany.com/myapp?bodySHA256={}", body_sha256(body));
        let sig = sign("12345", &url, &[]);
        assert_eq!(validate_with_body("12345", &sig, &url, body), Ok(()));
        assert_eq!(
            validate_request("12345", Some(&sig), &url, Some("application/json"), body),
            Ok(())
        );
        assert_eq!(
            validate_with_body("12345", &sig, &url, b"{}"),
            Err(SignatureError::BodyMismatch)
        );
        assert_eq!(
            validate_with_body("12345", "AAAA", &url, body),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            body_sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn repeated_names_sort_by_value() {
        let a = pairs(&[("E", "ringing"), ("E", "answered"), ("A", "1")]);
        let b = pairs(&[("A", "1"), ("E", "answered"), ("E", "ringing")]);
        assert_eq!(sign("t", "https://x/", &a), sign("t", "https://x/", &b));
    }
}
