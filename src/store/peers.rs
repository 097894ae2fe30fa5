//! Graph edges, settings and what we know of peers.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, blob_id};
use crate::devices::Claim;
use crate::graph::Edge;
use crate::ids::FeedId;

/// A peer as `peers` shows it.
#[derive(Clone, Debug)]
pub struct PeerRecord {
    pub peer: FeedId,
    pub last_heard: Option<i64>,
    /// When the newest thing we heard from it was made, by its own signed clock.
    pub heard_created_at: Option<i64>,
    pub via: Option<String>,
    pub last_export: Option<i64>,
}

impl Store {
    /// Every contact edge, as indexed from `contact` messages of linked feeds.
    pub fn edges(&self) -> Result<Vec<Edge>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT author, contact, following, blocking FROM contacts")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                blob_id(r.get_ref(0)?.as_blob()?),
                blob_id(r.get_ref(1)?.as_blob()?),
                r.get::<_, bool>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            if let (Some(from), Some(to), following, blocking) = row? {
                out.push(Edge {
                    from: FeedId(from),
                    to: FeedId(to),
                    following,
                    blocking,
                });
            }
        }
        Ok(out)
    }

    /// Every feed's latest `device` message about each device it named.
    pub fn device_claims(&self) -> Result<Vec<Claim>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT author, device, linked, through, ever_linked, seq FROM devices",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                blob_id(r.get_ref(0)?.as_blob()?),
                blob_id(r.get_ref(1)?.as_blob()?),
                r.get::<_, bool>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            if let (Some(author), Some(device), linked, through, ever_linked, seq) = row? {
                out.push(Claim {
                    author: FeedId(author),
                    device: FeedId(device),
                    linked,
                    through: through as u64,
                    ever_linked,
                    seq: seq as u64,
                });
            }
        }
        Ok(out)
    }

    pub fn config(&self, key: &str) -> Result<Option<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT value FROM config WHERE key = ?1")?;
        Ok(stmt.query_row([key], |r| r.get(0)).optional()?)
    }

    pub fn set_config(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO config (key, value) VALUES (?1, ?2) \
             ON CONFLICT (key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        Ok(())
    }

    /// Records what `peer` says it holds, from a verified manifest it signed at `created_at`.
    /// A newer manifest replaces what we knew (so a lost stick is noticed and resent); an older
    /// one only fills gaps.
    pub fn note_heard(
        &mut self,
        peer: &FeedId,
        frontier: &[(FeedId, u64)],
        wants: Option<(&[FeedId], Option<u32>)>,
        created_at: i64,
        via: &str,
        now: i64,
    ) -> Result<()> {
        let tx = self.write()?;
        let known: Option<Option<i64>> = tx
            .prepare_cached("SELECT heard_created_at FROM peers WHERE peer = ?1")?
            .query_row([peer.as_bytes()], |r| r.get(0))
            .optional()?;
        let newer = known.flatten().is_none_or(|at| created_at >= at);
        tx.prepare_cached(
            "INSERT INTO peers (peer, last_heard, heard_created_at, via) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (peer) DO UPDATE SET last_heard = ?2, \
                heard_created_at = max(coalesce(heard_created_at, ?3), ?3), \
                via = CASE WHEN ?5 THEN ?4 ELSE via END",
        )?
        .execute(params![peer.as_bytes(), now, created_at, via, newer])?;
        if newer {
            tx.prepare_cached("DELETE FROM peer_frontiers WHERE peer = ?1")?
                .execute([peer.as_bytes()])?;
            // A peer that stops saying what it wants (an older grapevine) is planned for by
            // the old rule again.
            let hops = wants.and_then(|(_, hops)| hops);
            let wants = wants.map(|(list, _)| list.iter().flat_map(|f| f.0).collect::<Vec<u8>>());
            tx.prepare_cached("UPDATE peers SET wants = ?2, hops = ?3 WHERE peer = ?1")?
                .execute(params![peer.as_bytes(), wants, hops])?;
        }
        raise_frontier(&tx, peer, frontier)?;
        tx.commit()?;
        Ok(())
    }

    /// Records that we exported messages up to `sent` for `peer`: we assume it will hold them
    /// until its next manifest says otherwise.
    pub fn note_sent(&mut self, peer: &FeedId, sent: &[(FeedId, u64)], at: i64) -> Result<()> {
        let tx = self.write()?;
        tx.prepare_cached(
            "INSERT INTO peers (peer, last_export) VALUES (?1, ?2) \
             ON CONFLICT (peer) DO UPDATE SET last_export = ?2",
        )?
        .execute(params![peer.as_bytes(), at])?;
        raise_frontier(&tx, peer, sent)?;
        tx.commit()?;
        Ok(())
    }

    /// The feeds `peer` last said it wants and its `hops`, from its newest verified manifest
    /// (or LAN want list), if it said.
    /// The highest message of `feed` any peer is known to hold.
    pub fn highest_claim(&self, feed: &FeedId) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT coalesce(max(seq), 0) FROM peer_frontiers WHERE feed = ?1",
            [feed.as_bytes()],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    pub fn peer_wants(&self, peer: &FeedId) -> Result<Option<(Vec<FeedId>, Option<u32>)>> {
        let row: Option<(Option<Vec<u8>>, Option<u32>)> = self
            .conn
            .prepare_cached("SELECT wants, hops FROM peers WHERE peer = ?1")?
            .query_row([peer.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row.and_then(|(blob, hops)| {
            let list = blob?
                .chunks_exact(32)
                .filter_map(FeedId::from_slice)
                .collect();
            Some((list, hops))
        }))
    }

    /// Records that we told the user `peer` had gone stale, its newest file being of `newest`;
    /// true the first time for that file, so the user hears it once.
    pub fn note_stale(&mut self, peer: &FeedId, newest: i64) -> Result<bool> {
        let changed = self
            .conn
            .prepare_cached(
                "INSERT INTO peers (peer, stale_noted) VALUES (?1, ?2) \
                 ON CONFLICT (peer) DO UPDATE SET stale_noted = ?2 \
                 WHERE stale_noted IS NOT ?2",
            )?
            .execute(params![peer.as_bytes(), newest])?;
        Ok(changed > 0)
    }

    /// What we last knew `peer` to hold, per feed.
    pub fn peer_frontier(&self, peer: &FeedId) -> Result<HashMap<FeedId, u64>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT feed, seq FROM peer_frontiers WHERE peer = ?1")?;
        let rows = stmt.query_map([peer.as_bytes()], |r| {
            Ok((
                blob_id(r.get_ref(0)?.as_blob()?),
                r.get::<_, i64>(1)? as u64,
            ))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            if let (Some(feed), seq) = row? {
                out.insert(FeedId(feed), seq);
            }
        }
        Ok(out)
    }

    pub fn peers(&self) -> Result<Vec<PeerRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT peer, last_heard, via, last_export, heard_created_at FROM peers \
             ORDER BY last_heard DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                blob_id(r.get_ref(0)?.as_blob()?),
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (peer, last_heard, via, last_export, heard_created_at) = row?;
            if let Some(peer) = peer {
                out.push(PeerRecord {
                    peer: FeedId(peer),
                    last_heard,
                    heard_created_at,
                    via,
                    last_export,
                });
            }
        }
        Ok(out)
    }

    /// Removes everything held of a feed we block: its messages, pending messages, private
    /// messages from it, its contacts and its frontier. Fork evidence is kept.
    pub fn forget_feed(&mut self, feed: &FeedId) -> Result<u64> {
        let tx = self.write()?;
        let removed = forget_feed_in(&tx, feed)?;
        tx.commit()?;
        Ok(removed)
    }
}

