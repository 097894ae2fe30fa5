//! Planning a bundle: who its readers are (the `--for` peers, a folder's recent participants,
//! whoever reads our stick), what each wants and holds as far as verified claims tell, and,
//! from those, the ranges [`crate::replicate::plan`] says to carry.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::{ExportOptions, Node, Result};
use crate::bundle::{self, FeedRange};
use crate::graph::{DEFAULT_HOPS, Graph};
use crate::ids::FeedId;
use crate::replicate::{self, Reader};
use crate::store::{Frontier, Store};

/// What we hold, for the planner: frontiers read once for every feed, runs beyond a gap
/// from the store as they are asked for.
struct Held<'a> {
    frontiers: &'a HashMap<FeedId, Frontier>,
    store: &'a Store,
}

impl replicate::Holdings for Held<'_> {
    type Error = crate::store::StoreError;

    fn frontier(&self, feed: &FeedId) -> std::result::Result<u64, Self::Error> {
        Ok(self.frontiers.get(feed).map_or(0, |f| f.sequence))
    }

    fn pending_runs(&self, feed: &FeedId) -> std::result::Result<Vec<(u64, u64)>, Self::Error> {
        self.store.pending_runs(feed)
    }
}

/// A drop-folder participant whose newest verified file is older than `folder-stale-days`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleParticipant {
    pub peer: FeedId,
    /// When its newest file there was made (its signed `created_at`).
    pub newest: i64,
}

/// The ranges to write, and what planning noticed.
#[derive(Default)]
pub struct ExportPlan {
    pub ranges: Vec<FeedRange>,
    pub stale: Vec<StaleParticipant>,
}

/// What planning knows of everyone: the feeds we hold (whose contacts we know) and the graph,
/// read once per plan however many readers there are.
struct Known {
    /// How far we hold each feed.
    held: HashMap<FeedId, u64>,
    graph: Graph,
}

impl Known {
    fn new(node: &Node, held: &HashMap<FeedId, Frontier>) -> Result<Self> {
        Ok(Self {
            held: held.iter().map(|(f, at)| (*f, at.sequence)).collect(),
            graph: node.graph()?,
        })
    }

    /// `peer`'s replication set at `hops`, as far as its contacts we hold tell.
    fn derived(&self, peer: FeedId, hops: u32) -> HashSet<FeedId> {
        self.graph
            .replication_set(peer, hops)
            .members()
            .into_iter()
            .map(|(feed, _)| feed)
            .collect()
    }
}

/// `wants`, widened by what a reader without contacts we hold may want once it reads this
/// bundle (a LAN session would ask for it at once): the follows of each feed it wants and
/// will learn more of, as far as its `hops` reach, and their devices. A feed that names the
/// reader as a device may become one, and its follows are a step from the reader. Those it
/// does not want are left aside when it reads them.
fn widened(
    mut wants: HashSet<FeedId>,
    holds: &HashMap<FeedId, u64>,
    reader: FeedId,
    hops: u32,
    known: &Known,
) -> HashSet<FeedId> {
    let devices = known.graph.devices();
    // Each feed to look at, with how many follow-steps its follows may still take.
    let mut learning: Vec<(FeedId, u32)> = wants
        .iter()
        .filter(|f| {
            let theirs = holds.get(*f).copied().unwrap_or(0);
            known.held.get(*f).is_some_and(|ours| *ours > theirs)
        })
        .map(|f| {
            let own = *f == reader || devices.claimed_by(f).contains(&reader);
            (*f, if own { hops } else { hops.saturating_sub(1) })
        })
        .collect();
    // The most steps each feed was reached with: reached again with more, it is looked at again.
    let mut best: HashMap<FeedId, u32> = learning.iter().copied().collect();
    while let Some((feed, steps)) = learning.pop() {
        let follows = known.graph.follows(&feed).iter().filter(|_| steps > 0);
        let linked = devices.others(&feed).chain(devices.claimed_by(&feed));
        for (other, left) in follows
            .map(|f| (f, steps - 1))
            .chain(linked.map(|d| (d, steps)))
        {
            wants.insert(*other);
            if best.get(other).is_none_or(|had| left > *had) {
                best.insert(*other, left);
                learning.push((*other, left));
            }
        }
    }
    wants
}

