//! The JSON forms of what grapevine shows (docs/json.md), built once for the terminal's
//! `--json` and for the window (`grapevine ui`).

use serde_json::{Value, json};

use crate::message::Message;
use crate::people::Names;
use crate::store::PostView;

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
