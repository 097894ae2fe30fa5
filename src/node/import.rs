//! Import: read bundle files (plain or sealed) into the store, keeping only wanted feeds.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, BufRead, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{Node, NodeError, Result};
use crate::bundle::{self, BundleReport, BundleSink, Manifest};
use crate::ids::FeedId;
use crate::ingest::{IngestReport, Ingester};
use crate::sealed::{UnsealError, Unsealed, unseal};
use crate::store::StoreError;

/// What importing one bundle file did.
#[derive(Debug)]
pub struct BundleOutcome {
    pub path: PathBuf,
    pub container: BundleReport,
    pub messages: IngestReport,
    /// It was a sealed bundle addressed to us.
    pub sealed: bool,
    /// How many times it was read again because the replication set grew.
    pub reread: u32,
    /// Its reading was stopped (Ctrl-C): only part of it was read, on purpose.
    pub stopped: bool,
}

impl BundleOutcome {
    /// The file was read without any problem and every message in it was accepted (a reading
    /// stopped on purpose found no problem in what it read).
    pub fn is_clean(&self) -> bool {
        (self.stopped || self.container.is_verified())
            && self.messages.rejected == 0
            && self.messages.unreadable == 0
    }
}

/// What `import` did over all files.
#[derive(Debug, Default)]
pub struct ImportSummary {
    pub bundles: Vec<BundleOutcome>,
    /// Files that could not be read as bundles at all, and why.
    pub unreadable: Vec<(PathBuf, String)>,
    /// Sealed bundles addressed to other peers: not an error, nothing learned.
    pub not_for_us: Vec<PathBuf>,
    /// Feeds hidden longer than `forget-after-days`, dropped for good, with how many messages
    /// each.
    pub dropped: Vec<(FeedId, u64)>,
    /// Feeds that left the replication set and were hidden, with how many messages each.
    pub hidden: Vec<(FeedId, u64)>,
    /// Hidden feeds back in the set, shown again.
    pub shown: Vec<FeedId>,
    /// Feeds the files carried that we block: ignored, and never suggested.
    pub blocked: BTreeSet<FeedId>,
    /// The import was stopped (Ctrl-C) before it read everything; what it read is kept.
    pub stopped: bool,
}

impl ImportSummary {
    pub fn total(&self) -> IngestReport {
        let mut total = IngestReport::default();
        for b in &self.bundles {
            total.new += b.messages.new;
            total.already_held += b.messages.already_held;
            total.not_wanted += b.messages.not_wanted;
            total.forks += b.messages.forks;
            total.pending += b.messages.pending;
            total.rejected += b.messages.rejected;
            total.unreadable += b.messages.unreadable;
            total.requests += b.messages.requests;
            total
                .requested_by
                .extend(b.messages.requested_by.iter().copied());
            total
                .offered_by
                .extend(b.messages.offered_by.iter().copied());
        }
        total
    }

    pub fn is_clean(&self) -> bool {
        self.unreadable.is_empty() && self.bundles.iter().all(BundleOutcome::is_clean)
    }

    /// Feeds the files carried that we do not replicate (after every re-read), blocked ones
    /// left out.
    pub fn not_wanted_feeds(&self) -> BTreeSet<FeedId> {
        self.bundles
            .iter()
            .flat_map(|b| b.messages.feeds.iter())
            .filter(|(feed, wanted)| !**wanted && !self.blocked.contains(*feed))
            .map(|(feed, _)| *feed)
            .collect()
    }

    /// Adds what one read of a file did. A file read again (because the replication set grew)
    /// stays one entry: its counts describe the file once, as of the last read.
    pub(crate) fn add(&mut self, outcome: BundleOutcome) {
        let Some(first) = self
            .bundles
            .iter_mut()
            .find(|b| same_file(&b.path, &outcome.path))
        else {
            self.bundles.push(outcome);
            return;
        };
        first.reread += 1;
        let (before, now) = (&mut first.messages, outcome.messages);
        // What the first read stored, the second finds held.
        before.already_held = now.already_held.saturating_sub(before.new);
        before.new += now.new;
        before.not_wanted = now.not_wanted;
        before.forks += now.forks;
        before.pending += now.pending;
        before.feeds = now.feeds;
    }
}

