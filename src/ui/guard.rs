//! What keeps a hostile web page out (the local-server bugs of Transmission, Jupyter and
//! Syncthing): every request passes [`check`] before any handler runs, and every answer
//! leaves with [`SECURITY_HEADERS`].
//!
//! - **Host** must be this server's own `127.0.0.1:PORT` or `localhost:PORT`: a DNS-rebinding
//!   page reaches us under its own name, and is refused.
//! - **Origin** must be ours on every request that changes anything; a missing one is refused
//!   too. A page on another port of 127.0.0.1 is the *same site*, so the session cookie's
//!   `SameSite=Strict` alone would not stop it; this does.
//! - **Session**: data routes answer only to the session cookie, which a page gets by showing
//!   the one-time secret from the link's fragment. Reads must also come from our own origin
//!   when the browser says where they come from (`Sec-Fetch-Site`).
//! - No CORS header is ever sent, so no other origin can read an answer.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::App;
use super::api::ApiError;

/// Sent with every answer.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];

/// The route that turns the link's secret into a session: the only data route open without one.
pub const SESSION_ROUTE: &str = "/api/session";

/// The session token in the request's cookie, if it names a live session.
pub fn session(app: &App, headers: &HeaderMap) -> Option<String> {
    let wanted = format!("{}=", app.cookie);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(&wanted))
        .find(|token| {
            app.sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(*token)
        })
        .map(str::to_owned)
}

/// Why a request is refused, if it is; `None` lets it through.
fn refusal(app: &App, request: &Request) -> Option<ApiError> {
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if !host.is_some_and(|h| app.hosts.iter().any(|ours| ours == h)) {
        return Some(ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "this window answers only at {} (a page under another name cannot use it)",
                app.origins[0]
            ),
        ));
    }
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    if !reads {
        let origin = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok());
        if !origin.is_some_and(|o| app.origins.iter().any(|ours| ours == o)) {
            return Some(ApiError::new(
                StatusCode::FORBIDDEN,
                "refused: a change must come from the window's own page (its Origin)",
            ));
        }
    }
    let path = request.uri().path();
    if path.starts_with("/api/") && path != SESSION_ROUTE {
        // Browsers say where a request comes from; only our own page may read.
        let site = headers.get("sec-fetch-site").and_then(|h| h.to_str().ok());
        if site.is_some_and(|s| s != "same-origin" && s != "none") {
            return Some(ApiError::new(
                StatusCode::FORBIDDEN,
                "refused: another site's page asked for the window's data",
            ));
        }
        if session(app, headers).is_none() {
            return Some(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "no session: open the link `grapevine ui` printed (a link works once; \
                 the terminal prints a new one when it was used)",
            ));
        }
    }
    None
}

/// The middleware: refuse what [`refusal`] refuses, and add the security headers to everything.
pub async fn check(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let mut response = match refusal(&app, &request) {
        Some(error) => error.into_response(),
        None => next.run(request).await,
    };
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(*name, HeaderValue::from_static(value));
    }
    response
}

/// The cookie that carries a new session: script cannot read it, and the browser sends it
/// only with requests from our own site.
pub fn session_cookie(app: &App, token: &str) -> Response {
    let mut response = Response::new(Body::from("{\"session\":true}"));
    let cookie = format!("{}={token}; HttpOnly; SameSite=Strict; Path=/", app.cookie);
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