/// How soon a reader reads our next bundle: folder participants at their next visit, which
/// shows what they learnt from this one; a peer met on a stick perhaps days later.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Meets {
    Often,
    Seldom,
}

/// A drop folder's recent participants, by whether we replicate them, and those gone stale.
#[derive(Default)]
struct FolderAudience {
    trusted: Vec<Reader>,
    strangers: Vec<Reader>,
    stale: Vec<StaleParticipant>,
    /// What the newest files of the others there carry, per feed: every reader of the folder
    /// reads those too. Only files of participants we replicate, that we imported and found
    /// whole (their claims checked against what they carry), count.
    carried: HashMap<FeedId, Vec<(u64, u64)>>,
}

/// Raises what `reader` holds of each feed by the runs the folder already carries for it from
/// just past its frontier on: a folder is read whole, so one file carrying a message there is
/// enough, and the others need not carry it again.
fn covered(reader: &mut Reader, carried: &HashMap<FeedId, Vec<(u64, u64)>>) {
    for (feed, runs) in carried {
        let held = reader.holds.get(feed).copied().unwrap_or(0);
        let mut reach = held;
        for (first, last) in runs {
            if *first <= reach.saturating_add(1) && *last > reach {
                reach = *last;
            }
        }
        if reach > held {
            reader.holds.insert(*feed, reach);
        }
    }
}

impl Node {
    /// One line telling the user a folder participant no longer shapes what we write.
    pub fn stale_text(&self, stale: &StaleParticipant) -> String {
        let who = match self.store.name_of(&stale.peer).ok().flatten() {
            Some(name) => format!("{} ({})", crate::text::escape(&name), stale.peer),
            None => stale.peer.to_string(),
        };
        format!(
            "{who} last wrote here {}, more than folder-stale-days ({}) ago: what they lack no \
             longer shapes what we write here",
            crate::text::time(stale.newest),
            self.folder_stale_days()
                .unwrap_or(crate::node::DEFAULT_STALE_DAYS)
        )
    }

    /// The ranges a bundle should carry: for every feed we replicate and hold, from the lowest
    /// sequence some reader that wants the feed lacks, up to our frontier (docs/replication.md,
    /// "What a bundle carries"). Readers are the `--for` peers; or else the folder's recent
    /// participants; or else, for a folder only we write to, whoever reads our last bundle there
    /// (so what is new since) and the peers we heard from lately. With `all`, or a folder with
    /// no bundle of ours, everything we replicate.
    pub fn plan_export(
        &mut self,
        options: &ExportOptions,
        folder: Option<&Path>,
    ) -> Result<ExportPlan> {
        let mine = self.replication_set()?;
        let held: HashMap<FeedId, Frontier> = self.store.frontiers()?.into_iter().collect();
        let mut stale = Vec::new();
        let audience = if options.all {
            Vec::new()
        } else if !options.for_peers.is_empty() {
            let known = Known::new(self, &held)?;
            let mut list = Vec::new();
            for peer in &options.for_peers {
                list.push(self.audience(*peer, &known, Meets::Seldom)?);
            }
            list
        } else if let Some(dir) = folder {
            let known = Known::new(self, &held)?;
            let found = self.folder_audience(dir, &known)?;
            stale = found.stale;
            let mut list = found.trusted;
            if list.is_empty() {
                list = self.stick_audience(dir, &known)?;
            }
            // Strangers only widen an audience: alone, they would decide what we withhold.
            if !list.is_empty() {
                list.extend(found.strangers);
            }
            for reader in &mut list {
                covered(reader, &found.carried);
            }
            list
        } else {
            Vec::new()
        };
        // A folder with no bundle of ours gets our own diary at least, whatever the others
        // there say they want: it is how they learn of us (a newcomer) and can follow.
        let introduce = folder
            .filter(|_| !options.all && options.for_peers.is_empty())
            .is_some_and(|dir| self.newest_own_manifest(dir).is_none());
        let introduced = introduce.then(|| self.id());
        let audience = match audience.is_empty() {
            true => replicate::Audience::Everyone,
            false => replicate::Audience::Readers(&audience),
        };
        let feeds = mine.members().into_iter().map(|(feed, _)| feed);
        let holdings = Held {
            frontiers: &held,
            store: &self.store,
        };
        let ranges = replicate::plan(feeds, &holdings, &audience, introduced)?
            .into_iter()
            .map(|r| FeedRange {
                feed: r.feed,
                first: r.first,
                last: r.last,
            })
            .collect();
        Ok(ExportPlan { ranges, stale })
    }

