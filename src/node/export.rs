//! Export: a bundle of what [`super::plan`] found its readers lack, streamed into a file
//! that appears only complete.

use std::io;
use std::path::{Path, PathBuf};

use super::{ExportPlan, Node, NodeError, Result, StaleParticipant};
use crate::bundle::{self, BundleWriter, FeedRange, Manifest};
use crate::identity::{Identity, IdentityError};
use crate::ids::FeedId;
use crate::sealed::SealWriter;
use crate::store::Store;

/// Who a bundle is for.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Peers the bundle is made for: it carries what any of them lacks.
    pub for_peers: Vec<FeedId>,
    /// Everything in the replication set, whatever others hold.
    pub all: bool,
    /// Encrypt the whole bundle to `for_peers`.
    pub seal: bool,
    /// Write a bundle even when no reader lacks anything (to carry a fresh frontier).
    pub anyway: bool,
    /// Carry no messages, only the manifest: what we hold and want. The first step of a
    /// two-step exchange, after which the other side writes exactly what we lack.
    pub frontier_only: bool,
}

/// What `export` did.
#[derive(Debug, Default)]
pub struct ExportReport {
    /// The bundle written, or `None` when no reader lacked anything.
    pub wrote: Option<ExportSummary>,
    /// Our older bundles in the folder, superseded by the new one.
    pub removed: Vec<PathBuf>,
    /// Folder participants that no longer shape what we write, told once each.
    pub stale: Vec<StaleParticipant>,
    /// Nothing was written because our bundle already in the folder carries it all.
    pub already_there: Option<PathBuf>,
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

impl Node {
    /// Writes a bundle. `target` is a folder (a fresh file name is chosen, and our older
    /// bundles there are superseded) or a new file path. Writes nothing when no reader lacks
    /// anything, unless `options.anyway`.
    pub fn export(&mut self, target: &Path, options: &ExportOptions) -> Result<ExportReport> {
        if options.seal && options.for_peers.is_empty() {
            return Err(NodeError::Usage(
                "a sealed bundle needs its readers: add --for ID (repeat for several)".into(),
            ));
        }
        let folder = target.is_dir().then_some(target);
        if folder.is_none() && target.exists() {
            return Err(NodeError::Usage(format!(
                "{} already exists; grapevine never overwrites a file. Name a new file or a folder",
                target.display()
            )));
        }
        let plan = if options.frontier_only {
            ExportPlan::default()
        } else {
            self.plan_export(options, folder)?
        };
        let mut report = ExportReport {
            stale: plan.stale,
            ..ExportReport::default()
        };
        let anyway = options.anyway || options.frontier_only;
        if plan.ranges.is_empty() && !anyway {
            return Ok(report);
        }
        let own = match folder {
            Some(dir) if !options.seal => self.own_bundles(dir),
            _ => Vec::new(),
        };
        // `own` is empty for sealed bundles: they are never ours by name.
        if let (Some(dir), Some((_, newest)), false) = (folder, own.last(), anyway) {
            let serves = self
                .newest_own_manifest(dir)
                .is_some_and(|m| super::dropfolder::carries(&m, &plan.ranges));
            if serves {
                report.already_there = Some(newest.clone());
                return Ok(report);
            }
        }
        let wrote = match folder {
            Some(dir) if options.seal => self.export_planned(
                &sealed_bundle_path(dir, &*self.entropy)?,
                options,
                plan.ranges,
            )?,
            Some(dir) => self.write_own_bundle(dir, options, plan.ranges)?,
            None => self.export_planned(target, options, plan.ranges)?,
        };
        let path = wrote.path.clone();
        report.wrote = Some(wrote);
        for (_, old) in own {
            if old != path && std::fs::remove_file(&old).is_ok() {
                report.removed.push(old);
            }
        }
        Ok(report)
    }

