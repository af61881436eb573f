//! The guarded HTTP client: every request to a customer-chosen URL goes through [`Outbound`].
//!
//! What it guarantees, and why each part is needed:
//! - the private-address check runs inside DNS resolution (a reqwest resolver), so the address
//!   checked is the address connected to (a name cannot resolve to a public address for the
//!   check and to a private one for the connection);
//! - IP literals (which skip DNS) are checked before sending, in every spelling;
//! - redirects are not followed (a public URL could redirect to a private one);
//! - proxy environment variables (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, lowercase too) are
//!   ignored: reqwest would otherwise hand the *name* to the proxy, which resolves it itself, and
//!   the resolver check above never runs (a full-read SSRF to metadata endpoints). Only
//!   Parley's own setting names a proxy ([`OutboundPolicy::proxy`]); then the target's name is
//!   resolved and checked here before the request is handed to the proxy.
//!
//! Caveat with a proxy (documented in the README): the proxy resolves the name again, so a
//! name whose DNS answer changes between Parley's check and the proxy's lookup (DNS rebinding)
//! can still reach a private address. Without a proxy there is no such window. Operators who
//! need a proxy should make it refuse private destinations too.

use super::address::{is_private, literal_address, refused_range};
use super::error::{redact, OutboundError, RefusedAddress};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Parley's outbound proxy (`PARLEY_OUTBOUND_PROXY`): an `http://` or `https://` URL with a
/// host, credentials allowed (`http://user:pass@proxy:3128`). Shown redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl(Url);

impl ProxyUrl {
    pub fn parse(raw: &str) -> Result<ProxyUrl, String> {
        let u = Url::parse(raw.trim()).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
            return Err("the proxy must be an http:// or https:// URL with a host".into());
        }
        Ok(ProxyUrl(u))
    }

    pub fn url(&self) -> &Url {
        &self.0
    }
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProxyUrl({})", redact(&self.0))
    }
}

impl std::fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

/// Where customer-chosen requests may go, from the operator's settings.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    /// Let requests reach private and loopback addresses (tests, closed networks):
    /// `PARLEY_ALLOW_PRIVATE_WEBHOOKS`.
    pub allow_private: bool,
    /// Send through this proxy (`PARLEY_OUTBOUND_PROXY`); never one from the environment.
    pub proxy: Option<ProxyUrl>,
}

/// Fixed answers for some names, consulted before the system resolver (tests only: they need
/// names that resolve to loopback without touching /etc/hosts).
#[derive(Clone, Default)]
struct Hosts(Option<Arc<HashMap<String, Vec<IpAddr>>>>);

impl Hosts {
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        if let Some(ips) = self.0.as_ref().and_then(|m| m.get(&host.to_ascii_lowercase())) {
            return Ok(ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect());
        }
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

/// A resolver that fails with [`RefusedAddress`] when a name resolves to any refused address
/// (any, not all: a name answering one public and one private address must not let the
/// connection fall back to the private one). The proxy's own name is exempt: the operator chose
/// it, and it is usually on the operator's private network.
struct GuardedResolver {
    allow_private: bool,
    exempt: Option<String>,
    hosts: Hosts,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let check = !self.allow_private && self.exempt.as_deref() != Some(name.as_str());
        let hosts = self.hosts.clone();
        Box::pin(async move {
            let addrs = hosts.lookup(name.as_str(), 0).await?;
            if check {
                if let Some(bad) = addrs.iter().find(|a| is_private(a.ip())) {
                    tracing::debug!(
                        host = name.as_str(),
                        range = refused_range(bad.ip()).unwrap_or(""),
                        "outbound request refused"
                    );
                    return Err(Box::new(RefusedAddress {
                        host: name.as_str().to_string(),
                    }) as _);
                }
            }
            let it: Addrs = Box::new(addrs.into_iter());
            Ok(it)
        })
    }
}

