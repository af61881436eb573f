//! Contacts through the real HTTP API, on SQLite and PostgreSQL.

use crate::common;
use common::{Db, TestServer};
use reqwest::StatusCode;
use serde_json::json;

on_both_databases!(
    upsert_replaces_fields_and_appends_tags,
    list_filters_sort_and_pages,
    update_tag_and_delete
);

async fn upsert_replaces_fields_and_appends_tags(db: Db) {
    let ts = TestServer::start(db).await;
    let c = ts.team().await;
    let first = c
        .post(
            "/contact/create",
            json!({"phone_number": "020 7946 0958", "country_code": "+44", "name": "Ann", "email": "ann@example.com",
            "tags": ["lead", "uk"], "attributes": {"plan": "gold", "city": "London"}}),
        )
        .await;
    let a = first.ok().clone();
    assert_eq!(a["phone_number"], "+442079460958");
    assert_eq!(a["status"], "ACTIVE");
    assert_eq!(a["lead_source"], "API_UPLOAD");
    assert_eq!(a["team_id"], c.team_id.as_str());
    assert_eq!(a["version"], 1);
    // Same number in international form: the same contact, updated.
    let b = c
        .post("/contact/create", json!({"phone_number": "+44 20 7946 0958", "name": "Ann Lee", "tags": ["uk", "vip"], "attributes": {"plan": "silver"}}))
        .await
        .ok()
        .clone();
    assert_eq!(b["id"], a["id"]);
    assert_eq!(b["name"], "Ann Lee");
    assert_eq!(
        b["email"],
        serde_json::Value::Null,
        "email overwritten (absent -> null)"
    );
    assert_eq!(b["attributes"], json!({"plan": "silver"}), "attributes replaced");
    assert_eq!(b["tags"], json!(["lead", "uk", "vip"]), "new tags appended");
    assert_eq!(b["version"], 2);
    let list = c.get("/contact").await.ok().clone();
    assert_eq!(list["total_count"], 1);
}

async fn list_filters_sort_and_pages(db: Db) {
    let ts = TestServer::start(db).await;
    let c = ts.team().await;
    let people = [
        ("+12015550123", "Carol", "carol@x.io", vec!["lead"]),
        ("+12015550124", "alice", "alice@y.io", vec!["lead", "vip"]),
        ("+12015550125", "Bob", "bob@z.io", vec!["customer"]),
        ("+12015550126", "Dave 50%", "dave@z.io", vec![]),
    ];
    for (n, name, email, tags) in &people {
        c.post(
            "/contact/create",
            json!({"phone_number": n, "name": name, "email": email, "tags": tags}),
        )
        .await
        .ok();
    }
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    let r = c.get("/contact?sort=name_asc").await.ok().clone();
    assert_eq!(names(&r), vec!["alice", "Bob", "Carol", "Dave 50%"]);
    let r = c.get("/contact?sort=name&sortDirection=desc").await.ok().clone();
    assert_eq!(names(&r)[0], "Dave 50%");
    // tags: any of, both spellings.
    let r = c.get("/contact?tags[]=vip&tags[]=customer").await.ok().clone();
    assert_eq!(r["total_count"], 2);
    let r = c.get("/contact?tags=lead").await.ok().clone();
    assert_eq!(r["total_count"], 2);
    let r = c.get("/contact?tags[]=lead&excluded_tags[]=vip").await.ok().clone();
    assert_eq!(names(&r), vec!["Carol"]);
    // search: name (case-insensitive), email, phone; LIKE wildcards are literal.
    assert_eq!(c.get("/contact?search=ALICE").await.ok()["total_count"], 1);
    assert_eq!(c.get("/contact?search=z.io").await.ok()["total_count"], 2);
    assert_eq!(c.get("/contact?search=550125").await.ok()["total_count"], 1);
    assert_eq!(c.get("/contact?search=50%25").await.ok()["total_count"], 1);
    assert_eq!(c.get("/contact?search=_").await.ok()["total_count"], 0);
    // pages from 0, count = this page, total_count = all matches, no overlap.
    let p0 = c.get("/contact?sort=name_asc&limit=3&page=0").await.ok().clone();
    let p1 = c.get("/contact?sort=name_asc&limit=3&page=1").await.ok().clone();
    assert_eq!((p0["count"].as_i64(), p0["total_count"].as_i64()), (Some(3), Some(4)));
    assert_eq!(names(&p1), vec!["Dave 50%"]);
    let r = c.get("/contact?phone_numbers_only=true&limit=1").await.ok().clone();
    let only = r["contacts"][0].as_object().unwrap();
    assert!(only.contains_key("phone_number") && !only.contains_key("name"), "{r}");
}

