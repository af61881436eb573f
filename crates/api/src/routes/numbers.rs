//! `/sip_trunk…` and `/phone_number…`: how a team reaches real phones (API.md, "Phone numbers and
//! SIP trunks", Parley additions).
//!
//! - A trunk is a carrier's SIP endpoint with its digest credentials and the addresses allowed to
//!   send it INVITEs. Deleting one that a number uses is 409 naming the numbers.
//! - A number is unique across the server (409 naming it, never the team that has it), on one
//!   network: `sip` (with one of the team's trunks), `twilio` (with an account SID and auth
//!   token), or `sandbox` (a caller id on the built-in network: a fictional number, see
//!   `parley_core::number`). At most one number of a team is its `default_outbound`.
//! - Secrets (`password`, `twilio.auth_token`) are write-only: answers say `has_password` and
//!   `twilio: {account_sid}`. On update, an absent secret is kept and `""` clears it (a trunk's
//!   password; a Twilio number needs its token).
//!
//! Updates are partial: absent fields keep their value; `""` clears the optional text fields
//! (`username`, `from_domain`, `label`, `inbound_interview_id`), `max_concurrent_calls: 0` clears
//! the trunk's limit.

use super::contacts::normalize_number;
use super::{not_found, uuid_or};
use crate::auth::Team;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Params};
use crate::schemas::{Envelope, Null, PhoneNumberPage, SipTrunkPage};
use crate::{ok, AppState};
use axum::extract::{Path, State};
use axum::{Extension, Json};
use parley_core::number::{self as num, NetworkKind, PhoneNumber, SipTransport, SipTrunk, DEFAULT_SIP_PORT};
use parley_core::phone;
use parley_store::numbers::{NumberWrite, SecretChange, TrunkWrite};
use parley_store::Store;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use uuid::Uuid;

const TRUNK_404: &str = "SIP trunk not found";
const NUMBER_404: &str = "Phone number not found";

/// A SIP trunk to create, or the fields of one to change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrunkBody {
    /// Required on create.
    #[schema(example = "Main carrier", min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// The carrier's SIP host name or IP address. Required on create.
    #[schema(example = "sip.carrier.example", min_length = 1, max_length = 253)]
    pub host: Option<String>,
    /// Default 5060.
    #[schema(minimum = 1, maximum = 65535, example = 5060)]
    pub port: Option<i64>,
    /// Default `udp`.
    pub transport: Option<SipTransport>,
    /// Digest user name (answered on 401/407); `""` clears it.
    #[schema(example = "acme", max_length = 128, pattern = r"^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]*$")]
    pub username: Option<String>,
    /// Digest password: write-only, never returned (`has_password` says whether one is set);
    /// on update, absent keeps it and `""` clears it.
    #[schema(max_length = 256, write_only)]
    pub password: Option<String>,
    /// Domain of the `From` header (default: `host`); `""` clears it.
    #[schema(example = "carrier.example", max_length = 253)]
    pub from_domain: Option<String>,
    /// CIDRs or single IPs allowed to send INVITEs (at most 100); empty means only `host`.
    #[schema(max_items = 100, example = json!(["203.0.113.0/24"]))]
    pub inbound_addresses: Option<Vec<String>>,
    /// Calls the trunk may carry at once (1 to 10000); `0` or absent on create: no limit of its own.
    #[schema(minimum = 0, maximum = 10000, example = 30)]
    pub max_concurrent_calls: Option<i64>,
}

/// A number's Twilio account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwilioBody {
    /// `AC` and 32 hexadecimal digits.
    #[schema(example = "AC0123456789abcdef0123456789abcdef", pattern = "^AC[0-9a-fA-F]{32}$")]
    pub account_sid: String,
    /// Write-only, never returned. Required on create; on update, absent keeps the stored one.
    #[schema(min_length = 1, max_length = 256, write_only)]
    pub auth_token: Option<String>,
}

