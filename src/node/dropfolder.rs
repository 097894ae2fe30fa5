//! Drop folders (bundle-format/drop-folder.md): many nodes share one folder, on a stick or
//! synced by a tool such as Syncthing. Each node writes only its own files, named
//! `gv-<feed id base32>-<n>.gvb`, replaces them as it learns more, and reads everyone else's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{
    ExportOptions, ExportPlan, ExportReport, ExportSummary, ImportSummary, Node, Result,
    StaleParticipant, io_at,
};
use crate::bundle;
use crate::ids::FeedId;

/// What one `sync-dir` did.
#[derive(Debug, Default)]
pub struct SyncReport {
    pub imported: ImportSummary,
    pub wrote: Option<ExportSummary>,
    /// Our own superseded bundles, removed.
    pub removed: Vec<PathBuf>,
    /// Participants that no longer shape what we write here, told once each.
    pub stale: Vec<StaleParticipant>,
    /// Our bundle there, when it already carried everything and nothing was written.
    pub current: Option<PathBuf>,
    /// Why our bundle could not be written (a locked stick, a full one); what was read there
    /// is kept all the same.
    pub not_written: Option<String>,
}

impl Node {
    /// Our bundle files in `dir`, oldest first, with their counters: files named as ours whose
    /// manifest names a bundle this node wrote (its store remembers each). Anyone can write a
    /// file under our name into a shared folder; such a file is never ours to replace.
    pub fn own_bundles(&self, dir: &Path) -> Vec<(u64, PathBuf)> {
        let me = self.id();
        let mut own: BTreeMap<u64, PathBuf> = BTreeMap::new();
        for path in super::bundles_in(dir) {
            let named = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(parse_bundle_name);
            let Some((_, n)) = named.filter(|(feed, _)| *feed == me) else {
                continue;
            };
            let manifest = std::fs::File::open(&path)
                .ok()
                .and_then(|f| bundle::read_manifest(f).ok().flatten())
                .filter(|m| m.exporter == me);
            let written = manifest.is_some_and(|m| {
                self.store.wrote_bundle(&m.bundle_id).unwrap_or(false)
                    // Written before the store kept a list (schema 9): our signature says so.
                    || std::fs::File::open(&path)
                        .ok()
                        .and_then(|f| bundle::read_bundle(f, &mut bundle::Discard).ok())
                        .is_some_and(|r| r.is_verified())
            });
            if written {
                own.insert(n, path);
            }
        }
        own.into_iter().collect()
    }

    /// The name of our next bundle in `dir`: `gv-<feed base32>-<n>.gvb` with `n` one more than
    /// our highest there, skipping any name that exists, so nothing is ever overwritten. When
    /// no such counter is free (names planted up to the top), a random one that is.
    pub(crate) fn next_own_bundle_path(&self, dir: &Path) -> Result<PathBuf> {
        self.remove_stale_temps(dir);
        let first = self
            .own_bundles(dir)
            .last()
            .map_or(Some(1), |(n, _)| n.checked_add(1));
        let prefix = own_prefix(&self.id());
        let named = |n: u64| dir.join(format!("{prefix}{n}.{}", bundle::EXTENSION));
        let counted = first
            .into_iter()
            .flat_map(|first| (first..=u64::MAX).take(1_000));
        let random = std::iter::repeat_with(|| {
            let mut bytes = [0u8; 8];
            self.entropy
                .fill(&mut bytes)
                .map(|()| u64::from_le_bytes(bytes) >> 1)
        })
        .take(64)
        .filter_map(std::result::Result::ok);
        counted
            .chain(random)
            .map(named)
            .find(|p| !p.exists())
            .ok_or_else(|| {
                super::NodeError::Usage(format!(
                    "{} holds files under every name this node tried for its bundle; remove \
                     the files named {prefix}*.{} that you did not write",
                    dir.display(),
                    bundle::EXTENSION
                ))
            })
    }

    /// Writes our next bundle into `dir` under a fresh name. Another process of ours (a
    /// watcher beside a `sync-dir`) or anyone with access to the folder may take the name first:
    /// then the next free one is tried.
    pub(crate) fn write_own_bundle(
        &mut self,
        dir: &Path,
        options: &ExportOptions,
        plan: Vec<bundle::FeedRange>,
    ) -> Result<ExportSummary> {
        let mut tries = 0;
        loop {
            let path = self.next_own_bundle_path(dir)?;
            match self.export_planned(&path, options, plan.clone()) {
                Err(super::NodeError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists && tries < 8 =>
                {
                    tries += 1;
                }
                done => return done,
            }
        }
    }

    /// Removes temporary files our own writers left in `dir` when they were killed mid-write:
    /// `.gv-<our feed>-<n>.gvb.<pid>.tmp` whose writer is gone. Writers hold a lock on their
    /// temporary file, which dies with them, so a reused pid cannot keep a dead writer's file
    /// (it did, in a crash round on a busy machine). Where locks say nothing (an empty file, a
    /// file system without them) the pid decides: only this node writes names with its feed id,
    /// and its key lives on this machine, so a missing pid means a dead writer.
    fn remove_stale_temps(&self, dir: &Path) {
        let prefix = format!(".{}", own_prefix(&self.id()));
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.starts_with(&prefix))
                .and_then(|n| n.strip_suffix(".tmp"))
                .and_then(|n| n.rsplit_once('.'))
                .and_then(|(_, pid)| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == std::process::id() {
                continue;
            }
            let path = entry.path();
            let written = entry.metadata().is_ok_and(|m| m.len() > 0);
            let gone = match crate::fsutil::writer_gone(&path) {
                Some(true) if written => true,
                Some(false) => false,
                _ => !process_alive(pid),
            };
            if gone {
                let _ = std::fs::remove_file(&path);
            }
        }
    }

