//! How messages are shown to people and to scripts (`feed --json`); [`json`] holds the JSON
//! views the terminal and the window share.

pub mod json;

pub use crate::text::{count, counted, escape, escape_name, is_invisible, lookalike_key, time};

use serde_json::{Value, json};

use crate::ids::FeedId;
use crate::message::{ContentKind, Message};

/// The JSON object `feed --json` prints for one message. `readable` is what the node can read
/// of it (`Node::readable_content`): a private message shows its plaintext (with its
/// `recipients`) only to the recipients, and `{"type":"encrypted"}` to everyone else.
pub fn message_json(message: &Message, readable: Option<Value>) -> Value {
    let h = &message.header;
    let content = match (h.kind, readable) {
        (ContentKind::Other(code), _) => json!({ "type": "unknown", "kind": code }),
        (_, Some(value)) => value,
        (ContentKind::PrivateBox, None) => json!({ "type": "encrypted" }),
        (ContentKind::Json, None) => Value::Null,
    };
    json!({
        "id": message.id,
        "author": h.author,
        "sequence": h.sequence,
        "previous": h.previous,
        "timestamp": h.timestamp,
        "private": h.kind == ContentKind::PrivateBox,
        "content": content,
    })
}

/// One readable paragraph for a message; `name` shows a feed (the best name known).
pub fn message_text(
    message: &Message,
    readable: Option<Value>,
    name: &dyn Fn(&FeedId) -> String,
) -> String {
    let h = &message.header;
    let head = format!("#{}  {}", h.sequence, time(h.timestamp));
    let body = match (h.kind, readable) {
        (ContentKind::PrivateBox, Some(value)) => {
            format!("[private] {}", describe(h.author, &value, name))
        }
        (ContentKind::PrivateBox, None) => "[encrypted: not for you]".into(),
        (_, Some(value)) => describe(h.author, &value, name),
        (kind, None) => format!("[content of kind {}]", kind.code()),
    };
    format!("{head}  {}\n{}", message.id, indent(&escape(&body)))
}

fn describe(author: FeedId, value: &Value, name: &dyn Fn(&FeedId) -> String) -> String {
    use crate::content::{ContactChange::*, Content};
    match Content::parse(author, value) {
        Content::Post { post, recipients } if !recipients.is_empty() => {
            let to: Vec<String> = recipients.iter().map(name).collect();
            format!("{}\n(to {})", post.text, to.join(", "))
        }
        Content::Post { post, .. } => match post.reply {
            Some(reply) => format!("{}\n(in reply to {reply})", post.text),
            None => post.text,
        },
        Content::Vote(link, likes) => {
            let verb = if likes { "likes" } else { "no longer likes" };
            format!("[{verb} {link}]")
        }
        Content::About { name: Some(me), .. } => format!("[names itself \"{me}\"]"),
        Content::About { description, .. } => {
            format!("[describes itself: {}]", description.unwrap_or_default())
        }
        Content::Contact(feed, change) => {
            let verb = match change {
                Follow => "follows",
                Unfollow => "unfollows",
                Block => "blocks",
                Unblock => "unblocks",
            };
            format!("[{verb} {}]", name(&feed))
        }
        Content::Device(d) => {
            let verb = if d.linked { "links" } else { "unlinks" };
            format!("[{verb} its device {}]", name(&d.device))
        }
        // What grapevine does not read is shown as it was written.
        Content::Private | Content::Unknown => {
            let kind = value.get("type").and_then(Value::as_str).unwrap_or("?");
            format!("[{kind}] {value}")
        }
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether our posts reach `w` (Patchwork's hint), when it is someone else whose follows we
/// hold, said after their name: "(bob) follows no one who follows you: your posts may not
/// reach them".
pub fn reach_back(w: &crate::node::Who) -> Option<&'static str> {
    if w.hops == Some(0) || w.messages == 0 {
        return None;
    }
    Some(match (w.blocks_us, w.reaches_them) {
        (true, _) => "blocks you: your posts do not reach them",
        (false, Some(1)) => "follows you: your posts reach them",
        (false, Some(_)) => {
            "follows someone who follows you: your posts reach them through friends"
        }
        (false, None) => "follows no one who follows you: your posts may not reach them",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookalikes_share_a_key_and_invisibles_are_written_out() {
        let bob = lookalike_key("bob");
        for alike in ["Bob", "bob\u{200b}", "\u{42c}ob", "b\u{43e}b", "bo\u{ad}b"] {
            assert_eq!(lookalike_key(alike), bob, "{alike:?}");
        }
        assert_ne!(lookalike_key("rob"), bob);
        for c in [
            '\u{200b}', '\u{200d}', '\u{200e}', '\u{ad}', '\u{2060}', '\u{fe0f}',
        ] {
            assert!(is_invisible(c), "{c:?}");
            assert!(escape_name(&format!("bob{c}")).contains("\\u{"), "{c:?}");
        }
        assert!(!is_invisible('b') && !is_invisible(' ') && !is_invisible('\u{42c}'));
    }

    #[test]
    fn every_timestamp_displays() {
        assert_eq!(time(0), "1970-01-01T00:00:00Z");
        assert_eq!(time(1_700_000_000_123), "2023-11-14T22:13:20Z");
        assert_eq!(time(-1), "1969-12-31T23:59:59Z");
        assert_eq!(time(253_402_300_799_999), "9999-12-31T23:59:59Z");
        assert_eq!(time(253_402_300_800_000), "+10000-01-01T00:00:00Z");
        assert_eq!(time(-62_167_219_200_001), "-0001-12-31T23:59:59Z");
        assert_eq!(time(i64::MAX), "+292278994-08-17T07:12:55Z");
        assert_eq!(time(i64::MIN), "-292275055-05-16T16:47:04Z");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            escape("a\x1b[2J\x1b]0;pwned\x07b\nc\u{9b}d\u{202e}"),
            "a\\u{1b}[2J\\u{1b}]0;pwned\\u{7}b\nc\\u{9b}d\\u{202e}"
        );
    }
}
