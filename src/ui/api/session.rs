//! The session and the first run: the link's secret for a cookie; a new diary, or one back
//! from its 24 words.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::App;
use super::*;
use crate::node::{Node, NodeError};

#[derive(Deserialize)]
pub(super) struct SessionRequest {
    secret: String,
}

/// The link's secret for a session cookie. A secret works once: the terminal then prints a
/// new link, for another browser.
pub(super) async fn session(
    State(app): State<Arc<App>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    let request: SessionRequest = body(bytes)?;
    let fresh = super::super::token()?;
    {
        let mut secret = app.secret.lock().unwrap_or_else(|p| p.into_inner());
        if !same(&secret, &request.secret) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "this link is not (or no longer) the window's: open the newest link \
                 `grapevine ui` printed",
            ));
        }
        *secret = fresh.clone();
    }
    let token = super::super::token()?;
    app.sessions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(token.clone());
    let _ = app.say.send(format!(
        "a browser opened the window; that link is used up. For another browser: open {}",
        app.url(&fresh)
    ));
    Ok(guard::session_cookie(&app, &token))
}

/// Whether this home has a diary yet, and whose; or whether its key waits for its passphrase.
pub(super) async fn state(State(app): State<Arc<App>>) -> Answer {
    let app2 = app.clone();
    let me = tokio::task::spawn_blocking(move || {
        let node = app2.node.lock().unwrap_or_else(|p| p.into_inner());
        node.as_ref()
            .map(|n| n.names().map(|names| names.json(&n.id())))
            .transpose()
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(ApiError::from)?;
    let locked = me.is_none() && app.home.join(crate::node::KEY_FILE).exists();
    json_answer(json!({ "me": me, "locked": locked }))
}

#[derive(Deserialize)]
pub(super) struct UnlockRequest {
    passphrase: String,
}

/// Opens a passphrase-locked key with the passphrase typed in the page.
pub(super) async fn unlock(
    State(app): State<Arc<App>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    let request: UnlockRequest = body(bytes)?;
    first_run(&app, move |home| {
        let key = home.join(crate::node::KEY_FILE);
        let phrase = crate::identity::Passphrase::Given(&request.passphrase);
        crate::identity::Identity::load_with(&key, phrase).map_err(|e| match e {
            crate::identity::IdentityError::WrongPassphrase(_) => ApiError::new(
                StatusCode::FORBIDDEN,
                "that is not this diary's passphrase; try again",
            ),
            crate::identity::IdentityError::EmptyPassphrase => {
                ApiError::new(StatusCode::BAD_REQUEST, "type the passphrase first")
            }
            other => NodeError::from(other).into(),
        })?;
        Ok((Node::open(home)?, json!({})))
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct InitRequest {
    name: String,
}

/// Makes the home's diary with `make` (first run), unless it has one: the window then uses
/// it, and starts keeping its folders in sync.
pub(super) async fn first_run(
    app: &Arc<App>,
    make: impl FnOnce(&std::path::Path) -> Result<(Node, Value), ApiError> + Send + 'static,
) -> Answer {
    let app = app.clone();
    tokio::task::spawn_blocking(move || {
        let mut slot = app.node.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_some() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "this home already has a diary",
            ));
        }
        let (node, mut value) = make(&app.home)?;
        value["me"] = node.names()?.json(&node.id());
        *slot = Some(node);
        super::super::folders::start(&app, &app.watch, app.stop.clone());
        super::super::lan::start(&app);
        json_answer(value)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

/// The first-run form: a new identity under `name`, and its 24 backup words.
pub(super) async fn init(
    State(app): State<Arc<App>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    let request: InitRequest = body(bytes)?;
    first_run(&app, move |home| {
        let name = request.name.trim();
        if name.is_empty() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "a name is needed: the one your friends know you by",
            ));
        }
        let node = Node::init_with(home, Some(name), None)?;
        let identity = crate::identity::Identity::load(&node.home()?.join(crate::node::KEY_FILE))
            .map_err(NodeError::from)?;
        let words = crate::backup::words(&identity).to_string();
        let words: Vec<&str> = words.split_whitespace().collect();
        Ok((node, json!({ "words": words })))
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct RestoreRequest {
    words: String,
}

/// The first-run form's other way: a diary back from its 24 backup words. Nothing is written
/// until the diary's newest message is back (from a friend's bundle, a stick, the network).
pub(super) async fn restore(
    State(app): State<Arc<App>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    let request: RestoreRequest = body(bytes)?;
    first_run(&app, move |home| {
        let identity = crate::backup::identity_from_words(&request.words)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
        Ok((Node::init_restored(home, &identity, None, None)?, json!({})))
    })
    .await
}