impl Node {
    /// Imports bundle files, and every bundle found in folders (temporary files skipped).
    /// Then settles: files read now or before that hold feeds which became wanted on the way
    /// are read again, until nothing changes, so the order of files never matters.
    pub fn import(&mut self, paths: &[PathBuf]) -> Result<ImportSummary> {
        let mut summary = ImportSummary::default();
        for path in paths {
            // Only regular files are bundles: a pipe would block the open, a device never end.
            if let Ok(meta) = fs::metadata(path)
                && !meta.is_dir()
                && !meta.is_file()
            {
                return Err(NodeError::Usage(format!(
                    "{} is not a regular file or a folder; only files are bundles. \
                     Copy the bundle into a file and import that",
                    path.display()
                )));
            }
            let files = if path.is_dir() {
                bundles_in(path)
            } else {
                vec![path.clone()]
            };
            for file in files {
                self.import_file(&file, &mut summary)?;
                if summary.stopped {
                    // Settling can wait for the next import: the store is consistent now.
                    return Ok(summary);
                }
            }
        }
        self.settle_into(&mut summary)?;
        let set = self.replication_set()?;
        summary.blocked = summary
            .bundles
            .iter()
            .flat_map(|b| b.messages.feeds.keys())
            .filter(|feed| set.is_blocked(feed))
            .copied()
            .collect();
        Ok(summary)
    }

    pub(super) fn import_file(&mut self, path: &Path, summary: &mut ImportSummary) -> Result<()> {
        if fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            summary
                .unreadable
                .push((path.to_owned(), "not a regular file; skipped".into()));
            return Ok(());
        }
        let mut file = match File::open(path) {
            Ok(file) => file,
            // Gone since it was listed: in a shared folder its writer replaced it with a newer
            // one (drop-folder rule 3), which this or a later read takes in.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                summary.unreadable.push((path.to_owned(), e.to_string()));
                return Ok(());
            }
        };
        let mut magic = [0u8; 4];
        let plain = file.read_exact(&mut magic).is_ok() && bundle::has_bundle_magic(&magic);
        if plain {
            file.seek(SeekFrom::Start(0)).map_err(super::io_at(path))?;
            return self.import_plain(path, file, false, summary);
        }
        file.seek(SeekFrom::Start(0)).map_err(super::io_at(path))?;
        self.import_sealed(path, file, summary)
    }

    /// Opens a sealed bundle and reads it as it opens: a thread decrypts into a pipe, and the
    /// bundle reader takes its plaintext from there (stepping back within a window, as it
    /// may), so no plaintext ever lands on a disk, not even in the home.
    fn import_sealed(
        &mut self,
        path: &Path,
        file: File,
        summary: &mut ImportSummary,
    ) -> Result<()> {
        let (plaintext, mut out) = io::pipe().map_err(super::io_at(path))?;
        let opener = crate::private_box::Opener::of(&self.identity);
        let unsealing = std::thread::spawn(move || {
            let result = unseal(io::BufReader::new(file), &opener, &mut out);
            drop(out);
            result
        });
        let mut plaintext = io::BufReader::with_capacity(1 << 16, plaintext);
        // Nothing comes before the bundle is known to be for us and opens.
        let opened = !plaintext.fill_buf().map_err(super::io_at(path))?.is_empty();
        let read = opened.then(|| {
            self.import_plain(
                path,
                bundle::rewind::Rewind::new(&mut plaintext),
                true,
                summary,
            )
        });
        // Whatever the reader left unread, the thread must not wait to write it.
        drop(plaintext);
        let unsealed = unsealing
            .join()
            .unwrap_or_else(|_| Err(UnsealError::Io(io::Error::other("the unsealing failed"))));
        match unsealed {
            Ok(Unsealed::NotForUs) => summary.not_for_us.push(path.to_owned()),
            Ok(Unsealed::Opened) => {}
            // Chunks before the damage were authentic, and were read: say what happened.
            Err(e @ UnsealError::Damaged(_)) => {
                summary.unreadable.push((path.to_owned(), e.to_string()));
            }
            Err(UnsealError::NotABundle) => {
                // Not sealed either: let the plain reader skip the garbage and salvage any frames.
                let file = match File::open(path) {
                    Ok(file) => file,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(super::io_at(path)(e)),
                };
                return self.import_plain(path, file, false, summary);
            }
            // The reader stopped first (Ctrl-C, or a store error it returns below).
            Err(UnsealError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe && read.is_some() => {}
            Err(e) => summary.unreadable.push((path.to_owned(), e.to_string())),
        }
        read.unwrap_or(Ok(()))
    }

    /// Reads a plain bundle, keeping the feeds we replicate now. Feeds left out are remembered
    /// with the file, so that [`Node::settle`] reads it again if they become wanted.
    fn import_plain(
        &mut self,
        path: &Path,
        mut file: impl Read + Seek,
        sealed: bool,
        summary: &mut ImportSummary,
    ) -> Result<()> {
        let set = self.replication_set()?;
        file.seek(SeekFrom::Start(0)).map_err(super::io_at(path))?;
        let mut sink = IngestSink {
            ingester: Ingester::new(&mut self.store, &self.opener, &*self.clock)
                .wanting(&set)
                .reporting(self.progress.as_deref().map(|p| p as &dyn Fn(u64))),
            stop: self.stop.as_deref(),
        };
        let mut container = match bundle::read_bundle(&mut file, &mut sink) {
            Ok(report) => report,
            Err(SinkError::Stopped) => {
                // Keep every message verified so far (the batch in hand included).
                let messages = sink.ingester.finish()?;
                summary.stopped = true;
                summary.add(BundleOutcome {
                    path: path.to_owned(),
                    container: bundle::BundleReport::stopped(),
                    messages,
                    sealed,
                    reread: 0,
                    stopped: true,
                });
                return Ok(());
            }
            Err(SinkError::Store(e)) => return Err(e.into()),
            Err(SinkError::Io(e)) => {
                summary.unreadable.push((path.to_owned(), e.to_string()));
                return Ok(());
            }
        };
        bundle::check_manifest_claims(&mut container, sink.ingester.carried_runs());
        let messages = sink.ingester.finish()?;
        self.store
            .record_sources(&source_key(path), &messages.feeds)?;
        let outcome = BundleOutcome {
            path: path.to_owned(),
            container,
            messages,
            sealed,
            reread: 0,
            stopped: false,
        };
        if let Some(m) = &outcome.container.manifest {
            let verified = outcome.container.is_verified();
            self.remember(path, m, verified, outcome.messages.new)?;
        }
        summary.add(outcome);
        Ok(())
    }

    /// Records the bundle, and, if its signature holds, what its exporter says it holds.
    pub(super) fn remember(
        &mut self,
        path: &Path,
        m: &Manifest,
        verified: bool,
        new_messages: u64,
    ) -> Result<()> {
        let file = path.display().to_string();
        let seen = crate::store::BundleSeen {
            bundle_id: &m.bundle_id,
            exporter: &m.exporter,
            created_at: m.created_at,
            file: &file,
        };
        self.store
            .record_bundle(&seen, verified, new_messages, self.clock.now_ms())?;
        if verified && m.exporter != self.id() && !self.replication_set()?.is_blocked(&m.exporter) {
            let claims = m.claims(&self.store.known_feeds()?);
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let via = format!("bundle {name}");
            self.store.note_heard(
                &m.exporter,
                &claims.holds,
                claims.wants.as_deref().map(|list| (list, m.hops)),
                m.created_at,
                &via,
                self.clock.now_ms(),
            )?;
        }
        Ok(())
    }
}