    /// Writes a bundle of the ranges `feeds` (from [`Node::plan_export`]) to `path`.
    pub(crate) fn export_planned(
        &mut self,
        path: &Path,
        options: &ExportOptions,
        feeds: Vec<FeedRange>,
    ) -> Result<ExportSummary> {
        let path = path.to_owned();
        let (bundle_id, frontier) = self.tagged_frontier()?;
        let manifest = Manifest {
            format: bundle::FORMAT.into(),
            version: bundle::FORMAT_VERSION,
            bundle_id,
            exporter: self.id(),
            created_at: self.now(),
            recipient: match options.for_peers.as_slice() {
                [one] => Some(*one),
                _ => None,
            },
            feeds,
            frontier: bundle::Frontier::Tagged(frontier),
            hops: Some(self.hops()?),
        };
        let (bytes, messages) = crate::fsutil::write_new_atomically(&path, |out| {
            if options.seal {
                let random = crate::private_box::Randomness::drawn(&*self.entropy)
                    .map_err(io::Error::other)?;
                let sealer = SealWriter::with_randomness(out, &options.for_peers, &random)
                    .map_err(io::Error::other)?;
                let (sealer, counts) =
                    write_bundle(sealer, &self.identity, &self.store, &manifest)?;
                sealer.finish()?;
                Ok(counts)
            } else {
                write_bundle(out, &self.identity, &self.store, &manifest).map(|(_, counts)| counts)
            }
        })
        .map_err(super::write_error(&path))?;
        self.store
            .record_own_bundle(&manifest.bundle_id, manifest.created_at)?;
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
            .for_each_record_in_range(
                &range.feed,
                range.first,
                range.last,
                |seq, envelope, content| {
                    if let Err(e) = writer.push_record(range.feed, seq, envelope, content) {
                        failure.get_or_insert(e);
                    }
                    messages += 1;
                    Ok(())
                },
            )
            .map_err(io::Error::other)?;
        if let Some(e) = failure {
            return Err(e);
        }
    }
    let (out, bytes) = writer.finish()?;
    Ok((out, (bytes, messages)))
}

impl Node {
    /// A new bundle id, and our frontier packed under it: every feed we replicate with how far
    /// we hold it (0 for none), or, when the set is too large to list, the feeds we hold.
    /// Another id is drawn if two feeds' tags collide under one (about one bundle in 8,000
    /// for a thousand feeds).
    fn tagged_frontier(&self) -> Result<(String, bundle::Tagged)> {
        let held = self.advertised_frontier()?;
        let mut wanted: Vec<FeedId> = self
            .replication_set()?
            .members()
            .into_iter()
            .map(|(feed, _)| feed)
            .collect();
        wanted.sort();
        let whole = wanted.len() <= bundle::MAX_WANTS;
        let entries: Vec<(FeedId, u64)> = if whole {
            let held: std::collections::HashMap<FeedId, u64> = held.into_iter().collect();
            wanted
                .iter()
                .map(|feed| (*feed, held.get(feed).copied().unwrap_or(0)))
                .collect()
        } else {
            held
        };
        for _ in 0..64 {
            let mut salt = [0u8; 16];
            self.entropy
                .fill(&mut salt)
                .map_err(IdentityError::Random)?;
            if let Some(tagged) = bundle::Tagged::pack(&salt, &entries, whole) {
                return Ok((data_encoding::HEXLOWER.encode(&salt), tagged));
            }
        }
        Err(IdentityError::Random(
            "64 bundle ids in a row gave two feeds one tag: the random source repeats itself"
                .into(),
        )
        .into())
    }
}

fn random_hex(entropy: &dyn crate::entropy::Entropy) -> Result<String> {
    let mut bytes = [0u8; 16];
    entropy.fill(&mut bytes).map_err(IdentityError::Random)?;
    Ok(data_encoding::HEXLOWER.encode(&bytes))
}

/// Sealed bundles get a random name (`gv-sealed-<hex>.gvb`) so that not even the file name
/// tells who wrote them.
fn sealed_bundle_path(dir: &Path, entropy: &dyn crate::entropy::Entropy) -> Result<PathBuf> {
    Ok(dir.join(format!(
        "gv-sealed-{}.{}",
        random_hex(entropy)?,
        bundle::EXTENSION
    )))
}
