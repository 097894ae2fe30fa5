//! Routes that change something: posts, likes, private messages, contacts, petnames, message
//! requests, your own profile, devices and settings.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::super::App;
use super::*;
use crate::view::json::{contact_json, who_json, written_json};

#[derive(Deserialize)]
pub(super) struct PostRequest {
    text: String,
    reply: Option<String>,
}

/// A post (a reply when `reply` names a message; a reply to a private message is private).
pub(super) async fn write_post(
    State(app): State<Arc<App>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    let request: PostRequest = body(bytes)?;
    let reply = request.reply.as_deref().map(message_id).transpose()?;
    let value = with_node(&app, move |node| {
        let message = node.post(&request.text, reply)?;
        Ok(written_json(&message, &node.names()?))
    })
    .await?;
    json_answer(value)
}

#[derive(Deserialize)]
pub(super) struct LikeRequest {
    id: String,
    like: bool,
}

/// A like of a post, or taking it back.
pub(super) async fn like(
    State(app): State<Arc<App>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    let request: LikeRequest = body(bytes)?;
    let id = message_id(&request.id)?;
    let value = with_node(&app, move |node| {
        let message = node.like(id, request.like)?;
        Ok(written_json(&message, &node.names()?))
    })
    .await?;
    json_answer(value)
}

#[derive(Deserialize)]
pub(super) struct PrivateRequest {
    #[serde(default)]
    to: Vec<String>,
    text: String,
    reply: Option<String>,
}

/// A private message to the people `to` names, or a reply in a private conversation (to
/// everyone in it). The answer says who can read it.
pub(super) async fn write_private(
    State(app): State<Arc<App>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    let request: PrivateRequest = body(bytes)?;
    let reply = request.reply.as_deref().map(message_id).transpose()?;
    let value = with_node(&app, move |node| {
        let message = match reply {
            Some(parent) if node.is_private(&parent)? => node.post(&request.text, Some(parent))?,
            Some(_) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "that message is public: reply to it on the timeline",
                ));
            }
            None => {
                if request.to.is_empty() {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "say whom it is for: at least one name in To",
                    ));
                }
                let to = request
                    .to
                    .iter()
                    .map(|input| resolve(node, input))
                    .collect::<Result<Vec<_>, _>>()?;
                node.dm(&to, &request.text)?
            }
        };
        let names = node.names()?;
        let mut value = written_json(&message, &names);
        if let Some(post) = node.store().post(&message.id)? {
            value["recipients"] = post.recipients.iter().map(|f| names.json(f)).collect();
        }
        Ok(value)
    })
    .await?;
    json_answer(value)
}

#[derive(Deserialize)]
pub(super) struct RequestAnswer {
    person: String,
    action: String,
}

/// Accept a person's requests (a follow: their messages move to your private messages) or
/// dismiss them (later ones from them arrive dismissed too).
pub(super) async fn answer_request(
    State(app): State<Arc<App>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    use crate::content::ContactChange;
    let request: RequestAnswer = body(bytes)?;
    let value = with_node(&app, move |node| {
        let feed = resolve(node, &request.person)?;
        match request.action.as_str() {
            "accept" => {
                let (message, settled) = node.contact(feed, ContactChange::Follow)?;
                let names = node.names()?;
                Ok(contact_json(
                    &message,
                    &feed,
                    ContactChange::Follow,
                    &settled,
                    &names,
                ))
            }
            "dismiss" => Ok(json!({ "dismissed": node.dismiss_requests(&feed)? })),
            other => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("action is accept or dismiss, not {other:?}"),
            )),
        }
    })
    .await?;
    json_answer(value)
}

/// The settings a person may change in the window.
const SETTINGS: &[&str] = &["hops", "forget-after-days", "folder-stale-days", "network"];

/// The window's settings, each `{"key", "value"}` as `config get` says it.
pub(super) async fn settings(State(app): State<Arc<App>>) -> Answer {
    let value = with_node(&app, |node| {
        let list = SETTINGS
            .iter()
            .map(|key| Ok(json!({ "key": key, "value": node.config(key)? })))
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(json!({ "settings": list }))
    })
    .await?;
    json_answer(value)
}

