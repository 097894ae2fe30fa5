//! The window's routes (docs/http-api.md): the page itself, the session, and the data, each
//! answering JSON built by the same views as the terminal's `--json` ([`crate::view::json`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{App, assets, guard};
use crate::node::{Node, NodeError};
use crate::store::Filter;
use crate::view::json::{
    contact_json, conversation_json, import_json, network_json, post_json, who_json, written_json,
};

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
    ("GET", "/api/settings"),
    ("POST", "/api/settings"),
    ("GET", "/api/person"),
    ("POST", "/api/contacts"),
    ("POST", "/api/petname"),
    ("POST", "/api/import"),
    ("GET", "/api/folders"),
    ("POST", "/api/sync"),
    ("GET", "/api/events"),
];

/// The handler of a route in [`ROUTES`].
fn handler(method: &str, path: &str) -> Option<MethodRouter<Arc<App>>> {
    Some(match (method, path) {
        ("GET", "/") => get(assets::index),
        ("GET", "/app.js") => get(assets::script),
        ("GET", "/app.css") => get(assets::style),
        ("GET", "/favicon.svg") => get(assets::icon),
        ("POST", guard::SESSION_ROUTE) => post(session),
        ("GET", "/api/state") => get(state),
        ("POST", "/api/init") => post(init),
        ("POST", "/api/restore") => post(restore),
        ("GET", "/api/timeline") => get(timeline),
        ("POST", "/api/posts") => post(write_post),
        ("POST", "/api/likes") => post(like),
        ("GET", "/api/thread") => get(thread),
        ("GET", "/api/posts") => get(find_posts),
        ("GET", "/api/conversations") => get(conversations),
        ("POST", "/api/private") => post(write_private),
        ("GET", "/api/requests") => get(requests),
        ("POST", "/api/requests") => post(answer_request),
        ("GET", "/api/network") => get(network),
        ("GET", "/api/network.svg") => get(network_picture),
        ("GET", "/api/settings") => get(settings),
        ("POST", "/api/settings") => post(change_setting),
        ("GET", "/api/person") => get(person),
        ("POST", "/api/contacts") => post(contact),
        ("POST", "/api/petname") => post(petname),
        ("POST", "/api/import") => post(import).layer(DefaultBodyLimit::max(MAX_UPLOAD)),
        ("GET", "/api/folders") => get(folders),
        ("POST", "/api/sync") => post(sync_now),
        ("GET", "/api/events") => get(events),
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

#[derive(Deserialize)]
struct SessionRequest {
    secret: String,
}

/// The link's secret for a session cookie. A secret works once: the terminal then prints a
/// new link, for another browser.
async fn session(State(app): State<Arc<App>>, bytes: Result<Bytes, BytesRejection>) -> Answer {
    let request: SessionRequest = body(bytes)?;
    let fresh = super::token()?;
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
    let token = super::token()?;
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

/// Whether this home has a diary yet, and whose.
async fn state(State(app): State<Arc<App>>) -> Answer {
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
    json_answer(json!({ "me": me }))
}

#[derive(Deserialize)]
struct InitRequest {
    name: String,
}

/// Makes the home's diary with `make` (first run), unless it has one: the window then uses
/// it, and starts keeping its folders in sync.
async fn first_run(
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
        super::folders::start(&app, &app.watch, app.stop.clone());
        json_answer(value)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

/// The first-run form: a new identity under `name`, and its 24 backup words.
async fn init(State(app): State<Arc<App>>, bytes: Result<Bytes, BytesRejection>) -> Answer {
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
        let identity = crate::identity::Identity::load(&node.home().join(crate::node::KEY_FILE))
            .map_err(NodeError::from)?;
        let words = crate::backup::words(&identity).to_string();
        let words: Vec<&str> = words.split_whitespace().collect();
        Ok((node, json!({ "words": words })))
    })
    .await
}

#[derive(Deserialize)]
struct RestoreRequest {
    words: String,
}

/// The first-run form's other way: a diary back from its 24 backup words. Nothing is written
/// until the diary's newest message is back (from a friend's bundle, a stick, the network).
async fn restore(State(app): State<Arc<App>>, bytes: Result<Bytes, BytesRejection>) -> Answer {
    let request: RestoreRequest = body(bytes)?;
    first_run(&app, move |home| {
        let identity = crate::backup::identity_from_words(&request.words)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
        Ok((Node::init_restored(home, &identity, None, None)?, json!({})))
    })
    .await
}

#[derive(Deserialize)]
struct Page {
    limit: Option<u64>,
}

/// The newest public posts (50, or `limit` up to [`MAX_PAGE`]).
async fn timeline(
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
struct PostRequest {
    text: String,
    reply: Option<String>,
}

fn message_id(text: &str) -> Result<crate::ids::MessageId, ApiError> {
    text.parse().map_err(|e: crate::ids::IdParseError| {
        ApiError::new(StatusCode::BAD_REQUEST, e.to_string())
    })
}

/// A post (a reply when `reply` names a message; a reply to a private message is private).
async fn write_post(State(app): State<Arc<App>>, bytes: Result<Bytes, BytesRejection>) -> Answer {
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
struct LikeRequest {
    id: String,
    like: bool,
}

/// A like of a post, or taking it back.
async fn like(State(app): State<Arc<App>>, bytes: Result<Bytes, BytesRejection>) -> Answer {
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
struct ThreadQuery {
    id: String,
}

/// A post and every reply held, as a tree: each post with its `depth`.
async fn thread(
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
struct FindQuery {
    tag: Option<String>,
    search: Option<String>,
    mentions: Option<String>,
}

/// Posts by one of: `tag` (tagged #tag), `search` (words, your private messages included),
/// `mentions` (that mention a person; `me` for you). At most 50.
async fn find_posts(
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
async fn conversations(State(app): State<Arc<App>>) -> Answer {
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

/// A person the page named: a name (petname or their own), an id, or a unique start of one.
fn resolve(node: &Node, input: &str) -> Result<crate::ids::FeedId, ApiError> {
    node.names()?
        .resolve_feed(node.store(), input)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))
}

#[derive(Deserialize)]
struct PrivateRequest {
    #[serde(default)]
    to: Vec<String>,
    text: String,
    reply: Option<String>,
}

/// A private message to the people `to` names, or a reply in a private conversation (to
/// everyone in it). The answer says who can read it.
async fn write_private(
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

/// Private messages for you from people you do not follow, waiting apart.
async fn requests(State(app): State<Arc<App>>) -> Answer {
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

#[derive(Deserialize)]
struct RequestAnswer {
    person: String,
    action: String,
}

/// Accept a person's requests (a follow: their messages move to your private messages) or
/// dismiss them (later ones from them arrive dismissed too).
async fn answer_request(
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
async fn settings(State(app): State<Arc<App>>) -> Answer {
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
struct SettingChange {
    key: String,
    value: String,
}

/// Changes a setting as `config set` does (and settles, when what is replicated changes).
async fn change_setting(
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

/// The gossip network as a picture (the SVG of `graph`): shown as an image, so nothing in it
/// runs, whatever names peers chose.
async fn network_picture(State(app): State<Arc<App>>) -> Answer {
    let svg = with_node(&app, |node| Ok(node.picture()?.svg())).await?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// The gossip network: everyone replicated or excluded, with hops and follows.
async fn network(State(app): State<Arc<App>>) -> Answer {
    let value = with_node(&app, |node| {
        Ok(network_json(&node.picture()?, &node.names()?))
    })
    .await?;
    json_answer(value)
}

#[derive(Deserialize)]
struct PersonQuery {
    who: String,
}

/// What this node knows of one person.
async fn person(
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

#[derive(Deserialize)]
struct ContactRequest {
    person: String,
    change: String,
}

/// Follow, unfollow, block or unblock someone; the answer says what settling then did.
async fn contact(State(app): State<Arc<App>>, bytes: Result<Bytes, BytesRejection>) -> Answer {
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
struct PetnameRequest {
    person: String,
    name: Option<String>,
}

/// A name of your own for someone (`null` removes it); it never leaves this node.
async fn petname(State(app): State<Arc<App>>, bytes: Result<Bytes, BytesRejection>) -> Answer {
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

/// A bundle file the person chose in the page: kept in a private temporary file in the home
/// while it is imported, then removed. The answer is `import --json`'s.
async fn import(State(app): State<Arc<App>>, bytes: Result<Bytes, BytesRejection>) -> Answer {
    let bytes = bytes.map_err(|e| {
        ApiError::new(
            e.status(),
            format!("the file could not be taken ({e}); a bundle is at most {MAX_UPLOAD} bytes"),
        )
    })?;
    let value = with_node(&app, move |node| {
        let home = node.home().to_owned();
        let io = |source| {
            ApiError::from(NodeError::Io {
                path: home.clone(),
                source,
            })
        };
        let mut file = tempfile::Builder::new()
            .prefix(".upload-")
            .suffix(&format!(".{}", crate::bundle::EXTENSION))
            .tempfile_in(node.home())
            .map_err(io)?;
        std::io::Write::write_all(&mut file, &bytes).map_err(io)?;
        let summary = node.import(&[file.path().to_owned()])?;
        Ok(import_json(&node.names()?, &summary))
    })
    .await?;
    json_answer(value)
}

/// The folders and sticks kept in sync, and the watcher's latest events.
async fn folders(State(app): State<Arc<App>>) -> Answer {
    let value = app.folders.lock().unwrap_or_else(|p| p.into_inner()).json();
    json_answer(value)
}

#[derive(Deserialize)]
struct SyncRequest {
    folder: std::path::PathBuf,
}

/// One round in a kept folder now ("Sync now"): read the others' bundles, leave ours.
async fn sync_now(State(app): State<Arc<App>>, bytes: Result<Bytes, BytesRejection>) -> Answer {
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

/// Server-sent events: `changed` whenever the store changes (a bundle merged by a watcher, a
/// post from the terminal or this page), so the page shows it without a reload.
async fn events(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
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
    let changes = futures_util::stream::unfold(
        (store, first, heard),
        |(store, last, mut heard)| async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                tokio::select! {
                    told = heard.recv() => match told {
                        Ok(text) => {
                            let event = Event::default().event("watch").data(text);
                            return Some((Ok::<_, Infallible>(event), (store, last, heard)));
                        }
                        // Too slow a page misses events, not the next change.
                        Err(RecvError::Lagged(_)) => continue,
                        // The window is ending.
                        Err(RecvError::Closed) => return None,
                    },
                    () = tokio::time::sleep(Duration::from_millis(200)) => {
                        let now = store.data_version().ok();
                        if now != last {
                            let event = Event::default().event("changed").data("{}");
                            return Some((Ok::<_, Infallible>(event), (store, now, heard)));
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
