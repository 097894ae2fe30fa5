//! Writes that ingest and posting share, all inside one transaction.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{Frontier, Result, blob_id, lean, stored_message};
use crate::ids::{FeedId, MessageId};
use crate::message::Message;

/// Stores a message of feed row `feed` that links to its frontier, its content as `packed`
/// (bytes and dictionary) when packing made it smaller; returns its key.
pub fn insert_linked(
    tx: &Transaction<'_>,
    feed: i64,
    m: &Message,
    packed: Option<(&[u8], i64)>,
) -> Result<i64> {
    let (content, dict) = match packed {
        Some((bytes, key)) => (bytes, Some(key)),
        None => (m.content.as_slice(), None),
    };
    tx.prepare_cached(
        "INSERT INTO messages (feed, seq, id, envelope, content, dict) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        feed,
        m.header.sequence as i64,
        m.id.as_bytes(),
        &lean::strip(&m.envelope)[..],
        content,
        dict
    ])?;
    Ok(tx.last_insert_rowid())
}

/// The key of `feed`'s row, added if there is none.
pub fn feed_key(tx: &Transaction<'_>, feed: &FeedId) -> Result<i64> {
    let found = tx
        .prepare_cached("SELECT key FROM feeds WHERE author = ?1")?
        .query_row([feed.as_bytes()], |r| r.get(0))
        .optional()?;
    if let Some(key) = found {
        return Ok(key);
    }
    tx.prepare_cached("INSERT INTO feeds (author, seq) VALUES (?1, 0)")?
        .execute([feed.as_bytes()])?;
    Ok(tx.last_insert_rowid())
}

/// Whether any message of `feed` waits for an earlier one.
pub fn has_pending(conn: &Connection, feed: &FeedId) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM pending WHERE author = ?1)")?
        .query_row([feed.as_bytes()], |r| r.get(0))?)
}

/// Records a feed's new frontier (once per feed per batch, not per message).
pub fn set_frontier(tx: &Transaction<'_>, feed: &FeedId, frontier: &Frontier) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO feeds (author, seq, head) VALUES (?1, ?2, ?3) \
         ON CONFLICT (author) DO UPDATE SET seq = ?2, head = ?3",
    )?
    .execute(params![
        feed.as_bytes(),
        frontier.sequence as i64,
        frontier.head.map(|id| id.0.to_vec())
    ])?;
    Ok(())
}

pub fn insert_pending(tx: &Transaction<'_>, m: &Message) -> Result<()> {
    let h = &m.header;
    tx.prepare_cached("INSERT OR IGNORE INTO feeds (author, seq, head) VALUES (?1, 0, NULL)")?
        .execute([h.author.as_bytes()])?;
    tx.prepare_cached(
        "INSERT INTO pending (author, seq, id, envelope, content) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        h.author.as_bytes(),
        h.sequence as i64,
        m.id.as_bytes(),
        &m.envelope[..],
        &m.content
    ])?;
    Ok(())
}

