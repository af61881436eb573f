//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and the
//! entities' `ToSchema` derives, so it cannot drift from the code.
//!
//! [`ApiDoc`] covers every route of [`crate::router`] (a test compares them, route by route);
//! [`document_for`] adds `GET /call/browser`, the WebSocket the server serves beside the API
//! when it runs calls.

use crate::routes::{
    account, agent_versions, analytics, automations, calls, contacts, interviews, live, numbers, sandbox, speech_keys,
    system, team, webhooks,
};
use crate::schemas::ErrorBody;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Parley API", description = "Thoughtly-compatible voice-agent API. Every response is {data, error}."),
    paths(
        contacts::create, contacts::list, contacts::get_one, contacts::update_info, contacts::add_tags, contacts::remove_tags, contacts::delete_one, contacts::bulk_create,
        calls::call_contact, calls::create_job, calls::responses, calls::get_one, calls::hangup, calls::list, live::live,
        interviews::list, interviews::create, interviews::get_one, interviews::update, interviews::toggle_archive,
        agent_versions::get_draft, agent_versions::save_draft, agent_versions::discard_draft, agent_versions::publish,
        agent_versions::versions, agent_versions::get_version, agent_versions::restore,
        webhooks::subscribe, webhooks::unsubscribe, webhooks::list, webhooks::deliveries, webhooks::signing_secret, webhooks::resend,
        sandbox::list_personas, sandbox::create_persona, sandbox::get_persona, sandbox::delete_persona,
        sandbox::bind_number, sandbox::list_numbers, sandbox::unbind_number, sandbox::call_in, sandbox::recording,
        numbers::create_trunk, numbers::list_trunks, numbers::get_trunk, numbers::update_trunk, numbers::delete_trunk,
        numbers::create_number, numbers::list_numbers, numbers::get_number, numbers::update_number, numbers::delete_number,
        automations::list, automations::create, automations::get_one, automations::update, automations::delete_one,
        automations::runs, automations::get_run, automations::cancel_run, automations::webhook,
        analytics::analytics,
        team::get_team, team::list_tokens, team::create_token, team::revoke_token, team::members, team::invite,
        speech_keys::set_key, speech_keys::list_keys, speech_keys::delete_key, speech_keys::get_llm, speech_keys::set_llm, speech_keys::delete_llm,
        account::login, account::logout, account::redeem, account::user,
        system::health, system::metrics,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Auth, &Errors),
    security(("api_token" = [], "team_id" = []))
)]
pub struct ApiDoc;

struct Auth;

impl Modify for Auth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "api_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-token"))),
        );
        c.add_security_scheme(
            "team_id",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("team_id"))),
        );
        // The dashboard's: the team routes take it too, with `team_id` and, on a state-changing
        // request, the session's `x-csrf-token` (see `GET /user`).
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::session::COOKIE,
                "The dashboard's session, set by POST /auth/login or /auth/redeem",
            ))),
        );
    }
}

/// Every error answer is the error envelope ([`ErrorBody`]): each listed non-2xx response
/// without a body gets it, and every operation gets it as its `default` response (the 400, 401,
/// 404, 413, 415 and 429 any request can meet), so a client, and the fuzzer, can check them.
struct Errors;

impl Modify for Errors {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let error = |description: &str| -> Response {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for item in doc.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                add_errors(op, &error);
            }
        }
    }
}

fn add_errors(op: &mut Operation, error: &dyn Fn(&str) -> Response) {
    for (status, response) in op.responses.responses.iter_mut() {
        if let RefOr::T(r) = response {
            if !status.starts_with('2') && r.content.is_empty() {
                let description = if r.description.is_empty() {
                    "Error".to_string()
                } else {
                    r.description.clone()
                };
                *r = error(&description);
            }
        }
    }
    op.responses
        .responses
        .entry("default".into())
        .or_insert_with(|| RefOr::T(error("An error: {data: null, error, code}")));
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document a server with `config` serves: [`ApiDoc`], and `GET /call/browser` when the
/// server serves it (it runs calls).
pub fn document_for(config: &crate::ApiConfig) -> utoipa::openapi::OpenApi {
    let mut doc = document();
    if config.browser_calls {
        doc.merge(BrowserCallDoc::openapi());
    }
    doc
}

/// `GET /call/browser`, apart: it is not one of the API's routes and its refusals are plain
/// text, not the error envelope ([`Errors`] is not applied to it).
#[derive(OpenApi)]
#[openapi(paths(browser_call))]
struct BrowserCallDoc;

// Documents `parley_server::browser`'s handler, which lives in the server crate with the call
// runner it needs; nothing calls this function.
/// "Test in browser": talk to an agent with the microphone (Parley addition).
#[utoipa::path(get, path = "/call/browser", tag = "calls", security(("session" = [])),
    params(("interview_id" = String, Query, description = "The agent to talk to"),
           ("team_id" = String, Query, description = "The agent's team; the signed-in user must be a member (a WebSocket cannot carry the API's headers)")),
    responses(
        (status = 101, description = "A WebSocket (the request must be a WebSocket upgrade from this server's own origin) carrying a `BROWSER_CALL` with the agent: binary frames both ways of 20 ms of 16-bit little-endian PCM at 16 kHz (640 bytes); from the server also text frames `{\"type\":\"call\",\"call_id\":…}` once the call exists, `{\"type\":\"clear\"}` when the caller barges in, and `{\"type\":\"ended\"}` before it closes"),
        (status = 400, description = "A missing query parameter, or not a WebSocket upgrade", content_type = "text/plain", body = String),
        (status = 401, description = "No live session, or not a member of the team: `Unauthorized.`", content_type = "text/plain", body = String),
        (status = 403, description = "The Origin is not this server's", content_type = "text/plain", body = String),
        (status = 404, description = "Interview not found", content_type = "text/plain", body = String),
        (status = 426, description = "The connection cannot be upgraded", content_type = "text/plain", body = String),
        (status = 429, description = "The team is at its limit of concurrent calls", content_type = "text/plain", body = String),
    ))]
#[expect(dead_code, reason = "documentation only: the handler is the server's")]
fn browser_call() {}
