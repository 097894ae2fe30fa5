//! The LAN page: where the window's LAN service listens, what it did, the pubs it visits, and
//! one session with a peer on request.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::Deserialize;

use super::super::App;
use super::*;

/// How long "Sync with" waits for a silent peer.
const SYNC_TIMEOUT: Duration = Duration::from_secs(15);

/// The LAN service and the pubs.
pub(super) async fn lan(State(app): State<Arc<App>>) -> Answer {
    let pubs = with_node(&app, |node| Ok(node.pubs()?)).await?;
    let value = app
        .lan
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .json(&pubs);
    json_answer(value)
}

#[derive(Deserialize)]
pub(super) struct PubChange {
    address: String,
    action: String,
}

/// Adds a pub the LAN service visits, or removes one.
pub(super) async fn change_pub(
    State(app): State<Arc<App>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    let request: PubChange = body(bytes)?;
    let address = request.address.trim().to_owned();
    if crate::lan::serve::resolve(&address).is_none() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("cannot find {address}: give HOST:PORT, as the pub's owner wrote it"),
        ));
    }
    let pubs = with_node(&app, move |node| {
        match request.action.as_str() {
            "add" => {
                if !node.pubs()?.contains(&address) {
                    node.add_pub(&address)?;
                }
            }
            "remove" => {
                if !node.remove_pub(&address)? {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        format!("{address} is not one of your pubs"),
                    ));
                }
            }
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("no such action '{other}': add or remove"),
                ));
            }
        }
        Ok(node.pubs()?)
    })
    .await?;
    json_answer(json!({ "pubs": pubs }))
}

#[derive(Deserialize)]
pub(super) struct SyncWith {
    address: String,
}

/// One session with the peer at an address, as `grapevine sync` runs it.
pub(super) async fn sync_with(
    State(app): State<Arc<App>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    let request: SyncWith = body(bytes)?;
    let address = request.address.trim().to_owned();
    let (network, clock) =
        with_node(&app, |node| Ok((node.network()?, node.clock().clone()))).await?;
    let home = app.home.clone();
    let at = address.clone();
    let report = tokio::task::spawn_blocking(move || {
        crate::lan::sync(&home, &at, &network, SYNC_TIMEOUT, clock).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("could not sync with {at}: {e}"),
            )
        })
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    let value = with_node(&app, move |node| {
        Ok(crate::view::json::synced_json(
            &report,
            &address,
            &node.names()?,
        ))
    })
    .await?;
    json_answer(value)
}