async fn update_tag_and_delete(db: Db) {
    let ts = TestServer::start(db).await;
    let c = ts.team().await;
    let a = c.contact("+12015550123").await;
    let b = c.contact("+12015550124").await;
    let id = a["id"].as_str().unwrap();
    let r = c
        .post(
            &format!("/contact/{id}/update_info"),
            json!({"phone_number": "(201) 555-0124"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.error().contains("phone_number") && r.error().contains("another contact"),
        "{}",
        r.body
    );
    let r = c
        .post(
            &format!("/contact/{id}/update_info"),
            json!({"phone_number": "2015550199", "name": "Zed", "email": "z@z.io"}),
        )
        .await;
    let u = r.ok();
    assert_eq!(
        (u["phone_number"].as_str(), u["name"].as_str()),
        (Some("+12015550199"), Some("Zed"))
    );
    let r = c
        .post(&format!("/contact/{id}/update_info"), json!({"email": "not-an-email"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().starts_with("email:"), "{}", r.body);
    let t = c
        .post(&format!("/contact/{id}/add_tags"), json!({"tags": ["x", "y", "x"]}))
        .await
        .ok()
        .clone();
    assert_eq!(t["tags"], json!(["x", "y"]));
    let t = c
        .post(&format!("/contact/{id}/remove_tags"), json!({"tags": ["x", "nope"]}))
        .await
        .ok()
        .clone();
    assert_eq!(t["tags"], json!(["y"]));
    assert_eq!(c.get("/contact?tags[]=x").await.ok()["total_count"], 0);
    assert_eq!(c.get("/contact?tags[]=y").await.ok()["total_count"], 1);
    let d = c.delete(&format!("/contact/{id}"), None).await;
    assert_eq!(d.body, json!({"data": null, "error": null}));
    let g = c.get(&format!("/contact/{id}")).await;
    assert_eq!(g.status, StatusCode::NOT_FOUND);
    assert_eq!(g.error(), "Contact not found");
    assert_eq!(
        c.get(&format!("/contact/{}", b["id"].as_str().unwrap())).await.status,
        StatusCode::OK
    );
    assert_eq!(
        c.get("/contact?tags[]=y").await.ok()["total_count"],
        0,
        "tags of a deleted contact are gone"
    );
}

on_both_databases!(concurrent_creates_make_one_contact_per_number);

/// Concurrent creates are group-committed: every request is answered with its contact, and a
/// number sent by several requests at once still makes exactly one contact.
async fn concurrent_creates_make_one_contact_per_number(db: Db) {
    let ts = TestServer::start(db).await;
    let c = ts.team().await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let number = format!("+1415555{:04}", 3000 + i % 20);
            let body = if i % 3 == 0 {
                json!({"phone_number": number, "name": format!("n{i}"), "tags": [format!("t{i}")]})
            } else {
                json!({"phone_number": number, "name": format!("n{i}")})
            };
            let r = c.post("/contact/create", body).await;
            (
                number,
                r.ok()["phone_number"].as_str().unwrap().to_string(),
                r.ok()["id"].as_str().unwrap().to_string(),
            )
        }));
    }
    let mut ids = std::collections::HashMap::new();
    for t in tasks {
        let (sent, got, id) = t.await.unwrap();
        assert_eq!(sent, got);
        let prev = ids.insert(got.clone(), id.clone());
        assert!(prev.is_none_or(|p| p == id), "{got}: two ids");
    }
    let all = c.get("/contact?limit=50").await.ok().clone();
    assert_eq!(all["total_count"], 20);
    // Every tag sent for a number is on its contact.
    for i in (0..60).step_by(3) {
        let r = c.get(&format!("/contact?tags[]=t{i}")).await.ok().clone();
        assert_eq!(r["total_count"], 1, "t{i}");
        assert_eq!(
            r["contacts"][0]["phone_number"],
            format!("+1415555{:04}", 3000 + i % 20)
        );
    }
}