/// A phone number to register, or the fields of one to change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberBody {
    /// National or international form; stored as E.164, unique across the server. Required on
    /// create.
    #[schema(
        example = "+14155550123",
        min_length = 1,
        max_length = 32,
        pattern = r"^[0-9+ ()\-.]+$"
    )]
    pub phone_number: Option<String>,
    /// Dialing prefix used when `phone_number` has no leading `+`; default `"+1"`.
    #[schema(example = "+1", max_length = 4, pattern = r"^\+?[0-9]{1,3}$")]
    pub country_code: Option<String>,
    /// Required on create.
    pub network: Option<NetworkKind>,
    /// One of the team's trunks: required for `sip`, refused otherwise.
    #[schema(format = Uuid)]
    pub sip_trunk_id: Option<String>,
    /// Required for `twilio`, refused otherwise.
    pub twilio: Option<TwilioBody>,
    /// The voice agent that answers calls to the number (none: inbound calls are refused);
    /// `""` clears it. Not for `sandbox` numbers, which take calls through `/sandbox/numbers`.
    #[serde(alias = "agent_id")]
    #[schema(example = "AbCd1234", pattern = "^([A-Za-z0-9]{8})?$")]
    pub inbound_interview_id: Option<String>,
    /// `""` clears it.
    #[schema(example = "Support line", max_length = 100)]
    pub label: Option<String>,
    /// Makes this the caller id of the team's outbound calls (the team's other numbers lose it).
    pub default_outbound: Option<bool>,
}

/// An optional text: absent keeps `old`, `""` clears, anything else is checked by `check`.
fn optional_text(
    given: Option<&str>,
    old: Option<String>,
    check: impl FnOnce(&str) -> Result<String, parley_core::ValidationError>,
) -> ApiResult<Option<String>> {
    match given.map(str::trim) {
        None => Ok(old),
        Some("") => Ok(None),
        Some(v) => Ok(Some(check(v)?)),
    }
}

/// Checks a trunk body (over `old` on an update) into what the store writes; a 400 names the
/// field. Also what `parley trunk add` uses.
pub fn trunk_write(b: TrunkBody, old: Option<&SipTrunk>) -> ApiResult<TrunkWrite> {
    let name = match (b.name.as_deref(), old) {
        (Some(n), _) => num::check_name("name", n)?,
        (None, Some(o)) => o.name.clone(),
        (None, None) => return Err(ApiError::bad("name: is required")),
    };
    let host = match (b.host.as_deref(), old) {
        (Some(h), _) => num::check_host("host", h)?,
        (None, Some(o)) => o.host.clone(),
        (None, None) => {
            return Err(ApiError::bad(
                "host: is required: the carrier's SIP host name or IP address",
            ))
        }
    };
    let port = match b.port {
        Some(p) => u16::try_from(p)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| ApiError::bad("port: must be between 1 and 65535"))?,
        None => old.map_or(DEFAULT_SIP_PORT, |o| o.port),
    };
    let password = match b.password.as_deref() {
        None => SecretChange::Keep,
        Some("") if old.is_some() => SecretChange::Clear,
        Some(p) => {
            num::check_secret("password", p)?;
            SecretChange::Set(p.to_string())
        }
    };
    let inbound_addresses = match &b.inbound_addresses {
        Some(a) => num::check_inbound_addresses("inbound_addresses", a)?,
        None => old.map(|o| o.inbound_addresses.clone()).unwrap_or_default(),
    };
    let max_concurrent_calls = match b.max_concurrent_calls {
        Some(0) => None,
        Some(n) => Some(num::check_max_calls("max_concurrent_calls", n)?),
        None => old.and_then(|o| o.max_concurrent_calls),
    };
    Ok(TrunkWrite {
        name,
        host,
        port,
        transport: b.transport.or(old.map(|o| o.transport)).unwrap_or_default(),
        username: optional_text(b.username.as_deref(), old.and_then(|o| o.username.clone()), |v| {
            num::check_username("username", v)
        })?,
        password,
        from_domain: optional_text(b.from_domain.as_deref(), old.and_then(|o| o.from_domain.clone()), |v| {
            num::check_host("from_domain", v)
        })?,
        inbound_addresses,
        max_concurrent_calls,
    })
}

