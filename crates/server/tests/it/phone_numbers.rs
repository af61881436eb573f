//! Phone numbers and SIP trunks (API.md, "Phone numbers and SIP trunks"): CRUD through the real
//! HTTP server, validation naming the field, server-wide uniqueness, trunks in use, team
//! isolation, write-only secrets sealed at rest, one default outbound number per team,
//! `from_number` and `network` on calls, the refusal of real destinations without a real number,
//! the worker-side reads, and the `parley trunk` / `parley number` commands.

use crate::common;
use common::automation::{fire, step, wait_run};
use common::process::Deployment;
use common::{settings, Client, Db, Resp, TestServer};
use parley_store::Store;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_databases!(
    trunks_are_created_read_listed_updated_and_deleted,
    trunk_fields_are_validated_by_name,
    numbers_are_validated_unique_and_tied_to_their_trunk,
    one_default_outbound_number_per_team,
    teams_never_see_or_use_each_others_numbers_and_trunks,
    secrets_are_write_only_and_sealed_at_rest,
    calls_carry_from_number_and_network,
    a_campaign_to_real_numbers_needs_a_real_number,
    the_cli_adds_and_lists_trunks_and_numbers,
    automation_call_steps_are_routed_like_api_calls,
);

const PASSWORD: &str = "trunk-pass-7f3a91c2";
const TOKEN: &str = "twilio-token-5be04d7e";
const SID: &str = "AC0123456789abcdef0123456789abcdef";

/// A server that refuses unroutable calls, as API.md says (the shared harness keeps the
/// pre-telephony behaviour for older tests).
async fn server(db: Db) -> TestServer {
    TestServer::start_with(db, |s| s.unrouted_calls_to_sandbox = false).await
}

#[track_caller]
fn expect(r: &Resp, status: StatusCode, needle: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert!(r.body["data"].is_null(), "{}", r.body);
    assert!(r.error().contains(needle), "{needle:?} not in {}", r.body);
}

async fn trunk(c: &Client, body: Value) -> Value {
    c.post("/sip_trunk", body).await.ok().clone()
}

async fn a_trunk(c: &Client) -> Value {
    trunk(c, json!({"name": "Main", "host": "sip.carrier.example"})).await
}

async fn number(c: &Client, body: Value) -> Value {
    c.post("/phone_number", body).await.ok().clone()
}

