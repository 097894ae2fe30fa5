//! `grapevine watch`: merge every bundle that shows up in drop folders, keep our own bundle
//! there current, and sync USB sticks as they are mounted.
//!
//! Events come from notify (debounced); a periodic rescan catches what notify misses (network
//! shares, overflowed queues). A file is imported only once it reads as a complete bundle: a
//! file still being written is retried, and one that stays incomplete for the settle time is
//! salvaged and reported once. Errors (a stick pulled out mid-write, a vanished folder) are
//! logged and the watcher carries on.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use notify::RecursiveMode;
use notify_debouncer_full::new_debouncer;
use serde_json::{Value, json};

use crate::FeedId;
use crate::bundle;
use crate::events::{Event, Place, Who};
use crate::node::{BundleOutcome, ImportSummary, Node, NodeError, Result};

mod sticks;
pub use sticks::is_media_root;

/// The folder a node uses at the root of a mounted stick.
pub const STICK_FOLDER: &str = "grapevine";

#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// Drop folders (shared folders, a stick's `grapevine/` folder).
    pub folders: Vec<PathBuf>,
    /// Mount roots where sticks appear (`/media/$USER`, …).
    pub media: Vec<PathBuf>,
    pub export: bool,
    pub rescan: Duration,
    /// How long a file must stay unchanged and incomplete before it is taken as cut for good.
    pub settle: Duration,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

enum FileState {
    Imported(Stamp),
    Waiting { stamp: Stamp, since: Instant },
    GaveUp(Stamp),
}

struct Watcher<'a> {
    node: &'a mut Node,
    opts: WatchOptions,
    tell: &'a mut dyn FnMut(Event),
    files: HashMap<PathBuf, FileState>,
    mounts: HashSet<PathBuf>,
    /// Folders our bundle could not be written to (a locked stick, a full share): when to try
    /// again, and the wait after that, doubling up to [`MAX_WRITE_BACKOFF`].
    unwritable: HashMap<PathBuf, (Instant, Duration)>,
}

/// The longest a watcher waits before trying again to write into a folder that refused it.
const MAX_WRITE_BACKOFF: Duration = Duration::from_secs(3600);

/// The setting in which a running watcher notes its process and folders.
const WATCHING: &str = "watching";

