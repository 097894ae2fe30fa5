//! Routes that read: the timeline, threads, found posts, conversations, requests, people and
//! the network, and the live event stream.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::super::App;
use super::*;
use crate::node::NodeError;
use crate::store::Filter;
use crate::view::json::{conversation_json, network_json, post_json, who_json};

#[derive(Deserialize)]
pub(super) struct Page {
    limit: Option<u64>,
}

/// The newest public posts (50, or `limit` up to [`MAX_PAGE`]).
pub(super) async fn timeline(
    State(app): State<Arc<App>>,
    page: Result<Query<Page>, QueryRejection>,
) -> Answer {
    let page = query(page)?;
    let limit = page.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let value = with_node(&app, move |node| {
        let names = node.names()?;
        let posts = node.timeline(&Filter {
            limit: Some(limit),
            ..Filter::default()
        })?;
        let value = json!({
            "posts": posts.iter().map(|p| post_json(p, &names)).collect::<Vec<_>>(),
        });
        // Shown once as unread, as the terminal's `timeline` does.
        node.mark_read(&posts.iter().collect::<Vec<_>>())?;
        Ok(value)
    })
    .await?;
    json_answer(value)
}

#[derive(Deserialize)]
pub(super) struct ThreadQuery {
    id: String,
}

/// A post and every reply held, as a tree: each post with its `depth`.
pub(super) async fn thread(
    State(app): State<Arc<App>>,
    asked: Result<Query<ThreadQuery>, QueryRejection>,
) -> Answer {
    let id = message_id(&query(asked)?.id)?;
    let value = with_node(&app, move |node| {
        let names = node.names()?;
        let posts = node.store().thread(&id)?;
        if posts.is_empty() {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "that post is not held here",
            ));
        }
        Ok(json!({
            "posts": posts
                .iter()
                .map(|(depth, p)| {
                    let mut v = post_json(p, &names);
                    v["depth"] = json!(depth);
                    v
                })
                .collect::<Vec<_>>(),
        }))
    })
    .await?;
    json_answer(value)
}

#[derive(Deserialize)]
pub(super) struct FindQuery {
    tag: Option<String>,
    search: Option<String>,
    mentions: Option<String>,
}

/// Posts by one of: `tag` (tagged #tag), `search` (words, your private messages included),
/// `mentions` (that mention a person; `me` for you). At most 50.
pub(super) async fn find_posts(
    State(app): State<Arc<App>>,
    asked: Result<Query<FindQuery>, QueryRejection>,
) -> Answer {
    let asked = query(asked)?;
    let value = with_node(&app, move |node| {
        let names = node.names()?;
        let posts = match (&asked.tag, &asked.search, &asked.mentions) {
            (Some(tag), None, None) => node.store().tagged(tag, 50)?,
            (None, Some(words), None) => node.store().search(words, 50)?,
            (None, None, Some(who)) => {
                let feed = if who == "me" {
                    node.id()
                } else {
                    resolve(node, who)?
                };
                node.store().mentioning(names.person(&feed), 50)?
            }
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "ask for one of tag, search or mentions",
                ));
            }
        };
        Ok(json!({
            "posts": posts.iter().map(|p| post_json(p, &names)).collect::<Vec<_>>(),
        }))
    })
    .await?;
    json_answer(value)
}

/// Every private conversation, newest first, with up to 50 messages each.
pub(super) async fn conversations(State(app): State<Arc<App>>) -> Answer {
    let value = with_node(&app, |node| {
        let names = node.names()?;
        let list = node.conversations(50)?;
        let value = json!({
            "conversations": list.iter().map(|c| conversation_json(c, &names)).collect::<Vec<_>>(),
        });
        node.mark_read(&list.iter().flat_map(|c| &c.posts).collect::<Vec<_>>())?;
        Ok(value)
    })
    .await?;
    json_answer(value)
}