async fn trunks_are_created_read_listed_updated_and_deleted(db: Db) {
    let ts = server(db).await;
    let c = ts.team().await;
    let t = trunk(
        &c,
        json!({"name": " Main ", "host": "SIP.Carrier.example", "username": "acme", "password": PASSWORD,
               "inbound_addresses": ["203.0.113.0/24", "192.0.2.7"], "max_concurrent_calls": 30}),
    )
    .await;
    assert_eq!(t["name"], "Main");
    assert_eq!(t["host"], "sip.carrier.example");
    assert_eq!(t["port"], 5060);
    assert_eq!(t["transport"], "udp");
    assert_eq!(t["username"], "acme");
    assert_eq!(t["has_password"], true);
    assert!(t.get("password").is_none(), "{t}");
    assert_eq!(t["inbound_addresses"], json!(["203.0.113.0/24", "192.0.2.7/32"]));
    assert_eq!(t["max_concurrent_calls"], 30);
    assert_eq!(t["version"], 1);
    assert!(t["created"].is_string() && t["from_domain"].is_null());
    let id = t["id"].as_str().unwrap();
    assert_eq!(c.get(&format!("/sip_trunk/{id}")).await.ok(), &t);

    // Partial update: absent fields (the password included) are kept.
    let u = c
        .post(
            &format!("/sip_trunk/{id}/update"),
            json!({"port": 5061, "transport": "tls", "from_domain": "carrier.example"}),
        )
        .await
        .ok()
        .clone();
    assert_eq!((u["port"].as_i64(), u["transport"].as_str()), (Some(5061), Some("tls")));
    assert_eq!(u["from_domain"], "carrier.example");
    assert_eq!(u["has_password"], true);
    assert_eq!(u["username"], "acme");
    assert_eq!(u["version"], 2);
    // `""` clears the optional fields and the password; 0 clears the call limit.
    let u = c
        .post(
            &format!("/sip_trunk/{id}/update"),
            json!({"password": "", "username": "", "inbound_addresses": [], "max_concurrent_calls": 0}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(u["has_password"], false);
    assert!(u["username"].is_null() && u["max_concurrent_calls"].is_null(), "{u}");
    assert_eq!(u["inbound_addresses"], json!([]));

    // Lists: `{sip_trunks, count}` with page and limit.
    for i in 0..3 {
        trunk(&c, json!({"name": format!("T{i}"), "host": "192.0.2.10"})).await;
    }
    let page = c.get("/sip_trunk?page=1&limit=3").await.ok().clone();
    assert_eq!(page["count"], 4);
    assert_eq!(page["sip_trunks"].as_array().unwrap().len(), 1);
    assert_eq!(page["sip_trunks"][0]["name"], "T2");
    let all = c.get("/sip_trunk").await.ok().clone();
    assert_eq!(all["sip_trunks"][0]["id"], id);
    expect(&c.get("/sip_trunk?limit=500").await, StatusCode::BAD_REQUEST, "limit");

    c.delete(&format!("/sip_trunk/{id}"), None).await.ok();
    expect(
        &c.get(&format!("/sip_trunk/{id}")).await,
        StatusCode::NOT_FOUND,
        "SIP trunk not found",
    );
    expect(
        &c.delete(&format!("/sip_trunk/{id}"), None).await,
        StatusCode::NOT_FOUND,
        "SIP trunk not found",
    );
    expect(
        &c.get("/sip_trunk/not-a-uuid").await,
        StatusCode::NOT_FOUND,
        "SIP trunk not found",
    );
    assert_eq!(c.get("/sip_trunk").await.ok()["count"], 3);
}

async fn trunk_fields_are_validated_by_name(db: Db) {
    let ts = server(db).await;
    let c = ts.team().await;
    let bad = |body: Value, field: &'static str| {
        let c = c.clone();
        async move {
            let r = c.post("/sip_trunk", body.clone()).await;
            expect(&r, StatusCode::BAD_REQUEST, field);
            assert!(r.error().starts_with(field), "{field}: {}", r.body);
        }
    };
    let host = "sip.carrier.example";
    bad(json!({"host": host}), "name").await;
    bad(json!({"name": "  ", "host": host}), "name").await;
    bad(json!({"name": "x".repeat(101), "host": host}), "name").await;
    bad(json!({"name": "Main"}), "host").await;
    bad(json!({"name": "Main", "host": "sip.example.com\r\nVia: evil"}), "host").await;
    bad(json!({"name": "Main", "host": "bad host"}), "host").await;
    bad(json!({"name": "Main", "host": host, "port": 0}), "port").await;
    bad(json!({"name": "Main", "host": host, "port": 70000}), "port").await;
    bad(json!({"name": "Main", "host": host, "transport": "sctp"}), "transport").await;
    bad(json!({"name": "Main", "host": host, "username": "a@b"}), "username").await;
    bad(json!({"name": "Main", "host": host, "password": ""}), "password").await;
    bad(
        json!({"name": "Main", "host": host, "password": "x".repeat(257)}),
        "password",
    )
    .await;
    bad(
        json!({"name": "Main", "host": host, "from_domain": "no spaces.example"}),
        "from_domain",
    )
    .await;
    bad(
        json!({"name": "Main", "host": host, "inbound_addresses": ["10.0.0.0/8", "10.0.0.0/33"]}),
        "inbound_addresses[1]",
    )
    .await;
    bad(
        json!({"name": "Main", "host": host, "inbound_addresses": vec!["192.0.2.1"; 101]}),
        "inbound_addresses",
    )
    .await;
    bad(
        json!({"name": "Main", "host": host, "max_concurrent_calls": 10001}),
        "max_concurrent_calls",
    )
    .await;
    bad(
        json!({"name": "Main", "host": host, "max_concurrent_calls": -1}),
        "max_concurrent_calls",
    )
    .await;
    let r = c
        .post("/sip_trunk", json!({"name": "Main", "host": host, "colour": "red"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // A password is never echoed, even in an error.
    let r = c
        .post(
            "/sip_trunk",
            json!({"name": "Main", "host": host, "password": format!("{PASSWORD}\n")}),
        )
        .await;
    expect(&r, StatusCode::BAD_REQUEST, "password");
    assert!(!r.body.to_string().contains(PASSWORD), "{}", r.body);
    assert_eq!(c.get("/sip_trunk").await.ok()["count"], 0);
}

async fn numbers_are_validated_unique_and_tied_to_their_trunk(db: Db) {
    let ts = server(db).await;
    let c = ts.team().await;
    let other = ts.team().await;
    let t = a_trunk(&c).await;
    let agent = c.agent().await;
    let n = number(
        &c,
        json!({"phone_number": "(415) 555-1123", "network": "sip", "sip_trunk_id": t["id"],
               "inbound_interview_id": agent["id"], "label": "Support"}),
    )
    .await;
    assert_eq!(n["phone_number"], "+14155551123");
    assert_eq!(n["network"], "sip");
    assert_eq!(n["sip_trunk_id"], t["id"]);
    assert_eq!(n["inbound_interview_id"], agent["id"]);
    assert_eq!(n["label"], "Support");
    assert_eq!(n["default_outbound"], false);
    assert!(n["twilio"].is_null());
    let id = n["id"].as_str().unwrap();
    assert_eq!(c.get(&format!("/phone_number/{id}")).await.ok(), &n);
    let tw = number(
        &c,
        json!({"phone_number": "+442079460958", "network": "twilio", "twilio": {"account_sid": SID, "auth_token": TOKEN}}),
    )
    .await;
    assert_eq!(tw["twilio"], json!({"account_sid": SID}));
    let sb = number(&c, json!({"phone_number": "+12025550123", "network": "sandbox"})).await;
    assert_eq!(sb["network"], "sandbox");
    let list = c.get("/phone_number?limit=2").await.ok().clone();
    assert_eq!(list["count"], 3);
    assert_eq!(list["phone_numbers"].as_array().unwrap().len(), 2);
    assert_eq!(list["phone_numbers"][0]["id"], id);

    // Validation: each 400 names its field.
    let trunk_id = t["id"].as_str().unwrap();
    for (body, field) in [
        (json!({"network": "sip", "sip_trunk_id": trunk_id}), "phone_number"),
        (
            json!({"phone_number": "+44 20 7946 095", "network": "sip", "sip_trunk_id": trunk_id}),
            "phone_number",
        ),
        (json!({"phone_number": "+14155551124"}), "network"),
        (json!({"phone_number": "+14155551124", "network": "pots"}), "network"),
        (
            json!({"phone_number": "+14155551124", "network": "sip"}),
            "sip_trunk_id",
        ),
        (
            json!({"phone_number": "+14155551124", "network": "sip", "sip_trunk_id": "nope"}),
            "sip_trunk_id",
        ),
        (
            json!({"phone_number": "+14155551124", "network": "sip", "sip_trunk_id": uuid::Uuid::new_v4()}),
            "sip_trunk_id",
        ),
        (
            json!({"phone_number": "+14155551124", "network": "twilio", "sip_trunk_id": trunk_id,
                "twilio": {"account_sid": SID, "auth_token": TOKEN}}),
            "sip_trunk_id",
        ),
        (json!({"phone_number": "+14155551124", "network": "twilio"}), "twilio"),
        (
            json!({"phone_number": "+14155551124", "network": "twilio", "twilio": {"account_sid": "AC12", "auth_token": TOKEN}}),
            "twilio.account_sid",
        ),
        (
            json!({"phone_number": "+14155551124", "network": "twilio", "twilio": {"account_sid": SID}}),
            "twilio.auth_token",
        ),
        (
            json!({"phone_number": "+14155551124", "network": "sip", "sip_trunk_id": trunk_id,
                "twilio": {"account_sid": SID, "auth_token": TOKEN}}),
            "twilio",
        ),
        (
            json!({"phone_number": "+14155551124", "network": "sandbox"}),
            "phone_number",
        ),
        (
            json!({"phone_number": "+12025550124", "network": "sip", "sip_trunk_id": trunk_id}),
            "phone_number",
        ),
        (
            json!({"phone_number": "+12025550124", "network": "sandbox", "inbound_interview_id": agent["id"]}),
            "inbound_interview_id",
        ),
        (
            json!({"phone_number": "+14155551124", "network": "sip", "sip_trunk_id": trunk_id, "inbound_interview_id": "Zz99Zz99"}),
            "inbound_interview_id",
        ),
        (
            json!({"phone_number": "+14155551124", "network": "sip", "sip_trunk_id": trunk_id, "label": "x".repeat(101)}),
            "label",
        ),
    ] {
        let r = c.post("/phone_number", body.clone()).await;
        expect(&r, StatusCode::BAD_REQUEST, field);
        assert!(!r.body.to_string().contains(TOKEN), "{}", r.body);
    }
    // A number on the team's sandbox list may be a sandbox phone number too.
    c.post(
        "/sandbox/numbers",
        json!({"phone_number": "+14155551188", "persona_id": "builtin-00"}),
    )
    .await
    .ok();
    number(&c, json!({"phone_number": "+14155551188", "network": "sandbox"})).await;

    // Unique across the server: the same 409 for this team and another, naming the number only.
    let dup = json!({"phone_number": "+1 415 555 1123", "network": "sip", "sip_trunk_id": trunk_id});
    let r = c.post("/phone_number", dup).await;
    expect(&r, StatusCode::CONFLICT, "+14155551123 is already registered");
    let ot = a_trunk(&other).await;
    let r2 = other
        .post(
            "/phone_number",
            json!({"phone_number": "+14155551123", "network": "sip", "sip_trunk_id": ot["id"]}),
        )
        .await;
    expect(&r2, StatusCode::CONFLICT, "+14155551123 is already registered");
    assert_eq!(r.body, r2.body);
    assert!(!r2.body.to_string().contains(&c.team_id));
    // Updating a number to a taken one is the same conflict; to itself is fine.
    let r = c
        .post(
            &format!("/phone_number/{}/update", tw["id"].as_str().unwrap()),
            json!({"phone_number": "+14155551123"}),
        )
        .await;
    expect(&r, StatusCode::CONFLICT, "+14155551123 is already registered");
    let same = c
        .post(
            &format!("/phone_number/{id}/update"),
            json!({"phone_number": "+14155551123", "label": ""}),
        )
        .await
        .ok()
        .clone();
    assert!(same["label"].is_null() && same["version"] == 2, "{same}");

    // Updates: a network change drops what the old network needed; the twilio token is kept.
    let moved = c
        .post(
            &format!("/phone_number/{}/update", tw["id"].as_str().unwrap()),
            json!({"network": "sip", "sip_trunk_id": trunk_id}),
        )
        .await
        .ok()
        .clone();
    assert!(moved["twilio"].is_null() && moved["sip_trunk_id"] == t["id"], "{moved}");
    let back = c
        .post(
            &format!("/phone_number/{}/update", tw["id"].as_str().unwrap()),
            json!({"network": "twilio", "twilio": {"account_sid": SID}}),
        )
        .await;
    expect(&back, StatusCode::BAD_REQUEST, "twilio.auth_token");

    // A trunk in use cannot be deleted; the 409 names its numbers.
    let r = c.delete(&format!("/sip_trunk/{trunk_id}"), None).await;
    expect(&r, StatusCode::CONFLICT, "+14155551123");
    assert!(r.error().contains("+442079460958"), "{}", r.body);
    c.delete(&format!("/phone_number/{id}"), None).await.ok();
    c.delete(&format!("/phone_number/{}", tw["id"].as_str().unwrap()), None)
        .await
        .ok();
    expect(
        &c.get(&format!("/phone_number/{id}")).await,
        StatusCode::NOT_FOUND,
        "Phone number not found",
    );
    c.delete(&format!("/sip_trunk/{trunk_id}"), None).await.ok();
    // A freed number can be registered again, by anyone.
    number(
        &other,
        json!({"phone_number": "+14155551123", "network": "sip", "sip_trunk_id": ot["id"]}),
    )
    .await;
}

async fn one_default_outbound_number_per_team(db: Db) {
    let ts = server(db).await;
    let c = ts.team().await;
    let other = ts.team().await;
    let t = a_trunk(&c).await;
    let sip = |e164: &str, default: bool| json!({"phone_number": e164, "network": "sip", "sip_trunk_id": t["id"], "default_outbound": default});
    let a = number(&c, sip("+14155551101", true)).await;
    let b = number(&c, sip("+14155551102", false)).await;
    let ot = a_trunk(&other).await;
    let o = number(
        &other,
        json!({"phone_number": "+14155551103", "network": "sip", "sip_trunk_id": ot["id"], "default_outbound": true}),
    )
    .await;
    let defaults = |c: Client| async move {
        let list = c.get("/phone_number").await.ok().clone();
        list["phone_numbers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["default_outbound"] == true)
            .map(|n| n["phone_number"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(defaults(c.clone()).await, ["+14155551101"]);
    // Setting it on another number clears it on the first, in the same team only.
    let b2 = c
        .post(
            &format!("/phone_number/{}/update", b["id"].as_str().unwrap()),
            json!({"default_outbound": true}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(b2["default_outbound"], true);
    assert_eq!(defaults(c.clone()).await, ["+14155551102"]);
    let a2 = c
        .get(&format!("/phone_number/{}", a["id"].as_str().unwrap()))
        .await
        .ok()
        .clone();
    assert_eq!(a2["default_outbound"], false);
    assert_eq!(defaults(other.clone()).await, ["+14155551103"]);
    // A new default number takes it too.
    number(&c, sip("+14155551104", true)).await;
    assert_eq!(defaults(c.clone()).await, ["+14155551104"]);
    // The worker side follows: the default, or the named number if it is the team's.
    let store = ts.store();
    let d = store.outbound_number(&c.team_id, None).await.unwrap().unwrap();
    assert_eq!(d.phone_number, "+14155551104");
    let named = store
        .outbound_number(&c.team_id, Some("+14155551101"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(named.phone_number, "+14155551101");
    let foreign = store
        .outbound_number(&c.team_id, Some("+14155551103"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        foreign.phone_number, "+14155551104",
        "another team's number is never used"
    );
    assert_eq!(o["default_outbound"], true);
    let (team, n) = store.number_by_e164("+14155551103").await.unwrap().unwrap();
    assert_eq!(
        (team.as_str(), n.id.to_string()),
        (other.team_id.as_str(), o["id"].as_str().unwrap().to_string())
    );
    assert!(store.number_by_e164("+14155551199").await.unwrap().is_none());
    let empty = ts.team().await;
    assert!(store.outbound_number(&empty.team_id, None).await.unwrap().is_none());
}

async fn teams_never_see_or_use_each_others_numbers_and_trunks(db: Db) {
    let ts = server(db).await;
    let a = ts.team().await;
    let b = ts.team().await;
    let t = a_trunk(&a).await;
    let n = number(
        &a,
        json!({"phone_number": "+14155551123", "network": "sip", "sip_trunk_id": t["id"], "default_outbound": true}),
    )
    .await;
    let (tid, nid) = (t["id"].as_str().unwrap(), n["id"].as_str().unwrap());
    expect(
        &b.get(&format!("/sip_trunk/{tid}")).await,
        StatusCode::NOT_FOUND,
        "SIP trunk not found",
    );
    expect(
        &b.get(&format!("/phone_number/{nid}")).await,
        StatusCode::NOT_FOUND,
        "Phone number not found",
    );
    expect(
        &b.post(&format!("/sip_trunk/{tid}/update"), json!({"name": "Mine"}))
            .await,
        StatusCode::NOT_FOUND,
        "SIP trunk not found",
    );
    expect(
        &b.post(&format!("/phone_number/{nid}/update"), json!({"label": "Mine"}))
            .await,
        StatusCode::NOT_FOUND,
        "Phone number not found",
    );
    expect(
        &b.delete(&format!("/sip_trunk/{tid}"), None).await,
        StatusCode::NOT_FOUND,
        "SIP trunk not found",
    );
    expect(
        &b.delete(&format!("/phone_number/{nid}"), None).await,
        StatusCode::NOT_FOUND,
        "Phone number not found",
    );
    assert_eq!(b.get("/sip_trunk").await.ok(), &json!({"sip_trunks": [], "count": 0}));
    assert_eq!(
        b.get("/phone_number").await.ok(),
        &json!({"phone_numbers": [], "count": 0})
    );
    // A's trunk is unknown to B: the same 400 as a trunk that does not exist.
    let r = b
        .post(
            "/phone_number",
            json!({"phone_number": "+14155551124", "network": "sip", "sip_trunk_id": tid}),
        )
        .await;
    expect(&r, StatusCode::BAD_REQUEST, "sip_trunk_id: SIP trunk not found");
    // A's agent cannot answer B's number.
    let agent_a = a.agent().await;
    let bt = a_trunk(&b).await;
    let r = b
        .post(
            "/phone_number",
            json!({"phone_number": "+14155551124", "network": "sip", "sip_trunk_id": bt["id"], "inbound_interview_id": agent_a["id"]}),
        )
        .await;
    expect(&r, StatusCode::BAD_REQUEST, "inbound_interview_id");
    // B cannot call from A's number.
    let agent_b = b.agent().await;
    let contact = b.contact("+12125550100").await;
    let r = b
        .post(
            "/contact/call",
            json!({"contact_id": contact["id"], "interview_id": agent_b["id"], "from_number": "+14155551123"}),
        )
        .await;
    expect(
        &r,
        StatusCode::BAD_REQUEST,
        "from_number: +14155551123 is not one of this team's phone numbers",
    );
    // A is unchanged.
    assert_eq!(a.get(&format!("/phone_number/{nid}")).await.ok(), &n);
    assert_eq!(a.get(&format!("/sip_trunk/{tid}")).await.ok()["version"], 1);
}

/// A secret column's value as stored.
async fn raw(store: &Store, table: &str, column: &str, id: &str) -> String {
    sqlx::query_scalar::<_, String>(&format!("SELECT {column} FROM {table} WHERE id = $1"))
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn secrets_are_write_only_and_sealed_at_rest(db: Db) {
    let ts = server(db).await;
    let c = ts.team().await;
    let mut seen = String::new();
    let t = c
        .post(
            "/sip_trunk",
            json!({"name": "Main", "host": "sip.carrier.example", "username": "acme", "password": PASSWORD}),
        )
        .await;
    seen += &t.body.to_string();
    let tid = t.ok()["id"].as_str().unwrap().to_string();
    let n = c
        .post(
            "/phone_number",
            json!({"phone_number": "+14155551123", "network": "twilio", "twilio": {"account_sid": SID, "auth_token": TOKEN}}),
        )
        .await;
    seen += &n.body.to_string();
    let nid = n.ok()["id"].as_str().unwrap().to_string();
    for path in [
        format!("/sip_trunk/{tid}"),
        "/sip_trunk".into(),
        format!("/phone_number/{nid}"),
        "/phone_number".into(),
    ] {
        seen += &c.get(&path).await.ok().to_string();
    }
    seen += &c
        .post(&format!("/sip_trunk/{tid}/update"), json!({"name": "Renamed"}))
        .await
        .ok()
        .to_string();
    seen += &c
        .post(&format!("/phone_number/{nid}/update"), json!({"label": "Line"}))
        .await
        .ok()
        .to_string();
    for secret in [PASSWORD, TOKEN] {
        assert!(!seen.contains(secret), "{secret} in an answer: {seen}");
    }
    assert!(!seen.contains("auth_token") && !seen.contains("\"password\""), "{seen}");

    // At rest: sealed, bound to the row, never the plaintext.
    let store = ts.store();
    let sealed_pw = raw(store, "sip_trunks", "password", &tid).await;
    let sealed_tok = raw(store, "phone_numbers", "twilio_auth_token", &nid).await;
    for (sealed, plain) in [(&sealed_pw, PASSWORD), (&sealed_tok, TOKEN)] {
        assert!(sealed.starts_with("enc:v1:"), "not sealed: {sealed}");
        assert!(!sealed.contains(plain));
    }
    // The worker side opens them.
    let w = store.sip_trunk_for_worker(&tid).await.unwrap();
    assert_eq!(w.password.as_deref(), Some(PASSWORD));
    assert_eq!(w.name, "Renamed");
    let all = store.all_sip_trunks().await.unwrap();
    assert!(all
        .iter()
        .any(|(team, t)| team == &c.team_id && t.id.to_string() == tid && t.password.as_deref() == Some(PASSWORD)));
    let (team, num) = store.number_by_e164("+14155551123").await.unwrap().unwrap();
    assert_eq!(team, c.team_id);
    assert_eq!(num.twilio.as_ref().unwrap().auth_token, TOKEN);
    assert_eq!(num.label.as_deref(), Some("Line"));
    let out = store
        .outbound_number(&c.team_id, Some("+14155551123"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.twilio.unwrap().auth_token, TOKEN);
    // An update with a new secret reseals; the team side never opens it.
    c.post(
        &format!("/sip_trunk/{tid}/update"),
        json!({"password": "second-pass-0000"}),
    )
    .await
    .ok();
    let resealed = raw(store, "sip_trunks", "password", &tid).await;
    assert_ne!(resealed, sealed_pw);
    assert_eq!(
        store.sip_trunk_for_worker(&tid).await.unwrap().password.as_deref(),
        Some("second-pass-0000")
    );
    assert!(store.sip_trunk(&c.team_id, w.id).await.unwrap().password.is_none());
    // A value moved to another row does not open there.
    let t2 = a_trunk(&c).await;
    let t2id = t2["id"].as_str().unwrap();
    sqlx::query("UPDATE sip_trunks SET password = $1 WHERE id = $2")
        .bind(&resealed)
        .bind(t2id)
        .execute(store.pool())
        .await
        .unwrap();
    assert!(store.sip_trunk_for_worker(t2id).await.is_err());

    // The OpenAPI document describes the routes, and no answer schema has a secret.
    let doc: Value = reqwest::get(format!("{}/openapi.json", ts.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/sip_trunk",
        "/sip_trunk/{id}",
        "/sip_trunk/{id}/update",
        "/phone_number",
        "/phone_number/{id}",
        "/phone_number/{id}/update",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["SipTrunk"]["properties"]["has_password"].is_object());
    assert!(schemas["SipTrunk"]["properties"]["password"].is_null());
    assert!(schemas["TwilioAccount"]["properties"]["auth_token"].is_null());
    assert!(schemas["Call"]["properties"]["from_number"].is_object());
    assert!(schemas["Call"]["properties"]["network"].is_object());
}

async fn calls_carry_from_number_and_network(db: Db) {
    let ts = server(db).await;
    let c = ts.team().await;
    let agent = c.agent().await;
    let call = |contact: Value, from: Option<&str>| {
        let c = c.clone();
        let agent = agent["id"].clone();
        let from = from.map(str::to_string);
        async move {
            let mut body = json!({"contact_id": contact["id"], "interview_id": agent});
            if let Some(f) = from {
                body["from_number"] = json!(f);
            }
            c.post("/contact/call", body).await
        }
    };
    let sandbox_dest = c.contact("+12125550105").await;
    let real_dest = c.contact("+14155550999").await;

    // No number at all: sandbox destinations still ring the sandbox network; real ones are refused.
    let r = call(sandbox_dest.clone(), None).await;
    let q = r.ok();
    assert_eq!(
        (q["network"].as_str(), q["from_number"].is_null()),
        (Some("sandbox"), true),
        "{q}"
    );
    let r = call(real_dest.clone(), None).await;
    expect(
        &r,
        StatusCode::BAD_REQUEST,
        "this team has no phone number on a real network; add one with POST /phone_number",
    );
    assert_eq!(r.body["code"], "no_phone_number");
    // A number on the team's sandbox list is a sandbox destination too.
    c.post(
        "/sandbox/numbers",
        json!({"phone_number": "+14155550998", "persona_id": "builtin-05"}),
    )
    .await
    .ok();
    let listed = c.contact("+14155550998").await;
    assert_eq!(call(listed, None).await.ok()["network"], "sandbox");
    // A sandbox number is no way to reach real phones.
    number(
        &c,
        json!({"phone_number": "+12025550140", "network": "sandbox", "default_outbound": true}),
    )
    .await;
    expect(
        &call(real_dest.clone(), None).await,
        StatusCode::BAD_REQUEST,
        "no phone number on a real network",
    );
    expect(
        &call(real_dest.clone(), Some("+12025550140")).await,
        StatusCode::BAD_REQUEST,
        "from_number: +12025550140 is on the sandbox network",
    );
    let q = call(sandbox_dest.clone(), None).await.ok().clone();
    assert_eq!(
        (q["network"].as_str(), q["from_number"].as_str()),
        (Some("sandbox"), Some("+12025550140"))
    );

    // A real number that is not the default: the request must name it.
    let t = a_trunk(&c).await;
    let sip = number(
        &c,
        json!({"phone_number": "+14155551123", "network": "sip", "sip_trunk_id": t["id"]}),
    )
    .await;
    let r = call(real_dest.clone(), None).await;
    expect(&r, StatusCode::BAD_REQUEST, "from_number");
    assert_eq!(r.body["code"], "no_default_outbound");
    let q = call(real_dest.clone(), Some("(415) 555-1123")).await.ok().clone();
    assert_eq!(
        (q["network"].as_str(), q["from_number"].as_str()),
        (Some("sip"), Some("+14155551123"))
    );
    let id = q["id"].as_str().unwrap();
    let read = c.get(&format!("/interview_response/{id}")).await.ok().clone();
    assert_eq!(
        (read["network"].as_str(), read["from_number"].as_str()),
        (Some("sip"), Some("+14155551123"))
    );
    // The call row has them as columns too (for the call runner).
    let (from, network): (Option<String>, String) =
        sqlx::query_as("SELECT from_number, network FROM calls WHERE id = $1")
            .bind(id)
            .fetch_one(ts.store().pool())
            .await
            .unwrap();
    assert_eq!((from.as_deref(), network.as_str()), (Some("+14155551123"), "sip"));

    // With a real default number, it is the caller id; a sandbox destination stays on the sandbox.
    c.post(
        &format!("/phone_number/{}/update", sip["id"].as_str().unwrap()),
        json!({"default_outbound": true}),
    )
    .await
    .ok();
    let q = call(real_dest.clone(), None).await.ok().clone();
    assert_eq!(
        (q["network"].as_str(), q["from_number"].as_str()),
        (Some("sip"), Some("+14155551123"))
    );
    let q = call(sandbox_dest.clone(), None).await.ok().clone();
    assert_eq!(
        (q["network"].as_str(), q["from_number"].as_str()),
        (Some("sandbox"), Some("+14155551123"))
    );
    // A twilio number named explicitly.
    number(
        &c,
        json!({"phone_number": "+442079460958", "network": "twilio", "twilio": {"account_sid": SID, "auth_token": TOKEN}}),
    )
    .await;
    let q = call(real_dest.clone(), Some("+442079460958")).await.ok().clone();
    assert_eq!(
        (q["network"].as_str(), q["from_number"].as_str()),
        (Some("twilio"), Some("+442079460958"))
    );
    // Not a number of the team, or not a number at all.
    expect(
        &call(real_dest.clone(), Some("+14155551100")).await,
        StatusCode::BAD_REQUEST,
        "from_number",
    );
    expect(
        &call(real_dest.clone(), Some("call me")).await,
        StatusCode::BAD_REQUEST,
        "from_number",
    );
}

async fn a_campaign_to_real_numbers_needs_a_real_number(db: Db) {
    let ts = server(db).await;
    let c = ts.team().await;
    let agent = c.agent().await;
    let job = |numbers: Value, from: Option<&str>| {
        let mut body = json!({"interview_id": agent["id"], "phone_numbers": numbers});
        if let Some(f) = from {
            body["from_number"] = json!(f);
        }
        body
    };
    // Sandbox numbers only: fine without any number.
    let r = c
        .post(
            "/job/create_job_by_contacts",
            job(json!(["+12125550100", "+12125550101"]), None),
        )
        .await;
    assert_eq!(r.ok()["count"], 2);
    // One real number refuses the whole job, before any contact is written.
    let r = c
        .post(
            "/job/create_job_by_contacts",
            job(json!(["+12125550102", "+14155550999"]), None),
        )
        .await;
    expect(
        &r,
        StatusCode::BAD_REQUEST,
        "this team has no phone number on a real network",
    );
    assert!(r.error().contains("+14155550999"), "{}", r.body);
    let contacts = c.get("/contact?search=4155550999").await.ok().clone();
    assert_eq!(contacts["total_count"], 0, "{contacts}");
    // With a real number named, every call carries it; sandbox destinations stay sandbox.
    let t = a_trunk(&c).await;
    number(
        &c,
        json!({"phone_number": "+14155551123", "network": "sip", "sip_trunk_id": t["id"]}),
    )
    .await;
    let r = c
        .post(
            "/job/create_job_by_contacts",
            job(json!(["+12125550102", "+14155550999"]), Some("+14155551123")),
        )
        .await;
    let ids: Vec<String> = r.ok()["call_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    let mut seen = vec![];
    for id in ids {
        let call = c.get(&format!("/interview_response/{id}")).await.ok().clone();
        seen.push((
            call["phone_number"].as_str().unwrap().to_string(),
            call["network"].as_str().unwrap().to_string(),
            call["from_number"].as_str().unwrap().to_string(),
        ));
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                "+12125550102".to_string(),
                "sandbox".to_string(),
                "+14155551123".to_string()
            ),
            ("+14155550999".into(), "sip".into(), "+14155551123".into()),
        ]
    );
    let r = c
        .post(
            "/job/create_job_by_contacts",
            job(json!(["+14155550999"]), Some("+14155551100")),
        )
        .await;
    expect(&r, StatusCode::BAD_REQUEST, "from_number");
}

async fn the_cli_adds_and_lists_trunks_and_numbers(db: Db) {
    use std::io::Write;
    use std::process::Stdio;
    let d = Deployment::new(db).await;
    let team = d.team();
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = d
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
        drop(input);
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, out, err) = run(
        &[
            "trunk",
            "add",
            "--team",
            &team.team_id,
            "--name",
            "Carrier",
            "--host",
            "sip.carrier.example",
            "--transport",
            "tcp",
            "--username",
            "acme",
            "--password-stdin",
            "--inbound",
            "203.0.113.0/24",
            "--inbound",
            "192.0.2.7",
            "--max-concurrent-calls",
            "20",
            "--json",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(ok, "{err}");
    assert!(!out.contains(PASSWORD) && !err.contains(PASSWORD));
    let t: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(t["transport"], "tcp");
    assert_eq!(t["has_password"], true);
    assert_eq!(t["inbound_addresses"], json!(["203.0.113.0/24", "192.0.2.7/32"]));
    let tid = t["id"].as_str().unwrap().to_string();

    // The API's checks, with the field named.
    let (ok, _, err) = run(
        &[
            "trunk",
            "add",
            "--team",
            &team.team_id,
            "--name",
            "Bad",
            "--host",
            "sip.example",
            "--inbound",
            "10.0.0.0/40",
        ],
        None,
    );
    assert!(!ok && err.contains("inbound_addresses[0]"), "{err}");
    let (ok, _, err) = run(&["trunk", "list", "--team", "no-such-team"], None);
    assert!(!ok && err.contains("no such team"), "{err}");

    let (ok, out, err) = run(
        &[
            "number",
            "add",
            "--team",
            &team.team_id,
            "--number",
            "+1 415 555 1123",
            "--network",
            "sip",
            "--trunk",
            &tid,
            "--label",
            "Main line",
            "--default-outbound",
            "--json",
        ],
        None,
    );
    assert!(ok, "{err}");
    let n: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (n["phone_number"].as_str(), n["default_outbound"].as_bool()),
        (Some("+14155551123"), Some(true))
    );
    let (ok, out, err) = run(
        &[
            "number",
            "add",
            "--team",
            &team.team_id,
            "--number",
            "+442079460958",
            "--network",
            "twilio",
            "--twilio-account-sid",
            SID,
            "--twilio-auth-token-stdin",
        ],
        Some(TOKEN),
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("+442079460958") && out.contains(SID) && !out.contains(TOKEN),
        "{out}"
    );
    let (ok, _, err) = run(
        &[
            "number",
            "add",
            "--team",
            &team.team_id,
            "--number",
            "+14155551123",
            "--network",
            "sip",
            "--trunk",
            &tid,
        ],
        None,
    );
    assert!(!ok && err.contains("+14155551123 is already registered"), "{err}");
    let (ok, _, err) = run(
        &[
            "number",
            "add",
            "--team",
            &team.team_id,
            "--number",
            "+14155551124",
            "--network",
            "sip",
        ],
        None,
    );
    assert!(!ok && err.contains("sip_trunk_id"), "{err}");

    let (ok, out, err) = run(&["number", "list", "--team", &team.team_id, "--json"], None);
    assert!(ok, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list["count"], 2);
    assert!(!out.contains(TOKEN));
    let (ok, out, _) = run(&["number", "list", "--team", &team.team_id], None);
    assert!(
        ok && out.lines().count() == 2 && out.contains("default outbound"),
        "{out}"
    );
    let (ok, out, _) = run(&["trunk", "list", "--team", &team.team_id, "--json"], None);
    assert!(ok);
    let trunks: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(trunks["count"], 1);
    assert_eq!(trunks["sip_trunks"][0]["id"], tid.as_str());

    // Sealed at rest, and the API (through a server on the same database) shows the same rows.
    let store = settings(&d.db_url, &d.dir.0.join("data")).open_store().await.unwrap();
    let sealed = raw(&store, "sip_trunks", "password", &tid).await;
    assert!(sealed.starts_with("enc:v1:") && !sealed.contains(PASSWORD), "{sealed}");
    assert_eq!(
        store.sip_trunk_for_worker(&tid).await.unwrap().password.as_deref(),
        Some(PASSWORD)
    );
    let (_, tw) = store.number_by_e164("+442079460958").await.unwrap().unwrap();
    assert_eq!(tw.twilio.unwrap().auth_token, TOKEN);
    store.close().await;
}

async fn automation_call_steps_are_routed_like_api_calls(db: Db) {
    let ts = server(db).await;
    let c = ts.team().await;
    let agent = c.agent().await;
    let a = c
        .post(
            "/automation",
            json!({
                "name": "dialer", "mode": "live", "trigger": {"type": "webhook"},
                "calling": {"any_time": true, "retries": 0},
                "steps": [
                    {"slug": "call", "type": "call_phone_number", "interview_id": agent["id"],
                     "phone_number": "{{ trigger.payload.phone }}", "from_number": "{{ trigger.payload.from }}"}
                ]
            }),
        )
        .await
        .ok()
        .clone();
    let id = a["id"].as_str().unwrap();
    // No number on a real network: the step fails with the API's message.
    let r = fire(&c, id, json!({"phone": "+14155550999", "from": ""})).await;
    let run = wait_run(&c, r.data()["run_id"].as_str().unwrap(), 30).await;
    assert_eq!(run["status"], "failed", "{run}");
    let err = step(&run, "call")["error"].as_str().unwrap_or_default().to_string();
    assert!(err.contains("this team has no phone number on a real network"), "{run}");
    // With the team's SIP number named, the call carries it.
    let t = a_trunk(&c).await;
    number(
        &c,
        json!({"phone_number": "+14155551123", "network": "sip", "sip_trunk_id": t["id"]}),
    )
    .await;
    let r = fire(&c, id, json!({"phone": "+14155550999", "from": "+14155551123"})).await;
    let run = wait_run(&c, r.data()["run_id"].as_str().unwrap(), 30).await;
    let call_id = step(&run, "call")["output"]["call_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{run}"))
        .to_string();
    let call = c.get(&format!("/interview_response/{call_id}")).await.ok().clone();
    assert_eq!(
        (call["network"].as_str(), call["from_number"].as_str()),
        (Some("sip"), Some("+14155551123"))
    );
    // Another team's number, or none of the team's, fails the step.
    let r = fire(&c, id, json!({"phone": "+14155550999", "from": "+14155551100"})).await;
    let run = wait_run(&c, r.data()["run_id"].as_str().unwrap(), 30).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        step(&run, "call")["error"]
            .as_str()
            .unwrap_or_default()
            .contains("from_number"),
        "{run}"
    );
}
