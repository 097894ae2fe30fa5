//! Where feeds were seen: every bundle file read, and per feed whether it was taken in.
//!
//! Gossip must not depend on the order files arrive in (docs/replication.md). A file whose
//! feeds were not wanted when it was read is remembered here; when one of those feeds joins the
//! replication set, by any route, the file is read again if it is still there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::params;

use super::{Result, Store, blob_id};
use crate::ids::FeedId;

impl Store {
    /// Records what one read of `path` saw: each feed it carried and whether it was taken in.
    pub fn record_sources(&mut self, path: &Path, seen: &BTreeMap<FeedId, bool>) -> Result<()> {
        let key = path.to_string_lossy();
        let tx = self.write()?;
        tx.prepare_cached("DELETE FROM sources WHERE path = ?1")?
            .execute([key.as_ref()])?;
        {
            let mut insert =
                tx.prepare_cached("INSERT INTO sources (path, feed, taken) VALUES (?1, ?2, ?3)")?;
            for (feed, taken) in seen {
                insert.execute(params![key.as_ref(), feed.as_bytes(), taken])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Files that carried feeds we did not take in then, each with those feeds.
    pub fn untaken_sources(&self) -> Result<BTreeMap<PathBuf, Vec<FeedId>>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT path, feed FROM sources WHERE NOT taken")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, blob_id(r.get_ref(1)?.as_blob()?)))
        })?;
        let mut out: BTreeMap<PathBuf, Vec<FeedId>> = BTreeMap::new();
        for row in rows {
            if let (path, Some(feed)) = row? {
                out.entry(PathBuf::from(path))
                    .or_default()
                    .push(FeedId(feed));
            }
        }
        Ok(out)
    }

    /// Forgets a file that is gone.
    pub fn drop_sources(&mut self, path: &Path) -> Result<()> {
        self.conn.execute(
            "DELETE FROM sources WHERE path = ?1",
            [path.to_string_lossy().as_ref()],
        )?;
        Ok(())
    }

    /// Remembers that this node wrote the bundle `bundle_id`.
    pub fn record_own_bundle(&mut self, bundle_id: &str, created_at: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO own_bundles (bundle_id, created_at) VALUES (?1, ?2)",
            )?
            .execute(params![bundle_id, created_at])?;
        Ok(())
    }

    /// Whether this node wrote the bundle `bundle_id`.
    pub fn wrote_bundle(&self, bundle_id: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM own_bundles WHERE bundle_id = ?1)")?
            .query_row([bundle_id], |r| r.get(0))?)
    }

    /// Feeds with anything stored: linked or pending messages.
    pub fn held_feeds(&self) -> Result<Vec<FeedId>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT author FROM feeds WHERE seq > 0 UNION SELECT author FROM pending",
        )?;
        let rows = stmt.query_map([], |r| Ok(blob_id(r.get_ref(0)?.as_blob()?)))?;
        let mut out = Vec::new();
        for row in rows {
            if let Some(feed) = row? {
                out.push(FeedId(feed));
            }
        }
        Ok(out)
    }

    /// Hides a feed that left the replication set (docs/replication.md "Leaving the set"):
    /// what reading derived from it goes (posts, likes, mentions, tags, search, contacts,
    /// devices), while its messages, frontier, name and opened private messages stay, so that
    /// following it again shows everything at once. Returns how many messages it holds.
    pub fn hide_feed(&mut self, feed: &FeedId, now: i64) -> Result<u64> {
        let tx = self.write()?;
        let key = feed.as_bytes();
        super::posts::forget_feed(&tx, feed)?;
        tx.execute("DELETE FROM contacts WHERE author = ?1", [key])?;
        tx.execute("DELETE FROM devices WHERE author = ?1", [key])?;
        tx.execute(
            "UPDATE feeds SET hidden_at = ?2 WHERE author = ?1 AND hidden_at IS NULL",
            params![key, now],
        )?;
        let held: i64 = tx.query_row(
            "SELECT (SELECT count(*) FROM messages WHERE feed = \
                (SELECT key FROM feeds WHERE author = ?1)) \
             + (SELECT count(*) FROM pending WHERE author = ?1)",
            [key],
            |r| r.get(0),
        )?;
        tx.commit()?;
        Ok(held as u64)
    }

    /// Feeds hidden because they left the replication set, with when they were hidden.
    pub fn hidden_feeds(&self) -> Result<Vec<(FeedId, i64)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT author, hidden_at FROM feeds WHERE hidden_at IS NOT NULL")?;
        let rows = stmt.query_map([], |r| {
            Ok((blob_id(r.get_ref(0)?.as_blob()?), r.get::<_, i64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            if let (Some(feed), at) = row? {
                out.push((FeedId(feed), at));
            }
        }
        Ok(out)
    }

    /// Forgets what we heard from and of a feed we block: the name it gave itself while we did
    /// not hold it, what it claimed to hold and want, and what others claimed of it.
    pub fn forget_claims(&mut self, feed: &FeedId) -> Result<()> {
        let tx = self.write()?;
        let key = feed.as_bytes();
        tx.execute("DELETE FROM heard_names WHERE feed = ?1", [key])?;
        tx.execute(
            "DELETE FROM peer_frontiers WHERE peer = ?1 OR feed = ?1",
            [key],
        )?;
        tx.execute("DELETE FROM peers WHERE peer = ?1", [key])?;
        tx.commit()?;
        Ok(())
    }

    /// Shows a hidden feed again: derives from its messages everything [`Store::hide_feed`]
    /// removed (its posts count as read, as they were before it was hidden), at `now`.
    pub fn show_feed(&mut self, feed: &FeedId, now: i64) -> Result<()> {
        let tx = self.write()?;
        super::derive::derive_feed(&tx, feed, now)?;
        tx.execute(
            "UPDATE feeds SET hidden_at = NULL WHERE author = ?1",
            [feed.as_bytes()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Removes a feed that left the replication set, as if it had never arrived (fork evidence
    /// is kept), and marks it untaken in every file that carried it, so that it comes back if
    /// it is wanted again.
    pub fn drop_unwanted_feed(&mut self, feed: &FeedId) -> Result<u64> {
        let tx = self.write()?;
        let removed = super::peers::forget_feed_in(&tx, feed)?;
        tx.execute(
            "UPDATE sources SET taken = 0 WHERE feed = ?1",
            [feed.as_bytes()],
        )?;
        tx.commit()?;
        Ok(removed)
    }
}
