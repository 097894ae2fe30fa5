//! Device link offers: `device` messages naming this device, from feeds we do not replicate.
//! A new device cannot take in the feed that offers to link it until it links back, so the
//! offer is kept apart (the latest per feed), for `device list` to show and `device link` to
//! answer. Once the feed is replicated, its messages speak for it and the offer goes.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{Result, Store, blob_id};
use crate::ids::FeedId;
use crate::message::Message;

/// Most feeds whose offers are kept: made-up feeds naming us must not grow the store without
/// bound.
pub const MAX_OFFERS: i64 = 1_000;

/// Keeps what a verified `device` message of a feed we do not replicate says about us (its
/// latest wins); true if that feed now offers a link it did not offer before.
pub(crate) fn note(tx: &Transaction<'_>, m: &Message, linked: bool) -> Result<bool> {
    let author = m.header.author.as_bytes();
    let before: Option<(i64, bool)> = tx
        .prepare_cached("SELECT seq, linked FROM device_offers WHERE author = ?1")?
        .query_row([author], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let seq = m.header.sequence as i64;
    match before {
        Some((held, _)) if held >= seq => return Ok(false),
        Some(_) => {
            tx.prepare_cached("UPDATE device_offers SET seq = ?2, linked = ?3 WHERE author = ?1")?
                .execute(params![author, seq, linked])?;
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO device_offers (author, seq, linked) SELECT ?1, ?2, ?3 \
                 WHERE (SELECT count(*) FROM device_offers) < ?4",
            )?
            .execute(params![author, seq, linked, MAX_OFFERS])?;
        }
    }
    Ok(linked && !before.is_some_and(|(_, was)| was))
}

impl Store {
    /// Feeds we do not replicate whose latest word about this device links it.
    pub fn device_offers(&self) -> Result<Vec<FeedId>> {
        self.offer_feeds("SELECT author FROM device_offers WHERE linked ORDER BY author")
    }

    /// Every feed with an offer kept, linking or not.
    pub fn offer_authors(&self) -> Result<Vec<FeedId>> {
        self.offer_feeds("SELECT author FROM device_offers")
    }

    fn offer_feeds(&self, sql: &str) -> Result<Vec<FeedId>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map([], |r| Ok(blob_id(r.get_ref(0)?.as_blob()?)))?;
        let mut out = Vec::new();
        for row in rows {
            out.extend(row?.map(FeedId));
        }
        Ok(out)
    }

    /// Forgets `author`'s offer (its feed is replicated now, or blocked).
    pub fn drop_offer(&mut self, author: &FeedId) -> Result<()> {
        self.conn.execute(
            "DELETE FROM device_offers WHERE author = ?1",
            [author.as_bytes()],
        )?;
        Ok(())
    }
}