    /// What `peer` wants: what its newest verified manifest said, widened, if we hold its
    /// contacts and know its `hops`, by the feeds it will want once it learns its friends'
    /// follows (which may travel in this very bundle); without its contacts, for a reader we
    /// meet `Seldom`, by the follows of each feed it wants and holds none of; else, if we hold
    /// its feed, its replication set at the default hops; else unknown.
    fn audience(&self, peer: FeedId, known: &Known, meets: Meets) -> Result<Reader> {
        let me = self.id();
        let mut holds = self.store.peer_frontier(&peer)?;
        // No one holds more of our diary than we wrote: such a claim is false, and ignored.
        let written = self.store.frontier(&me)?.sequence;
        if holds.get(&me).is_some_and(|claimed| *claimed > written) && !self.is_restoring()? {
            holds.remove(&me);
        }
        let held = known.held.contains_key(&peer);
        let wants = match self.store.peer_wants(&peer)? {
            Some((list, Some(hops))) if held => {
                let mut set = known.derived(peer, hops);
                set.extend(list);
                Some(set)
            }
            Some((list, hops)) => {
                let mut set: HashSet<FeedId> = list.into_iter().collect();
                // A feed of which this bundle brings it new messages may bring it new follows,
                // which it will want next if they are within its hops (a LAN session would ask
                // for them at once). Without its contacts we cannot tell which: for a peer we
                // may not meet again soon, the follows we know of travel too, as far as its
                // hops reach; those it does not want are left aside when it reads them.
                if meets == Meets::Seldom {
                    set = widened(set, &holds, peer, hops.unwrap_or(DEFAULT_HOPS), known);
                }
                Some(set)
            }
            None if held => Some(known.derived(peer, DEFAULT_HOPS)),
            None => None,
        };
        // Someone we follow is offered our own feed even before they follow us: it is how
        // they learn who we are, and can follow back (docs/replication.md). Every reader wants
        // its own diary: a key restored from a backup holds none of it until someone sends it.
        let wants = wants.map(|mut set| {
            if known.graph.follows(&me).contains(&peer) {
                set.insert(me);
            }
            set.insert(peer);
            set
        });
        Ok(Reader {
            wants,
            holds,
            ..Reader::default()
        })
    }

    fn stale_cutoff(&self) -> Result<i64> {
        let days = i64::from(self.folder_stale_days()?);
        Ok(self.now().saturating_sub(days.saturating_mul(86_400_000)))
    }

