//! `GET /call/live` (Parley addition): a team's calls as they change, as Server-Sent Events, for
//! the dashboard's lists and call pages (progress, the transcript growing as people speak).
//!
//! Each event is `event: call`, `id: <updated ms>_<call id>`, `data: <the call object>`. A client
//! that reconnects sends the last id it saw (`Last-Event-ID`, or `?last_event_id=` where it
//! cannot set headers) and gets every change since, in order; without one the stream starts at
//! the present.
//!
//! Decision: the stream polls the database (twice a second, one indexed query per open stream)
//! rather than listening to this process's call runner, so it sees calls run by any process on a
//! shared PostgreSQL and needs no fan-out between processes. A team's dashboard keeps one stream
//! per tab.

use crate::auth::Team;
use crate::error::ApiResult;
use crate::extract::Params;
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Extension;
use futures_util::stream::{self, Stream};
use std::convert::Infallible;
use std::time::Duration;

/// How often a stream looks for changes.
const POLL: Duration = Duration::from_millis(500);
/// Changes read at once; more wait for the next poll (which comes at once when a batch was full).
const BATCH: i64 = 200;

/// A cursor from an event id (`<updated>_<id>`); `None` for anything else.
fn cursor(id: &str) -> Option<(i64, String)> {
    let (ms, call) = id.split_once('_')?;
    Some((ms.parse().ok()?, call.to_string()))
}

#[utoipa::path(get, path = "/call/live", tag = "calls",
    params(("Last-Event-ID" = Option<String>, Header, description = "The last event id seen (`<updated ms>_<call id>`): resume after it"),
           ("last_event_id" = Option<String>, Query, description = "The same, for clients that cannot set headers (EventSource); the header wins")),
    responses((status = 200, description = "Server-Sent Events that never end: each change of one of the team's calls as `event: call`, `id: <updated ms>_<call id>`, `data: <the call object>`, in order; a comment every 15 s keeps the connection open. Without a (readable) last event id the stream starts at the present",
               content_type = "text/event-stream", body = String)))]
pub async fn live(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    headers: HeaderMap,
    p: Params,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .or_else(|| p.get("last_event_id"))
        .and_then(cursor);
    let start = resume.unwrap_or_else(|| (parley_store::now_ms(), String::new()));
    let state = (s, team.id, start, Vec::<Event>::new(), true);
    let events = stream::unfold(state, |(s, team, mut at, mut queue, mut full)| async move {
        loop {
            if let Some(e) = queue.pop() {
                return Some((Ok(e), (s, team, at, queue, full)));
            }
            if !full {
                tokio::time::sleep(POLL).await;
            }
            let changed = match s.store.calls_changed_since(&team, (at.0, &at.1), BATCH).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "live calls: could not read changes");
                    full = false;
                    continue;
                }
            };
            full = changed.len() as i64 == BATCH;
            // Popped from the end: pushed newest first.
            for ((ms, id), call) in changed.into_iter().rev() {
                if at < (ms, id.clone()) {
                    at = (ms, id.clone());
                }
                let data = serde_json::to_string(&call).unwrap_or_default();
                queue.push(Event::default().event("call").id(format!("{ms}_{id}")).data(data));
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[cfg(test)]
mod tests {
    use super::cursor;

    #[test]
    fn event_ids_are_cursors() {
        assert_eq!(cursor("1764780000000_abc-1"), Some((1764780000000, "abc-1".into())));
        assert_eq!(cursor("nonsense"), None);
        assert_eq!(cursor("x_1"), None);
    }
}