/// Private messages for you from people you do not follow, waiting apart.
pub(super) async fn requests(State(app): State<Arc<App>>) -> Answer {
    let value = with_node(&app, |node| {
        let names = node.names()?;
        let list = node.store().requests()?;
        Ok(json!({
            "requests": list
                .iter()
                .map(|r| crate::view::json::request_json(r, &names))
                .collect::<Vec<_>>(),
        }))
    })
    .await?;
    json_answer(value)
}

/// The gossip network as a picture (the SVG of `graph`): shown as an image, so nothing in it
/// runs, whatever names peers chose.
pub(super) async fn network_picture(State(app): State<Arc<App>>) -> Answer {
    let svg = with_node(&app, |node| Ok(node.picture()?.svg())).await?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// The gossip network: everyone replicated or excluded, with hops and follows.
pub(super) async fn network(State(app): State<Arc<App>>) -> Answer {
    let value = with_node(&app, |node| {
        Ok(network_json(&node.picture()?, &node.names()?))
    })
    .await?;
    json_answer(value)
}

#[derive(Deserialize)]
pub(super) struct PersonQuery {
    who: String,
}

/// What this node knows of one person.
pub(super) async fn person(
    State(app): State<Arc<App>>,
    asked: Result<Query<PersonQuery>, QueryRejection>,
) -> Answer {
    let asked = query(asked)?;
    let value = with_node(&app, move |node| {
        let feed = resolve(node, &asked.who)?;
        Ok(who_json(&feed, &node.who(&feed)?, &node.names()?))
    })
    .await?;
    json_answer(value)
}

/// Server-sent events: `changed` whenever the store changes (a bundle merged by a watcher, a
/// post from the terminal or this page), so the page shows it without a reload.
pub(super) async fn events(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let path = app.home.join(crate::node::STORE_FILE);
    let store = tokio::task::spawn_blocking(move || crate::store::Store::open(&path))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError::from(NodeError::from(e)))?;
    let first = store.data_version().ok();
    let ready = futures_util::stream::iter([Ok::<_, Infallible>(
        Event::default().event("ready").data("{}"),
    )]);
    let heard = app.live.subscribe();
    // A steady tick, not a sleep per wait: a stream of watcher events must not put off the
    // look at the store. Right after a told event the store is looked at too (a merge is one).
    let mut ticker = tokio::time::interval(Duration::from_millis(200));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let changes = futures_util::stream::unfold(
        (store, first, heard, ticker, false),
        |(store, last, mut heard, mut ticker, told_one)| async move {
            use tokio::sync::broadcast::error::RecvError;
            let changed = |store: &crate::store::Store| {
                let now = store.data_version().ok();
                (now != last).then_some(now)
            };
            if told_one && let Some(now) = changed(&store) {
                let event = Event::default().event("changed").data("{}");
                return Some((
                    Ok::<_, Infallible>(event),
                    (store, now, heard, ticker, false),
                ));
            }
            loop {
                tokio::select! {
                    told = heard.recv() => match told {
                        Ok(text) => {
                            let event = Event::default().event("event").data(text);
                            return Some((Ok::<_, Infallible>(event), (store, last, heard, ticker, true)));
                        }
                        // Too slow a page misses events, not the next change.
                        Err(RecvError::Lagged(_)) => continue,
                        // The window is ending.
                        Err(RecvError::Closed) => return None,
                    },
                    _ = ticker.tick() => {
                        if let Some(now) = changed(&store) {
                            let event = Event::default().event("changed").data("{}");
                            return Some((Ok::<_, Infallible>(event), (store, now, heard, ticker, false)));
                        }
                    }
                }
            }
        },
    );
    use futures_util::StreamExt;
    Ok(Sse::new(ready.chain(changes))
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// This device, and how each link with another of yours stands (offers included).
pub(super) async fn devices(State(app): State<Arc<App>>) -> Answer {
    let value = with_node(&app, |node| {
        let entries = node.device_list()?;
        Ok(crate::view::json::devices_json(
            &node.id(),
            &entries,
            &node.names()?,
        ))
    })
    .await?;
    json_answer(value)
}