/// [`Store::forget_feed`] inside a caller's transaction.
pub(super) fn forget_feed_in(tx: &rusqlite::Transaction<'_>, feed: &FeedId) -> Result<u64> {
    let key = feed.as_bytes();
    super::posts::forget_feed(tx, feed)?;
    // The name stays known, so that the feed can be found by it again.
    tx.execute(
        "INSERT INTO heard_names (feed, name, seq) \
         SELECT author, name, name_seq FROM feeds WHERE author = ?1 AND name IS NOT NULL \
         ON CONFLICT (feed) DO UPDATE SET name = excluded.name, seq = excluded.seq \
         WHERE excluded.seq >= seq",
        [key],
    )?;
    tx.execute(
        "DELETE FROM inbox WHERE id IN \
         (SELECT m.id FROM messages m JOIN feeds f ON f.key = m.feed WHERE f.author = ?1)",
        [key],
    )?;
    let removed = tx.execute(
        "DELETE FROM messages WHERE feed = (SELECT key FROM feeds WHERE author = ?1)",
        [key],
    )?;
    let pending = tx.execute("DELETE FROM pending WHERE author = ?1", [key])?;
    tx.execute("DELETE FROM contacts WHERE author = ?1", [key])?;
    tx.execute("DELETE FROM devices WHERE author = ?1", [key])?;
    tx.execute(
        "UPDATE feeds SET seq = 0, head = NULL, name = NULL, name_seq = NULL, description = NULL, \
         description_seq = NULL, hidden_at = NULL WHERE author = ?1",
        [key],
    )?;
    Ok((removed + pending) as u64)
}

/// Raises what we know `peer` holds of each feed; never lowers it.
fn raise_frontier(
    tx: &rusqlite::Transaction<'_>,
    peer: &FeedId,
    entries: &[(FeedId, u64)],
) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO peer_frontiers (peer, feed, seq) VALUES (?1, ?2, ?3) \
         ON CONFLICT (peer, feed) DO UPDATE SET seq = max(seq, ?3)",
    )?;
    for (feed, seq) in entries {
        stmt.execute(params![peer.as_bytes(), feed.as_bytes(), *seq as i64])?;
    }
    Ok(())
}

/// Fills `devices` from the messages already held (schema 7).
pub(super) fn backfill_devices(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let mut stmt = tx.prepare(&format!(
        "SELECT {} FROM messages m {} WHERE instr(unpack(m.content, m.dict), 'device') ORDER BY m.feed, m.seq",
        super::LINKED,
        super::LINKED_JOINS
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let Some(message) = super::linked_message(row, 0)? else {
            continue;
        };
        if let crate::content::Content::Device(change) = crate::content::Content::of(&message) {
            super::write::set_device(tx, &message.header.author, &change, message.header.sequence)?;
        }
    }
    Ok(())
}
