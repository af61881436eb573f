//! Automations that wait on the calendar, with a controllable clock: (2) appointment webhook ->
//! delay until 24 h before -> reminder call -> tag, and calling hours in the callee's zone.
//!
//! The clock is the process's (`parley_core::time::advance_clock`), so these tests hold one lock
//! and live in their own test binary, apart from `tests/it`: moved days ahead, it would move every
//! other test's clock in the same process (a call's timers, job leases) too.
// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

// This binary uses a few of the shared helpers; the rest are `tests/it`'s.
#[allow(dead_code)]
#[macro_use]
mod common;

use chrono::{TimeZone, Utc};
use common::automation::{fire, qualifying_agent, step, wait_run};
use common::{eventually, Client, Db, TestServer};
use parley_core::time::{clock_offset_ms, set_clock_offset_ms, Timestamp};
use serde_json::{json, Value};

static CLOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Puts the clock back when a test ends, passed or not.
struct ClockReset;
impl Drop for ClockReset {
    fn drop(&mut self) {
        set_clock_offset_ms(0);
    }
}

/// Sets the process clock so that "now" is `at`.
fn set_now(at: chrono::DateTime<Utc>) {
    let real = Timestamp::now().millis() - clock_offset_ms();
    set_clock_offset_ms(at.timestamp_millis() - real);
}

async fn server(db: Db) -> TestServer {
    TestServer::start_with(db, |s| s.rate_limit_per_minute = 1_000_000).await
}

async fn wait_status(c: &Client, run_id: &str, status: &str) -> Value {
    eventually(30, status, || async {
        let run = c.get(&format!("/automation_run/{run_id}")).await.ok().clone();
        (run["status"] == status).then_some(run)
    })
    .await
}

async fn appointment_reminder_24_hours_before(db: Db) {
    let _lock = CLOCK.lock().await;
    let _reset = ClockReset;
    let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
    // "Now" is Monday 2026-12-07 10:00 in New York; the appointment is Wednesday 15:00 there.
    set_now(ny.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap().with_timezone(&Utc));
    let s = server(db).await;
    let c = s.team().await;
    let agent = qualifying_agent(&c).await;
    let a = c
        .post(
            "/automation",
            json!({
                "name": "Appointment reminder", "mode": "live", "time_zone": "Europe/London",
                "trigger": {"type": "webhook"},
                "steps": [
                    {"slug": "patient", "type": "create_contact", "phone_number": "{{ trigger.payload.phone }}",
                     "name": "{{ trigger.payload.name }}", "attributes": {"time_zone": "{{ trigger.payload.tz }}"},
                     "next": "before"},
                    {"slug": "before", "type": "delay_until", "at": "{{ trigger.payload.appointment_at }}",
                     "offset": "-24h", "time_zone": "contact", "next": "remind"},
                    {"slug": "remind", "type": "call_contact", "interview_id": agent["id"],
                     "metadata": {"appointment": "{{ trigger.payload.appointment_at }}"}, "next": "tag"},
                    {"slug": "tag", "type": "add_tag", "tags": ["reminded"]}
                ]
            }),
        )
        .await
        .ok()
        .clone();
    let r = fire(
        &c,
        a["id"].as_str().unwrap(),
        json!({"phone": "+12125550100", "name": "Pat", "tz": "America/New_York", "appointment_at": "2026-12-09 15:00"}),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let run_id = r.data()["run_id"].as_str().unwrap().to_string();
    let run = wait_status(&c, &run_id, "waiting").await;
    // 24 hours before 15:00 New York time (the contact's zone, not the automation's London).
    let due = ny.with_ymd_and_hms(2026, 12, 8, 15, 0, 0).unwrap().with_timezone(&Utc);
    assert_eq!(
        step(&run, "before")["due_at"].as_str().unwrap(),
        Timestamp(due.timestamp_millis()).to_rfc3339()
    );
    // A day passes, nearly: still waiting, nothing called.
    set_now(due - chrono::Duration::seconds(30));
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let run = c.get(&format!("/automation_run/{run_id}")).await.ok().clone();
    assert_eq!(run["status"], "waiting", "{run}");
    assert_eq!(run["steps"].as_array().unwrap().len(), 2);
    // The due time comes: the reminder call is placed at once, then the tag.
    set_now(due + chrono::Duration::seconds(1));
    let run = wait_run(&c, &run_id, 90).await;
    assert_eq!(run["status"], "completed", "{run}");
    let before = step(&run, "before");
    assert!(before["output"]["late_ms"].as_i64().unwrap() < 5_000, "{before}");
    let call = step(&run, "remind");
    assert_eq!(call["output"]["status"], "ENDED", "{call}");
    assert_eq!(call["output"]["outcome"], "interested");
    let placed = c
        .get(&format!(
            "/interview_response/{}",
            call["output"]["call_id"].as_str().unwrap()
        ))
        .await
        .ok()
        .clone();
    assert_eq!(placed["metadata"]["appointment"], "2026-12-09 15:00");
    assert_eq!(step(&run, "tag")["output"]["tags"], json!(["reminded"]));
}

async fn calls_wait_for_the_callees_morning(db: Db) {
    let _lock = CLOCK.lock().await;
    let _reset = ClockReset;
    let tokyo: chrono_tz::Tz = "Asia/Tokyo".parse().unwrap();
    // 23:30 in Tokyo: too late to call there, whatever the automation's own zone says.
    set_now(
        tokyo
            .with_ymd_and_hms(2026, 12, 7, 23, 30, 0)
            .unwrap()
            .with_timezone(&Utc),
    );
    let s = server(db).await;
    let c = s.team().await;
    let agent = qualifying_agent(&c).await;
    let contact = c
        .post(
            "/contact/create",
            json!({"phone_number": "+12125550100", "name": "Ken", "attributes": {"time_zone": "Asia/Tokyo"}}),
        )
        .await
        .ok()
        .clone();
    let a = c
        .post(
            "/automation",
            json!({
                "name": "Morning caller", "mode": "live", "time_zone": "America/Los_Angeles",
                "trigger": {"type": "webhook"},
                "calling": {"start": "09:00", "end": "18:00", "days": ["mon", "tue", "wed", "thu", "fri"]},
                "steps": [
                    {"slug": "call", "type": "call_contact", "interview_id": agent["id"], "contact": "{{ trigger.payload.contact_id }}"}
                ]
            }),
        )
        .await
        .ok()
        .clone();
    let r = fire(&c, a["id"].as_str().unwrap(), json!({"contact_id": contact["id"]})).await;
    let run_id = r.data()["run_id"].as_str().unwrap().to_string();
    let run = wait_status(&c, &run_id, "waiting").await;
    let morning = tokyo
        .with_ymd_and_hms(2026, 12, 8, 9, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(
        run["wake_at"].as_str().unwrap(),
        Timestamp(morning.timestamp_millis()).to_rfc3339()
    );
    assert!(run["waiting_for_call"].is_null(), "no call at night: {run}");
    let calls = c
        .get(&format!("/interview/{}/responses", agent["id"].as_str().unwrap()))
        .await
        .ok()
        .clone();
    assert_eq!(calls["count"], 0, "{calls}");
    // Morning in Tokyo: the call goes out.
    set_now(morning + chrono::Duration::seconds(1));
    let run = wait_run(&c, &run_id, 90).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(step(&run, "call")["output"]["status"], "ENDED");
}

on_both_databases!(appointment_reminder_24_hours_before, calls_wait_for_the_callees_morning);
