//! Playing a call as Twilio does: status callbacks, TwiML followed, the ring and the answer.

use super::media_stream::stream;
use super::rest::param;
use super::*;

/// Status callbacks of one call: where, which events, and the sequence counter.
struct Callbacks {
    url: Option<String>,
    events: Vec<String>,
    sequence: u32,
}

impl Callbacks {
    fn wants(&self, event: &str) -> bool {
        self.url.is_some()
            && if self.events.is_empty() {
                event == "completed"
            } else {
                self.events.iter().any(|e| e == event)
            }
    }

    async fn send(&mut self, shared: &Shared, sid: &str, event: &str, extra: &[(&str, String)]) {
        let rec = shared.record(sid);
        if !self.wants(event) {
            return;
        }
        let Some(url) = self.url.clone() else { return };
        let mut form: Vec<(String, String)> = vec![
            ("AccountSid".into(), rec.account_sid.clone()),
            ("ApiVersion".into(), "2010-04-01".into()),
            ("CallSid".into(), rec.sid.clone()),
            ("CallStatus".into(), rec.status.clone()),
            ("CallbackSource".into(), "call-progress-events".into()),
            ("Called".into(), rec.to.clone()),
            ("Caller".into(), rec.from.clone()),
            ("Direction".into(), rec.direction.clone()),
            ("From".into(), rec.from.clone()),
            ("SequenceNumber".into(), self.sequence.to_string()),
            ("To".into(), rec.to.clone()),
        ];
        form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        self.sequence += 1;
        let (code, _) = shared.signed_post(&rec.account_sid, &url, &form).await;
        shared.update(sid, |c| {
            c.callbacks.push(Callback {
                call_status: rec.status.clone(),
                http_status: code,
            })
        });
    }
}

fn set_status(shared: &Shared, sid: &str, status: &str) {
    shared.update(sid, |c| c.status = status.into());
}

/// Waits `d`, unless a hang-up comes first (then `false`).
async fn ring(d: Duration, control: &mut mpsc::UnboundedReceiver<Control>) -> bool {
    let sleep = tokio::time::sleep(d);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = &mut sleep => return true,
            c = control.recv() => match c {
                Some(Control::HangUp) | None => return false,
                Some(_) => {}
            },
        }
    }
}

pub(super) async fn run_outbound(
    shared: Arc<Shared>,
    sid: String,
    form: Vec<(String, String)>,
    script: Script,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let mut cb = Callbacks {
        url: param(&form, "StatusCallback").map(str::to_string),
        events: form
            .iter()
            .filter(|(k, _)| k == "StatusCallbackEvent")
            .flat_map(|(_, v)| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect(),
        sequence: 0,
    };
    let delay = shared.config.ring_delay;
    set_status(&shared, &sid, "initiated");
    cb.send(&shared, &sid, "initiated", &[]).await;
    if !ring(delay, &mut control).await {
        return finish(&shared, &sid, &mut cb, "canceled", &[]).await;
    }
    set_status(&shared, &sid, "ringing");
    cb.send(&shared, &sid, "ringing", &[]).await;
    let wait = match script.pickup {
        Pickup::NoAnswer => shared.config.no_answer_delay,
        _ => delay,
    };
    if !ring(wait, &mut control).await {
        return finish(&shared, &sid, &mut cb, "canceled", &[]).await;
    }
    match script.pickup {
        Pickup::Busy => return finish(&shared, &sid, &mut cb, "busy", &[("SipResponseCode", "486".into())]).await,
        Pickup::NoAnswer => {
            return finish(
                &shared,
                &sid,
                &mut cb,
                "no-answer",
                &[("SipResponseCode", "487".into())],
            )
            .await
        }
        Pickup::Fail { sip } => {
            return finish(
                &shared,
                &sid,
                &mut cb,
                "failed",
                &[("SipResponseCode", sip.to_string())],
            )
            .await
        }
        Pickup::Answer => {}
    }
    set_status(&shared, &sid, "in-progress");
    cb.send(&shared, &sid, "answered", &[]).await;
    let rec = shared.record(&sid);
    let instruction = if let Some(t) = param(&form, "Twiml") {
        twiml::parse(t)
    } else if let Some(url) = param(&form, "Url") {
        let (code, body) = shared.signed_post(&rec.account_sid, url, &call_params(&rec)).await;
        shared.update(&sid, |c| c.webhook_status = Some(code));
        if code == 200 {
            twiml::parse(&body)
        } else {
            Instruction::Other
        }
    } else {
        Instruction::Other
    };
    if let Instruction::ConnectStream { url, parameters } = instruction {
        stream(&shared, &sid, &url, parameters, &script, &mut control).await;
    }
    let duration = ("CallDuration", "1".to_string());
    finish(&shared, &sid, &mut cb, "completed", &[duration]).await
}

async fn finish(shared: &Shared, sid: &str, cb: &mut Callbacks, status: &str, extra: &[(&str, String)]) {
    set_status(shared, sid, status);
    cb.send(shared, sid, "completed", extra).await;
    shared.lock().controls.remove(sid);
    shared.update(sid, |c| c.ended = true);
}

/// The parameters of a voice webhook or TwiML fetch.
fn call_params(rec: &CallRecord) -> Vec<(String, String)> {
    vec![
        ("AccountSid".into(), rec.account_sid.clone()),
        ("ApiVersion".into(), "2010-04-01".into()),
        ("CallSid".into(), rec.sid.clone()),
        ("CallStatus".into(), rec.status.clone()),
        ("Called".into(), rec.to.clone()),
        ("Caller".into(), rec.from.clone()),
        ("Direction".into(), rec.direction.clone()),
        ("From".into(), rec.from.clone()),
        ("To".into(), rec.to.clone()),
    ]
}

pub(super) async fn run_inbound(
    shared: Arc<Shared>,
    sid: String,
    url: String,
    script: Script,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let rec = shared.record(&sid);
    let (code, body) = shared.signed_post(&rec.account_sid, &url, &call_params(&rec)).await;
    shared.update(&sid, |c| c.webhook_status = Some(code));
    let instruction = if code == 200 {
        twiml::parse(&body)
    } else {
        Instruction::Other
    };
    match instruction {
        Instruction::Reject => {
            shared.update(&sid, |c| {
                c.rejected = true;
                c.status = "rejected".into();
            });
        }
        Instruction::ConnectStream { url, parameters } => {
            set_status(&shared, &sid, "in-progress");
            stream(&shared, &sid, &url, parameters, &script, &mut control).await;
            set_status(&shared, &sid, "completed");
        }
        Instruction::Other => {
            set_status(&shared, &sid, if code == 200 { "completed" } else { "failed" });
        }
    }
    shared.lock().controls.remove(&sid);
    shared.update(&sid, |c| c.ended = true);
}
