//! Parley's HTTP API, compatible with Thoughtly's (see `API.md`).
//!
//! - [`router`]: every route; team routes sit behind [`auth::authenticate`] (both headers, or the
//!   dashboard's session cookie with its CSRF token; the per-team rate limit, the per-address
//!   limit of failed attempts); the public ones
//!   (`/webhook/automation/{id}`, `/health`, `/metrics`, `/openapi.json`, `/docs`, unknown
//!   paths) behind the per-address limit [`limits::per_address`].
//! - [`session`]: the dashboard's sessions (cookie, CSRF rule, Argon2 passwords); its routes are
//!   `routes::account` (`/auth/…`, `/user`) and `routes::team` (tokens, members, invites).
//! - [`limits`]: every rate limit; [`client_addr`]: the address a request came from.
//! - [`routes`]: one module per resource (contacts, interviews, calls, webhooks, sandbox, phone
//!   numbers and SIP trunks, system).
//! - [`extract`]: body and query extractors that turn bad input into clear 4xx answers.
//! - [`bounds`]: the bounds on what a client may send (search, filters, paging, ids).
//! - [`error::ApiError`]: the one error of this layer; store and domain errors map into it.
//! - [`openapi`]: the OpenAPI 3.1 document, generated from the handlers' annotations;
//!   [`schemas`]: the shapes of the answers (envelope, pages, errors) it describes.
//!
//! Decision: an object of another team is looked up with the team in the `WHERE` clause, so it is
//! indistinguishable from a missing one by construction, not by a check each handler must
//! remember.

pub mod auth;
pub mod bounds;
pub mod client_addr;
pub mod error;
pub mod extract;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod schemas;
pub mod session;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use parley_jobs::JobsHandle;
use parley_store::Store;
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;
use tower_http::trace::TraceLayer;

/// Settings of the API layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Requests per minute per team; 0 turns the limit off.
    pub rate_limit_per_minute: u32,
    /// Requests per minute to one automation's public webhook URL; 0 turns the limit off.
    pub webhook_rate_limit_per_minute: u32,
    /// Requests per minute from one source address to the public routes; 0 turns it off.
    pub public_rate_limit_per_minute: u32,
    /// Failed authentications per minute from one source address; 0 turns the limit off.
    pub auth_failure_limit_per_minute: u32,
    /// Requests per minute of one signed-in dashboard user (instead of the team's quota); 0
    /// turns the limit off.
    pub dashboard_rate_limit_per_minute: u32,
    /// Failed dashboard sign-ins per minute for one email address; 0 turns the limit off.
    pub login_failures_per_email_per_minute: u32,
    /// Mark the session cookie `Secure` (the server is reached over TLS).
    pub secure_cookies: bool,
    /// The base URL people reach this server at, for the links the API hands out (invites).
    pub public_url: String,
    /// Proxies whose `X-Forwarded-For` names the client (none: the TCP peer is the client).
    pub trusted_proxies: Vec<client_addr::IpNet>,
    /// Refuse requests without a `team_id` header (API.md); `false` accepts token-only clients.
    pub require_team_header: bool,
    pub max_body_bytes: usize,
    /// Whether an LLM endpoint is configured (prompt nodes need one).
    pub llm_configured: bool,
    /// Largest batch of `/job/create_job_by_contacts`.
    pub max_batch: usize,
    /// The server serves `GET /call/browser` beside the API (it runs calls), so the OpenAPI
    /// document describes it too.
    pub browser_calls: bool,
    /// Folder of call recordings (`{call_id}.wav`) served at `/interview_response/{id}/recording`;
    /// `None` serves none (always 404).
    pub recordings_dir: Option<std::path::PathBuf>,
    /// The template engine that checks automations' templates when they are saved (the
    /// server's renders in isolated workers; see `parley_automation::template::isolation`).
    pub templates: parley_automation::template::Templates,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            rate_limit_per_minute: 100,
            webhook_rate_limit_per_minute: 120,
            public_rate_limit_per_minute: 600,
            auth_failure_limit_per_minute: 30,
            login_failures_per_email_per_minute: 10,
            dashboard_rate_limit_per_minute: 1200,
            secure_cookies: false,
            public_url: "http://127.0.0.1:8080".into(),
            trusted_proxies: Vec::new(),
            require_team_header: true,
            max_body_bytes: 1 << 20,
            llm_configured: false,
            max_batch: 1000,
            recordings_dir: None,
            browser_calls: false,
            templates: parley_automation::template::Templates::new(),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<ApiConfig>,
    pub limits: limits::Limits,
    pub metrics: Arc<metrics::Metrics>,
    pub jobs: JobsHandle,
    pub automations: parley_automation::service::Automations,
    /// Poked when a trunk is created, changed or deleted, so this process's SIP allow-list is
    /// rebuilt at once instead of at its next periodic refresh.
    pub trunks_changed: Arc<tokio::sync::Notify>,
}

