//! The node's database: SQLite in WAL mode, the only place state is written.
//!
//! Linked messages (a contiguous chain from sequence 1) live in `messages`, each row keeping
//! only what its feed and chain do not already say (lean.rs); verified messages that arrived
//! ahead of a gap wait in `pending`, whole; `feeds` holds each feed's key and frontier.
//! Every change happens inside a transaction, so a kill at any moment leaves a consistent store.

mod check;
mod derive;
mod lean;
pub(crate) mod offers;
mod open;
pub(crate) mod pack;
mod peers;
pub(crate) mod posts;
pub(crate) mod requests;
mod schema;
mod sources;
pub(crate) mod write;

pub use check::CheckReport;
pub(crate) use derive::derive;
pub(crate) use open::Location;
pub(crate) use pack::Packer;
pub use peers::PeerRecord;
pub use posts::{Filter, PostView};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use thiserror::Error;

use crate::ids::{FeedId, MessageId};
use crate::message::{ENVELOPE_LEN, MAX_SEQUENCE, Message, MessageError};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(
        "the store was written by a newer grapevine (schema {found}, this one knows {known}); \
         upgrade grapevine"
    )]
    TooNew { found: i64, known: i64 },
    #[error("database value of an unexpected type: {0}")]
    Value(#[from] rusqlite::types::FromSqlError),
    #[error("the store holds a damaged message ({0}); restore the store from a backup")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A feed's frontier: its highest contiguous sequence and that message's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frontier {
    pub sequence: u64,
    pub head: Option<MessageId>,
}

impl Frontier {
    pub const EMPTY: Frontier = Frontier {
        sequence: 0,
        head: None,
    };
}

/// A feed as `status` and listings show it.
#[derive(Clone, Debug)]
pub struct FeedSummary {
    pub feed: FeedId,
    pub frontier: Frontier,
    pub name: Option<String>,
    pub forked: bool,
    pub pending: u64,
}

pub struct Store {
    conn: Connection,
    /// Packs new content with the newest dictionary, once one is trained (pack.rs).
    packer: Option<pack::Packer>,
    /// Where it lives, so that another connection can be opened to it.
    location: Location,
}

/// A bundle as it was read: its id, who signed it and when, and the file it came in.
#[derive(Clone, Copy, Debug)]
pub struct BundleSeen<'a> {
    pub bundle_id: &'a str,
    pub exporter: &'a FeedId,
    pub created_at: i64,
    pub file: &'a str,
}

impl Store {
    /// [`Self::write`], with the packer for new content (`None` until a dictionary is trained).
    pub(crate) fn write_packing(&mut self) -> Result<(Transaction<'_>, Option<&mut pack::Packer>)> {
        let newest = self.newest_dictionary()?;
        if newest != self.packer.as_ref().map(pack::Packer::key) {
            self.packer = newest.map(|key| self.packer_for(key)).transpose()?;
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Ok((tx, self.packer.as_mut()))
    }

    /// A packer of its own for the newest dictionary (`None` before one is trained), to pack
    /// content on another thread before it is written.
    pub(crate) fn spare_packer(&self) -> Result<Option<pack::Packer>> {
        self.newest_dictionary()?
            .map(|key| self.packer_for(key))
            .transpose()
    }

    /// The key of the newest content dictionary, if one is trained.
    fn newest_dictionary(&self) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT max(key) FROM dictionaries", [], |r| r.get(0))?)
    }

    /// A packer for the stored dictionary `key`.
    fn packer_for(&self, key: i64) -> Result<pack::Packer> {
        let bytes: Vec<u8> = self.conn.query_row(
            "SELECT bytes FROM dictionaries WHERE key = ?1",
            [key],
            |r| r.get(0),
        )?;
        packer(key, &bytes)
    }