/// The folders and mount roots a watcher on this home is watching now, and since when: from
/// the note it left, if its process is still alive.
pub fn watching(node: &Node) -> Option<(Vec<String>, i64)> {
    let note = node.running(WATCHING)?;
    let list = |key: &str| -> Vec<String> {
        note.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut all = list("folders");
    all.extend(list("media").into_iter().map(|m| format!("{m} (sticks)")));
    Some((all, note.get("since")?.as_i64()?))
}

/// The file a running watcher holds locked, so that one home has one watcher.
pub const LOCK_FILE: &str = "watch.lock";

/// Takes the home's watcher lock ([`LOCK_FILE`]), or says which watcher holds it.
fn lock_home(node: &Node) -> Result<std::fs::File> {
    crate::node::running::lock(node.home()?, LOCK_FILE)?.ok_or_else(|| {
        let what = match watching(node) {
            Some((folders, _)) => format!(" ({})", folders.join(", ")),
            None => String::new(),
        };
        NodeError::Usage(format!(
            "another watcher already runs on this home{what}: one home has one watcher. \
             `grapevine status` shows it; stop it first to watch other folders"
        ))
    })
}

/// Runs until `stop` is set (by a signal handler, or a test), then says so and returns.
pub fn run(
    node: &mut Node,
    opts: WatchOptions,
    tell: &mut dyn FnMut(Event),
    stop: &std::sync::atomic::AtomicBool,
) -> Result<()> {
    let _lock = lock_home(node)?;
    let (tx, rx) = mpsc::channel();
    let mut debouncer = new_debouncer(Duration::from_millis(200), None, tx)
        .map_err(|e| NodeError::Usage(format!("cannot watch folders: {e}")))?;
    let mut w = Watcher {
        node,
        tell,
        opts,
        files: HashMap::new(),
        mounts: HashSet::new(),
        unwritable: HashMap::new(),
    };
    let mut watched: HashSet<PathBuf> = HashSet::new();
    w.watch_all(&mut debouncer, &mut watched);
    for folder in w.opts.folders.clone() {
        w.sync_folder(&folder);
    }
    for root in w.opts.media.clone() {
        w.check_mounts(&root);
    }
    let folders: Vec<String> = w
        .opts
        .folders
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let media: Vec<String> = w
        .opts
        .media
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    // So that `status` can say what is watched, by which process.
    let _ = w
        .node
        .note_running(WATCHING, json!({ "folders": folders, "media": media }));
    (w.tell)(Event::Ready {
        folders: w.opts.folders.clone(),
        media: w.opts.media.clone(),
    });
    let mut last_rescan = Instant::now();
    let mut data_version = w.node.store().data_version().unwrap_or(0);
    loop {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = w.node.store.set_config(WATCHING, "");
            (w.tell)(Event::Stopped);
            return Ok(());
        }
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(Ok(events)) => {
                let mut folders = HashSet::new();
                let mut roots = HashSet::new();
                // Our own reads of a bundle are events too (access); only changes matter, or
                // each import would schedule a useless rescan of its folder.
                for event in events.iter().filter(|e| !e.kind.is_access()) {
                    for path in &event.paths {
                        let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
                        if w.opts.folders.contains(&parent) {
                            folders.insert(parent);
                        } else if w.opts.media.contains(&parent) || w.opts.media.contains(path) {
                            roots.insert(
                                w.opts
                                    .media
                                    .iter()
                                    .find(|r| path.starts_with(r))
                                    .cloned()
                                    .unwrap_or(parent),
                            );
                        }
                    }
                }
                for folder in folders {
                    w.sync_folder(&folder);
                }
                for root in roots {
                    w.check_mounts(&root);
                }
            }
            Ok(Err(errors)) => {
                for e in errors {
                    (w.tell)(Event::error(
                        Place::Nowhere,
                        &e,
                        format!("watch error: {e}"),
                    ));
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        }
        // Files still being written, and our own new posts (committed by other processes).
        let waiting: HashSet<PathBuf> = w
            .files
            .iter()
            .filter(|(_, s)| matches!(s, FileState::Waiting { .. }))
            .filter_map(|(p, _)| p.parent().map(Path::to_path_buf))
            .collect();
        for folder in waiting {
            w.sync_folder(&folder);
        }
        let version = w.node.store().data_version().unwrap_or(data_version);
        if version != data_version {
            w.settle();
            data_version = w.node.store().data_version().unwrap_or(version);
            for folder in w.opts.folders.clone() {
                w.refresh(&folder);
            }
            // A stick left plugged in is kept current too: whoever reads it next learns what
            // we hold now, and gets what we wrote since it was mounted.
            let mut sticks: Vec<PathBuf> = w.mounts.iter().cloned().collect();
            sticks.sort();
            for mount in sticks {
                if w.refresh(&mount.join(STICK_FOLDER)) {
                    w.safe_to_unplug(&mount);
                }
            }
        }
        if last_rescan.elapsed() >= w.opts.rescan {
            last_rescan = Instant::now();
            w.watch_all(&mut debouncer, &mut watched);
            for folder in w.opts.folders.clone() {
                w.sync_folder(&folder);
            }
            for root in w.opts.media.clone() {
                w.check_mounts(&root);
            }
        }
    }
}

impl Watcher<'_> {
    /// Who `feed` is, for an event.
    fn who(&self, feed: &FeedId) -> Who {
        match self.node.names() {
            Ok(names) => Who::named(&names, feed),
            Err(_) => Who::unnamed(feed),
        }
    }

    /// (Re)starts watching every folder and root that exists; folders are created if missing.
    fn watch_all<D: WatchPath>(&mut self, debouncer: &mut D, watched: &mut HashSet<PathBuf>) {
        let folders = self.opts.folders.clone();
        for path in folders.iter().chain(self.opts.media.clone().iter()) {
            if folders.contains(path) && !path.is_dir() {
                // Gone (a pulled stick, a deleted share): its inotify watch went with it.
                watched.remove(path);
                let _ = std::fs::create_dir_all(path);
            }
            if !path.is_dir() {
                watched.remove(path);
                continue;
            }
            if !watched.contains(path) {
                match debouncer.watch_path(path) {
                    Ok(()) => {
                        watched.insert(path.clone());
                    }
                    Err(e) => (self.tell)(Event::error(
                        Place::Watched(path.clone()),
                        &e,
                        format!("cannot watch {}: {e}; will retry", path.display()),
                    )),
                }
            }
        }
    }

    /// Imports every complete bundle of others in `folder`, then refreshes our own.
    fn sync_folder(&mut self, folder: &Path) {
        if !folder.is_dir() {
            return;
        }
        let mut merged = false;
        for file in crate::node::bundles_in(folder) {
            if !self.node.is_own_bundle(&file) {
                merged |= self.consider(&file, self.opts.settle);
            }
        }
        if merged || self.node.own_bundles(folder).is_empty() {
            self.refresh(folder);
        }
    }

    /// Imports `file` if it is new or changed and complete, or incomplete and unchanged for
    /// `settle` (then salvaged and reported once). Returns whether it was imported.
    fn consider(&mut self, file: &Path, settle: Duration) -> bool {
        let Some(stamp) = stamp(file) else {
            self.files.remove(file);
            return false;
        };
        match self.files.get(file) {
            Some(FileState::Imported(s) | FileState::GaveUp(s)) if *s == stamp => return false,
            _ => {}
        }
        let complete = match is_complete(file) {
            Ok(complete) => complete,
            Err(_) => return false, // vanished or unreadable for now: the next scan retries
        };
        if !complete {
            let settled = match self.files.get(file) {
                _ if settle.is_zero() => true,
                Some(FileState::Waiting { stamp: s, since }) if *s == stamp => {
                    since.elapsed() >= settle
                }
                _ => {
                    self.files.insert(
                        file.to_owned(),
                        FileState::Waiting {
                            stamp,
                            since: Instant::now(),
                        },
                    );
                    false
                }
            };
            if !settled {
                return false;
            }
            self.files.insert(file.to_owned(), FileState::GaveUp(stamp));
            (self.tell)(Event::Incomplete {
                file: file.to_owned(),
                settled: settle,
            });
        }
        match self.node.import(&[file.to_owned()]) {
            Ok(summary) => {
                self.log_summary(&summary);
                if complete {
                    self.files
                        .insert(file.to_owned(), FileState::Imported(stamp));
                }
                true
            }
            Err(e) => {
                (self.tell)(Event::error(
                    Place::File(file.to_owned()),
                    &e,
                    format!("{}: {e}", file.display()),
                ));
                false
            }
        }
    }

    fn log_summary(&mut self, summary: &ImportSummary) {
        for outcome in &summary.bundles {
            self.log_merge(outcome);
        }
        for (path, why) in &summary.unreadable {
            (self.tell)(Event::Problem {
                file: path.clone(),
                problem: why.to_string(),
            });
        }
        for path in &summary.not_for_us {
            (self.tell)(Event::NotForUs { file: path.clone() });
        }
        for (feed, messages) in &summary.dropped {
            let feed = self.who(feed);
            (self.tell)(Event::Dropped {
                feed,
                messages: *messages,
            });
        }
    }

    /// Another process changed the store (a follow, a LAN session): files in our folders that
    /// hold newly wanted feeds are read again, and feeds no longer wanted are dropped.
    fn settle(&mut self) {
        match self.node.settle() {
            Ok(summary) => self.log_summary(&summary),
            Err(e) => (self.tell)(Event::error(
                Place::Nowhere,
                &e,
                format!("could not settle the store: {e}"),
            )),
        }
    }

    fn log_merge(&mut self, outcome: &BundleOutcome) {
        let m = &outcome.messages;
        let exporter = outcome
            .container
            .manifest
            .as_ref()
            .map(|m| self.who(&m.exporter));
        (self.tell)(Event::Merged {
            file: outcome.path.clone(),
            exporter,
            new: m.new,
            already_held: m.already_held,
            not_wanted: m.not_wanted,
            rejected: m.rejected,
            reread: outcome.reread.into(),
        });
        let problems = outcome.container.problems.iter().map(ToString::to_string);
        for problem in problems.chain(m.rejections.iter().map(ToString::to_string)) {
            (self.tell)(Event::Problem {
                file: outcome.path.clone(),
                problem,
            });
        }
    }

    /// Brings our own bundle in `folder` up to date; returns whether it wrote one.
    fn refresh(&mut self, folder: &Path) -> bool {
        if !self.opts.export || !folder.is_dir() {
            return false;
        }
        if self
            .unwritable
            .get(folder)
            .is_some_and(|(next, _)| Instant::now() < *next)
        {
            return false;
        }
        match self.node.refresh_own_bundle(folder) {
            Ok(report) => {
                self.unwritable.remove(folder);
                for stale in &report.stale {
                    let event = Event::Stale {
                        folder: folder.to_owned(),
                        peer: self.who(&stale.peer),
                        newest: stale.newest,
                        says: self.node.stale_text(stale),
                    };
                    (self.tell)(event);
                }
                let Some(wrote) = report.wrote else {
                    return false;
                };
                (self.tell)(Event::Wrote {
                    file: wrote.path.clone(),
                    messages: wrote.messages,
                    feeds: wrote.feeds,
                    bytes: wrote.bytes,
                });
                true
            }
            Err(e) => {
                // Retrying at every scan would fill the log and wear the stick: wait, longer
                // each time. A stick plugged in again is tried at once.
                let wait = self
                    .unwritable
                    .get(folder)
                    .map_or(self.opts.rescan.max(Duration::from_secs(60)), |(_, w)| {
                        (*w * 2).min(MAX_WRITE_BACKOFF)
                    });
                self.unwritable
                    .insert(folder.to_owned(), (Instant::now() + wait, wait));
                let what = match &e {
                    NodeError::CannotWrite { .. } => e.to_string(),
                    _ => format!("could not write our bundle to {}: {e}", folder.display()),
                };
                (self.tell)(Event::error(
                    Place::Folder(folder.to_owned()),
                    &e,
                    format!(
                        "{what}; trying again in {} min, or when the stick is plugged in again",
                        wait.as_secs().div_ceil(60)
                    ),
                ));
                false
            }
        }
    }
}

trait WatchPath {
    fn watch_path(&mut self, path: &Path) -> std::result::Result<(), String>;
}

impl<T: notify::Watcher, C: notify_debouncer_full::FileIdCache> WatchPath
    for notify_debouncer_full::Debouncer<T, C>
{
    fn watch_path(&mut self, path: &Path) -> std::result::Result<(), String> {
        self.watch(path, RecursiveMode::NonRecursive)
            .map_err(|e| e.to_string())
    }
}

fn stamp(file: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(file).ok()?;
    Some(Stamp {
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// Reads the whole file as a bundle without storing anything: complete unless cut short.
fn is_complete(file: &Path) -> io::Result<bool> {
    let mut handle = std::fs::File::open(file)?;
    let mut magic = [0u8; 4];
    use std::io::Read;
    if handle.read_exact(&mut magic).is_err() {
        return Ok(false);
    }
    if !bundle::has_bundle_magic(&magic) {
        // A sealed bundle authenticates its own end; let the import judge it.
        return Ok(true);
    }
    let report = bundle::read_bundle(std::fs::File::open(file)?, &mut bundle::Discard)?;
    Ok(!report.is_incomplete())
}
