//! Settling: making the store match the replication set, whatever order things arrived in.
//!
//! The set changes when contact messages arrive (in any bundle or LAN session) and when the
//! user follows, blocks or changes `hops`. After any change, [`Node::settle`]:
//!
//! - hides feeds that left the set: they are no longer carried or shown, but what was held
//!   stays, so that following again is instant (docs/replication.md "Leaving the set");
//! - shows hidden feeds that are back in the set, and forgets for good those hidden longer
//!   than `forget-after-days`;
//! - reads again every file that carried a feed which is now wanted but was not taken in
//!   when the file was read (the `sources` table), if the file is still there;
//!
//! and repeats until none of it happens. A round that hides or shows a feed changes the graph;
//! one that reads a file does so for a (file, feed) pair not tried before in this settle; in
//! practice it takes one round per hop of newly reached feeds ([`MAX_ROUNDS`] bounds it).

use std::collections::{BTreeMap, HashSet};
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
        let now = self.now();
        let forget_before =
            now.saturating_sub(i64::from(self.forget_after_days()?).saturating_mul(86_400_000));
        let mut tried: HashSet<(PathBuf, FeedId)> = HashSet::new();
        for _ in 0..MAX_ROUNDS {
            let set = self.replication_set()?;
            let hidden: BTreeMap<FeedId, i64> = self.store.hidden_feeds()?.into_iter().collect();
            let mut changed = false;
            for feed in self.store.held_feeds()? {
                if feed != me && !set.contains(&feed) && !hidden.contains_key(&feed) {
                    let held = self.store.hide_feed(&feed, now)?;
                    summary.hidden.push((feed, held));
                    changed = true;
                }
            }
            for (feed, since) in hidden {
                if set.contains(&feed) {
                    self.store.show_feed(&feed, now)?;
                    summary.shown.push(feed);
                    changed = true;
                } else if since <= forget_before {
                    let removed = self.store.drop_unwanted_feed(&feed)?;
                    summary.dropped.push((feed, removed));
                }
            }
            if changed {
                // Hiding a feed takes its contacts out of the graph, and showing one puts
                // them back: the set may change further.
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
                // Requests from feeds now replicated came in with their feeds; a blocked
                // feed's are dropped.
                for author in self.store.request_authors()? {
                    if set.contains(&author) || set.is_blocked(&author) {
                        self.store.drop_requests(&author)?;
                    }
                }
                // So do their device link offers: a replicated feed's own messages speak.
                for author in self.store.offer_authors()? {
                    if set.contains(&author) || set.is_blocked(&author) {
                        self.store.drop_offer(&author)?;
                    }
                }
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