#[utoipa::path(post, path = "/sip_trunk", tag = "phone numbers", request_body = TrunkBody,
    responses((status = 200, description = "The new trunk (secrets never returned: `has_password`)", body = Envelope<SipTrunk>),
              (status = 400, description = "A missing or invalid field, named")))]
pub async fn create_trunk(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    ApiJson(b): ApiJson<TrunkBody>,
) -> ApiResult<Json<Value>> {
    let w = trunk_write(b, None)?;
    let trunk = s.store.create_sip_trunk(&team.id, &w).await?;
    s.trunks_changed.notify_one();
    Ok(ok(trunk))
}

#[utoipa::path(get, path = "/sip_trunk", tag = "phone numbers",
    params(("page" = Option<i64>, Query, minimum = 0), ("limit" = Option<i64>, Query, minimum = 1, maximum = 50)),
    responses((status = 200, description = "{sip_trunks, count}: a page of the team's trunks, oldest first; count is all of them", body = Envelope<SipTrunkPage>)))]
pub async fn list_trunks(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let (page, limit) = p.paging(20, 50)?;
    let (trunks, count) = s.store.list_sip_trunks(&team.id, page, limit).await?;
    Ok(ok(json!({ "sip_trunks": trunks, "count": count })))
}

async fn find_trunk(s: &AppState, team: &str, id: &str) -> ApiResult<SipTrunk> {
    s.store
        .sip_trunk(team, uuid_or(id, TRUNK_404)?)
        .await
        .map_err(not_found(TRUNK_404))
}

#[utoipa::path(get, path = "/sip_trunk/{id}", tag = "phone numbers", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Envelope<SipTrunk>), (status = 404, description = "SIP trunk not found")))]
pub async fn get_trunk(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(ok(find_trunk(&s, &team.id, &id).await?))
}

#[utoipa::path(post, path = "/sip_trunk/{id}/update", tag = "phone numbers", params(("id" = uuid::Uuid, Path)), request_body = TrunkBody,
    responses((status = 200, description = "The trunk as changed", body = Envelope<SipTrunk>),
              (status = 400, description = "An invalid field, named"), (status = 404, description = "SIP trunk not found")))]
pub async fn update_trunk(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<TrunkBody>,
) -> ApiResult<Json<Value>> {
    let old = find_trunk(&s, &team.id, &id).await?;
    let w = trunk_write(b, Some(&old))?;
    let trunk = s
        .store
        .update_sip_trunk(&team.id, old.id, &w)
        .await
        .map_err(not_found(TRUNK_404))?;
    s.trunks_changed.notify_one();
    Ok(ok(trunk))
}

#[utoipa::path(delete, path = "/sip_trunk/{id}", tag = "phone numbers", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "data: null", body = Envelope<Null>), (status = 404, description = "SIP trunk not found"),
              (status = 409, description = "A phone number uses the trunk; the message names the numbers")))]
pub async fn delete_trunk(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.store
        .delete_sip_trunk(&team.id, uuid_or(&id, TRUNK_404)?)
        .await
        .map_err(not_found(TRUNK_404))?;
    s.trunks_changed.notify_one();
    Ok(ok(Value::Null))
}

/// `field: <message>` for a field that `network` does not take.
fn refused(field: &str, network: NetworkKind) -> ApiError {
    ApiError::bad(format!(
        "{field}: only for network {}, not {network}",
        match field {
            "sip_trunk_id" => "sip",
            _ => "twilio",
        }
    ))
}

