//! The JSON content types grapevine writes (bundle-format/content.md).

use serde_json::{Value, json};

use crate::ids::{FeedId, MessageId};

/// `{"type":"post","text":…}`, with `"reply"` naming the message it answers and `"mentions"`
/// the feeds its `@name`s stood for when it was written.
pub fn post(text: &str, reply: Option<MessageId>, mentions: &[FeedId]) -> Value {
    let mut value = json!({ "type": "post", "text": text });
    if let Some(to) = reply {
        value["reply"] = json!(to);
    }
    if !mentions.is_empty() {
        value["mentions"] = json!(mentions);
    }
    value
}

/// `{"type":"vote","vote":{"link":MSG,"value":1}}`: a like (value 1) or its withdrawal (0).
pub fn vote(link: MessageId, like: bool) -> Value {
    json!({ "type": "vote", "vote": { "link": link, "value": i32::from(like) } })
}

/// Most mentions and tags a post is indexed under (messages.md); the rest are ignored.
pub const MAX_MENTIONS: usize = 16;
pub const MAX_TAGS: usize = 16;
/// Longest tag, in characters.
pub const MAX_TAG: usize = 32;

/// What a post means to a reader (messages.md "Reading posts"), public or private.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Post {
    pub text: String,
    pub reply: Option<MessageId>,
    pub mentions: Vec<FeedId>,
    pub tags: Vec<String>,
}

