//! The OpenAPI document against the router: every route `parley_api::router` registers is
//! documented with its method and handler, nothing else is, and each public route says what it
//! takes instead of the API token. axum cannot list a router's routes, so they are read from
//! `src/lib.rs`, the one place they are registered.

use parley_api::openapi::{document, document_for};
use parley_api::ApiConfig;
use serde_json::Value;
use std::collections::BTreeSet;

const LIB_RS: &str = include_str!("../../src/lib.rs");
const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// One registered route: method, path template, handler function and whether it is public.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Route {
    method: String,
    path: String,
    handler: String,
    public: bool,
}

/// The text of the balanced parentheses opening at `open` (exclusive of them).
fn group(s: &str, open: usize) -> &str {
    let mut depth = 0;
    for (i, c) in s[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &s[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses after byte {open} of lib.rs");
}

/// Every `.route("<path>", get(m::f).post(m::g)…)` of lib.rs; routes after
/// `let public_routes` are the public ones.
fn registered_routes() -> Vec<Route> {
    let public_from = LIB_RS
        .find("let public_routes")
        .expect("lib.rs names its public routes");
    let mut routes = Vec::new();
    for (at, _) in LIB_RS.match_indices(".route(") {
        let args = group(LIB_RS, at + ".route".len());
        let path = args.split('"').nth(1).expect("a route's path is a string literal");
        let rest = &args[args.find(',').expect("a route has a handler")..];
        for (i, _) in rest.match_indices('(') {
            let before = &rest[..i];
            let word_start = before
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |p| p + 1);
            let method = &before[word_start..];
            if !METHODS.contains(&method) {
                continue;
            }
            let handler = group(rest, i).trim();
            routes.push(Route {
                method: method.to_string(),
                path: path.to_string(),
                handler: handler.rsplit("::").next().unwrap_or(handler).to_string(),
                public: at > public_from,
            });
        }
    }
    routes
}

/// Every operation of a document: method, path and operation id (utoipa's: the handler's name).
fn operations(doc: &Value) -> BTreeSet<(String, String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                let id = op["operationId"].as_str().unwrap_or("").to_string();
                ops.insert((m.to_string(), path.clone(), id));
            }
        }
    }
    ops
}

fn doc_json(doc: utoipa::openapi::OpenApi) -> Value {
    serde_json::to_value(doc).unwrap()
}

#[test]
fn openapi_documents_every_route_of_the_router_and_no_other() {
    let routes = registered_routes();
    // A parser that found nothing would pass vacuously.
    assert!(routes.len() > 70, "only {} routes read from lib.rs", routes.len());
    for (method, path) in [
        ("get", "/call/live"),
        ("delete", "/interview/{id}/draft"),
        ("post", "/auth/login"),
    ] {
        assert!(
            routes.iter().any(|r| r.method == method && r.path == path),
            "{method} {path} not read from lib.rs"
        );
    }
    let registered: BTreeSet<(String, String, String)> = routes
        .iter()
        .map(|r| (r.method.clone(), r.path.clone(), r.handler.clone()))
        .collect();
    let documented = operations(&doc_json(document()));
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&registered).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the OpenAPI document (method, path, handler): {undocumented:?}"
    );
    assert!(unrouted.is_empty(), "documented but not routed: {unrouted:?}");
}

#[test]
fn openapi_public_routes_say_what_they_take_instead_of_the_token() {
    let doc = doc_json(document());
    assert_eq!(
        doc["security"],
        serde_json::json!([{ "api_token": [], "team_id": [] }]),
        "the team routes' credentials"
    );
    for r in registered_routes() {
        let security = &doc["paths"][&r.path][&r.method]["security"];
        if !r.public {
            assert!(
                security.is_null(),
                "{} {}: a team route takes the document's credentials",
                r.method,
                r.path
            );
        } else if r.path == "/user" {
            assert_eq!(
                *security,
                serde_json::json!([{ "session": [] }, { "api_token": [], "team_id": [] }])
            );
        } else {
            assert_eq!(
                *security,
                serde_json::json!([{}]),
                "{} {}: takes no credentials",
                r.method,
                r.path
            );
        }
    }
    assert_eq!(doc["components"]["securitySchemes"]["session"]["in"], "cookie");
    assert_eq!(
        doc["components"]["securitySchemes"]["session"]["name"],
        "parley_session"
    );
}

#[test]
fn openapi_describes_the_live_stream_and_the_sign_in_answers() {
    let doc = doc_json(document());
    let live = &doc["paths"]["/call/live"]["get"];
    assert!(
        live["responses"]["200"]["content"]["text/event-stream"].is_object(),
        "{live}"
    );
    let login = &doc["paths"]["/auth/login"]["post"]["responses"];
    for status in ["200", "400", "401", "413", "429", "default"] {
        assert!(login[status].is_object(), "/auth/login: {status} not documented");
    }
    assert!(login["200"]["headers"]["Set-Cookie"].is_object());
    assert_eq!(
        login["429"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    for name in [
        "DraftView",
        "VersionList",
        "Analytics",
        "TokenList",
        "NewTokenView",
        "CurrentUser",
        "SignedIn",
    ] {
        assert!(doc["components"]["schemas"][name].is_object(), "schema {name} missing");
    }
}

#[test]
fn openapi_has_the_browser_call_only_where_the_server_serves_it() {
    let without = doc_json(document_for(&ApiConfig::default()));
    assert!(without["paths"].get("/call/browser").is_none());
    let with = doc_json(document_for(&ApiConfig {
        browser_calls: true,
        ..ApiConfig::default()
    }));
    let op = &with["paths"]["/call/browser"]["get"];
    assert!(op["responses"]["101"].is_object(), "{op}");
    // Its refusals are plain text, not the error envelope.
    assert!(op["responses"]["401"]["content"]["text/plain"].is_object(), "{op}");
    assert!(op["responses"].get("default").is_none(), "{op}");
    assert_eq!(op["security"], serde_json::json!([{ "session": [] }]));
    // The rest is the same document.
    assert_eq!(
        with["paths"].as_object().unwrap().len(),
        without["paths"].as_object().unwrap().len() + 1
    );
}
