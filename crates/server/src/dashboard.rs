//! The dashboard: the single-page app built from `web/` (`npm run build` → `web/dist`), embedded
//! in the binary and served under `/app/`; `/` sends browsers there.
//!
//! Every file is compiled in (release builds; debug builds read `web/dist` from disk), so one
//! binary is the whole product and nothing is fetched from elsewhere at run time. Paths that name
//! no file get `index.html`, so the app's own routes (`/app/calls/…`) survive a reload. Hashed
//! assets (`/app/assets/…`) are cached for good; `index.html` is revalidated each time, so a new
//! binary's dashboard is picked up at once.
//!
//! Every answer carries a strict Content-Security-Policy: scripts from this origin only (the
//! build emits no inline script), no framing, connections to this origin only.
//!
//! Decision: when the binary was built without `web/dist` (no Node at build time), `/app/`
//! answers a page that says how to build it, rather than failing the Rust build.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

#[derive(rust_embed::RustEmbed)]
#[folder = "../../web/dist"]
#[allow_missing = true]
struct Assets;

/// The policy of every dashboard answer. `style-src 'unsafe-inline'`: the flow editor positions
/// nodes with inline styles; scripts stay strict.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; \
    worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Parley</title>\
    <p>This build of Parley has no dashboard: build it with <code>scripts/setup</code> \
    (or <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code>) and rebuild the server.</p>";

/// The dashboard's routes, to merge into the API's router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(root))
        .route("/app", get(|| async { Redirect::permanent("/app/") }))
        .route("/app/", get(|| async { file("index.html") }))
        .route("/app/{*path}", get(|Path(p): Path<String>| async move { file(&p) }))
        // gzip for clients that accept it: the JS is most of what the first page costs.
        .layer(tower_http::compression::CompressionLayer::new())
}

/// `/`: browsers (they ask for HTML) go to the dashboard; API clients get the API's 404.
async fn root(headers: HeaderMap) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        Redirect::to("/app/").into_response()
    } else {
        parley_api::routes::system::not_found().await.into_response()
    }
}

fn file(path: &str) -> Response {
    let (path, found) = match Assets::get(path) {
        Some(f) => (path, Some(f)),
        // A missing asset is a 404 (a stale page asking for an old hash must not get HTML).
        None if path.starts_with("assets/") => {
            return secured(StatusCode::NOT_FOUND, "text/plain", Body::from("not found"), false)
        }
        None => ("index.html", Assets::get("index.html")),
    };
    let Some(f) = found else {
        return secured(StatusCode::OK, "text/html; charset=utf-8", Body::from(NOT_BUILT), false);
    };
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    // Release builds hold the file in the binary: served from there, not copied per request.
    let body = match f.data {
        std::borrow::Cow::Borrowed(b) => Body::from(axum::body::Bytes::from_static(b)),
        std::borrow::Cow::Owned(v) => Body::from(v),
    };
    secured(StatusCode::OK, mime.as_ref(), body, path.starts_with("assets/"))
}

fn secured(status: StatusCode, content_type: &str, body: Body, immutable: bool) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    res
}
