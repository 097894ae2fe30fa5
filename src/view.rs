//! How messages are shown to people and to scripts (`feed --json`).

use serde_json::{Value, json};

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

/// A claimed timestamp as UTC, to the second.
pub fn time(ms: i64) -> String {
    let Ok(ms) = u64::try_from(ms) else {
        return "before 1970".into();
    };
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// One readable paragraph for a message.
pub fn message_text(message: &Message, readable: Option<Value>) -> String {
    let h = &message.header;
    let head = format!("#{}  {}", h.sequence, time(h.timestamp));
    let body = match (h.kind, readable) {
        (ContentKind::PrivateBox, Some(value)) => format!("[private] {}", describe(&value)),
        (ContentKind::PrivateBox, None) => "[encrypted: not for you]".into(),
        (_, Some(value)) => describe(&value),
        (kind, None) => format!("[content of kind {}]", kind.code()),
    };
    format!("{head}  {}\n{}", message.id, indent(&body))
}

fn describe(value: &Value) -> String {
    let kind = value.get("type").and_then(Value::as_str).unwrap_or("?");
    let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or("");
    match kind {
        "post" if value.get("recipients").is_some() => {
            let to: Vec<&str> = value["recipients"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            format!("{}\n(to {})", text("text"), to.join(", "))
        }
        "post" if value.get("reply").is_some() => {
            format!("{}\n(in reply to {})", text("text"), text("reply"))
        }
        "post" => text("text").to_owned(),
        "about" => format!("[names itself \"{}\"]", text("name")),
        "contact" => {
            let verb = match (value.get("following"), value.get("blocking")) {
                (_, Some(Value::Bool(true))) => "blocks",
                (_, Some(Value::Bool(false))) => "unblocks",
                (Some(Value::Bool(true)), _) => "follows",
                (Some(Value::Bool(false)), _) => "unfollows",
                _ => "changes contact",
            };
            format!("[{verb} {}]", text("contact"))
        }
        other => format!("[{other}] {value}"),
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}
