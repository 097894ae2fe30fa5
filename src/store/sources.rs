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