/// Applies Parley's proxy, or none: either way the environment's proxy variables are not read
/// (reqwest reads them unless told otherwise).
fn with_proxy(b: reqwest::ClientBuilder, proxy: Option<&ProxyUrl>) -> reqwest::ClientBuilder {
    match proxy {
        None => b.no_proxy(),
        // `proxy()` also turns off the environment's proxies; `Proxy::all` has no NO_PROXY list.
        Some(p) => b.proxy(reqwest::Proxy::all(p.0.clone()).expect("an http(s) URL is a valid proxy")),
    }
}

/// The one builder of guarded clients: the resolver check, no redirects, no environment
/// proxies, a whole-request timeout, the caller's user agent.
fn guarded_builder(
    policy: &OutboundPolicy,
    timeout: Duration,
    user_agent: &str,
    hosts: Hosts,
) -> reqwest::ClientBuilder {
    let b = reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: policy.allow_private,
            exempt: policy
                .proxy
                .as_ref()
                .and_then(|p| p.0.host_str().map(|h| h.to_ascii_lowercase())),
            hosts,
        }))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .user_agent(user_agent);
    with_proxy(b, policy.proxy.as_ref())
}

/// A client for an endpoint the *operator* configured (the LLM): not guarded (it may well be
/// on the operator's private network), but like every outbound client it ignores the
/// environment's proxy variables and uses Parley's proxy setting when there is one.
pub fn operator_client_builder(proxy: Option<&ProxyUrl>, user_agent: &str) -> reqwest::ClientBuilder {
    with_proxy(reqwest::Client::builder().user_agent(user_agent), proxy)
}

/// The guarded client for customer-chosen URLs (webhooks, automation HTTP steps, agents'
/// mid-call webhooks). Cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    http: reqwest::Client,
    policy: OutboundPolicy,
    hosts: Hosts,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Outbound {
    /// A client whose requests time out after `timeout` (a request may set a shorter one).
    pub fn new(policy: &OutboundPolicy, timeout: Duration, user_agent: &str) -> Outbound {
        Self::build(policy, timeout, user_agent, Hosts::default())
    }

    /// [`new`](Self::new), with fixed answers for some names (tests).
    #[cfg(test)]
    pub(crate) fn with_hosts(
        policy: &OutboundPolicy,
        timeout: Duration,
        user_agent: &str,
        hosts: HashMap<String, Vec<IpAddr>>,
    ) -> Outbound {
        Self::build(policy, timeout, user_agent, Hosts(Some(Arc::new(hosts))))
    }

    fn build(policy: &OutboundPolicy, timeout: Duration, user_agent: &str, hosts: Hosts) -> Outbound {
        let http = guarded_builder(policy, timeout, user_agent, hosts.clone())
            .build()
            .expect("static client settings are valid");
        Outbound {
            http,
            policy: policy.clone(),
            hosts,
        }
    }

    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// Checks a URL before sending: it parses, is http(s) with a host, and a host that is an
    /// address already (a literal, `localhost`) is public. Names are checked when they resolve.
    pub fn check_url(&self, raw: &str) -> Result<Url, OutboundError> {
        let u = Url::parse(raw.trim()).map_err(|e| OutboundError::InvalidUrl(format!("not a URL: {e}")))?;
        self.check(&u)?;
        Ok(u)
    }

    fn check(&self, u: &Url) -> Result<(), OutboundError> {
        if !matches!(u.scheme(), "http" | "https") {
            return Err(OutboundError::InvalidUrl(format!(
                "{}: only http and https URLs can be reached",
                redact(u)
            )));
        }
        let host = u
            .host()
            .ok_or_else(|| OutboundError::InvalidUrl(format!("{}: the URL has no host", redact(u))))?;
        if !self.policy.allow_private && literal_address(&host).is_some_and(is_private) {
            return Err(OutboundError::Refused { url: redact(u) });
        }
        Ok(())
    }

    /// With a proxy, the proxy resolves the target; Parley resolves it first and refuses it if
    /// any of its addresses is refused. A name Parley cannot resolve is not sent (fail closed).
    async fn check_through_proxy(&self, u: &Url) -> Result<(), OutboundError> {
        if self.policy.allow_private || self.policy.proxy.is_none() {
            return Ok(());
        }
        let Some(url::Host::Domain(name)) = u.host() else {
            return Ok(()); // a literal: `check` judged it
        };
        let port = u.port_or_known_default().unwrap_or(80);
        let addrs = self
            .hosts
            .lookup(name, port)
            .await
            .map_err(|e| OutboundError::Connect {
                url: redact(u),
                detail: format!("could not resolve {name}: {e}"),
            })?;
        if addrs.is_empty() {
            return Err(OutboundError::Connect {
                url: redact(u),
                detail: format!("{name} has no address"),
            });
        }
        if addrs.iter().any(|a| is_private(a.ip())) {
            return Err(OutboundError::Refused { url: redact(u) });
        }
        Ok(())
    }

    /// A request to `url` (checked again when sent).
    pub fn request(&self, method: reqwest::Method, url: &Url) -> OutboundRequest<'_> {
        OutboundRequest {
            outbound: self,
            builder: self.http.request(method, url.clone()),
            url: url.clone(),
        }
    }
}

