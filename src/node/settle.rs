//! Settling: making the store match the replication set, whatever order things arrived in.
//!
//! The set changes when contact messages arrive (in any bundle or LAN session) and when the
//! user follows, blocks or changes `hops`. After any change, [`Node::settle`]:
//!
//! - drops feeds that left the set, as if they had never arrived (docs/replication.md);
//! - reads again every file that carried a feed which is now wanted but was not taken in
//!   when the file was read (the `sources` table), if the file is still there;
//!
//! and repeats until neither happens. Each round either drops a feed or reads a file for a
//! (file, feed) pair not tried before in this settle, so it ends; in practice it takes one
//! round per hop of newly reached feeds.

use std::collections::HashSet;
use std::path::PathBuf;

use super::{ImportSummary, Node, Result};
use crate::ids::FeedId;

/// A safety net far above what a graph of `MAX_HOPS` needs.
const MAX_ROUNDS: usize = 64;

impl Node {
    /// Brings the store in line with the replication set (see the module docs).
    pub fn settle(&mut self) -> Result<ImportSummary> {
        let mut summary = ImportSummary::default();
        self.settle_into(&mut summary)?;
        Ok(summary)
    }

    pub(super) fn settle_into(&mut self, summary: &mut ImportSummary) -> Result<()> {
        let me = self.id();
        let mut tried: HashSet<(PathBuf, FeedId)> = HashSet::new();
        for _ in 0..MAX_ROUNDS {
            let set = self.replication_set()?;
            let mut dropped = false;
            for feed in self.store.held_feeds()? {
                if feed != me && !set.contains(&feed) {
                    let removed = self.store.drop_unwanted_feed(&feed)?;
                    summary.dropped.push((feed, removed));
                    dropped = true;
                }
            }
            if dropped {
                // Dropping a feed drops its contacts: the set may narrow further.
                continue;
            }
            let mut again = Vec::new();
            for (path, feeds) in self.store.untaken_sources()? {
                let fresh: Vec<FeedId> = feeds
                    .into_iter()
                    .filter(|f| set.contains(f) && !tried.contains(&(path.clone(), *f)))
                    .collect();
                if fresh.is_empty() {
                    continue;
                }
                if !path.is_file() {
                    // Gone (a stick unplugged, a superseded bundle removed): nothing to reach.
                    self.store.drop_sources(&path)?;
                    continue;
                }
                tried.extend(fresh.into_iter().map(|f| (path.clone(), f)));
                again.push(path);
            }
            if again.is_empty() {
                return Ok(());
            }
            for path in again {
                self.import_file(&path, summary)?;
                if let Some(outcome) = summary
                    .bundles
                    .iter_mut()
                    .find(|b| super::import::same_file(&b.path, &path))
                {
                    outcome.reread = outcome.reread.max(1);
                }
            }
        }
        Ok(())
    }
}