/// Checks a number body (over `old` on an update) into what the store writes; a 400 names the
/// field. The trunk is checked by the store, in the transaction that writes. Also what
/// `parley number add` uses.
pub async fn number_write(
    store: &Store,
    team: &Team,
    b: NumberBody,
    old: Option<&PhoneNumber>,
) -> ApiResult<NumberWrite> {
    let phone_number = match (b.phone_number.as_deref(), old) {
        (Some(n), _) => normalize_number(team, "phone_number", n, b.country_code.as_deref())?,
        (None, Some(o)) => o.phone_number.clone(),
        (None, None) => return Err(ApiError::bad("phone_number: is required")),
    };
    let network = match (b.network, old) {
        (Some(n), _) => n,
        (None, Some(o)) => o.network,
        (None, None) => return Err(ApiError::bad("network: is required: sip, twilio or sandbox")),
    };
    let given_trunk = b.sip_trunk_id.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let sip_trunk_id = match network {
        NetworkKind::Sip => match (given_trunk, old.and_then(|o| o.sip_trunk_id)) {
            (Some(t), _) => Some(Uuid::parse_str(t).map_err(|_| {
                ApiError::bad_with(
                    "sip_trunk_id: SIP trunk not found (GET /sip_trunk lists the team's)",
                    "sip_trunk_not_found",
                )
            })?),
            (None, Some(old)) => Some(old),
            (None, None) => return Err(ApiError::bad("sip_trunk_id: is required for network sip")),
        },
        _ if given_trunk.is_some() => return Err(refused("sip_trunk_id", network)),
        _ => None,
    };
    let old_twilio = old.and_then(|o| o.twilio.as_ref());
    let twilio = match (network, b.twilio) {
        (NetworkKind::Twilio, Some(t)) => {
            let sid = num::check_account_sid("twilio.account_sid", &t.account_sid)?;
            let token = match t.auth_token {
                Some(tok) => {
                    num::check_secret("twilio.auth_token", &tok)?;
                    SecretChange::Set(tok)
                }
                None if old_twilio.is_some_and(|o| o.account_sid == sid) => SecretChange::Keep,
                None => return Err(ApiError::bad("twilio.auth_token: is required")),
            };
            Some((sid, token))
        }
        (NetworkKind::Twilio, None) => match old_twilio {
            Some(o) => Some((o.account_sid.clone(), SecretChange::Keep)),
            None => {
                return Err(ApiError::bad(
                    "twilio: is required for network twilio: {account_sid, auth_token}",
                ))
            }
        },
        (_, Some(_)) => return Err(refused("twilio", network)),
        (_, None) => None,
    };
    if network == NetworkKind::Sandbox {
        if !store.is_sandbox_destination(&team.id, &phone_number).await? {
            return Err(ApiError::bad_with(
                format!(
                    "phone_number: a sandbox number must be fictional: {phone_number} is neither in the built-in range \
                     +1 NPA 555 01xx nor on the team's sandbox list (POST /sandbox/numbers)"
                ),
                "not_a_sandbox_number",
            ));
        }
    } else if phone::is_builtin_sandbox(&phone_number) {
        return Err(ApiError::bad_with(
            format!(
                "phone_number: {phone_number} is in the sandbox range +1 NPA 555 01xx, which no carrier serves; \
                 use network sandbox, or a number of your carrier"
            ),
            "sandbox_number_on_real_network",
        ));
    }
    let inbound_interview_id = match b.inbound_interview_id.as_deref().map(str::trim) {
        None => old.and_then(|o| o.inbound_interview_id.clone()),
        Some("") => None,
        Some(id) => {
            let missing = || {
                ApiError::bad_with(
                    "inbound_interview_id: Interview not found, please try again",
                    "interview_not_found",
                )
            };
            if !parley_core::ids::is_agent_id(id) {
                return Err(missing());
            }
            let agent = store.interview(&team.id, id).await.map_err(|e| match e {
                parley_store::StoreError::NotFound => missing(),
                other => other.into(),
            })?;
            Some(agent.id)
        }
    };
    if network == NetworkKind::Sandbox && inbound_interview_id.is_some() {
        return Err(ApiError::bad(
            "inbound_interview_id: a sandbox number takes calls through the sandbox network's own routes; \
             bind it to the agent with POST /sandbox/numbers instead",
        ));
    }
    Ok(NumberWrite {
        phone_number,
        network,
        sip_trunk_id,
        twilio,
        inbound_interview_id,
        label: optional_text(b.label.as_deref(), old.and_then(|o| o.label.clone()), |v| {
            num::check_name("label", v)
        })?,
        default_outbound: b.default_outbound.unwrap_or(old.is_some_and(|o| o.default_outbound)),
    })
}