/// The pending message right after `frontier`, removed from `pending`.
pub fn take_pending(tx: &Transaction<'_>, feed: &FeedId, sequence: u64) -> Result<Option<Message>> {
    let found = tx
        .prepare_cached("SELECT envelope, content FROM pending WHERE author = ?1 AND seq = ?2")?
        .query_row(params![feed.as_bytes(), sequence as i64], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .optional()?;
    let Some((envelope, content)) = found else {
        return Ok(None);
    };
    tx.prepare_cached("DELETE FROM pending WHERE author = ?1 AND seq = ?2")?
        .execute(params![feed.as_bytes(), sequence as i64])?;
    stored_message(&envelope, &content).map(Some)
}

pub fn pending_id(tx: &Transaction<'_>, feed: &FeedId, sequence: u64) -> Result<Option<MessageId>> {
    Ok(tx
        .prepare_cached("SELECT id FROM pending WHERE author = ?1 AND seq = ?2")?
        .query_row(params![feed.as_bytes(), sequence as i64], |r| {
            Ok(blob_id(r.get_ref(0)?.as_blob()?).map(MessageId))
        })
        .optional()?
        .flatten())
}

/// Keeps evidence that `m`'s author signed two different messages for one position.
/// A second message at a taken position of its feed, kept as the proof of a fork (`now`:
/// when it was met).
pub fn record_fork(
    tx: &Transaction<'_>,
    m: &Message,
    held: Option<MessageId>,
    now: i64,
) -> Result<()> {
    let h = &m.header;
    tx.prepare_cached(
        "INSERT OR IGNORE INTO forks (author, seq, held, other, other_envelope, other_content, seen_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        h.author.as_bytes(),
        h.sequence as i64,
        held.map(|id| id.0.to_vec()),
        m.id.as_bytes(),
        &m.envelope[..],
        &m.content,
        now
    ])?;
    tx.prepare_cached(
        "INSERT INTO feeds (author, seq, head, forked) VALUES (?1, 0, NULL, 1) \
         ON CONFLICT (author) DO UPDATE SET forked = 1",
    )?
    .execute([h.author.as_bytes()])?;
    Ok(())
}

pub fn add_to_inbox(tx: &Transaction<'_>, m: &Message, plaintext: &str) -> Result<()> {
    tx.prepare_cached("INSERT OR IGNORE INTO inbox (id, timestamp, content) VALUES (?1, ?2, ?3)")?
        .execute(params![m.id.as_bytes(), m.header.timestamp, plaintext])?;
    Ok(())
}

pub fn set_name(tx: &Transaction<'_>, feed: &FeedId, name: &str, sequence: u64) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO feeds (author, seq, head, name, name_seq) VALUES (?1, 0, NULL, ?2, ?3) \
         ON CONFLICT (author) DO UPDATE SET name = ?2, name_seq = ?3 \
         WHERE name_seq IS NULL OR name_seq < ?3",
    )?
    .execute(params![feed.as_bytes(), name, sequence as i64])?;
    Ok(())
}

pub fn set_description(
    tx: &Transaction<'_>,
    feed: &FeedId,
    text: &str,
    sequence: u64,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO feeds (author, seq, head, description, description_seq) \
         VALUES (?1, 0, NULL, ?2, ?3) \
         ON CONFLICT (author) DO UPDATE SET description = ?2, description_seq = ?3 \
         WHERE description_seq IS NULL OR description_seq < ?3",
    )?
    .execute(params![feed.as_bytes(), text, sequence as i64])?;
    Ok(())
}

/// Records a `device` message: the highest sequence per pair wins, and a link at any
/// sequence is remembered as consent.
pub fn set_device(
    tx: &Transaction<'_>,
    author: &FeedId,
    change: &crate::content::DeviceChange,
    sequence: u64,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO devices (author, device, linked, through, ever_linked, seq) \
         VALUES (?1, ?2, ?3, ?4, ?3, ?5) \
         ON CONFLICT (author, device) DO UPDATE SET \
            linked = iif(seq < ?5, ?3, linked), through = iif(seq < ?5, ?4, through), \
            ever_linked = ever_linked OR ?3, seq = max(seq, ?5)",
    )?
    .execute(params![
        author.as_bytes(),
        change.device.as_bytes(),
        change.linked,
        change.through as i64,
        sequence as i64
    ])?;
    Ok(())
}

pub fn set_contact(
    tx: &Transaction<'_>,
    author: &FeedId,
    contact: &FeedId,
    following: Option<bool>,
    blocking: Option<bool>,
    sequence: u64,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO contacts (author, contact, following, blocking, seq) \
         VALUES (?1, ?2, coalesce(?3, 0), coalesce(?4, 0), ?5) \
         ON CONFLICT (author, contact) DO UPDATE SET \
            following = coalesce(?3, following), blocking = coalesce(?4, blocking), seq = ?5 \
         WHERE seq < ?5",
    )?
    .execute(params![
        author.as_bytes(),
        contact.as_bytes(),
        following,
        blocking,
        sequence as i64
    ])?;
    Ok(())
}