#[derive(Deserialize)]
pub(super) struct SettingChange {
    key: String,
    value: String,
}

/// Changes a setting as `config set` does (and settles, when what is replicated changes).
pub(super) async fn change_setting(
    State(app): State<Arc<App>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    let change: SettingChange = body(bytes)?;
    if !SETTINGS.contains(&change.key.as_str()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the window changes {}, not {:?}",
                SETTINGS.join(", "),
                change.key
            ),
        ));
    }
    let value = with_node(&app, move |node| {
        node.set_config(&change.key, &change.value)?;
        Ok(json!({ "key": change.key, "value": node.config(&change.key)? }))
    })
    .await?;
    json_answer(value)
}

#[derive(Deserialize)]
pub(super) struct ContactRequest {
    person: String,
    change: String,
}

/// Follow, unfollow, block or unblock someone; the answer says what settling then did.
pub(super) async fn contact(
    State(app): State<Arc<App>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    use crate::content::ContactChange;
    let request: ContactRequest = body(bytes)?;
    let change = match request.change.as_str() {
        "follow" => ContactChange::Follow,
        "unfollow" => ContactChange::Unfollow,
        "block" => ContactChange::Block,
        "unblock" => ContactChange::Unblock,
        other => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("change is follow, unfollow, block or unblock, not {other:?}"),
            ));
        }
    };
    let value = with_node(&app, move |node| {
        let feed = resolve(node, &request.person)?;
        let (message, settled) = node.contact(feed, change)?;
        Ok(contact_json(
            &message,
            &feed,
            change,
            &settled,
            &node.names()?,
        ))
    })
    .await?;
    json_answer(value)
}

#[derive(Deserialize)]
pub(super) struct PetnameRequest {
    person: String,
    name: Option<String>,
}

/// A name of your own for someone (`null` removes it); it never leaves this node.
pub(super) async fn petname(
    State(app): State<Arc<App>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    let request: PetnameRequest = body(bytes)?;
    let value = with_node(&app, move |node| {
        let feed = resolve(node, &request.person)?;
        node.set_petname(&feed, request.name.as_deref())?;
        Ok(json!({
            "feed": node.names()?.json(&feed),
            "petname": node.store().petname(&feed)?,
        }))
    })
    .await?;
    json_answer(value)
}

#[derive(Deserialize)]
pub(super) struct AboutRequest {
    name: Option<String>,
    description: Option<String>,
}

/// Your own profile: the name others should show for you, and a few words about you, each
/// published only when it changed. The answer is `who --json` of you.
pub(super) async fn about(
    State(app): State<Arc<App>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    let request: AboutRequest = body(bytes)?;
    let value = with_node(&app, move |node| {
        let me = node.id();
        let now = node.who(&me)?;
        if let Some(name) = request.name.as_deref().map(str::trim)
            && now.name.as_deref() != Some(name)
        {
            node.set_name(name)?;
        }
        if let Some(text) = request.description.as_deref().map(str::trim)
            && now.description.as_deref() != Some(text)
        {
            node.set_description(text)?;
        }
        Ok(who_json(&me, &node.who(&me)?, &node.names()?))
    })
    .await?;
    json_answer(value)
}

#[derive(Deserialize)]
pub(super) struct DeviceChange {
    device: String,
    action: String,
}

/// Links another device of yours (by its id, or the name its offer gave), or ends a link.
pub(super) async fn change_device(
    State(app): State<Arc<App>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Answer {
    let request: DeviceChange = body(bytes)?;
    let value = with_node(&app, move |node| {
        let feed = resolve(node, &request.device)?;
        let (message, settled) = match request.action.as_str() {
            "link" => node.link_device(feed)?,
            "unlink" => node.unlink_device(feed)?,
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("action is link or unlink, not {other:?}"),
                ));
            }
        };
        let state = node.devices()?.state(&node.id(), &feed);
        let names = node.names()?;
        Ok(crate::view::json::device_change_json(
            &message,
            &feed,
            state,
            settled.total().new,
            &names,
        ))
    })
    .await?;
    json_answer(value)
}
