//! The content types grapevine writes and reads (bundle-format/content.md): builders for
//! what we write, with their checks, and [`Content`], what a message says, parsed once.

use serde_json::{Value, json};

use crate::ids::{FeedId, MessageId};
use crate::message::{ContentKind, Message};

/// What a message says, as grapevine reads it: parsed once, when the message is placed (or
/// read again), and handed as it is to the reading index, the trust graph and the views.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// A post: public, or the opened plaintext of a private message (which names everyone
    /// who can read it in `recipients`).
    Post { post: Post, recipients: Vec<FeedId> },
    /// What its author says about itself: a name and a description, each when given.
    About {
        name: Option<String>,
        description: Option<String>,
    },
    /// A change to the edge from its author to a feed.
    Contact(FeedId, ContactChange),
    /// A like of a message (`true`), or its withdrawal.
    Vote(MessageId, bool),
    /// A link or unlink of another device.
    Device(DeviceChange),
    /// A private box, opened (or not) apart.
    Private,
    /// Anything else: a type grapevine does not read, an `about` of another feed, or a known
    /// type whose members are not what it needs.
    Unknown,
}

impl Content {
    /// What `message` says; a private box's plaintext is read with [`Content::parse`].
    pub fn of(message: &Message) -> Self {
        match message.header.kind {
            ContentKind::PrivateBox => Self::Private,
            ContentKind::Json => message.json().map_or(Self::Unknown, |json| {
                Self::parse(message.header.author, &json)
            }),
            _ => Self::Unknown,
        }
    }

    /// What JSON content written by `author` says.
    pub fn parse(author: FeedId, value: &Value) -> Self {
        let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
        let read = match kind {
            "post" => read_post(value).map(|post| Self::Post {
                post,
                recipients: recipients(value),
            }),
            "about" => {
                let name = own_about(author, value, "name", MAX_NAME);
                let description = own_about(author, value, "description", MAX_DESCRIPTION);
                (name.is_some() || description.is_some())
                    .then_some(Self::About { name, description })
            }
            "contact" => contact_change(value).map(|(feed, change)| Self::Contact(feed, change)),
            "vote" => read_vote(value).map(|(link, like)| Self::Vote(link, like)),
            "device" => read_device(value).map(Self::Device),
            _ => None,
        };
        read.unwrap_or(Self::Unknown)
    }

    /// The messages it links to as a reader reads them: a post's `reply` and a vote's `link`
    /// (messages.md "Private conversations stay private").
    pub fn links(&self) -> Vec<MessageId> {
        match self {
            Self::Post { post, .. } => post.reply.into_iter().collect(),
            Self::Vote(link, _) => vec![*link],
            _ => Vec::new(),
        }
    }

    /// The post it is, if it is one.
    pub fn post(&self) -> Option<&Post> {
        match self {
            Self::Post { post, .. } => Some(post),
            _ => None,
        }
    }
}

/// The feeds a private post names as its readers.
fn recipients(value: &Value) -> Vec<FeedId> {
    value
        .get("recipients")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(|f| f.as_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

/// Content we were asked to write that breaks a rule of its type; says which and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

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
fn read_post(content: &Value) -> Option<Post> {
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
fn read_vote(content: &Value) -> Option<(MessageId, bool)> {
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

/// `{"type":"about","about":FEED,"name":…}`: how a feed wants to be called, trimmed; 1 to
/// [`MAX_NAME`] bytes.
pub fn about(feed: FeedId, name: &str) -> Result<Value, Invalid> {
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(Invalid(format!(
            "a name has 1 to {MAX_NAME} bytes (a letter outside ASCII takes 2 to 4); this one \
             has {}",
            name.len()
        )));
    }
    Ok(json!({ "type": "about", "about": feed, "name": name }))
}

/// `{"type":"about","about":FEED,"description":…}`: a few words a feed says about itself,
/// trimmed; 1 to [`MAX_DESCRIPTION`] bytes.
pub fn description(feed: FeedId, text: &str) -> Result<Value, Invalid> {
    let text = text.trim();
    if text.is_empty() || text.len() > MAX_DESCRIPTION {
        return Err(Invalid(format!(
            "a description has 1 to {MAX_DESCRIPTION} bytes; this one has {}",
            text.len()
        )));
    }
    Ok(json!({ "type": "about", "about": feed, "description": text }))
}

/// Longest self-description, in bytes (messages.md). Read ones are cut to it at a character
/// boundary, as names are.
pub const MAX_DESCRIPTION: usize = 1024;

/// A string member of an `about` message about its own author, trimmed and cut to `most` bytes.
fn own_about(author: FeedId, content: &Value, member: &str, most: usize) -> Option<String> {
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
fn read_device(content: &Value) -> Option<DeviceChange> {
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

/// Longest a name is, in bytes (messages.md). Read ones are trimmed of white space and cut to
/// it at a character boundary.
pub const MAX_NAME: usize = 64;

/// The edge change a `contact` message makes, if it is one.
fn contact_change(content: &Value) -> Option<(FeedId, ContactChange)> {
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
            assert_eq!(
                Content::parse(feed, &contact(feed, change)),
                Content::Contact(feed, change)
            );
        }
        let named = about(feed, " alice ").expect("a name");
        assert_eq!(
            Content::parse(feed, &named),
            Content::About {
                name: Some("alice".into()),
                description: None
            }
        );
        assert_eq!(Content::parse(FeedId([2; 32]), &named), Content::Unknown);
    }

    /// What we write keeps to the lengths readers accept: names of 1 to 64 bytes and
    /// descriptions of 1 to 1,024 (after trimming), each refused otherwise with its rule.
    #[test]
    fn names_and_descriptions_keep_their_lengths() {
        let feed = FeedId([1; 32]);
        assert!(about(feed, &"n".repeat(MAX_NAME)).is_ok());
        for bad in ["", "   ", &"n".repeat(MAX_NAME + 1), &"é".repeat(33)] {
            let refused = about(feed, bad).expect_err(bad);
            assert!(refused.0.contains("1 to 64 bytes"), "{refused}");
        }
        assert!(description(feed, &"d".repeat(MAX_DESCRIPTION)).is_ok());
        for bad in ["", &"d".repeat(MAX_DESCRIPTION + 1)] {
            assert!(description(feed, bad).is_err());
        }
    }

    /// Each type reads as itself; what breaks a type's rules, or no type we read, is unknown.
    #[test]
    fn content_is_parsed_once_into_its_type() {
        let me = FeedId([3; 32]);
        let id = MessageId::from_slice(&[4; 32]).expect("an id");
        let liked = Content::parse(me, &vote(id, true));
        assert_eq!(liked, Content::Vote(id, true));
        assert_eq!(liked.links(), vec![id]);
        let reply = Content::parse(me, &post("hi #there", Some(id), &[me]));
        assert_eq!(
            reply.post().map(|p| p.tags.clone()),
            Some(vec!["there".into()])
        );
        assert_eq!(reply.links(), vec![id]);
        let private = Content::parse(me, &private_post("psst", &[me], None));
        assert!(matches!(&private, Content::Post { recipients, .. } if recipients == &[me]));
        assert!(matches!(
            Content::parse(me, &device(me, false, 9)),
            Content::Device(DeviceChange {
                linked: false,
                through: 9,
                ..
            })
        ));
        for unknown in [
            json!({"type": "gathering"}),
            json!({"type": "post"}),
            json!({"type": "vote", "vote": {"link": "nope"}}),
            json!({"no": "type"}),
        ] {
            assert_eq!(Content::parse(me, &unknown), Content::Unknown, "{unknown}");
        }
    }
}