    /// Trains the store's content dictionary once it has taken in [`pack::TRAIN_AT`] linked
    /// messages (its highest message key) and has none, and packs what it holds with it;
    /// returns whether it did.
    pub(crate) fn train_if_due(&mut self) -> Result<bool> {
        let (trained, held, tried): (bool, i64, i64) = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM dictionaries), (SELECT max(key) FROM messages), \
                    coalesce((SELECT value FROM config WHERE key = 'dictionary_tried_at'), 0)",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                    r.get(2)?,
                ))
            },
        )?;
        // Samples too alike to train on are tried again when the store has doubled.
        if trained || held < pack::TRAIN_AT || held < tried.saturating_mul(2) {
            return Ok(false);
        }
        let samples: Vec<Vec<u8>> = self
            .conn
            .prepare("SELECT content FROM messages WHERE dict IS NULL ORDER BY key DESC LIMIT ?1")?
            .query_map([pack::SAMPLES], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let Some(dictionary) = pack::train(&samples) else {
            self.conn.execute(
                "INSERT INTO config (key, value) VALUES ('dictionary_tried_at', ?1) \
                 ON CONFLICT (key) DO UPDATE SET value = ?1",
                [held],
            )?;
            return Ok(false);
        };
        let tx = self.write()?;
        tx.execute(
            "INSERT INTO dictionaries (bytes) VALUES (?1)",
            [&dictionary],
        )?;
        let key = tx.last_insert_rowid();
        let mut packer = packer(key, &dictionary)?;
        {
            let mut rows = tx.prepare("SELECT key, content FROM messages WHERE dict IS NULL")?;
            let mut update =
                tx.prepare("UPDATE messages SET content = ?2, dict = ?3 WHERE key = ?1")?;
            let mut rows = rows.query([])?;
            while let Some(row) = rows.next()? {
                if let Some(packed) = packer.pack(row.get_ref(1)?.as_blob()?) {
                    update.execute(params![row.get::<_, i64>(0)?, packed, key])?;
                }
            }
        }
        tx.commit()?;
        self.packer = Some(packer);
        Ok(true)
    }

    /// Starts a write transaction, taking the write lock at once so that two processes on the
    /// same home queue up instead of failing half-way.
    pub fn write(&mut self) -> Result<Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    /// Changes whenever another connection commits (SQLite's `data_version`): how the watcher
    /// notices posts made by other `grapevine` processes.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "data_version", |r| r.get(0))?)
    }

    pub fn frontier(&self, feed: &FeedId) -> Result<Frontier> {
        frontier(&self.conn, feed)
    }

    pub fn frontiers(&self) -> Result<Vec<(FeedId, Frontier)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT author, seq, head FROM feeds WHERE seq > 0 ORDER BY author")?;
        let rows = stmt.query_map([], |row| {
            Ok((
                blob_id(row.get_ref(0)?.as_blob()?).map(FeedId),
                row.get::<_, i64>(1)? as u64,
                blob_id(row.get_ref(2)?.as_blob_or_null()?.unwrap_or(&[])).map(MessageId),
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (feed, sequence, head) = row?;
            if let Some(feed) = feed {
                out.push((feed, Frontier { sequence, head }));
            }
        }
        Ok(out)
    }

    pub fn held_id(&self, feed: &FeedId, sequence: u64) -> Result<Option<MessageId>> {
        held_id(&self.conn, feed, sequence)
    }

    pub fn pending_id(&self, feed: &FeedId, sequence: u64) -> Result<Option<MessageId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM pending WHERE author = ?1 AND seq = ?2")?;
        Ok(stmt
            .query_row(params![feed.as_bytes(), sequence as i64], |r| {
                Ok(blob_id(r.get_ref(0)?.as_blob()?).map(MessageId))
            })
            .optional()?
            .flatten())
    }

    pub fn has_pending(&self, feed: &FeedId) -> Result<bool> {
        write::has_pending(&self.conn, feed)
    }

    /// Every message held of a feed with sequence in `first..=last`, linked or pending, in
    /// order (what we forward, so that a gap here does not stop later messages travelling on),
    /// without decoding: each one's sequence, envelope (rebuilt, for a linked one) and content,
    /// for writing them out as they are. Every reader verifies them again.
    pub fn for_each_record_in_range(
        &self,
        feed: &FeedId,
        first: u64,
        last: u64,
        mut each: impl FnMut(u64, &[u8], &[u8]) -> Result<()>,
    ) -> Result<()> {
        let (first, last) = (first.min(MAX_SEQUENCE), last.min(MAX_SEQUENCE));
        // Linked messages all come before pending ones: pending starts past a gap above the
        // frontier. Each linked one's previous id is the id of the row before it.
        let mut previous = match first {
            2.. => held_id(&self.conn, feed, first - 1)?,
            _ => None,
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT seq, id, envelope, unpack(content, dict) FROM messages \
                 WHERE {OF_FEED} AND seq BETWEEN ?2 AND ?3 ORDER BY seq"
        ))?;
        let mut rows = stmt.query(params![feed.as_bytes(), first as i64, last as i64])?;
        while let Some(row) = rows.next()? {
            let seq = row.get::<_, i64>(0)? as u64;
            let content = row.get_ref(3)?.as_blob()?;
            let envelope = lean::rebuild(
                row.get_ref(2)?.as_blob()?,
                feed,
                seq,
                previous.as_ref(),
                content,
            )?;
            each(seq, &envelope, content)?;
            previous = blob_id(row.get_ref(1)?.as_blob()?).map(MessageId);
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, envelope, content FROM pending \
             WHERE author = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq",
        )?;
        let mut rows = stmt.query(params![feed.as_bytes(), first as i64, last as i64])?;
        while let Some(row) = rows.next()? {
            let envelope = row.get_ref(1)?.as_blob()?;
            if envelope.len() != ENVELOPE_LEN {
                return Err(StoreError::Corrupt(format!(
                    "envelope of {} bytes",
                    envelope.len()
                )));
            }
            let seq = row.get::<_, i64>(0)? as u64;
            each(seq, envelope, row.get_ref(2)?.as_blob()?)?;
        }
        Ok(())
    }

    /// A feed's pending messages as runs of contiguous sequences, lowest first.
    pub fn pending_runs(&self, feed: &FeedId) -> Result<Vec<(u64, u64)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq FROM pending WHERE author = ?1 ORDER BY seq")?;
        let mut runs: Vec<(u64, u64)> = Vec::new();
        let mut rows = stmt.query([feed.as_bytes()])?;
        while let Some(row) = rows.next()? {
            let seq = row.get::<_, i64>(0)? as u64;
            match runs.last_mut() {
                Some(run) if run.1 + 1 == seq => run.1 = seq,
                _ => runs.push((seq, seq)),
            }
        }
        Ok(runs)
    }

    /// Whether `feed` is hidden (it left the replication set; see [`Store::hide_feed`]).
    pub fn is_hidden(&self, feed: &FeedId) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM feeds WHERE author = ?1 AND hidden_at IS NOT NULL)",
            )?
            .query_row([feed.as_bytes()], |r| r.get(0))?)
    }

    /// The newest `limit` linked messages of a feed, newest first.
    pub fn latest(&self, feed: &FeedId, limit: u64) -> Result<Vec<Message>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {LINKED} FROM messages m {LINKED_JOINS} \
             WHERE lf.author = ?1 ORDER BY m.seq DESC LIMIT ?2"
        ))?;
        let mut rows = stmt.query(params![feed.as_bytes(), limit.min(i64::MAX as u64) as i64])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.extend(linked_message(row, 0)?);
        }
        Ok(out)
    }

    pub fn feeds(&self) -> Result<Vec<FeedSummary>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT f.author, f.seq, f.head, f.name, f.forked, \
                    (SELECT count(*) FROM pending p WHERE p.author = f.author) \
             FROM feeds f ORDER BY f.name IS NULL, f.name, f.author",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((
                blob_id(row.get_ref(0)?.as_blob()?).map(FeedId),
                row.get::<_, i64>(1)? as u64,
                blob_id(row.get_ref(2)?.as_blob_or_null()?.unwrap_or(&[])).map(MessageId),
                row.get::<_, Option<String>>(3)?,
                row.get::<_, bool>(4)?,
                row.get::<_, i64>(5)? as u64,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (feed, sequence, head, name, forked, pending) = row?;
            if let Some(feed) = feed {
                out.push(FeedSummary {
                    feed,
                    frontier: Frontier { sequence, head },
                    name,
                    forked,
                    pending,
                });
            }
        }
        Ok(out)
    }

    /// The plaintext of a private message we could open.
    pub fn private_content(&self, id: &MessageId) -> Result<Option<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT content FROM inbox WHERE id = ?1")?;
        Ok(stmt.query_row([id.as_bytes()], |r| r.get(0)).optional()?)
    }

    /// The newest `limit` private messages we could open, newest first, with their plaintext.
    pub fn inbox(&self, limit: u64) -> Result<Vec<(Message, String)>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {LINKED}, i.content FROM inbox i JOIN messages m ON m.id = i.id {LINKED_JOINS} \
             ORDER BY i.timestamp DESC, i.rowid DESC LIMIT ?1"
        ))?;
        let mut rows = stmt.query([limit.min(i64::MAX as u64) as i64])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            if let Some(message) = linked_message(row, 0)? {
                out.push((message, row.get(LINKED_COUNT)?));
            }
        }
        Ok(out)
    }

    pub fn name_of(&self, feed: &FeedId) -> Result<Option<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM feeds WHERE author = ?1")?;
        Ok(stmt
            .query_row([feed.as_bytes()], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten())
    }

    /// (linked messages, pending messages, feeds) held, hidden feeds left out.
    pub fn counts(&self) -> Result<(u64, u64, u64)> {
        Ok(self.conn.query_row(
            "SELECT (SELECT count(*) FROM messages m JOIN feeds f ON f.key = m.feed \
                        WHERE f.hidden_at IS NULL), \
                    (SELECT count(*) FROM pending p LEFT JOIN feeds f ON f.author = p.author \
                        WHERE f.hidden_at IS NULL), \
                    (SELECT count(*) FROM feeds WHERE seq > 0 AND hidden_at IS NULL)",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                ))
            },
        )?)
    }

    pub fn forks(&self) -> Result<Vec<(FeedId, u64)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT author, seq FROM forks ORDER BY author, seq")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                blob_id(r.get_ref(0)?.as_blob()?).map(FeedId),
                r.get::<_, i64>(1)? as u64,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            if let (Some(feed), seq) = row? {
                out.push((feed, seq));
            }
        }
        Ok(out)
    }

    /// The proof of each fork of `feed`: its position, the message held there (if linked), and
    /// the other message signed for it.
    pub fn fork_proofs(&self, feed: &FeedId) -> Result<Vec<(u64, Option<Message>, Message)>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {LINKED}, f.seq, f.other_envelope, f.other_content \
             FROM forks f LEFT JOIN messages m ON m.id = f.held {LINKED_JOINS} \
             WHERE f.author = ?1 ORDER BY f.seq"
        ))?;
        let mut rows = stmt.query([feed.as_bytes()])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let held = linked_message(row, 0)?;
            let other = stored_message(
                row.get_ref(LINKED_COUNT + 1)?.as_blob()?,
                row.get_ref(LINKED_COUNT + 2)?.as_blob()?,
            )?;
            out.push((row.get::<_, i64>(LINKED_COUNT)? as u64, held, other));
        }
        Ok(out)
    }

    /// Whether a bundle with this id was imported and verified before.
    pub fn bundle_seen(&self, bundle_id: &str) -> Result<bool> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM bundles WHERE bundle_id = ?1 AND verified)",
        )?;
        Ok(stmt.query_row([bundle_id], |r| r.get(0))?)
    }

    /// Whether we imported a bundle with this id from `exporter` and its signature verified.
    pub fn verified_bundle_from(&self, bundle_id: &str, exporter: &FeedId) -> Result<bool> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM bundles WHERE bundle_id = ?1 AND exporter = ?2 AND verified)",
        )?;
        Ok(stmt.query_row(params![bundle_id, exporter.as_bytes()], |r| r.get(0))?)
    }

    /// Records a bundle read at `now`: whether its signature verified, and how many of its
    /// messages were new.
    pub fn record_bundle(
        &mut self,
        seen: &BundleSeen<'_>,
        verified: bool,
        new_messages: u64,
        now: i64,
    ) -> Result<()> {
        let BundleSeen {
            bundle_id,
            exporter,
            created_at,
            file,
        } = *seen;
        self.conn.execute(
            "INSERT INTO bundles (bundle_id, exporter, created_at, imported_at, file, verified, new) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (bundle_id) DO UPDATE SET imported_at = ?4, file = ?5, \
                verified = max(verified, ?6), new = new + ?7",
            params![bundle_id, exporter.as_bytes(), created_at, now, file, verified, new_messages as i64],
        )?;
        Ok(())
    }
}