#[utoipa::path(post, path = "/phone_number", tag = "phone numbers", request_body = NumberBody,
    responses((status = 200, description = "The new number (secrets never returned: twilio is {account_sid})", body = Envelope<PhoneNumber>),
              (status = 400, description = "A missing or invalid field, named"),
              (status = 409, description = "The number is already registered on this server")))]
pub async fn create_number(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    ApiJson(b): ApiJson<NumberBody>,
) -> ApiResult<Json<Value>> {
    let w = number_write(&s.store, &team, b, None).await?;
    Ok(ok(s.store.create_phone_number(&team.id, &w).await?))
}

#[utoipa::path(get, path = "/phone_number", tag = "phone numbers",
    params(("page" = Option<i64>, Query, minimum = 0), ("limit" = Option<i64>, Query, minimum = 1, maximum = 50)),
    responses((status = 200, description = "{phone_numbers, count}: a page of the team's numbers, oldest first; count is all of them", body = Envelope<PhoneNumberPage>)))]
pub async fn list_numbers(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let (page, limit) = p.paging(20, 50)?;
    let (numbers, count) = s.store.list_phone_numbers(&team.id, page, limit).await?;
    Ok(ok(json!({ "phone_numbers": numbers, "count": count })))
}

async fn find_number(s: &AppState, team: &str, id: &str) -> ApiResult<PhoneNumber> {
    s.store
        .phone_number(team, uuid_or(id, NUMBER_404)?)
        .await
        .map_err(not_found(NUMBER_404))
}

#[utoipa::path(get, path = "/phone_number/{id}", tag = "phone numbers", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Envelope<PhoneNumber>), (status = 404, description = "Phone number not found")))]
pub async fn get_number(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(ok(find_number(&s, &team.id, &id).await?))
}

#[utoipa::path(post, path = "/phone_number/{id}/update", tag = "phone numbers", params(("id" = uuid::Uuid, Path)), request_body = NumberBody,
    responses((status = 200, description = "The number as changed", body = Envelope<PhoneNumber>),
              (status = 400, description = "An invalid field, named"), (status = 404, description = "Phone number not found"),
              (status = 409, description = "The new number is already registered on this server")))]
pub async fn update_number(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<NumberBody>,
) -> ApiResult<Json<Value>> {
    let old = find_number(&s, &team.id, &id).await?;
    let w = number_write(&s.store, &team, b, Some(&old)).await?;
    Ok(ok(s
        .store
        .update_phone_number(&team.id, old.id, &w)
        .await
        .map_err(not_found(NUMBER_404))?))
}

#[utoipa::path(delete, path = "/phone_number/{id}", tag = "phone numbers", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "data: null", body = Envelope<Null>), (status = 404, description = "Phone number not found")))]
pub async fn delete_number(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.store
        .delete_phone_number(&team.id, uuid_or(&id, NUMBER_404)?)
        .await
        .map_err(not_found(NUMBER_404))?;
    Ok(ok(Value::Null))
}

/// A call's optional `from_number`, normalized (absent or `""`: none).
pub(crate) fn from_number(team: &Team, raw: Option<&str>, country_code: Option<&str>) -> ApiResult<Option<String>> {
    raw.map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| normalize_number(team, "from_number", f, country_code))
        .transpose()
}
