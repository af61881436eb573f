//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and the
//! entities' `ToSchema` derives, so it cannot drift from the code.

use crate::routes::{automations, calls, contacts, interviews, sandbox, system, webhooks};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Parley API", description = "Thoughtly-compatible voice-agent API. Every response is {data, error}."),
    paths(
        contacts::create, contacts::list, contacts::get_one, contacts::update_info, contacts::add_tags, contacts::remove_tags, contacts::delete_one,
        calls::call_contact, calls::create_job, calls::responses, calls::get_one, calls::hangup,
        interviews::list, interviews::create, interviews::get_one, interviews::update, interviews::toggle_archive,
        webhooks::subscribe, webhooks::unsubscribe, webhooks::list, webhooks::deliveries, webhooks::signing_secret,
        sandbox::list_personas, sandbox::create_persona, sandbox::get_persona, sandbox::delete_persona,
        sandbox::bind_number, sandbox::list_numbers, sandbox::unbind_number, sandbox::call_in, sandbox::recording,
        automations::list, automations::create, automations::get_one, automations::update, automations::delete_one,
        automations::runs, automations::get_run, automations::cancel_run, automations::webhook,
        system::health, system::metrics,
    ),
    modifiers(&Auth),
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

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