/// Reads a `post`: its text (a post without a string `text` is no post), the message it
/// answers if `reply` is a message id, the first [`MAX_MENTIONS`] valid feed ids of `mentions`,
/// and the tags of its text.
pub fn read_post(content: &Value) -> Option<Post> {
    if content.get("type")?.as_str()? != "post" {
        return None;
    }
    let text = content.get("text")?.as_str()?.to_owned();
    let reply = content
        .get("reply")
        .and_then(Value::as_str)
        .and_then(|r| r.parse().ok());
    let mut mentions: Vec<FeedId> = Vec::new();
    for feed in content
        .get("mentions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str()?.parse().ok())
    {
        if !mentions.contains(&feed) {
            mentions.push(feed);
        }
        if mentions.len() == MAX_MENTIONS {
            break;
        }
    }
    let tags = tags_in(&text);
    Some(Post {
        text,
        reply,
        mentions,
        tags,
    })
}

/// Reads a `vote`: the message it is about, and whether it likes it (`value` 1; any other
/// value withdraws a like).
pub fn read_vote(content: &Value) -> Option<(MessageId, bool)> {
    if content.get("type")?.as_str()? != "vote" {
        return None;
    }
    let vote = content.get("vote")?;
    let link = vote.get("link")?.as_str()?.parse().ok()?;
    Some((link, vote.get("value").and_then(Value::as_i64) == Some(1)))
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// The `#tags` of a text: `#` at the start or after a character that is not a letter, digit,
/// `_` or `-`, then 1 to [`MAX_TAG`] such characters, lower-cased; each once, first
/// [`MAX_TAGS`] only. A longer run is no tag.
pub fn tags_in(text: &str) -> Vec<String> {
    words_after('#', text)
        .into_iter()
        .map(|w| w.to_lowercase())
        .fold(Vec::new(), |mut tags, tag| {
            if !tags.contains(&tag) && tags.len() < MAX_TAGS {
                tags.push(tag);
            }
            tags
        })
}

/// The words after `@` in a text, by the same rule as tags (without lower-casing): the names
/// a writer resolves to feed ids for `mentions`.
pub fn mention_words(text: &str) -> Vec<&str> {
    words_after('@', text)
}

fn words_after(sigil: char, text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut previous: Option<char> = None;
    for (at, c) in text.char_indices() {
        if c == sigil && !previous.is_some_and(is_word) {
            let rest = &text[at + c.len_utf8()..];
            let end = rest.find(|c: char| !is_word(c)).unwrap_or(rest.len());
            let word = &rest[..end];
            if !word.is_empty() && word.chars().count() <= MAX_TAG {
                out.push(word);
            }
        }
        previous = Some(c);
    }
    out
}

/// The plaintext of a private message: a post that names everyone who can read it, answering
/// `reply` when given.
pub fn private_post(text: &str, recipients: &[FeedId], reply: Option<MessageId>) -> Value {
    let mut value = json!({ "type": "post", "text": text, "recipients": recipients });
    if let Some(to) = reply {
        value["reply"] = json!(to);
    }
    value
}

/// The messages a content links to as a reader reads them: a post's `reply` and a vote's
/// `link` (messages.md "Private conversations stay private").
pub fn links(content: &Value) -> Vec<MessageId> {
    let mut out = Vec::new();
    if let Some(reply) = read_post(content).and_then(|p| p.reply) {
        out.push(reply);
    }
    if let Some((link, _)) = read_vote(content) {
        out.push(link);
    }
    out
}

/// `{"type":"about","about":FEED,"name":…}`: how a feed wants to be called.
pub fn about(feed: FeedId, name: &str) -> Value {
    json!({ "type": "about", "about": feed, "name": name })
}

/// `{"type":"about","about":FEED,"description":…}`: a few words a feed says about itself.
pub fn description(feed: FeedId, text: &str) -> Value {
    json!({ "type": "about", "about": feed, "description": text })
}

/// Longest self-description, in bytes (messages.md).
pub const MAX_DESCRIPTION: usize = 1024;

/// The description an `about` message gives its own author, if any: trimmed, and cut to at
/// most [`MAX_DESCRIPTION`] bytes at a character boundary, as names are.
pub fn self_description(author: FeedId, content: &Value) -> Option<String> {
    own_about(author, content, "description", MAX_DESCRIPTION)
}

/// A string member of an `about` message about its own author, trimmed and cut to `most` bytes.
fn own_about(author: FeedId, content: &Value, member: &str, most: usize) -> Option<String> {
    if content.get("type")?.as_str()? != "about" {
        return None;
    }
    let about: FeedId = content.get("about")?.as_str()?.parse().ok()?;
    let text = content.get(member)?.as_str()?.trim();
    let mut end = text.len().min(most);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let text = text[..end].trim_end();
    (about == author && !text.is_empty()).then(|| text.to_owned())
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

/// `{"type":"device","device":FEED,"linked":true}` links another device of ours;
/// `…"linked":false,"through":N}` ends the link, vouching for that device's messages up to
/// sequence `N` (messages.md "Linked devices").
pub fn device(feed: FeedId, linked: bool, through: u64) -> Value {
    if linked {
        json!({ "type": "device", "device": feed, "linked": true })
    } else {
        json!({ "type": "device", "device": feed, "linked": false, "through": through })
    }
}

/// What one `device` message says about the device it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DeviceChange {
    pub device: FeedId,
    pub linked: bool,
    /// For an unlink: the last sequence of `device` still vouched for (0 when absent or not an
    /// integer from 0 to 2^63−1). Always 0 for a link.
    pub through: u64,
}

/// Reads a `device` message: `device` a feed id and `linked` a bool, else it is none.
pub fn read_device(content: &Value) -> Option<DeviceChange> {
    if content.get("type")?.as_str()? != "device" {
        return None;
    }
    let device = content.get("device")?.as_str()?.parse().ok()?;
    let linked = content.get("linked")?.as_bool()?;
    let through = match linked {
        true => 0,
        false => content
            .get("through")
            .and_then(Value::as_u64)
            .filter(|n| *n <= i64::MAX as u64)
            .unwrap_or(0),
    };
    Some(DeviceChange {
        device,
        linked,
        through,
    })
}

/// Longest a name is, in bytes (messages.md).
pub const MAX_NAME: usize = 64;

/// The name an `about` message gives its own author, if it is one: trimmed of white space, and
/// cut to at most [`MAX_NAME`] bytes at a character boundary.
pub fn self_name(author: FeedId, content: &Value) -> Option<String> {
    own_about(author, content, "name", MAX_NAME)
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