/// A request being built; [`send`](Self::send) checks, sends and classifies errors.
pub struct OutboundRequest<'a> {
    outbound: &'a Outbound,
    builder: reqwest::RequestBuilder,
    url: Url,
}

impl OutboundRequest<'_> {
    /// Adds headers, a body, a timeout... to the underlying request.
    pub fn with(mut self, f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> Self {
        self.builder = f(self.builder);
        self
    }

    /// Sends it. Any status is an answer (`Ok`); the caller decides which it accepts.
    pub async fn send(self) -> Result<reqwest::Response, OutboundError> {
        self.outbound.check(&self.url)?;
        self.outbound.check_through_proxy(&self.url).await?;
        self.builder
            .send()
            .await
            .map_err(|e| OutboundError::from_reqwest(&self.url, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A loopback listener that records the first line of each request and answers 200.
    async fn recorder() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let n = sock.read(&mut buf).await.unwrap_or(0);
                    let text = String::from_utf8_lossy(&buf[..n]).to_string();
                    s.lock().unwrap().push(text.lines().next().unwrap_or("").to_string());
                    let _ = sock
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                        .await;
                });
            }
        });
        (addr, seen)
    }

    fn hosts() -> HashMap<String, Vec<IpAddr>> {
        HashMap::from([
            ("internal.test".to_string(), vec!["127.0.0.1".parse().unwrap()]),
            (
                "mapped.test".to_string(),
                vec![
                    "::ffff:10.0.0.1".parse().unwrap(),
                    "64:ff9b::a9fe:a9fe".parse().unwrap(),
                ],
            ),
            ("unresolvable.test".to_string(), vec![]),
        ])
    }

    fn client(allow_private: bool, proxy: Option<SocketAddr>) -> Outbound {
        let policy = OutboundPolicy {
            allow_private,
            proxy: proxy.map(|p| ProxyUrl::parse(&format!("http://{p}")).unwrap()),
        };
        Outbound::with_hosts(&policy, Duration::from_secs(5), "parley-test", hosts())
    }

    #[tokio::test]
    async fn a_name_resolving_to_a_private_address_is_refused_by_type() {
        let (addr, seen) = recorder().await;
        let guarded = client(false, None);
        for host in ["internal.test", "mapped.test"] {
            let url = guarded.check_url(&format!("http://{host}:{}/x", addr.port())).unwrap();
            let err = guarded.request(reqwest::Method::GET, &url).send().await.unwrap_err();
            assert!(err.is_refused(), "{host}: {err:?}");
            assert!(!err.is_retryable());
        }
        assert!(seen.lock().unwrap().is_empty(), "nothing reached the listener");
        // Allowed: the same name reaches it.
        let open = client(true, None);
        let url = open
            .check_url(&format!("http://internal.test:{}/x", addr.port()))
            .unwrap();
        let r = open.request(reqwest::Method::GET, &url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(seen.lock().unwrap().as_slice(), ["GET /x HTTP/1.1"]);
    }

    #[tokio::test]
    async fn literal_private_addresses_are_refused_before_sending() {
        let (addr, seen) = recorder().await;
        let guarded = client(false, None);
        let p = addr.port();
        for raw in [
            format!("http://127.0.0.1:{p}/"),
            format!("http://2130706433:{p}/"),
            format!("http://0x7f.1:{p}/"),
            format!("http://0177.0.0.1:{p}/"),
            format!("http://127.1:{p}/"),
            format!("http://[::127.0.0.1]:{p}/"),
            format!("http://[::ffff:127.0.0.1]:{p}/"),
            format!("http://localhost.:{p}/"),
        ] {
            let err = guarded.check_url(&raw).unwrap_err();
            assert!(err.is_refused(), "{raw}: {err:?}");
            // `send` checks again, whatever built the URL.
            let url = Url::parse(&raw).unwrap();
            assert!(guarded
                .request(reqwest::Method::GET, &url)
                .send()
                .await
                .unwrap_err()
                .is_refused());
        }
        assert!(seen.lock().unwrap().is_empty());
        for raw in ["ftp://example.com/", "mailto:a@example.com", "not a url"] {
            assert!(
                matches!(guarded.check_url(raw), Err(OutboundError::InvalidUrl(_))),
                "{raw}"
            );
        }
    }

    #[tokio::test]
    async fn through_parleys_proxy_the_target_is_checked_first() {
        let (proxy, seen) = recorder().await;
        // Refused before anything reaches the proxy: by name, and by literal.
        let guarded = client(false, Some(proxy));
        for raw in [
            "http://internal.test:9/hook",
            "https://internal.test/hook",
            "http://[::1]:9/",
        ] {
            let url = Url::parse(raw).unwrap();
            let err = guarded.request(reqwest::Method::POST, &url).send().await.unwrap_err();
            assert!(err.is_refused(), "{raw}: {err:?}");
        }
        // A name Parley cannot resolve is not handed to the proxy either.
        let url = Url::parse("http://unresolvable.test/").unwrap();
        let err = guarded.request(reqwest::Method::GET, &url).send().await.unwrap_err();
        assert!(matches!(err, OutboundError::Connect { .. }), "{err:?}");
        assert!(
            seen.lock().unwrap().is_empty(),
            "the proxy got {:?}",
            seen.lock().unwrap()
        );
        // When allowed, requests do go through the proxy (absolute URI for http, CONNECT for https).
        let open = client(true, Some(proxy));
        let url = Url::parse("http://internal.test:9/hook").unwrap();
        let r = open.request(reqwest::Method::POST, &url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let url = Url::parse("https://internal.test/hook").unwrap();
        let _ = open.request(reqwest::Method::GET, &url).send().await;
        let got = seen.lock().unwrap().clone();
        assert_eq!(got[0], "POST http://internal.test:9/hook HTTP/1.1");
        assert!(got[1].starts_with("CONNECT internal.test:443 "), "{got:?}");
    }

    #[tokio::test]
    async fn the_proxys_own_name_is_not_refused_but_every_other_name_is() {
        let resolver = GuardedResolver {
            allow_private: false,
            exempt: Some("proxy.test".into()),
            hosts: Hosts(Some(Arc::new(HashMap::from([
                ("proxy.test".to_string(), vec!["10.0.0.5".parse().unwrap()]),
                ("internal.test".to_string(), vec!["10.0.0.6".parse().unwrap()]),
            ])))),
        };
        let ok: Vec<SocketAddr> = resolver.resolve("proxy.test".parse().unwrap()).await.unwrap().collect();
        assert_eq!(ok, ["10.0.0.5:0".parse().unwrap()]);
        let err = resolver.resolve("internal.test".parse().unwrap()).await.err().unwrap();
        assert!(err.is::<RefusedAddress>(), "{err}");
    }

    #[test]
    fn a_proxy_setting_must_be_an_http_url_and_is_shown_redacted() {
        let p = ProxyUrl::parse("http://user:pw@proxy.internal:3128").unwrap();
        assert_eq!(p.to_string(), "http://***@proxy.internal:3128/");
        assert!(!format!("{p:?}").contains("pw"));
        assert!(ProxyUrl::parse("socks5://proxy:1080").is_err());
        assert!(ProxyUrl::parse("proxy:3128").is_err());
    }
}
