//! Sticks, folders and bundle files: the folders kept in sync and "Sync now", a bundle the
//! person chose to import, and a bundle written for chosen people to download.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::super::App;
use super::*;
use crate::node::{ExportOptions, NodeError};
use crate::view::json::import_json;

/// A bundle file the person chose in the page: kept in a private temporary file in the home
/// while it is imported, then removed. The answer is `import --json`'s.
pub(super) async fn import(
    State(app): State<Arc<App>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    let bytes = bytes.map_err(|e| {
        ApiError::new(
            e.status(),
            format!("the file could not be taken ({e}); a bundle is at most {MAX_UPLOAD} bytes"),
        )
    })?;
    let value = with_node(&app, move |node| {
        let home = node.home()?.to_owned();
        let io = |source| {
            ApiError::from(NodeError::Io {
                path: home.clone(),
                source,
            })
        };
        let mut file = tempfile::Builder::new()
            .prefix(".upload-")
            .suffix(&format!(".{}", crate::bundle::EXTENSION))
            .tempfile_in(&home)
            .map_err(io)?;
        std::io::Write::write_all(&mut file, &bytes).map_err(io)?;
        let summary = node.import(&[file.path().to_owned()])?;
        Ok(import_json(&node.names()?, &summary))
    })
    .await?;
    json_answer(value)
}

/// The folders and sticks kept in sync, and the watcher's latest events.
pub(super) async fn folders(State(app): State<Arc<App>>) -> Answer {
    let value = app.folders.lock().unwrap_or_else(|p| p.into_inner()).json();
    json_answer(value)
}

#[derive(Deserialize)]
pub(super) struct SyncRequest {
    folder: std::path::PathBuf,
}

/// One round in a kept folder now ("Sync now"): read the others' bundles, leave ours.
pub(super) async fn sync_now(
    State(app): State<Arc<App>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    let request: SyncRequest = body(bytes)?;
    let allowed = app
        .folders
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .allows(&request.folder);
    if !allowed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the window syncs only the folders and sticks it was started with",
        ));
    }
    let value = with_node(&app, move |node| {
        let report = node.sync_dir(&request.folder, true)?;
        let mut value = json!({
            "new": report.imported.total().new,
            "wrote": report.wrote.map(|w| json!({
                "file": w.path, "messages": w.messages, "feeds": w.feeds, "bytes": w.bytes,
            })),
        });
        if let Some(why) = report.not_written {
            value["error"] = json!(why);
        }
        Ok(value)
    })
    .await?;
    json_answer(value)
}

#[derive(Deserialize)]
pub(super) struct BundleRequest {
    /// The people it is for (names or ids); none: everyone we carry.
    #[serde(default)]
    r#for: Vec<String>,
    /// Encrypted to them: no one else can read it, or tell whom it is for.
    #[serde(default)]
    seal: bool,
}

/// Most people one downloaded bundle is written for (as a private message's readers).
const MAX_READERS: usize = 15;

/// A bundle of what the chosen people lack (or of everything we carry), to download and hand
/// on: written in a private temporary folder in the home, read back, and removed.
pub(super) async fn write_bundle(
    State(app): State<Arc<App>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    let request: BundleRequest = body(bytes)?;
    if request.r#for.len() > MAX_READERS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("a bundle is written for at most {MAX_READERS} people; write several"),
        ));
    }
    let (name, bytes) = with_node(&app, move |node| {
        let mut for_peers = Vec::new();
        for who in &request.r#for {
            for_peers.push(resolve(node, who)?);
        }
        if request.seal && for_peers.is_empty() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "a sealed bundle is for chosen people: name them",
            ));
        }
        let options = ExportOptions {
            all: for_peers.is_empty(),
            for_peers,
            seal: request.seal,
            anyway: true,
            ..Default::default()
        };
        let home = node.home()?.to_owned();
        let io = |source| {
            ApiError::from(NodeError::Io {
                path: home.clone(),
                source,
            })
        };
        let folder = tempfile::Builder::new()
            .prefix(".download-")
            .tempdir_in(&home)
            .map_err(io)?;
        let report = node.export(folder.path(), &options)?;
        let wrote = report.wrote.ok_or_else(|| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "no bundle was written")
        })?;
        let bytes = std::fs::read(&wrote.path).map_err(io)?;
        let name = wrote
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("grapevine.{}", crate::bundle::EXTENSION));
        Ok((name, bytes))
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