    /// Whether `path` is named as one of our own drop-folder bundles (such files are not
    /// imported; only those [`Node::own_bundles`] lists are ours to replace).
    pub fn is_own_bundle(&self, path: &Path) -> bool {
        path.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(&own_prefix(&self.id())))
    }

    /// One round in a drop folder: import every other node's bundle, then write ours (what the
    /// others lack) and remove our superseded ones. Creates the folder if needed.
    pub fn sync_dir(&mut self, dir: &Path, export: bool) -> Result<SyncReport> {
        std::fs::create_dir_all(dir).map_err(io_at(dir))?;
        let others: Vec<PathBuf> = super::bundles_in(dir)
            .into_iter()
            .filter(|p| !self.is_own_bundle(p))
            .collect();
        let imported = self.import(&others)?;
        let stopped = imported.stopped;
        let mut report = SyncReport {
            imported,
            ..SyncReport::default()
        };
        if export && !stopped {
            let export = match self.refresh_own_bundle(dir) {
                Err(e @ super::NodeError::CannotWrite { .. }) => {
                    report.not_written = Some(e.to_string());
                    return Ok(report);
                }
                export => export?,
            };
            report.wrote = export.wrote;
            report.removed = export.removed;
            report.stale = export.stale;
            report.current = export.already_there;
        }
        Ok(report)
    }

    /// Writes a new own bundle into `dir` when the others there lack something or our frontier
    /// moved since our last one, then removes our older ones (the new one carries everything
    /// they carried that a participant still lacks).
    pub fn refresh_own_bundle(&mut self, dir: &Path) -> Result<ExportReport> {
        let own = self.own_bundles(dir);
        let ExportPlan {
            ranges: plan,
            stale,
        } = self.plan_export(&ExportOptions::default(), Some(dir))?;
        let current = self.advertised_frontier()?;
        let newest = self.newest_own_manifest(dir);
        let known = self.store.known_feeds()?;
        let still_serves = newest
            .as_ref()
            .is_some_and(|m| m.claims(&known).holds == current && carries(m, &plan));
        let mut report = ExportReport {
            stale,
            ..ExportReport::default()
        };
        // Nothing anyone lacks: a bundle would only tell our new frontier, which is worth a
        // file only if it stops someone from sending us again what their file there carries.
        // With no file of ours there, one is always written: it is how the others learn of
        // us and what we want (a newcomer, a restored key).
        if newest.is_some()
            && (still_serves
                || (plan.is_empty()
                    && !self.frontier_is_news(dir, newest.as_ref(), &current, &known)))
        {
            report.already_there = own.last().map(|(_, path)| path.clone());
            return Ok(report);
        }
        let wrote = self.write_own_bundle(dir, &ExportOptions::default(), plan)?;
        let path = wrote.path.clone();
        report.wrote = Some(wrote);
        for (_, old) in own {
            if old != path && std::fs::remove_file(&old).is_ok() {
                report.removed.push(old);
            }
        }
        Ok(report)
    }

    /// Whether our newest bundle in `dir` misstates what we hold: another participant's bundle
    /// there carries messages we now hold that it did not say we hold (until we say so, they
    /// would keep sending them), or it says we hold messages we no longer do.
    fn frontier_is_news(
        &self,
        dir: &Path,
        newest: Option<&bundle::Manifest>,
        current: &[(FeedId, u64)],
        known: &[FeedId],
    ) -> bool {
        let advertised: std::collections::HashMap<FeedId, u64> = newest
            .map(|m| m.claims(known).holds.into_iter().collect())
            .unwrap_or_default();
        let current: std::collections::HashMap<FeedId, u64> = current.iter().copied().collect();
        // Our last file there claims more than we hold (a key restored from a backup, a feed
        // that left our set): until we say so, no one sends it to us again.
        if advertised
            .iter()
            .any(|(feed, told)| current.get(feed).copied().unwrap_or(0) < *told)
        {
            return true;
        }
        super::bundles_in(dir)
            .into_iter()
            .filter(|p| !self.is_own_bundle(p))
            .filter_map(|p| std::fs::File::open(p).ok())
            .filter_map(|f| bundle::read_manifest(f).ok().flatten())
            .any(|m| {
                m.feeds.iter().any(|r| {
                    let told = advertised.get(&r.feed).copied().unwrap_or(0);
                    current.get(&r.feed).copied().unwrap_or(0) > told && r.last > told
                })
            })
    }

    /// The manifest of our newest bundle in `dir`, if it is ours and readable.
    pub(crate) fn newest_own_manifest(&self, dir: &Path) -> Option<bundle::Manifest> {
        self.own_bundles(dir)
            .last()
            .and_then(|(_, path)| std::fs::File::open(path).ok())
            .and_then(|f| bundle::read_manifest(f).ok().flatten())
            .filter(|m| m.exporter == self.id())
    }

    /// The frontier our manifests carry: every feed we replicate and hold, in id order.
    pub(crate) fn advertised_frontier(&self) -> Result<Vec<(FeedId, u64)>> {
        let set = self.replication_set()?;
        Ok(self
            .store
            .frontiers()?
            .into_iter()
            .filter(|(feed, f)| set.contains(feed) && f.head.is_some())
            .map(|(feed, f)| (feed, f.sequence))
            .collect())
    }
}