    /// The other participants of a drop folder that wrote there lately: exporters of bundles
    /// there whose signature verified (checked here, without storing messages, for bundles we
    /// have not imported). What they hold comes from the store (claims from their verified
    /// manifests, raised by what we sent), never from a file's unverified manifest: a forged
    /// file in the folder cannot make us withhold anything. Those whose newest verified file is
    /// older than `folder-stale-days` are left out, and returned apart.
    ///
    /// Participants we replicate come first; the others (strangers: anyone can make a key and
    /// sign claims) come apart, and may only add to what we write, never withhold from it.
    fn folder_audience(&mut self, dir: &Path, known: &Known) -> Result<FolderAudience> {
        let mine = self.replication_set()?;
        let mut newest: HashMap<FeedId, i64> = HashMap::new();
        // The runs each participant's newest file carries, if it counts (see `carried`).
        let mut carries: HashMap<FeedId, Vec<FeedRange>> = HashMap::new();
        for file in super::bundles_in(dir) {
            let Ok(Ok(Some(manifest))) = std::fs::File::open(&file).map(bundle::read_manifest)
            else {
                continue;
            };
            let exporter = manifest.exporter;
            if exporter == self.id()
                || newest
                    .get(&exporter)
                    .is_some_and(|at| *at >= manifest.created_at)
            {
                continue;
            }
            let imported = self
                .store
                .verified_bundle_from(&manifest.bundle_id, &exporter)?;
            if imported || self.verify_bundle(&file)? {
                newest.insert(exporter, manifest.created_at);
                if imported && mine.contains(&exporter) {
                    carries.insert(exporter, manifest.feeds);
                } else {
                    carries.remove(&exporter);
                }
            }
        }
        let cutoff = self.stale_cutoff()?;
        let mut found = FolderAudience::default();
        for range in carries.into_values().flatten() {
            let runs = found.carried.entry(range.feed).or_default();
            runs.push((range.first, range.last));
            runs.sort_unstable();
        }
        let mut participants: Vec<(FeedId, i64)> = newest.into_iter().collect();
        participants.sort();
        for (peer, at) in participants {
            if at >= cutoff {
                let reader = self.audience(peer, known, Meets::Often)?;
                match mine.contains(&peer) {
                    true => found.trusted.push(reader),
                    false => found.strangers.push(reader),
                }
            } else if self.store.note_stale(&peer, at)? {
                found.stale.push(StaleParticipant { peer, newest: at });
            }
        }
        Ok(found)
    }

    /// Readers of a folder only we write to (our own stick): whoever read our last bundle
    /// there, who lacks what is newer than the frontier it advertised, and the peers we heard
    /// from after that bundle was written, by word no older than `folder-stale-days`. None (so
    /// everything) if we have no bundle there.
    fn stick_audience(&self, dir: &Path, known: &Known) -> Result<Vec<Reader>> {
        let Some(last) = self.newest_own_manifest(dir) else {
            return Ok(Vec::new());
        };
        let mut list = vec![Reader {
            wants: None,
            holds: last
                .claims(&self.store.known_feeds()?)
                .holds
                .into_iter()
                .collect(),
            ..Reader::default()
        }];
        // Peers we heard from after our last bundle here was written (the people met since,
        // who may read it next). Those heard from only before are left out: what we know of
        // them is older, and overstates what they lack. So are those whose newest word is
        // older than `folder-stale-days`, however recently we read it.
        let cutoff = self.stale_cutoff()?;
        let mine = self.replication_set()?;
        for peer in self.store.peers()? {
            if peer.peer != self.id()
                && mine.contains(&peer.peer)
                && peer.last_heard.is_some_and(|at| at > last.created_at)
                && peer.heard_created_at.is_some_and(|at| at >= cutoff)
            {
                list.push(self.audience(peer.peer, known, Meets::Seldom)?);
            }
        }
        Ok(list)
    }

    /// Checks a bundle's signature without storing its messages; if it holds, records the
    /// bundle and what its exporter says it holds.
    fn verify_bundle(&mut self, file: &Path) -> Result<bool> {
        let Ok(handle) = std::fs::File::open(file) else {
            return Ok(false);
        };
        let Ok(report) = bundle::read_bundle(handle, &mut bundle::Discard) else {
            return Ok(false);
        };
        let (true, Some(m)) = (report.is_verified(), &report.manifest) else {
            return Ok(false);
        };
        self.remember(file, m, true, 0)?;
        Ok(true)
    }
}
