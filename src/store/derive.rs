//! What reading derives from messages (posts, votes, names, descriptions, devices,
//! contacts): as each is linked, again for a feed shown after it was hidden, and once for
//! everything held when a schema adds a reading table.

use rusqlite::Transaction;

use super::{Result, posts, write};
use crate::content;
use crate::ids::FeedId;
use crate::message::{ContentKind, Message};

/// Everything reading derives from one linked public message's JSON content, stored under
/// `key`: its post or vote, its author's name and description, devices and contacts.
pub(crate) fn derive(
    tx: &Transaction<'_>,
    key: i64,
    message: &Message,
    json: &serde_json::Value,
    now: i64,
) -> Result<()> {
    use crate::content::{self, ContactChange::*};
    let h = &message.header;
    super::posts::index(tx, key, message, json, now)?;
    if let Some(name) = content::self_name(h.author, json) {
        write::set_name(tx, &h.author, &name, h.sequence)?;
    }
    if let Some(text) = content::self_description(h.author, json) {
        write::set_description(tx, &h.author, &text, h.sequence)?;
    }
    if let Some(change) = content::read_device(json) {
        write::set_device(tx, &h.author, &change, h.sequence)?;
    }
    if let Some((contact, change)) = content::contact_change(json) {
        let (following, blocking) = match change {
            Follow => (Some(true), None),
            Unfollow => (Some(false), None),
            Block => (None, Some(true)),
            Unblock => (None, Some(false)),
        };
        write::set_contact(tx, &h.author, &contact, following, blocking, h.sequence)?;
    }
    Ok(())
}

/// Derives again everything reading takes from `feed`'s linked messages (a hidden feed shown
/// again, `now`); its posts count as read.
pub(crate) fn derive_feed(tx: &Transaction<'_>, feed: &FeedId, now: i64) -> Result<()> {
    posts::for_each_of(tx, Some(feed), |key, message, content| {
        match (content, message.header.kind) {
            (Some(value), ContentKind::PrivateBox) => posts::index(tx, key, message, &value, now)?,
            (Some(value), _) => derive(tx, key, message, &value, now)?,
            (None, _) => {}
        }
        posts::mark_read(tx, key)
    })
}

/// Fills the reading tables from the messages and opened private messages already held; all of
/// them count as read.
pub(super) fn backfill(tx: &Transaction<'_>) -> Result<()> {
    // A migration runs once, on the machine that opens the store: its own clock caps the
    // claimed times of what was held before.
    let now = crate::clock::Clock::now_ms(&crate::clock::SystemClock);
    posts::for_each_held(tx, |key, message, content| {
        if let Some(content) = content {
            posts::index(tx, key, message, &content, now)?;
            if let Some(text) = content::self_description(message.header.author, &content) {
                write::set_description(tx, &message.header.author, &text, message.header.sequence)?;
            }
        }
        Ok(())
    })?;
    tx.execute("UPDATE posts SET unread = 0", [])?;
    Ok(())
}
