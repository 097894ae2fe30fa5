//! Export: plan what the audience lacks, then stream it into a bundle file.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use super::{Node, NodeError, Result, io_at};
use crate::bundle::{self, BundleWriter, FeedRange, FrontierEntry, Manifest};
use crate::graph::{DEFAULT_HOPS, ReplicationSet};
use crate::identity::{Identity, IdentityError};
use crate::ids::FeedId;
use crate::sealed::SealWriter;
use crate::store::{Frontier, Store};

/// Who a bundle is for.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Peers the bundle is made for: it carries what any of them lacks.
    pub for_peers: Vec<FeedId>,
    /// Everything in the replication set, whatever others hold.
    pub all: bool,
    /// Encrypt the whole bundle to `for_peers`.
    pub seal: bool,
}

/// What `export` wrote.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    pub path: PathBuf,
    pub bundle_id: String,
    pub bytes: u64,
    pub feeds: usize,
    pub messages: u64,
    pub sealed: bool,
}

/// One reader of the bundle: what it replicates (if known) and what it holds.
struct Audience {
    wants: Option<ReplicationSet>,
    holds: HashMap<FeedId, u64>,
}

impl Node {
    /// Writes a bundle. `target` is a folder (a fresh file name is chosen) or a new file path.
    pub fn export(&mut self, target: &Path, options: &ExportOptions) -> Result<ExportSummary> {
        if options.seal && options.for_peers.is_empty() {
            return Err(NodeError::Usage(
                "a sealed bundle needs its readers: add --for ID (repeat for several)".into(),
            ));
        }
        let folder = target.is_dir().then_some(target);
        let path = match folder {
            Some(dir) if options.seal => sealed_bundle_path(dir)?,
            Some(dir) => self.next_own_bundle_path(dir),
            None if target.exists() => {
                return Err(NodeError::Usage(format!(
                    "{} already exists; grapevine never overwrites a file. Name a new file or a folder",
                    target.display()
                )));
            }
            None => target.to_owned(),
        };
        let feeds = self.plan_export(options, folder)?;
        self.export_planned(&path, options, feeds)
    }

    /// Writes a bundle of the ranges `feeds` (from [`Node::plan_export`]) to `path`.
    pub(crate) fn export_planned(
        &mut self,
        path: &Path,
        options: &ExportOptions,
        feeds: Vec<FeedRange>,
    ) -> Result<ExportSummary> {
        let path = path.to_owned();
        let mine = self.replication_set()?;
        let manifest = Manifest {
            format: bundle::FORMAT.into(),
            version: bundle::FORMAT_VERSION,
            bundle_id: random_hex()?,
            exporter: self.id(),
            created_at: crate::now_ms(),
            recipient: match options.for_peers.as_slice() {
                [one] => Some(*one),
                _ => None,
            },
            feeds,
            frontier: self
                .store
                .frontiers()?
                .into_iter()
                .filter(|(feed, _)| mine.contains(feed))
                .filter_map(|(feed, f)| {
                    f.head.map(|id| FrontierEntry {
                        feed,
                        sequence: f.sequence,
                        id,
                    })
                })
                .collect(),
        };
        let (bytes, messages) = crate::fsutil::write_atomically(&path, |out| {
            if options.seal {
                let sealer = SealWriter::new(out, &options.for_peers).map_err(io::Error::other)?;
                let (sealer, counts) =
                    write_bundle(sealer, &self.identity, &self.store, &manifest)?;
                sealer.finish()?;
                Ok(counts)
            } else {
                write_bundle(out, &self.identity, &self.store, &manifest).map(|(_, counts)| counts)
            }
        })
        .map_err(io_at(&path))?;
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(bytes);
        // What the peers will hold as a contiguous frontier: pending runs do not count.
        let sent: Vec<(FeedId, u64)> = manifest
            .feeds
            .iter()
            .filter(|r| {
                self.store
                    .frontier(&r.feed)
                    .is_ok_and(|f| r.last <= f.sequence)
            })
            .map(|r| (r.feed, r.last))
            .collect();
        for peer in &options.for_peers {
            self.store.note_sent(peer, &sent, manifest.created_at)?;
        }
        Ok(ExportSummary {
            path,
            bundle_id: manifest.bundle_id,
            bytes,
            feeds: {
                let mut feeds: Vec<FeedId> = manifest.feeds.iter().map(|r| r.feed).collect();
                feeds.dedup();
                feeds.len()
            },
            messages,
            sealed: options.seal,
        })
    }

