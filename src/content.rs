//! The JSON content types grapevine writes (bundle-format/content.md).

use serde_json::{Value, json};

use crate::ids::{FeedId, MessageId};

/// `{"type":"post","text":…}`, with `"reply"` naming the message it answers.
pub fn post(text: &str, reply: Option<MessageId>) -> Value {
    match reply {
        Some(to) => json!({ "type": "post", "text": text, "reply": to }),
        None => json!({ "type": "post", "text": text }),
    }
}

/// The plaintext of a private message: a post that names everyone who can read it.
pub fn private_post(text: &str, recipients: &[FeedId]) -> Value {
    json!({ "type": "post", "text": text, "recipients": recipients })
}

/// `{"type":"about","about":FEED,"name":…}`: how a feed wants to be called.
pub fn about(feed: FeedId, name: &str) -> Value {
    json!({ "type": "about", "about": feed, "name": name })
}

/// What one `contact` message says about the edge from its author to `contact`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactChange {
    Follow,
    Unfollow,
    Block,
    Unblock,
}

/// `{"type":"contact","contact":FEED,"following":bool}` or `…"blocking":bool}`.
pub fn contact(feed: FeedId, change: ContactChange) -> Value {
    match change {
        ContactChange::Follow => json!({ "type": "contact", "contact": feed, "following": true }),
        ContactChange::Unfollow => {
            json!({ "type": "contact", "contact": feed, "following": false })
        }
        ContactChange::Block => json!({ "type": "contact", "contact": feed, "blocking": true }),
        ContactChange::Unblock => json!({ "type": "contact", "contact": feed, "blocking": false }),
    }
}

/// Longest a name is, in bytes (messages.md).
pub const MAX_NAME: usize = 64;

/// The name an `about` message gives its own author, if it is one: trimmed of white space, and
/// cut to at most [`MAX_NAME`] bytes at a character boundary.
pub fn self_name(author: FeedId, content: &Value) -> Option<String> {
    if content.get("type")?.as_str()? != "about" {
        return None;
    }
    let about: FeedId = content.get("about")?.as_str()?.parse().ok()?;
    let name = content.get("name")?.as_str()?.trim();
    let mut end = name.len().min(MAX_NAME);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    let name = name[..end].trim_end();
    (about == author && !name.is_empty()).then(|| name.to_owned())
}

/// The edge change a `contact` message makes, if it is one.
pub fn contact_change(content: &Value) -> Option<(FeedId, ContactChange)> {
    if content.get("type")?.as_str()? != "contact" {
        return None;
    }
    let feed: FeedId = content.get("contact")?.as_str()?.parse().ok()?;
    if let Some(blocking) = content.get("blocking").and_then(Value::as_bool) {
        return Some((
            feed,
            if blocking {
                ContactChange::Block
            } else {
                ContactChange::Unblock
            },
        ));
    }
    let following = content.get("following")?.as_bool()?;
    Some((
        feed,
        if following {
            ContactChange::Follow
        } else {
            ContactChange::Unfollow
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_and_about_read_back() {
        let feed = FeedId([1; 32]);
        for change in [
            ContactChange::Follow,
            ContactChange::Unfollow,
            ContactChange::Block,
            ContactChange::Unblock,
        ] {
            assert_eq!(contact_change(&contact(feed, change)), Some((feed, change)));
        }
        assert_eq!(
            self_name(feed, &about(feed, " alice ")),
            Some("alice".into())
        );
        assert_eq!(self_name(FeedId([2; 32]), &about(feed, "alice")), None);
    }
}