/// A packer for dictionary `key`, which the store holds.
fn packer(key: i64, dictionary: &[u8]) -> Result<pack::Packer> {
    pack::Packer::new(key, dictionary)
        .map_err(|e| StoreError::Corrupt(format!("dictionary {key} does not load: {e}")))
}

pub(crate) fn frontier(conn: &Connection, feed: &FeedId) -> Result<Frontier> {
    let mut stmt = conn.prepare_cached("SELECT seq, head FROM feeds WHERE author = ?1")?;
    Ok(stmt
        .query_row([feed.as_bytes()], |r| {
            Ok(Frontier {
                sequence: r.get::<_, i64>(0)? as u64,
                head: blob_id(r.get_ref(1)?.as_blob_or_null()?.unwrap_or(&[])).map(MessageId),
            })
        })
        .optional()?
        .unwrap_or(Frontier::EMPTY))
}

pub(crate) fn held_id(
    conn: &Connection,
    feed: &FeedId,
    sequence: u64,
) -> Result<Option<MessageId>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id FROM messages WHERE {OF_FEED} AND seq = ?2"
    ))?;
    Ok(stmt
        .query_row(params![feed.as_bytes(), sequence as i64], |r| {
            Ok(blob_id(r.get_ref(0)?.as_blob()?).map(MessageId))
        })
        .optional()?
        .flatten())
}

