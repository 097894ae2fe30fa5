//! The JSON forms of what grapevine shows (docs/json.md), built once for the terminal's
//! `--json` and for the window (`grapevine ui`).

use serde_json::{Value, json};

use crate::content::ContactChange;
use crate::ids::FeedId;
use crate::message::Message;
use crate::node::{Contacts, Conversation, ImportSummary, Who};
use crate::people::Names;
use crate::store::PostView;

fn feeds(names: &Names, list: &[FeedId]) -> Vec<Value> {
    list.iter().map(|f| names.json(f)).collect()
}

/// A post in JSON (docs/json.md "post").
pub fn post_json(p: &PostView, names: &Names) -> Value {
    let h = &p.message.header;
    let mut value = json!({
        "id": p.message.id,
        "author": names.author_json(&h.author, h.sequence),
        "sequence": h.sequence,
        "timestamp": h.timestamp,
        "at": p.at,
        "private": p.private,
        "unread": p.unread,
        "text": p.post.text,
        "reply": p.post.reply,
        "reply_author": p.reply_author.map(|f| names.json(&f)),
        "mentions": p.post.mentions.iter().map(|f| names.json(f)).collect::<Vec<_>>(),
        "tags": p.post.tags,
        "likes": p.likes,
        "replies": p.replies,
    });
    if p.private {
        value["recipients"] = p.recipients.iter().map(|f| names.json(f)).collect();
    }
    value
}

/// What `--json` prints for a message just written (docs/json.md "written"), to which a
/// command may add what it changed.
pub fn written_json(message: &Message, names: &Names) -> Value {
    json!({
        "id": message.id,
        "author": names.json(&message.header.author),
        "sequence": message.header.sequence,
    })
}

/// A private conversation (docs/json.md, `inbox`).
pub fn conversation_json(c: &Conversation, names: &Names) -> Value {
    json!({
        "with": feeds(names, &c.with),
        "unread_posts": c.unread(),
        "posts": c.posts.iter().map(|p| post_json(p, names)).collect::<Vec<_>>(),
    })
}

/// What this node knows of a feed (docs/json.md, `who`).
pub fn who_json(feed: &FeedId, w: &Who, names: &Names) -> Value {
    json!({
        "feed": names.json(feed),
        "petname": w.petname,
        "self_name": w.name,
        "description": w.description,
        "messages": w.messages,
        "pending": w.pending,
        "forked": w.forked,
        "follows": feeds(names, &w.follows),
        "followers": feeds(names, &w.followers),
        "blocks": feeds(names, &w.blocks),
        "devices": feeds(names, &w.devices),
        "hops": w.hops,
        "blocked_by_you": w.blocked_by_us,
        "last_heard": w.last_heard,
        "last_post": w.last_post,
        "reaches_them": w.reaches_them,
        "blocks_you": w.blocks_us,
    })
}

/// Whom we follow, who follows us, whom we block (docs/json.md, `contacts`).
pub fn contacts_json(c: &Contacts, names: &Names) -> Value {
    json!({
        "following": feeds(names, &c.following),
        "followers": feeds(names, &c.followers),
        "blocked": feeds(names, &c.blocked),
    })
}

/// A follow, unfollow, block or unblock just written, and what settling did after it.
pub fn contact_json(
    message: &Message,
    feed: &FeedId,
    change: ContactChange,
    settled: &ImportSummary,
    names: &Names,
) -> Value {
    let verb = match change {
        ContactChange::Follow => "follow",
        ContactChange::Unfollow => "unfollow",
        ContactChange::Block => "block",
        ContactChange::Unblock => "unblock",
    };
    let mut value = written_json(message, names);
    value["contact"] = names.json(feed);
    value["change"] = json!(verb);
    value["took_in"] = json!(settled.total().new);
    value["dropped"] = json!(settled.dropped.iter().map(|(_, n)| n).sum::<u64>());
    value["hidden"] = json!(settled.hidden.iter().map(|(_, n)| n).sum::<u64>());
    value["shown"] = json!(settled.shown.len());
    value
}