    /// The ranges a bundle should carry: for every feed we replicate and hold, from the lowest
    /// sequence some reader lacks up to our frontier. Readers are the `--for` peers, or else the
    /// other participants of the target folder (from their manifests there); with none (or
    /// with `all`), everything we replicate.
    pub fn plan_export(
        &mut self,
        options: &ExportOptions,
        folder: Option<&Path>,
    ) -> Result<Vec<FeedRange>> {
        let mine = self.replication_set()?;
        let held: HashMap<FeedId, Frontier> = self.store.frontiers()?.into_iter().collect();
        let audience = if options.all {
            Vec::new()
        } else if !options.for_peers.is_empty() {
            let mut list = Vec::new();
            for peer in &options.for_peers {
                list.push(self.audience(*peer, self.store.peer_frontier(peer)?, &held)?);
            }
            list
        } else {
            match folder {
                Some(dir) => self.folder_audience(dir, &held)?,
                None => Vec::new(),
            }
        };
        let mut ranges = Vec::new();
        for (feed, _) in mine.members() {
            let frontier = held.get(&feed).copied().unwrap_or(Frontier::EMPTY);
            let first = if audience.is_empty() {
                Some(1)
            } else {
                audience
                    .iter()
                    .filter(|a| a.wants.as_ref().is_none_or(|set| set.contains(&feed)))
                    .map(|a| a.holds.get(&feed).copied().unwrap_or(0).saturating_add(1))
                    .min()
            };
            let Some(first) = first else {
                continue;
            };
            if first <= frontier.sequence {
                ranges.push(FeedRange {
                    feed,
                    first,
                    last: frontier.sequence,
                });
            }
            // Verified messages beyond a gap travel on too, each run as its own range.
            for (low, high) in self.store.pending_runs(&feed)? {
                if high >= first {
                    ranges.push(FeedRange {
                        feed,
                        first: low.max(first),
                        last: high,
                    });
                }
            }
        }
        Ok(ranges)
    }

    /// A peer's replication set is known when we hold its feed (its contact messages);
    /// we assume it uses the default hops.
    fn audience(
        &self,
        peer: FeedId,
        holds: HashMap<FeedId, u64>,
        held: &HashMap<FeedId, Frontier>,
    ) -> Result<Audience> {
        let wants = held
            .contains_key(&peer)
            .then(|| self.graph().map(|g| g.replication_set(peer, DEFAULT_HOPS)))
            .transpose()?;
        Ok(Audience { wants, holds })
    }

    /// The other participants of a drop folder: exporters of bundles there whose signature
    /// verified (checked here, without storing messages, for bundles we have not imported).
    /// What they hold comes from the store (claims from their verified manifests, raised by
    /// what we sent), never from a file's unverified manifest: a forged file in the folder
    /// cannot make us withhold anything.
    fn folder_audience(
        &mut self,
        dir: &Path,
        held: &HashMap<FeedId, Frontier>,
    ) -> Result<Vec<Audience>> {
        let mut participants: Vec<FeedId> = Vec::new();
        for file in super::bundles_in(dir) {
            let Ok(Ok(Some(manifest))) = std::fs::File::open(&file).map(bundle::read_manifest)
            else {
                continue;
            };
            let exporter = manifest.exporter;
            if exporter == self.id() || participants.contains(&exporter) {
                continue;
            }
            let known = self
                .store
                .verified_bundle_from(&manifest.bundle_id, &exporter)?;
            if known || self.verify_bundle(&file)? {
                participants.push(exporter);
            }
        }
        let mut list = Vec::new();
        for peer in participants {
            let holds = self.store.peer_frontier(&peer)?;
            list.push(self.audience(peer, holds, held)?);
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

/// Streams every message the manifest names into a bundle, one feed per segment.
/// Returns the output and (bytes, messages) written.
fn write_bundle<W: io::Write>(
    out: W,
    identity: &Identity,
    store: &Store,
    manifest: &Manifest,
) -> io::Result<(W, (u64, u64))> {
    let mut writer = BundleWriter::new(out, identity, manifest)?;
    let mut messages = 0u64;
    for range in &manifest.feeds {
        let mut failure = None;
        store
            .for_each_held_in_range(&range.feed, range.first, range.last, |message| {
                if let Err(e) = writer.push_message(&message) {
                    failure.get_or_insert(e);
                }
                messages += 1;
                Ok(())
            })
            .map_err(io::Error::other)?;
        if let Some(e) = failure {
            return Err(e);
        }
    }
    let (out, bytes) = writer.finish()?;
    Ok((out, (bytes, messages)))
}

fn random_hex() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| IdentityError::Random(e.to_string()))?;
    Ok(data_encoding::HEXLOWER.encode(&bytes))
}

/// Sealed bundles get a random name (`gv-sealed-<hex>.gvb`) so that not even the file name
/// tells who wrote them.
fn sealed_bundle_path(dir: &Path) -> Result<PathBuf> {
    Ok(dir.join(format!("gv-sealed-{}.{}", random_hex()?, bundle::EXTENSION)))
}
