//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and the
//! entities' `ToSchema` derives, so it cannot drift from the code.

use crate::routes::{automations, calls, contacts, interviews, numbers, sandbox, system, webhooks};
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
        calls::call_contact, calls::create_job, calls::responses, calls::get_one, calls::hangup, calls::list,
        interviews::list, interviews::create, interviews::get_one, interviews::update, interviews::toggle_archive,
        webhooks::subscribe, webhooks::unsubscribe, webhooks::list, webhooks::deliveries, webhooks::signing_secret, webhooks::resend,
        sandbox::list_personas, sandbox::create_persona, sandbox::get_persona, sandbox::delete_persona,
        sandbox::bind_number, sandbox::list_numbers, sandbox::unbind_number, sandbox::call_in, sandbox::recording,
        numbers::create_trunk, numbers::list_trunks, numbers::get_trunk, numbers::update_trunk, numbers::delete_trunk,
        numbers::create_number, numbers::list_numbers, numbers::get_number, numbers::update_number, numbers::delete_number,
        automations::list, automations::create, automations::get_one, automations::update, automations::delete_one,
        automations::runs, automations::get_run, automations::cancel_run, automations::webhook,
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