enum SinkError {
    Io(io::Error),
    Store(StoreError),
    /// Ctrl-C: the reading ends here.
    Stopped,
}

impl From<io::Error> for SinkError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

struct IngestSink<'a> {
    ingester: Ingester<'a>,
    stop: Option<&'a std::sync::atomic::AtomicBool>,
}

impl BundleSink for IngestSink<'_> {
    type Error = SinkError;

    fn manifest(&mut self, _manifest: &Manifest) -> Result<(), SinkError> {
        Ok(())
    }

    fn segment(&mut self, name: &str, data: &[u8]) -> Result<(), SinkError> {
        if self
            .stop
            .is_some_and(|stop| stop.load(std::sync::atomic::Ordering::Relaxed))
        {
            return Err(SinkError::Stopped);
        }
        self.ingester
            .push_segment(name, data)
            .map_err(SinkError::Store)
    }
}

/// Bundle files in a folder tree: `.gvb` files, skipping hidden and temporary files.
pub fn bundles_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .max_depth(4)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|x| x == bundle::EXTENSION))
        .collect();
    files.sort();
    files
}

/// How a file is named in the sources table: absolute, so any process can read it again.
pub(super) fn source_key(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Whether two paths name one file: a file read again by `settle` is named by the absolute
/// path its read was recorded under, the first read by what the user typed.
pub(crate) fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
}
