//! Prometheus metrics: request counts and latency by route, and, read from the database at
//! scrape time, calls by status and job queue depth (so they are right across processes).
//! Parts started after the API (the SIP network's media counters) add theirs with
//! [`Metrics::register_collector`].

use prometheus_client::collector::Collector;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

/// A request method as a label: the standard methods by name, anything else `other`.
pub fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

pub struct Metrics {
    pub registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    /// Caller's last word to the agent's first sound, per turn (the voice pipeline records it).
    pub turn_latency: Histogram,
    /// Calls on the line in this process.
    pub calls_active: prometheus_client::metrics::gauge::Gauge,
    /// Collectors registered once the server runs, encoded after the rest.
    collectors: Mutex<Registry>,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("parley");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        let turn_latency = Histogram::new(exponential_buckets(0.1, std::f64::consts::SQRT_2, 14));
        registry.register(
            "turn_latency_seconds",
            "Per-turn latency of calls: the caller's last speech frame to the agent's first speech frame",
            turn_latency.clone(),
        );
        let calls_active = prometheus_client::metrics::gauge::Gauge::default();
        registry.register(
            "calls_active",
            "Calls on the line in this process",
            calls_active.clone(),
        );
        Arc::new(Metrics {
            registry,
            requests,
            latency,
            turn_latency,
            calls_active,
            collectors: Mutex::new(Registry::with_prefix("parley")),
        })
    }

    /// Adds a collector (read at every scrape; its names get the `parley_` prefix).
    pub fn register_collector(&self, collector: Box<dyn Collector>) {
        self.collectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .register_collector(collector);
    }

    pub fn encode(&self, extra: &str) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode_registry(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        prometheus_client::encoding::text::encode_registry(
            &mut out,
            &self.collectors.lock().unwrap_or_else(PoisonError::into_inner),
        )
        .expect("writing to a String cannot fail");
        out.push_str(extra);
        prometheus_client::encoding::text::encode_eof(&mut out).expect("writing to a String cannot fail");
        out
    }
}
