//! The fake's REST API: Twilio's `Calls` resource (create, update, fetch) with basic auth and its error JSON.

use super::calls::run_outbound;
use super::*;

fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        Json(json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status.as_u16(),
        })),
    )
        .into_response()
}

fn unauthenticated() -> Response {
    twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate")
}

/// Whether the request's HTTP basic auth is the account in the path.
fn authenticated(shared: &Shared, account: &str, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    let Some(decoded) = B64.decode(value.trim()).ok().and_then(|d| String::from_utf8(d).ok()) else {
        return false;
    };
    let Some((user, pass)) = decoded.split_once(':') else {
        return false;
    };
    let inner = shared.lock();
    matches!(inner.accounts.get(user), Some(token) if token == pass && user == account)
}

fn call_json(c: &CallRecord) -> serde_json::Value {
    json!({
        "sid": c.sid,
        "account_sid": c.account_sid,
        "to": c.to,
        "from": c.from,
        "status": c.status,
        "direction": c.direction,
        "api_version": "2010-04-01",
        "uri": format!("/2010-04-01/Accounts/{}/Calls/{}.json", c.account_sid, c.sid),
    })
}

pub(super) fn param<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

pub(super) async fn create_call(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authenticated(&shared, &account, &headers) {
        return unauthenticated();
    }
    let form = signature::parse_form(&body);
    let Some(to) = param(&form, "To") else {
        return twilio_error(StatusCode::BAD_REQUEST, 21201, "No 'To' number is specified");
    };
    let Some(from) = param(&form, "From") else {
        return twilio_error(StatusCode::BAD_REQUEST, 21213, "No 'From' number is specified");
    };
    if param(&form, "Twiml").is_none() && param(&form, "Url").is_none() {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21205,
            "Either Url, Twiml or ApplicationSid is required",
        );
    }
    if let Some(t) = param(&form, "Timeout") {
        if t.parse::<u32>().is_err() {
            return twilio_error(StatusCode::BAD_REQUEST, 21216, "Timeout must be an integer");
        }
    }
    let sid = new_sid("CA");
    let rec = CallRecord {
        sid: sid.clone(),
        account_sid: account.clone(),
        from: from.into(),
        to: to.into(),
        direction: "outbound-api".into(),
        status: "queued".into(),
        create_params: form.clone(),
        ..CallRecord::default()
    };
    let answer = call_json(&rec);
    let (tx, rx) = mpsc::unbounded_channel();
    let script = {
        let mut inner = shared.lock();
        inner.calls.push(rec);
        inner.controls.insert(sid.clone(), tx);
        inner.scripts.get(to).cloned().unwrap_or_default()
    };
    let task = tokio::spawn(run_outbound(shared.clone(), sid, form, script, rx));
    shared.lock().tasks.push(task);
    shared.version.send_modify(|v| *v += 1);
    (StatusCode::CREATED, Json(answer)).into_response()
}

pub(super) async fn update_call(
    State(shared): State<Arc<Shared>>,
    Path((account, call)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authenticated(&shared, &account, &headers) {
        return unauthenticated();
    }
    let sid = call.strip_suffix(".json").unwrap_or(&call).to_string();
    let form = signature::parse_form(&body);
    let (rec, control) = {
        let inner = shared.lock();
        let rec = inner
            .calls
            .iter()
            .find(|c| c.sid == sid && c.account_sid == account)
            .cloned();
        (rec, inner.controls.get(&sid).cloned())
    };
    let Some(rec) = rec else {
        return twilio_error(StatusCode::NOT_FOUND, 20404, "The requested resource was not found");
    };
    if let Some(t) = param(&form, "Twiml") {
        let live = rec.status == "in-progress";
        shared.update(&sid, |c| c.twiml_updates.push(t.to_string()));
        if let (true, Some(tx)) = (live, control) {
            let _ = tx.send(Control::Redirect);
        }
        return (StatusCode::OK, Json(call_json(&rec))).into_response();
    }
    match param(&form, "Status") {
        Some("completed") | Some("canceled") => {
            let want = param(&form, "Status").unwrap_or_default();
            // `canceled` only ends a call not yet answered; `completed` ends any.
            let ends = match rec.status.as_str() {
                "queued" | "initiated" | "ringing" => true,
                "in-progress" => want == "completed",
                _ => false,
            };
            if ends {
                if let Some(tx) = control {
                    let _ = tx.send(Control::HangUp);
                }
            }
            (StatusCode::OK, Json(call_json(&rec))).into_response()
        }
        Some(_) => twilio_error(StatusCode::BAD_REQUEST, 21218, "Invalid Status"),
        None => twilio_error(StatusCode::BAD_REQUEST, 20001, "The fake only updates Status or Twiml"),
    }
}

pub(super) async fn fetch_call(
    State(shared): State<Arc<Shared>>,
    Path((account, call)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !authenticated(&shared, &account, &headers) {
        return unauthenticated();
    }
    let sid = call.strip_suffix(".json").unwrap_or(&call);
    let rec = shared
        .lock()
        .calls
        .iter()
        .find(|c| c.sid == sid && c.account_sid == account)
        .cloned();
    match rec {
        Some(r) => (StatusCode::OK, Json(call_json(&r))).into_response(),
        None => twilio_error(StatusCode::NOT_FOUND, 20404, "The requested resource was not found"),
    }
}
