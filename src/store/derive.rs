//! What reading derives from messages (posts, votes, names, descriptions, devices,
//! contacts): as each is linked, again for a feed shown after it was hidden, and once for
//! everything held when a schema adds a reading table.

use rusqlite::Transaction;

use super::{Result, posts, write};
use crate::content::Content;
use crate::ids::FeedId;
use crate::message::{ContentKind, Message};

/// Everything reading derives from what one linked public message says, stored under `key`:
/// its post or vote, its author's name and description, devices and contacts.
pub(crate) fn derive(
    tx: &Transaction<'_>,
    key: i64,
    message: &Message,
    content: &Content,
    now: i64,
) -> Result<()> {
    use crate::content::ContactChange::*;
    let h = &message.header;
    match content {
        Content::Post { .. } | Content::Vote(..) => posts::index(tx, key, message, content, now)?,
        Content::About { name, description } => {
            if let Some(name) = name {
                write::set_name(tx, &h.author, name, h.sequence)?;
            }
            if let Some(text) = description {
                write::set_description(tx, &h.author, text, h.sequence)?;
            }
        }
        Content::Device(change) => write::set_device(tx, &h.author, change, h.sequence)?,
        Content::Contact(contact, change) => {
            let (following, blocking) = match change {
                Follow => (Some(true), None),
                Unfollow => (Some(false), None),
                Block => (None, Some(true)),
                Unblock => (None, Some(false)),
            };
            write::set_contact(tx, &h.author, contact, following, blocking, h.sequence)?;
        }
        Content::Private | Content::Unknown => {}
    }
    Ok(())
}

/// Derives again everything reading takes from `feed`'s linked messages (a hidden feed shown
/// again, `now`); its posts count as read.
pub(crate) fn derive_feed(tx: &Transaction<'_>, feed: &FeedId, now: i64) -> Result<()> {
    posts::for_each_of(tx, Some(feed), |key, message, content| {
        // An opened private message says only what a post says: nothing about its author.
        match message.header.kind {
            ContentKind::PrivateBox => posts::index(tx, key, message, &content, now)?,
            _ => derive(tx, key, message, &content, now)?,
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
        posts::index(tx, key, message, &content, now)?;
        if let (
            Content::About {
                description: Some(text),
                ..
            },
            ContentKind::Json,
        ) = (&content, message.header.kind)
        {
            write::set_description(tx, &message.header.author, text, message.header.sequence)?;
        }
        Ok(())
    })?;
    tx.execute("UPDATE posts SET unread = 0", [])?;
    Ok(())
}
