//! The HTTP side of [`super::network::TwilioNetwork`]: the voice webhook, status callbacks and
//! the media-stream WebSocket, each checking `X-Twilio-Signature` before anything else.

use super::frames::{MediaStream, StreamEvent, MAX_TEXT_FRAME};
use super::leg::{self, close, LegInput, Streaming};
use super::network::{new_token, Claim, Pending, Shared, CALL_PARAMETER, INBOUND_TTL, START_TIMEOUT};
use super::rest::Account;
use super::signature;
use super::status::{StatusCallback, VoiceWebhook};
use super::twiml;
use crate::line::{self, Endpoint};
use crate::network::{IncomingCall, NetworkKind};
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

fn forbidden() -> Response {
    StatusCode::FORBIDDEN.into_response()
}

fn twiml_response(xml: String) -> Response {
    ([(header::CONTENT_TYPE, twiml::CONTENT_TYPE)], xml).into_response()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn path_and_query(uri: &axum::http::Uri) -> &str {
    uri.path_and_query().map_or(uri.path(), |p| p.as_str())
}

/// Checks a form POST against the public URL Twilio requested.
fn verify(shared: &Shared, token: &str, uri: &axum::http::Uri, headers: &HeaderMap, body: &[u8]) -> bool {
    let url = format!("{}{}", shared.public_url, path_and_query(uri));
    signature::validate_request(
        token,
        header_str(headers, signature::HEADER),
        &url,
        header_str(headers, header::CONTENT_TYPE.as_str()),
        body,
    )
    .is_ok()
}

/// `POST /twilio/voice`: an inbound call to one of the team's numbers.
pub(super) async fn voice(
    State(shared): State<Arc<Shared>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Twilio signs every request: an unsigned one is not Twilio's, whatever it names.
    if header_str(&headers, signature::HEADER).is_none() {
        return forbidden();
    }
    let Ok(hook) = VoiceWebhook::parse(&signature::parse_form(&body)) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Some(switchboard) = shared.switchboard.get().cloned() else {
        return twiml_response(twiml::reject());
    };
    // Not our number, or not on this account: refused like any unknown number (no detail).
    let Some(secret) = switchboard
        .carrier_secret(NetworkKind::Twilio, &hook.account_sid, &hook.to)
        .await
    else {
        return twiml_response(twiml::reject());
    };
    if !verify(&shared, &secret, &uri, &headers, &body) {
        tracing::warn!(to = %hook.to, "twilio: voice webhook with a bad signature refused");
        return forbidden();
    }
    let call = IncomingCall {
        network: NetworkKind::Twilio,
        from: hook.from.clone(),
        to: hook.to.clone(),
        source: None,
        carrier_call_id: hook.call_sid.clone(),
        account: Some(hook.account_sid.clone()),
    };
    let run = match switchboard.offer(call).await {
        Ok(run) => run,
        Err(refusal) => {
            tracing::info!(call_sid = %hook.call_sid, ?refusal, "twilio: inbound call refused");
            return twiml_response(twiml::reject());
        }
    };
    let token = new_token();
    shared.table().insert(
        token.clone(),
        Pending::Inbound {
            account: Account {
                account_sid: hook.account_sid,
                auth_token: secret,
            },
            call_sid: hook.call_sid,
            run,
        },
    );
    let expire = (shared.clone(), token.clone());
    tokio::spawn(async move {
        tokio::time::sleep(INBOUND_TTL).await;
        let mut table = expire.0.table();
        if matches!(table.get(&expire.1), Some(Pending::Inbound { .. })) {
            table.remove(&expire.1);
            tracing::info!("twilio: an accepted inbound call never opened its stream");
        }
    });
    twiml_response(twiml::connect_stream(&shared.stream_url(), &[(CALL_PARAMETER, &token)]))
}

/// `POST /twilio/status/{token}`: progress of an outbound call.
pub(super) async fn status(
    State(shared): State<Arc<Shared>>,
    Path(token): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let found = match shared.table().get(&token) {
        Some(Pending::Outbound { account, inputs, .. }) => Some((account.clone(), inputs.clone())),
        _ => None,
    };
    let Some((account, inputs)) = found else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !verify(&shared, &account.auth_token, &uri, &headers, &body) {
        tracing::warn!("twilio: status callback with a bad signature refused");
        return forbidden();
    }
    let Ok(cb) = StatusCallback::parse(&signature::parse_form(&body)) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if cb.account_sid != account.account_sid {
        return forbidden();
    }
    // The leg may be over (a late callback): nothing left to tell.
    let _ = inputs.send(LegInput::Status(cb));
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /twilio/stream`: the media-stream WebSocket.
pub(super) async fn stream(
    State(shared): State<Arc<Shared>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Some(sig) = header_str(&headers, signature::HEADER) else {
        return forbidden();
    };
    let url = format!("{}{}", shared.ws_base, path_and_query(&uri));
    // The accounts with calls awaiting a stream; the one whose key signed this may claim one.
    let keys: HashMap<String, String> = shared
        .table()
        .values()
        .filter_map(|p| match p {
            Pending::Outbound { account, inputs, .. } if !inputs.is_closed() => Some(account),
            Pending::Inbound { account, .. } => Some(account),
            _ => None,
        })
        .map(|a| (a.account_sid.clone(), a.auth_token.clone()))
        .collect();
    let signed_by: Vec<String> = keys
        .into_iter()
        .filter(|(_, token)| signature::validate(token, sig, &url, &[]))
        .map(|(sid, _)| sid)
        .collect();
    if signed_by.is_empty() {
        tracing::warn!("twilio: media stream with a bad signature refused");
        return forbidden();
    }
    match upgrade {
        Ok(ws) => ws
            .max_message_size(MAX_TEXT_FRAME)
            .max_frame_size(MAX_TEXT_FRAME)
            .on_upgrade(move |socket| accept_stream(shared, socket, signed_by)),
        Err(rejection) => rejection.into_response(),
    }
}

/// Reads `connected` and `start`, then hands the stream to its call.
async fn accept_stream(shared: Arc<Shared>, mut socket: WebSocket, signed_by: Vec<String>) {
    let mut session = MediaStream::new();
    let started = tokio::time::timeout(START_TIMEOUT, async {
        loop {
            match socket.recv().await {
                Some(Ok(Message::Text(t))) => {
                    if let Err(e) = session.handle_text(t.as_str(), std::time::Instant::now()) {
                        tracing::debug!(error = %e, "twilio: bad frame before start");
                        continue;
                    }
                    if let Some(StreamEvent::Started {
                        call_sid,
                        account_sid,
                        custom_parameters,
                        ..
                    }) = session.poll_event()
                    {
                        return Some((call_sid, account_sid, custom_parameters));
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    let Ok(Some((call_sid, account_sid, params))) = started else {
        close(&mut socket).await;
        return;
    };
    let token = params.get(CALL_PARAMETER).cloned().unwrap_or_default();
    let claim = {
        let mut table = shared.table();
        let ok = |account: &Account| account.account_sid == account_sid && signed_by.contains(&account_sid);
        match table.get(&token) {
            Some(Pending::Outbound {
                account,
                call_sid: sid,
                inputs,
            }) if ok(account) && sid.as_ref().is_none_or(|s| *s == call_sid) => Some(Claim::Outbound(inputs.clone())),
            Some(Pending::Inbound {
                account, call_sid: sid, ..
            }) if ok(account) && *sid == call_sid => match table.remove(&token) {
                Some(Pending::Inbound { account, run, .. }) => Some(Claim::Inbound { account, run }),
                _ => None,
            },
            _ => None,
        }
    };
    let mut streaming = Streaming {
        socket,
        session,
        call_sid: call_sid.clone(),
    };
    match claim {
        Some(Claim::Outbound(inputs)) => {
            if let Err(mpsc::error::SendError(LegInput::Stream(mut s))) =
                inputs.send(LegInput::Stream(Box::new(streaming)))
            {
                // The call ended meanwhile.
                close(&mut s.socket).await;
            }
        }
        Some(Claim::Inbound { account, run }) => {
            let (events, events_rx) = line::channel();
            let (sender, signals) = line::signals();
            tokio::spawn(run(Endpoint {
                events: events_rx,
                sender,
            }));
            let leg = leg::Leg {
                shared,
                account,
                call_sid,
            };
            leg.bridge(streaming, events, signals, None).await;
        }
        None => {
            tracing::warn!(%call_sid, "twilio: a media stream for no pending call was closed");
            close(&mut streaming.socket).await;
        }
    }
}
