//! Outbound HTTP to URLs that customers choose: webhook deliveries, automation HTTP steps and
//! agents' mid-call webhooks all go through this module, and nothing else builds such a client.
//!
//! - [`client`]: [`Outbound`], the one guarded client (private-address check at DNS
//!   resolution and for literals, no redirects, no proxy from the environment, Parley's own
//!   proxy with the target checked first, timeouts, a user agent), and the unguarded builder for
//!   operator-configured endpoints (the LLM), which still ignores the environment's proxies.
//! - [`address`]: which addresses are refused (IANA's special-purpose blocks, IPv6 forms that
//!   embed IPv4) and which URL hosts are addresses already.
//! - [`error`]: [`OutboundError`], typed (a refusal is a variant, not a string) and redacting
//!   (no credentials or query values in any message), and the one [`error_chain`] formatter.
//! - [`backoff`]: the one retry-delay policy, exponential with jitter.

pub mod address;
pub mod backoff;
pub mod client;
pub mod error;

pub use address::is_private;
pub use backoff::Backoff;
pub use client::{operator_client_builder, Outbound, OutboundPolicy, OutboundRequest, ProxyUrl};
pub use error::{error_chain, redact, redact_str, OutboundError};