impl AppState {
    pub fn new(store: Store, config: ApiConfig, jobs: JobsHandle) -> Self {
        AppState {
            limits: limits::Limits::new(&config, &store),
            automations: parley_automation::service::Automations::new(
                store.clone(),
                jobs.clone(),
                config.templates.clone(),
            ),
            store,
            config: Arc::new(config),
            metrics: metrics::Metrics::new(),
            jobs,
            trunks_changed: Arc::default(),
        }
    }
}

/// The success envelope: `{"data": …, "error": null}`.
pub fn ok<T: Serialize>(data: T) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "data": data, "error": null }))
}

pub fn router(state: AppState) -> Router {
    use routes::{
        account, agent_versions, analytics, automations, calls, contacts, interviews, live, numbers, sandbox,
        speech_keys, system, team, webhooks,
    };
    let team_routes = Router::new()
        .route("/contact/create", post(contacts::create))
        .route("/contact/bulk_create", post(contacts::bulk_create))
        .route("/contact", get(contacts::list))
        .route("/contact/{id}", get(contacts::get_one).delete(contacts::delete_one))
        .route("/contact/{id}/update_info", post(contacts::update_info))
        .route("/contact/{id}/add_tags", post(contacts::add_tags))
        .route("/contact/{id}/remove_tags", post(contacts::remove_tags))
        .route("/contact/call", post(calls::call_contact))
        .route("/call", get(calls::list))
        .route("/call/live", get(live::live))
        .route("/job/create_job_by_contacts", post(calls::create_job))
        .route("/interview", get(interviews::list))
        .route("/interview/create", post(interviews::create))
        .route("/interview/{id}", get(interviews::get_one))
        .route("/interview/{id}/update", post(interviews::update))
        .route("/interview/{id}/toggle_archive", post(interviews::toggle_archive))
        .route("/interview/{id}/responses", get(calls::responses))
        .route(
            "/interview/{id}/draft",
            get(agent_versions::get_draft)
                .post(agent_versions::save_draft)
                .delete(agent_versions::discard_draft),
        )
        .route("/interview/{id}/publish", post(agent_versions::publish))
        .route("/interview/{id}/versions", get(agent_versions::versions))
        .route("/interview/{id}/versions/{version}", get(agent_versions::get_version))
        .route(
            "/interview/{id}/versions/{version}/restore",
            post(agent_versions::restore),
        )
        .route("/interview_response/{id}", get(calls::get_one))
        .route("/interview_response/{id}/hangup", post(calls::hangup))
        .route("/interview_response/{id}/recording", get(sandbox::recording))
        .route(
            "/sandbox/personas",
            get(sandbox::list_personas).post(sandbox::create_persona),
        )
        .route(
            "/sandbox/personas/{id}",
            get(sandbox::get_persona).delete(sandbox::delete_persona),
        )
        .route(
            "/sandbox/numbers",
            get(sandbox::list_numbers)
                .post(sandbox::bind_number)
                .delete(sandbox::unbind_number),
        )
        .route("/sandbox/call_in", post(sandbox::call_in))
        .route("/sip_trunk", get(numbers::list_trunks).post(numbers::create_trunk))
        .route("/sip_trunk/{id}", get(numbers::get_trunk).delete(numbers::delete_trunk))
        .route("/sip_trunk/{id}/update", post(numbers::update_trunk))
        .route("/phone_number", get(numbers::list_numbers).post(numbers::create_number))
        .route(
            "/phone_number/{id}",
            get(numbers::get_number).delete(numbers::delete_number),
        )
        .route("/phone_number/{id}/update", post(numbers::update_number))
        .route("/automation", get(automations::list).post(automations::create))
        .route(
            "/automation/{id}",
            get(automations::get_one).delete(automations::delete_one),
        )
        .route("/automation/{id}/update", post(automations::update))
        .route("/automation/{id}/runs", get(automations::runs))
        .route("/automation_run/{id}", get(automations::get_run))
        .route("/automation_run/{id}/cancel", post(automations::cancel_run))
        .route("/webhooks/subscribe", post(webhooks::subscribe))
        .route("/webhooks/unsubscribe", delete(webhooks::unsubscribe))
        .route("/webhooks", get(webhooks::list))
        .route("/webhooks/deliveries", get(webhooks::deliveries))
        .route("/webhooks/deliveries/{id}/resend", post(webhooks::resend))
        .route("/webhooks/signing_secret", get(webhooks::signing_secret))
        .route("/analytics", get(analytics::analytics))
        .route("/team", get(team::get_team))
        .route("/team/api_tokens", get(team::list_tokens).post(team::create_token))
        .route("/team/api_tokens/{id}", delete(team::revoke_token))
        .route("/team/members", get(team::members))
        .route("/team/invites", post(team::invite))
        .route("/team/speech_keys", get(speech_keys::list_keys))
        .route(
            "/team/speech_keys/{provider}",
            put(speech_keys::set_key).delete(speech_keys::delete_key),
        )
        .route(
            "/team/llm",
            get(speech_keys::get_llm)
                .put(speech_keys::set_llm)
                .delete(speech_keys::delete_llm),
        )
        // Every route's path parameters and query string, checked before its handler.
        .route_layer(middleware::from_fn(extract::check_uri))
        // Before the layer, so that a wrong method is authenticated (and limited) too.
        .method_not_allowed_fallback(system::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), auth::authenticate));

    // Public: no credentials, so each source address has a quota (and each automation, inside
    // its handler). `layer`, not `route_layer`: unknown paths are limited too.
    let public_routes = Router::new()
        .route("/webhook/automation/{id}", post(automations::webhook))
        .route("/auth/login", post(account::login))
        .route("/auth/logout", post(account::logout))
        .route("/auth/redeem", post(account::redeem))
        .route("/user", get(account::user))
        .route("/health", get(system::health))
        .route("/metrics", get(system::metrics))
        // Swagger UI from the `vendored` feature: its assets are compiled in, no CDN.
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", openapi::document_for(&state.config)))
        // Every route's path parameters and query string, checked before auth and handlers.
        .route_layer(middleware::from_fn(extract::check_uri))
        .fallback(system::not_found)
        .method_not_allowed_fallback(system::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), limits::per_address));

    Router::new()
        .merge(team_routes)
        .merge(public_routes)
        .layer(axum::extract::DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), record_metrics))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map_or(req.uri().path(), |m| m.as_str());
            tracing::info_span!("request", method = %req.method(), route = %route, team_id = tracing::field::Empty)
        }))
        .with_state(state)
}

/// Counts each request by method, route and status. Every label takes a bounded set of values
/// whatever clients send: the route is the matched route's template or `unmatched`, the method
/// one of the standard ones or `other` (HTTP allows any token as a method; each made-up one
/// would otherwise add a series to `/metrics` for good).
async fn record_metrics(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = metrics::method_label(req.method()).to_string();
    let res = next.run(req).await;
    s.metrics
        .requests
        .get_or_create(&metrics::RequestLabels {
            method,
            route: route.clone(),
            status: res.status().as_u16(),
        })
        .inc();
    s.metrics
        .latency
        .get_or_create(&metrics::RouteLabels { route })
        .observe(start.elapsed().as_secs_f64());
    res
}