/// The gossip network (`graph --json`): every feed in the picture, its hops, whom it follows.
pub fn network_json(picture: &crate::graph_view::Picture, names: &Names) -> Value {
    let people: Vec<Value> = picture
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let follows: Vec<Value> = picture
                .edges
                .iter()
                .filter(|(from, _)| *from == i)
                .map(|(_, to)| names.json(&picture.nodes[*to].feed))
                .collect();
            json!({
                "feed": names.json(&n.feed),
                "hops": n.distance,
                "blocked_by_you": n.excluded == Some(crate::graph::Exclusion::BlockedByMe),
                "messages": n.held,
                "follows": follows,
            })
        })
        .collect();
    json!({ "people": people })
}

/// What an import did (docs/json.md, `import`).
pub fn import_json(names: &Names, summary: &ImportSummary) -> Value {
    let total = summary.total();
    json!({
        "bundles": summary.bundles.iter().map(|b| json!({
            "file": b.path,
            "exporter": b.container.manifest.as_ref().map(|m| names.json(&m.exporter)),
            "new": b.messages.new,
            "already_held": b.messages.already_held,
            "rejected": b.messages.rejected,
            "not_wanted": b.messages.not_wanted,
            "clean": b.is_clean(),
            "problems": b.container.problems.iter().map(|p| p.to_string())
                .chain(b.messages.rejections.iter().map(|r| r.to_string()))
                .collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "new": total.new,
        "already_held": total.already_held,
        "rejected": total.rejected,
        "not_wanted": total.not_wanted,
        "pending": total.pending,
        "forks": total.forks,
        "unreadable": summary.unreadable.iter().map(|(p, e)| json!({"file": p, "error": e})).collect::<Vec<_>>(),
        "not_for_you": summary.not_for_us,
        "not_wanted_feeds": summary.not_wanted_feeds().iter().map(|f| names.json(f)).collect::<Vec<_>>(),
        "requests": total.requests,
        "device_offers": total.offered_by.iter().map(|f| names.json(f)).collect::<Vec<_>>(),
        "blocked_feeds": summary.blocked.len(),
    })
}

/// A private message's text as its plaintext gives it (empty when it has none).
pub fn request_text(plaintext: &str) -> String {
    serde_json::from_str::<Value>(plaintext)
        .ok()
        .and_then(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

/// A message request: a private message for you from a feed you do not replicate.
pub fn request_json(r: &crate::store::requests::Request, names: &Names) -> Value {
    json!({
        "id": r.id,
        "author": names.json(&r.author),
        "sequence": r.sequence,
        "at": r.at,
        "text": request_text(&r.plaintext),
    })
}

/// This device and the links it holds (docs/json.md, `device list`).
pub fn devices_json(me: &FeedId, entries: &[crate::node::DeviceEntry], names: &Names) -> Value {
    json!({
        "this_device": names.json(me),
        "links": entries
            .iter()
            .map(|e| json!({ "device": names.json(&e.feed), "state": e.state }))
            .collect::<Vec<_>>(),
    })
}

/// A device link or unlink just written, how the link stands now, and what settling took in.
pub fn device_change_json(
    message: &Message,
    device: &FeedId,
    state: Option<crate::devices::LinkState>,
    took_in: u64,
    names: &Names,
) -> Value {
    let mut value = written_json(message, names);
    value["device"] = names.json(device);
    value["state"] = json!(state);
    value["took_in"] = json!(took_in);
    value
}

/// One LAN session run on request (`sync --json`, the window's "Sync with").
pub fn synced_json(
    report: &crate::lan::session::SessionReport,
    address: &str,
    names: &Names,
) -> Value {
    json!({
        "peer": report.peer.map(|p| names.json(&p)),
        "address": address,
        "received": report.received.new,
        "sent": report.sent,
    })
}
