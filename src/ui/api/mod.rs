//! The window's routes (docs/http-api.md): the page itself, the session, and the data, each
//! answering JSON built by the same views as the terminal's `--json` ([`crate::view::json`]).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde_json::{Value, json};

use super::{App, assets, guard};

mod lan;
mod reading;
mod session;
mod sticks;
mod writing;
use crate::node::{Node, NodeError};

/// Largest request body taken (a post is at most 8 KiB of content).
pub const MAX_BODY: usize = 64 * 1024;
/// Largest bundle file a page may hand in to import.
pub const MAX_UPLOAD: usize = 128 << 20;
/// Most posts one timeline request returns.
pub const MAX_PAGE: u64 = 200;

/// A refusal or failure, as JSON: `{"error": "what was wrong, and what to do"}`.
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        let status = match e {
            NodeError::Usage(_) | NodeError::Message(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.to_string())
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        NodeError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.message }).to_string();
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

type Answer = Result<Response, ApiError>;

fn json_answer(value: Value) -> Answer {
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response())
}

/// A request body as the JSON `T`, or a clear error (too large, not that JSON).
fn body<T: serde::de::DeserializeOwned>(
    bytes: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let bytes = bytes.map_err(|e| {
        ApiError::new(
            e.status(),
            format!("the request body could not be read ({e}); at most {MAX_BODY} bytes"),
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the request is not the JSON this route takes: {e}"),
        )
    })
}

/// A query string as `T`, or a clear error.
fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query.map(|Query(q)| q).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the address's query is not what this route takes: {e}"),
        )
    })
}

/// Runs `work` on the node, off the async threads (SQLite blocks).
async fn with_node<T: Send + 'static>(
    app: &Arc<App>,
    work: impl FnOnce(&mut Node) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || {
        let mut node = app.node.lock().unwrap_or_else(|p| p.into_inner());
        let node = node.as_mut().ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "there is no diary here yet: create one first",
            )
        })?;
        work(node)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

/// Every route, as (method, path): docs/http-api.md documents each, and the tests hold the
/// two lists equal.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/app.js"),
    ("GET", "/app.css"),
    ("GET", "/favicon.svg"),
    ("POST", guard::SESSION_ROUTE),
    ("GET", "/api/state"),
    ("POST", "/api/init"),
    ("POST", "/api/restore"),
    ("POST", "/api/unlock"),
    ("GET", "/api/timeline"),
    ("POST", "/api/posts"),
    ("POST", "/api/likes"),
    ("GET", "/api/thread"),
    ("GET", "/api/posts"),
    ("GET", "/api/conversations"),
    ("POST", "/api/private"),
    ("GET", "/api/requests"),
    ("POST", "/api/requests"),
    ("GET", "/api/network"),
    ("GET", "/api/network.svg"),
    ("GET", "/api/devices"),
    ("POST", "/api/devices"),
    ("GET", "/api/settings"),
    ("POST", "/api/settings"),
    ("GET", "/api/person"),
    ("POST", "/api/contacts"),
    ("POST", "/api/petname"),
    ("POST", "/api/about"),
    ("POST", "/api/import"),
    ("GET", "/api/folders"),
    ("POST", "/api/sync"),
    ("POST", "/api/bundle"),
    ("GET", "/api/events"),
    ("GET", "/api/lan"),
    ("POST", "/api/pubs"),
    ("POST", "/api/lan/sync"),
];

/// The handler of a route in [`ROUTES`].
fn handler(method: &str, path: &str) -> Option<MethodRouter<Arc<App>>> {
    Some(match (method, path) {
        ("GET", "/") => get(assets::index),
        ("GET", "/app.js") => get(assets::script),
        ("GET", "/app.css") => get(assets::style),
        ("GET", "/favicon.svg") => get(assets::icon),
        ("POST", guard::SESSION_ROUTE) => post(session::session),
        ("GET", "/api/state") => get(session::state),
        ("POST", "/api/init") => post(session::init),
        ("POST", "/api/restore") => post(session::restore),
        ("POST", "/api/unlock") => post(session::unlock),
        ("GET", "/api/timeline") => get(reading::timeline),
        ("POST", "/api/posts") => post(writing::write_post),
        ("POST", "/api/likes") => post(writing::like),
        ("GET", "/api/thread") => get(reading::thread),
        ("GET", "/api/posts") => get(reading::find_posts),
        ("GET", "/api/conversations") => get(reading::conversations),
        ("POST", "/api/private") => post(writing::write_private),
        ("GET", "/api/requests") => get(reading::requests),
        ("POST", "/api/requests") => post(writing::answer_request),
        ("GET", "/api/network") => get(reading::network),
        ("GET", "/api/network.svg") => get(reading::network_picture),
        ("GET", "/api/devices") => get(reading::devices),
        ("POST", "/api/devices") => post(writing::change_device),
        ("GET", "/api/settings") => get(writing::settings),
        ("POST", "/api/settings") => post(writing::change_setting),
        ("GET", "/api/person") => get(reading::person),
        ("POST", "/api/contacts") => post(writing::contact),
        ("POST", "/api/petname") => post(writing::petname),
        ("POST", "/api/about") => post(writing::about),
        ("POST", "/api/import") => post(sticks::import).layer(DefaultBodyLimit::max(MAX_UPLOAD)),
        ("GET", "/api/folders") => get(sticks::folders),
        ("POST", "/api/sync") => post(sticks::sync_now),
        ("POST", "/api/bundle") => post(sticks::write_bundle),
        ("GET", "/api/events") => get(reading::events),
        ("GET", "/api/lan") => get(lan::lan),
        ("POST", "/api/pubs") => post(lan::change_pub),
        ("POST", "/api/lan/sync") => post(lan::sync_with),
        _ => return None,
    })
}

pub fn router(app: Arc<App>) -> Router {
    let mut router = Router::new();
    for (method, path) in ROUTES {
        if let Some(handler) = handler(method, path) {
            router = router.route(path, handler);
        }
    }
    router
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no such page or route (docs/http-api.md)",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            guard::check,
        ))
        .with_state(app)
}

/// Two strings compared in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

fn message_id(text: &str) -> Result<crate::ids::MessageId, ApiError> {
    text.parse().map_err(|e: crate::ids::IdParseError| {
        ApiError::new(StatusCode::BAD_REQUEST, e.to_string())
    })
}

/// A person the page named: a name (petname or their own), an id, or a unique start of one.
fn resolve(node: &Node, input: &str) -> Result<crate::ids::FeedId, ApiError> {
    node.names()?
        .resolve_feed(node.store(), input)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_a_handler_once() {
        for (method, path) in ROUTES {
            assert!(handler(method, path).is_some(), "{method} {path}");
        }
        let mut unique: Vec<_> = ROUTES.to_vec();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ROUTES.len());
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", "a"));
    }
}
