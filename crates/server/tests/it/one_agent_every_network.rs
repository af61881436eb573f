//! The same agent over every network: the README's appointment reminder calls a patient who
//! says "No, I can't make it." and then "Thursday at three pm.", once through the sandbox
//! (persona 01 says exactly that), once through a SIP trunk (sipp answers and plays the words
//! as RTP) and once through Twilio (the loopback fake answers and sends them over the media
//! stream). The three calls end with the same outcome and the same variables: the network
//! changes how audio travels, never what the agent understands.

use crate::common;
use common::sipp::{free_port, spoken, uuid_like, Sipp};
use common::{wait_final, Client, Db, TestServer};
use parley_telephony::twilio::fake::{FakeTwilio, Script};
use serde_json::{json, Value};

/// The README's appointment reminder.
async fn appointment_reminder(c: &Client) -> Value {
    c.post(
        "/interview/create",
        json!({"title": "Appointment reminder", "silence_timeout_ms": 15000, "flow": {
            "nodes": [
                {"id": "start", "type": "start", "data": {}},
                {"id": "ask", "type": "question", "data": {"variable": "confirmed", "kind": "yes_no",
                  "question": "Hi {{contact.name}}, this is Parley Dental reminding you of your appointment tomorrow at {{metadata.time}}. Can you still make it?"}},
                {"id": "when", "type": "question", "data": {"variable": "new_time", "kind": "date",
                  "question": "No problem. When would suit you better?"}},
                {"id": "kept", "type": "end", "data": {"outcome": "confirmed", "message": "Great, see you tomorrow. Goodbye!"}},
                {"id": "moved", "type": "end", "data": {"outcome": "reschedule", "message": "Thanks, we will confirm {{variables.new_time}} by text. Goodbye!"}},
                {"id": "unclear", "type": "end", "data": {"outcome": "unclear", "message": "We will call you back. Goodbye!"}}
            ],
            "edges": [
                {"id": "e1", "source": "start", "sourceHandle": "next", "target": "ask"},
                {"id": "e2", "source": "ask", "sourceHandle": "yes", "target": "kept"},
                {"id": "e3", "source": "ask", "sourceHandle": "no", "target": "when"},
                {"id": "e4", "source": "ask", "sourceHandle": "no_match", "target": "unclear"},
                {"id": "e5", "source": "when", "sourceHandle": "next", "target": "moved"},
                {"id": "e6", "source": "when", "sourceHandle": "no_match", "target": "unclear"}
            ]
        }}),
    )
    .await
    .ok()
    .clone()
}

/// Calls `to` (as contact "Sam Lee") with the reminder, from `from` (none: the sandbox).
async fn remind(c: &Client, agent: &Value, to: &str, from: Option<&str>) -> Value {
    let contact = c
        .post("/contact/create", json!({"phone_number": to, "name": "Sam Lee"}))
        .await
        .ok()
        .clone();
    let mut body = json!({"contact_id": contact["id"], "interview_id": agent["id"],
                          "metadata": {"time": "10:30 am"}});
    if let Some(from) = from {
        body["from_number"] = json!(from);
    }
    let call = c.post("/contact/call", body).await.ok().clone();
    wait_final(c, call["id"].as_str().unwrap(), 90).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_appointment_reminder_ends_alike_over_sandbox_sip_and_twilio() {
    let fake = FakeTwilio::start().await.unwrap();
    let account = fake.new_account();
    let (http_port, sip_port) = (free_port(), free_port());
    let base = fake.base_url();
    let server = TestServer::start_with(Db::Sqlite, move |s| {
        s.bind = format!("127.0.0.1:{http_port}").parse().unwrap();
        s.public_url = Some(format!("http://127.0.0.1:{http_port}"));
        s.twilio_api_base = base;
        s.sip_bind = format!("127.0.0.1:{sip_port}");
        s.ring_timeout_secs = 10;
        s.rate_limit_per_minute = 1_000_000;
    })
    .await;
    let c = server.team().await;
    let agent = appointment_reminder(&c).await;

    // What the patient says on the carriers' calls: the first answer once the question has been
    // asked (~7 s), the second once the agent has asked when instead.
    let words =
        tokio::task::spawn_blocking(|| spoken(&[(8500, "No, I can't make it."), (5500, "Thursday at three pm.")]))
            .await
            .unwrap();

    // 1. The sandbox: persona 01.
    let sandbox = remind(&c, &agent, "+12125550101", None).await;

    // 2. A SIP trunk: sipp answers and plays the words.
    let dir = std::env::temp_dir().join(format!("parley-pcap-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("patient.pcap");
    common::pcap::write(&pcap, &common::pcap::speech_then_digits(&words, 0, 0, "")).unwrap();
    let sipp = Sipp::start("uas_answer.xml", &[("AUDIO", pcap.display().to_string())], &[]);
    let trunk = c
        .post(
            "/sip_trunk",
            json!({"name": "carrier", "host": "127.0.0.1", "port": sipp.port, "transport": "udp",
                   "inbound_addresses": ["127.0.0.1/32"]}),
        )
        .await
        .ok()
        .clone();
    c.post(
        "/phone_number",
        json!({"phone_number": "+14155557777", "network": "sip", "sip_trunk_id": trunk["id"]}),
    )
    .await
    .ok();
    let sip = remind(&c, &agent, "+12125551180", Some("+14155557777")).await;
    tokio::task::spawn_blocking(move || sipp.wait(10)).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    // 3. Twilio: the fake answers and sends the words over the media stream.
    c.post(
        "/phone_number",
        json!({"phone_number": "+14155558888", "network": "twilio",
               "twilio": {"account_sid": account.account_sid, "auth_token": account.auth_token}}),
    )
    .await
    .ok();
    fake.script(
        "+12125551181",
        Script {
            audio: words.clone(),
            ..Script::answer()
        },
    );
    let twilio = remind(&c, &agent, "+12125551181", Some("+14155558888")).await;

    let show = |v: &Value| {
        format!(
            "{} / {} ({}): outcome {} variables {} transcript:\n{}",
            v["network"], v["status"], v["call_failure_reason"], v["outcome"], v["variables"], v["transcript"]
        )
    };
    let all = format!("{}\n{}\n{}", show(&sandbox), show(&sip), show(&twilio));
    assert_eq!(sandbox["network"], "sandbox", "{all}");
    assert_eq!(sip["network"], "sip", "{all}");
    assert_eq!(twilio["network"], "twilio", "{all}");
    for call in [&sandbox, &sip, &twilio] {
        assert_eq!(call["status"], "ENDED", "{all}");
        assert_eq!(call["outcome"], "reschedule", "{all}");
        assert_eq!(call["variables"]["confirmed"], false, "{all}");
        assert!(call["variables"]["new_time"]["iso"].is_string(), "{all}");
    }
    // The same time understood (the words as heard may be spelled differently: "3pm", "3 p.m.").
    let time = |v: &Value| v["variables"]["new_time"]["iso"].clone();
    assert_eq!(time(&sip), time(&sandbox), "{all}");
    assert_eq!(time(&twilio), time(&sandbox), "{all}");
    drop(server);
}