pub(crate) fn blob_id(bytes: &[u8]) -> Option<[u8; 32]> {
    bytes.try_into().ok()
}

/// `messages` rows of the feed whose id is `?1`. A subquery, not a join: SQLite prepares a
/// join that binds a parameter again on every run (measured: re-import 3.5× slower).
pub(crate) const OF_FEED: &str = "feed = (SELECT key FROM feeds WHERE author = ?1)";

/// The columns [`linked_message`] reads: a `messages` row `m`, with [`LINKED_JOINS`].
pub(crate) const LINKED: &str =
    "lf.author, m.seq, lp.id, m.envelope, unpack(m.content, m.dict), m.id";
pub(crate) const LINKED_COUNT: usize = 6;
/// What a linked message's envelope is rebuilt from besides its row: its feed's author and the
/// id of the message before it. Left joins, so that `m` may itself come from a left join.
pub(crate) const LINKED_JOINS: &str = "LEFT JOIN feeds lf ON lf.key = m.feed \
    LEFT JOIN messages lp ON lp.feed = m.feed AND lp.seq = m.seq - 1";

/// The linked message whose [`LINKED`] columns start at `at` (`None` when `m` was not found by
/// a left join), rebuilt and checked against its stored id.
pub(crate) fn linked_message(row: &rusqlite::Row<'_>, at: usize) -> Result<Option<Message>> {
    let Some(lean) = row.get_ref(at + 3)?.as_blob_or_null()? else {
        return Ok(None);
    };
    let id = blob_id(row.get_ref(at + 5)?.as_blob()?).map(MessageId);
    let seq = row.get::<_, i64>(at + 1)? as u64;
    let corrupt = |why: &str| StoreError::Corrupt(format!("message {seq} of a feed: {why}"));
    let author = row
        .get_ref(at)?
        .as_blob_or_null()?
        .and_then(FeedId::from_slice)
        .ok_or_else(|| corrupt("its feed is missing"))?;
    let previous = row.get_ref(at + 2)?.as_blob_or_null()?.and_then(blob_id);
    if (seq > 1) != previous.is_some() {
        return Err(corrupt("the message before it is missing"));
    }
    let content = row.get_ref(at + 4)?.as_blob()?;
    let envelope = lean::rebuild(
        lean,
        &author,
        seq,
        previous.map(MessageId).as_ref(),
        content,
    )?;
    let message = stored_message(&envelope, content)?;
    if Some(message.id) != id {
        return Err(corrupt("its stored parts do not hash to its id"));
    }
    Ok(Some(message))
}

/// Decodes a message we stored ourselves; it was verified on the way in.
pub(crate) fn stored_message(envelope: &[u8], content: &[u8]) -> Result<Message> {
    if envelope.len() != ENVELOPE_LEN {
        return Err(StoreError::Corrupt(format!(
            "envelope of {} bytes",
            envelope.len()
        )));
    }
    Message::decode(envelope, content).map_err(|e: MessageError| StoreError::Corrupt(e.to_string()))
}
