//! The media-stream WebSocket, played as Twilio plays it: media every 20 ms, marks, `clear`, DTMF, `stop`.

use super::*;

/// Twilio's playback queue on the stream: audio bytes and marks, in order.
enum Queued {
    Audio(Vec<u8>),
    Mark(String),
}

/// The media-stream WebSocket, played as Twilio plays it, until a hang-up or Parley closes it.
pub(super) async fn stream(
    shared: &Shared,
    sid: &str,
    url: &str,
    parameters: Vec<(String, String)>,
    script: &Script,
    control: &mut mpsc::UnboundedReceiver<Control>,
) {
    let rec = shared.record(sid);
    let stream_sid = new_sid("MZ");
    let custom: BTreeMap<String, String> = parameters.into_iter().collect();
    shared.update(sid, |c| {
        c.stream_url = Some(url.into());
        c.stream_sid = Some(stream_sid.clone());
        c.custom_parameters = custom.clone();
    });
    let Ok(mut request) = url.into_client_request() else {
        shared.update(sid, |c| c.bad_frames.push(format!("bad stream url {url}")));
        return;
    };
    let sig = signature::sign(&shared.token(&rec.account_sid), url, &[]);
    if let Ok(v) = sig.parse() {
        request.headers_mut().insert(signature::HEADER, v);
    }
    let Ok((ws, _)) = tokio_tungstenite::connect_async(request).await else {
        shared.update(sid, |c| c.bad_frames.push(format!("could not connect to {url}")));
        return;
    };
    let (mut sink, mut source) = ws.split();
    let mut seq: u64 = 0;
    let next = |seq: &mut u64| {
        *seq += 1;
        seq.to_string()
    };
    let send = |v: serde_json::Value| Message::text(v.to_string());
    let _ = sink
        .send(send(
            json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
        ))
        .await;
    let start = json!({
        "event": "start", "sequenceNumber": next(&mut seq), "streamSid": stream_sid,
        "start": {
            "streamSid": stream_sid, "accountSid": rec.account_sid, "callSid": rec.sid,
            "tracks": ["inbound"], "customParameters": custom,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        }
    });
    let _ = sink.send(send(start)).await;

    let mut caller: VecDeque<u8> = script.audio.iter().copied().collect();
    let mut party = crate::twilio::party::Party::new(script.replies.clone(), script.reply_after_quiet_ms);
    party.caller_says(caller.len());
    let t0 = tokio::time::Instant::now();
    let mut dtmf: Vec<(usize, char)> = script.dtmf.clone();
    let mut playback: VecDeque<Queued> = VecDeque::new();
    let mut frames_sent: usize = 0;
    let mut timings_kept = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut out: Vec<serde_json::Value> = Vec::new();
    let hung_up = loop {
        tokio::select! {
            _ = tick.tick() => {
                // Play 20 ms of Parley's audio; echo the marks it reaches.
                let mut need = 160usize;
                let mut played = Vec::new();
                while need > 0 {
                    match playback.front_mut() {
                        Some(Queued::Audio(a)) => {
                            let n = need.min(a.len());
                            played.extend(a.drain(..n));
                            need -= n;
                            if a.is_empty() {
                                playback.pop_front();
                            }
                        }
                        Some(Queued::Mark(_)) => {
                            if let Some(Queued::Mark(m)) = playback.pop_front() {
                                out.push(mark_echo(&mut seq, &stream_sid, &m));
                                shared.update(sid, |c| c.marks_echoed.push(m));
                            }
                        }
                        None => break,
                    }
                }
                echo_leading_marks(&mut playback, &mut out, &mut seq, shared, sid, &stream_sid);
                if !played.is_empty() {
                    shared.update(sid, |c| c.played_audio.extend_from_slice(&played));
                }
                // 20 ms of the far party: its script, then silence.
                let chunk: Vec<u8> = (0..160).map(|_| caller.pop_front().unwrap_or(0xFF)).collect();
                frames_sent += 1;
                let now_ms = t0.elapsed().as_millis() as u64;
                if let Some(reply) = party.tick(now_ms, &played, &chunk, caller.len()) {
                    caller.extend(reply);
                }
                if party.caller_ends_ms.len() + party.agent_onsets_ms.len() != timings_kept {
                    timings_kept = party.caller_ends_ms.len() + party.agent_onsets_ms.len();
                    let (ends, onsets) = (party.caller_ends_ms.clone(), party.agent_onsets_ms.clone());
                    shared.update(sid, |c| {
                        c.caller_ends_ms = ends;
                        c.agent_onsets_ms = onsets;
                    });
                }
                let n = next(&mut seq);
                out.push(json!({
                    "event": "media", "sequenceNumber": n, "streamSid": stream_sid,
                    "media": {"track": "inbound", "chunk": frames_sent.to_string(),
                              "timestamp": (frames_sent.saturating_sub(1) * 20).to_string(),
                              "payload": B64.encode(&chunk)}
                }));
                let due: Vec<char> = dtmf.iter().filter(|(at, _)| *at <= frames_sent).map(|(_, d)| *d).collect();
                dtmf.retain(|(at, _)| *at > frames_sent);
                for d in due {
                    out.push(dtmf_msg(&mut seq, &stream_sid, d));
                }
                if script.hang_up_after.is_some_and(|n| frames_sent >= n) {
                    break true;
                }
            }
            msg = source.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    handle_outbound(t.as_str(), &mut playback, &mut out, &mut seq, shared, sid, &stream_sid);
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    shared.update(sid, |c| c.closed_by_parley = true);
                    break false;
                }
                Some(Ok(Message::Binary(_))) => {
                    shared.update(sid, |c| c.bad_frames.push("binary frame".into()));
                }
                Some(Ok(_)) => {}
            },
            c = control.recv() => match c {
                Some(Control::HangUp) | Some(Control::Redirect) | None => break true,
                Some(Control::Dtmf(d)) => out.push(dtmf_msg(&mut seq, &stream_sid, d)),
                Some(Control::Audio(a)) => {
                    party.caller_says(a.len());
                    caller.extend(a);
                }
            },
        }
        for v in out.drain(..) {
            let _ = sink.send(send(v)).await;
        }
    };
    for v in out.drain(..) {
        let _ = sink.send(send(v)).await;
    }
    if hung_up {
        let stop = json!({
            "event": "stop", "sequenceNumber": next(&mut seq), "streamSid": stream_sid,
            "stop": {"accountSid": rec.account_sid, "callSid": rec.sid}
        });
        let _ = sink.send(send(stop)).await;
        let _ = sink.close().await;
        shared.update(sid, |c| c.stop_sent = true);
    }
}

