//! Message requests: private messages for us from feeds we do not replicate, kept apart (as
//! Signal and Instagram do) until the person accepts (follows) or dismisses them. The box was
//! opened here, as every box is tried; nothing of it is sent anywhere.

use rusqlite::{Transaction, params};

use super::{Result, Store, blob_id};
use crate::ids::{FeedId, MessageId};
use crate::message::Message;

/// Most requests kept: a flood of boxes from made-up feeds must not grow the store without
/// bound (the oldest stay; the rest are not kept).
pub const MAX_REQUESTS: i64 = 1_000;

/// One private message for us from a feed we do not replicate.
#[derive(Clone, Debug)]
pub struct Request {
    pub id: MessageId,
    pub author: FeedId,
    pub sequence: u64,
    /// The claimed time, never later than when we read it.
    pub at: i64,
    pub plaintext: String,
}

/// Keeps a verified private message for us from a feed we do not replicate; true if it is new.
/// One from a feed whose requests were dismissed is kept dismissed.
pub(crate) fn add(tx: &Transaction<'_>, m: &Message, plaintext: &str, now: i64) -> Result<bool> {
    let author = m.header.author.as_bytes();
    let added = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO requests (id, author, seq, at, plaintext, dismissed) \
             SELECT ?1, ?2, ?3, ?4, ?5, \
                EXISTS (SELECT 1 FROM requests WHERE author = ?2 AND dismissed) \
             WHERE (SELECT count(*) FROM requests) < ?6",
        )?
        .execute(params![
            m.id.as_bytes(),
            author,
            m.header.sequence as i64,
            m.header.timestamp.min(now),
            plaintext,
            MAX_REQUESTS
        ])?;
    Ok(added > 0)
}

impl Store {
    /// Requests not dismissed, newest first.
    pub fn requests(&self) -> Result<Vec<Request>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, author, seq, at, plaintext FROM requests WHERE NOT dismissed \
             ORDER BY at DESC, seq DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                blob_id(r.get_ref(0)?.as_blob()?),
                blob_id(r.get_ref(1)?.as_blob()?),
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            if let (Some(id), Some(author), seq, at, plaintext) = row? {
                out.push(Request {
                    id: MessageId(id),
                    author: FeedId(author),
                    sequence: seq as u64,
                    at,
                    plaintext,
                });
            }
        }
        Ok(out)
    }

    /// Dismisses `author`'s requests (later ones from it arrive dismissed too); how many.
    pub fn dismiss_requests(&mut self, author: &FeedId) -> Result<u64> {
        Ok(self.conn.execute(
            "UPDATE requests SET dismissed = 1 WHERE author = ?1 AND NOT dismissed",
            [author.as_bytes()],
        )? as u64)
    }

    /// Removes `author`'s requests: it is replicated now (its boxes come in with its feed), or
    /// blocked.
    pub fn drop_requests(&mut self, author: &FeedId) -> Result<u64> {
        Ok(self.conn.execute(
            "DELETE FROM requests WHERE author = ?1",
            [author.as_bytes()],
        )? as u64)
    }

    /// The authors with requests kept, dismissed or not.
    pub fn request_authors(&self) -> Result<Vec<FeedId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT author FROM requests")?;
        let rows = stmt.query_map([], |r| Ok(blob_id(r.get_ref(0)?.as_blob()?)))?;
        let mut out = Vec::new();
        for row in rows {
            out.extend(row?.map(FeedId));
        }
        Ok(out)
    }
}