/// Whether a bundle with manifest `m` carries every range of `plan`.
pub(crate) fn carries(m: &bundle::Manifest, plan: &[bundle::FeedRange]) -> bool {
    plan.iter().all(|want| {
        m.feeds
            .iter()
            .any(|has| has.feed == want.feed && has.first <= want.first && has.last >= want.last)
    })
}

/// Whether a process with this id runs on this machine (Linux: its /proc entry). Elsewhere we
/// cannot tell, and say yes, so nothing is removed.
fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

fn own_prefix(me: &FeedId) -> String {
    format!("gv-{}-", me.base32())
}

/// The feed and counter of a drop-folder bundle name, `gv-<feed base32>-<n>.gvb` with `n` a
/// decimal u64 without sign or leading zeros; `None` for any other name. Names are written by
/// anyone with access to the folder, so this is parsed as untrusted input.
pub fn parse_bundle_name(name: &str) -> Option<(FeedId, u64)> {
    let rest = name
        .strip_prefix("gv-")?
        .strip_suffix(bundle::EXTENSION)?
        .strip_suffix('.')?;
    let (feed, counter) = rest.split_once('-')?;
    let canonical = |n: &str| {
        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (n == "0" || !n.starts_with('0'))
    };
    if !canonical(counter) {
        return None;
    }
    let id = crate::ids::decode_base32(feed).and_then(|bytes| FeedId::from_slice(&bytes))?;
    // One spelling per feed (lower case), so a name never aliases another.
    (id.base32() == feed).then_some(())?;
    Some((id, counter.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_names_have_one_spelling() {
        let feed = FeedId::from_slice(&[9; 32]).expect("32 bytes");
        let name = |n: &str| format!("gv-{}-{n}.gvb", feed.base32());
        assert_eq!(parse_bundle_name(&name("7")), Some((feed, 7)));
        assert_eq!(parse_bundle_name(&name("0")), Some((feed, 0)));
        let max = u64::MAX.to_string();
        assert_eq!(parse_bundle_name(&name(&max)), Some((feed, u64::MAX)));
        for bad in ["07", "", "+7", "-7", "18446744073709551616", "7 "] {
            assert_eq!(parse_bundle_name(&name(bad)), None, "{bad:?}");
        }
        let shouted = format!("gv-{}-7.gvb", feed.base32().to_uppercase());
        assert_eq!(parse_bundle_name(&shouted), None);
        assert_eq!(parse_bundle_name(&name("7").replace(".gvb", ".gvbx")), None);
        assert_eq!(parse_bundle_name("gv-.gvb"), None);
    }

    /// A killed writer's temporary file goes even when its pid now names a live process (our
    /// parent here, as after a reuse); an empty one of a live pid stays, as it may be a file being
    /// born, and an empty one of a dead pid goes.
    #[test]
    fn a_killed_writers_file_goes_though_its_pid_lives_again() {
        let dir = tempfile::tempdir().expect("dir");
        let node = Node::init_in(
            &dir.path().join("home"),
            Some("me"),
            crate::clock::ManualClock::starting_at(1_900_000_000_000),
            crate::entropy::Seeded::from_seed(7),
        )
        .expect("a node");
        let drop = dir.path().join("drop");
        std::fs::create_dir(&drop).expect("drop folder");
        let temp = |pid: u32| drop.join(format!(".{}1.gvb.{pid}.tmp", own_prefix(&node.id())));
        let reused = std::os::unix::process::parent_id();
        std::fs::write(temp(reused), b"half a bundle").expect("plant");
        std::fs::write(temp(1), b"").expect("plant");
        let dead = u32::MAX - 1;
        std::fs::write(temp(dead), b"").expect("plant");
        let theirs = drop.join(".gv-someone-1.gvb.1.tmp");
        std::fs::write(&theirs, b"half").expect("plant");
        node.next_own_bundle_path(&drop).expect("a name");
        assert!(
            !temp(reused).exists(),
            "a reused pid kept a dead writer's file"
        );
        assert!(temp(1).exists(), "a file being born was removed");
        assert!(!temp(dead).exists(), "a dead writer's empty file stayed");
        assert!(theirs.exists(), "another writer's file was touched");
    }
}