fn mark_echo(seq: &mut u64, stream_sid: &str, name: &str) -> serde_json::Value {
    *seq += 1;
    json!({"event": "mark", "sequenceNumber": seq.to_string(), "streamSid": stream_sid,
           "mark": {"name": name}})
}

fn dtmf_msg(seq: &mut u64, stream_sid: &str, digit: char) -> serde_json::Value {
    *seq += 1;
    json!({"event": "dtmf", "sequenceNumber": seq.to_string(), "streamSid": stream_sid,
           "dtmf": {"track": "inbound_track", "digit": digit.to_string()}})
}

/// Marks with no audio before them have been reached: echo them now.
fn echo_leading_marks(
    playback: &mut VecDeque<Queued>,
    out: &mut Vec<serde_json::Value>,
    seq: &mut u64,
    shared: &Shared,
    sid: &str,
    stream_sid: &str,
) {
    while let Some(Queued::Mark(_)) = playback.front() {
        if let Some(Queued::Mark(m)) = playback.pop_front() {
            out.push(mark_echo(seq, stream_sid, &m));
            shared.update(sid, |c| c.marks_echoed.push(m));
        }
    }
}

/// One text frame from Parley: `media`, `mark` or `clear`.
fn handle_outbound(
    text: &str,
    playback: &mut VecDeque<Queued>,
    out: &mut Vec<serde_json::Value>,
    seq: &mut u64,
    shared: &Shared,
    sid: &str,
    stream_sid: &str,
) {
    use crate::twilio::frames::Outbound;
    let msg = match crate::twilio::frames::parse_outbound(text) {
        Ok(m) => m,
        Err(e) => {
            shared.update(sid, |c| c.bad_frames.push(format!("{e}: {text}")));
            return;
        }
    };
    let sid_of = match &msg {
        Outbound::Media { stream_sid, .. } | Outbound::Mark { stream_sid, .. } | Outbound::Clear { stream_sid } => {
            stream_sid.clone()
        }
    };
    if sid_of != stream_sid {
        shared.update(sid, |c| c.bad_frames.push(format!("wrong streamSid: {text}")));
        return;
    }
    match msg {
        Outbound::Media { media, .. } => match B64.decode(media.payload.as_bytes()) {
            Ok(bytes) => {
                shared.update(sid, |c| c.received_audio.extend_from_slice(&bytes));
                if !bytes.is_empty() {
                    playback.push_back(Queued::Audio(bytes));
                }
            }
            Err(_) => shared.update(sid, |c| c.bad_frames.push(format!("bad payload: {text}"))),
        },
        Outbound::Mark { mark, .. } => {
            shared.update(sid, |c| c.marks_received.push(mark.name.clone()));
            playback.push_back(Queued::Mark(mark.name));
            echo_leading_marks(playback, out, seq, shared, sid, stream_sid);
        }
        Outbound::Clear { .. } => {
            let mut dropped = 0;
            let mut marks = Vec::new();
            for q in playback.drain(..) {
                match q {
                    Queued::Audio(a) => dropped += a.len(),
                    Queued::Mark(m) => marks.push(m),
                }
            }
            for m in &marks {
                out.push(mark_echo(seq, stream_sid, m));
            }
            shared.update(sid, |c| {
                c.clears += 1;
                c.cleared_bytes += dropped;
                c.marks_echoed.extend(marks);
            });
        }
    }
}
