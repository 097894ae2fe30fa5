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
}

impl Node {
    /// Our bundle files in `dir`, oldest first, with their counters.
    pub fn own_bundles(&self, dir: &Path) -> Vec<(u64, PathBuf)> {
        let me = self.id();
        let mut own: BTreeMap<u64, PathBuf> = BTreeMap::new();
        for path in super::bundles_in(dir) {
            let named = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(parse_bundle_name);
            if let Some((_, n)) = named.filter(|(feed, _)| *feed == me) {
                own.insert(n, path);
            }
        }
        own.into_iter().collect()
    }

    /// The name of our next bundle in `dir`: `gv-<feed base32>-<n>.gvb` with `n` one more than
    /// our highest there, skipping any name that exists, so nothing is ever overwritten.
    pub(crate) fn next_own_bundle_path(&self, dir: &Path) -> PathBuf {
        self.remove_stale_temps(dir);
        // Others can write here too: a planted counter near the top must not overflow.
        let first = self
            .own_bundles(dir)
            .last()
            .map_or(1, |(n, _)| n.saturating_add(1));
        let prefix = own_prefix(&self.id());
        (first..=u64::MAX)
            .map(|n| dir.join(format!("{prefix}{n}.{}", bundle::EXTENSION)))
            .find(|p| !p.exists())
            .unwrap_or_else(|| dir.join(format!("{prefix}{first}.{}", bundle::EXTENSION)))
    }

    /// Removes temporary files our own writers left in `dir` when they were killed mid-write:
    /// `.gv-<our feed>-<n>.gvb.<pid>.tmp` whose process is gone. Only this node writes names
    /// with its feed id, and its key lives on this machine, so a missing pid means a dead
    /// writer; a live pid (ours, another process of ours, or a reused one) keeps its file.
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
            if pid != std::process::id() && !process_alive(pid) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Whether `path` is one of our own drop-folder bundles.
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
        let mut report = SyncReport {
            imported,
            ..SyncReport::default()
        };
        if export {
            let export = self.refresh_own_bundle(dir)?;
            report.wrote = export.wrote;
            report.removed = export.removed;
            report.stale = export.stale;
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
        let still_serves = newest.as_ref().is_some_and(|m| {
            let advertised: Vec<_> = m.frontier.iter().map(|e| (e.feed, e.sequence)).collect();
            advertised == current && carries(m, &plan)
        });
        let mut report = ExportReport {
            stale,
            ..ExportReport::default()
        };
        // Nothing anyone lacks: a bundle would only tell our new frontier, which is worth a
        // file only if it stops someone from sending us again what their file there carries.
        if still_serves
            || (plan.is_empty() && !self.frontier_is_news(dir, newest.as_ref(), &current))
        {
            return Ok(report);
        }
        let path = self.next_own_bundle_path(dir);
        report.wrote = Some(self.export_planned(&path, &ExportOptions::default(), plan)?);
        for (_, old) in own {
            if std::fs::remove_file(&old).is_ok() {
                report.removed.push(old);
            }
        }
        Ok(report)
    }

    /// Whether another participant's bundle in `dir` carries messages we now hold but our newest
    /// bundle there did not say we hold: until we say so, they would keep sending them.
    fn frontier_is_news(
        &self,
        dir: &Path,
        newest: Option<&bundle::Manifest>,
        current: &[(FeedId, u64)],
    ) -> bool {
        let advertised: std::collections::HashMap<FeedId, u64> = newest
            .map(|m| m.frontier.iter().map(|e| (e.feed, e.sequence)).collect())
            .unwrap_or_default();
        let current: std::collections::HashMap<FeedId, u64> = current.iter().copied().collect();
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
}
