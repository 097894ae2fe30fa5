//! A node: one identity and its store in a home folder. Every CLI command is a call here.

mod devices;
mod dropfolder;
mod export;
mod home;
mod import;
mod meet;
mod plan;
mod reading;
pub mod running;
mod settings;
mod settle;
#[cfg(test)]
mod simulation_tests;
mod writing;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub use devices::DeviceEntry;
pub use dropfolder::{SyncReport, parse_bundle_name};
pub use export::{ExportOptions, ExportReport, ExportSummary};
pub use home::Home;
pub use import::{BundleOutcome, ImportSummary, bundles_in};
pub use meet::Met;
pub use plan::{ExportPlan, StaleParticipant};
pub use reading::{Contacts, Conversation, MAX_PETNAME, Who};
pub use settings::{DEFAULT_FORGET_DAYS, DEFAULT_STALE_DAYS};

use crate::devices::Devices;
use crate::graph::{Graph, ReplicationSet};
use crate::identity::{Identity, IdentityError};
use crate::ids::FeedId;
use crate::message::MessageError;
use crate::private_box::{BoxError, Opener};
use crate::store::{Store, StoreError};

pub const KEY_FILE: &str = "secret.key";
/// The LAN network name used when none is configured (`config set network`).
pub const DEFAULT_NETWORK: &str = "grapevine";
/// The setting that holds a restored key back from writing (`pending`, then `done`).
pub(crate) const RESTORED: &str = "restored";
pub const STORE_FILE: &str = "store.sqlite";

#[derive(Debug, Error)]
pub enum NodeError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot create this message: {0}")]
    Message(#[from] MessageError),
    #[error("cannot seal this private message: {0}")]
    Box(#[from] BoxError),
    #[error("{0}")]
    Usage(String),
    /// Our bundle could not be written into a folder (a locked stick, a read-only share, a
    /// full disk); what was read there is kept.
    #[error("cannot leave our bundle in {}: {why}", folder.display())]
    CannotWrite { folder: PathBuf, why: &'static str },
}

/// A write into `path`'s folder that failed: said plainly when the folder refuses writing.
fn write_error(path: &Path) -> impl FnOnce(io::Error) -> NodeError + '_ {
    move |source| {
        let why = match source.kind() {
            io::ErrorKind::ReadOnlyFilesystem => {
                "it is read-only (a stick's lock switch, or a read-only mount). Unlock it or \
                 mount it writable, then sync again"
            }
            io::ErrorKind::PermissionDenied => {
                "you may not write there. Ask its owner for write access, or use a folder of \
                 your own"
            }
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
                "it is full. Free some space on it, then sync again"
            }
            _ => return io_at(path)(source),
        };
        NodeError::CannotWrite {
            folder: path.parent().unwrap_or(path).to_owned(),
            why,
        }
    }
}

pub type Result<T, E = NodeError> = std::result::Result<T, E>;

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> NodeError + '_ {
    move |source| NodeError::Io {
        path: path.to_owned(),
        source,
    }
}

pub struct Node {
    /// Its folder on disk; `None` for a node in memory.
    home: Option<Home>,
    identity: Identity,
    pub(crate) opener: Opener,
    pub(crate) store: Store,
    /// Told how many messages an import has read so far (for progress bars).
    pub(crate) progress: Option<Box<dyn Fn(u64) + Send>>,
    /// Set (by a Ctrl-C handler) to end an import after the batch being read: what was
    /// verified before is kept.
    pub(crate) stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// The time everything this node writes and decides is stamped with.
    pub(crate) clock: crate::clock::SharedClock,
    /// Where its private boxes, sealed bundles and bundle ids draw randomness from.
    pub(crate) entropy: crate::entropy::SharedEntropy,
}

impl Node {
    /// Creates an identity and an empty store in `home`, and names the feed if asked.
    pub fn init(home: &Path, name: Option<&str>) -> Result<Self> {
        Self::init_with(home, name, None)
    }

    /// `init`, with the key locked by `passphrase` when one is given.
    pub fn init_with(home: &Path, name: Option<&str>, passphrase: Option<&str>) -> Result<Self> {
        Self::create(
            home,
            name,
            passphrase,
            crate::clock::system(),
            crate::entropy::os(),
        )
    }

    /// `init` for a node run by `clock`, its key and everything random it makes drawn from
    /// `entropy` (a simulation's).
    pub fn init_in(
        home: &Path,
        name: Option<&str>,
        clock: crate::clock::SharedClock,
        entropy: crate::entropy::SharedEntropy,
    ) -> Result<Self> {
        Self::create(home, name, None, clock, entropy)
    }

    fn create(
        home: &Path,
        name: Option<&str>,
        passphrase: Option<&str>,
        clock: crate::clock::SharedClock,
        entropy: crate::entropy::SharedEntropy,
    ) -> Result<Self> {
        create_home(home)?;
        let identity = Identity::generate_from(&*entropy)?;
        let key = Home::at(home).key_file();
        match passphrase {
            Some(phrase) => identity.save_new_locked(&key, phrase)?,
            None => identity.save_new(&key)?,
        }
        let mut node = Self::open(home)?.with_clock(clock);
        node.entropy = entropy;
        if let Some(name) = name {
            node.set_name(name)?;
        }
        Ok(node)
    }

    /// Creates a home for an identity restored from a backup (words or a key file). It
    /// publishes nothing — not even a name — until it holds its own feed's newest message as
    /// far as the peers it hears from know it: writing before that would fork the feed.
    pub fn init_restored(
        home: &Path,
        identity: &Identity,
        key_file: Option<&Path>,
        passphrase: Option<&str>,
    ) -> Result<Self> {
        create_home(home)?;
        let target = Home::at(home).key_file();
        match (key_file, passphrase) {
            (Some(file), _) => {
                let line = fs::read_to_string(file).map_err(io_at(file))?;
                crate::fsutil::write_atomically(&target, |w| {
                    std::io::Write::write_all(w, line.as_bytes())
                })
                .map_err(io_at(&target))?;
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&target, fs::Permissions::from_mode(0o600))
                    .map_err(io_at(&target))?;
            }
            (None, Some(phrase)) => identity.save_new_locked(&target, phrase)?,
            (None, None) => identity.save_new(&target)?,
        }
        let mut node = Self::open(home)?;
        node.store.set_config(RESTORED, "pending")?;
        Ok(node)
    }

    /// Whether this key was restored from a backup and waits for its own diary.
    pub fn is_restoring(&self) -> Result<bool> {
        Ok(self.store.config(RESTORED)?.as_deref() == Some("pending"))
    }

    /// For a restored key still waiting: how much of its own diary it holds, and the most any
    /// peer it heard from holds of it.
    pub fn restore_wait(&self) -> Result<Option<(u64, u64)>> {
        if !self.is_restoring()? {
            return Ok(None);
        }
        let me = self.id();
        let held = self.store.frontier(&me)?.sequence;
        let known = self.store.highest_claim(&me)?;
        Ok(Some((held, known)))
    }

    /// Refuses to write while a restored key may be behind its own feed (see
    /// [`Node::init_restored`]); lifts the hold once it is not.
    fn check_restored(&mut self) -> Result<()> {
        if self.store.config(RESTORED)?.as_deref() != Some("pending") {
            return Ok(());
        }
        let me = self.id();
        let held = self.store.frontier(&me)?.sequence;
        let known = self.store.highest_claim(&me)?;
        let heard = !self.store.peers()?.is_empty();
        if heard && held >= known {
            self.store.set_config(RESTORED, "done")?;
            return Ok(());
        }
        let told = if heard {
            format!(
                "the people you heard from hold your diary up to message {known}, and this node \
                 holds {held}"
            )
        } else {
            "this node has not heard from anyone yet".to_owned()
        };
        Err(NodeError::Usage(format!(
            "this key was restored from a backup, and {told}: writing now could give your diary \
             two different messages {} and fork it. Import a recent bundle from someone who \
             follows you (grapevine import PATH) or sync with them first. If no one ever held \
             your diary, `grapevine config set restored done` lets you write",
            held + 1
        )))
    }

    pub fn open(home: &Path) -> Result<Self> {
        let home = Home::at(home);
        let identity = Identity::load(&home.key_file())?;
        let store = Store::open(&home.store_file())?;
        Ok(Self {
            home: Some(home),
            ..Self::new(identity, store)
        })
    }

    /// A node of `identity` over `store`, with no home folder (with [`Store::in_memory`], a
    /// node that never touches a disk), run by the system's clock and randomness.
    pub fn new(identity: Identity, store: Store) -> Self {
        Self {
            home: None,
            opener: Opener::of(&identity),
            identity,
            store,
            progress: None,
            stop: None,
            clock: crate::clock::system(),
            entropy: crate::entropy::os(),
        }
    }

    /// A node in memory run by `clock`, its key and everything random it makes drawn from
    /// `entropy`: a simulation's person.
    pub fn in_memory(
        name: Option<&str>,
        clock: crate::clock::SharedClock,
        entropy: crate::entropy::SharedEntropy,
    ) -> Result<Self> {
        let identity = Identity::generate_from(&*entropy)?;
        let mut node = Self::new(identity, Store::in_memory()?).with_clock(clock);
        node.entropy = entropy;
        if let Some(name) = name {
            node.set_name(name)?;
        }
        Ok(node)
    }

    /// This node, run by `clock` instead of the system's (a simulation's own time).
    pub fn with_clock(mut self, clock: crate::clock::SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The clock this node runs by.
    pub fn clock(&self) -> &crate::clock::SharedClock {
        &self.clock
    }

    /// Now, by this node's clock.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Its key, to prove who it is (a LAN handshake).
    pub(crate) fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn id(&self) -> FeedId {
        self.identity.feed_id()
    }

    /// Its home folder; an error for a node in memory, which has none.
    pub fn home(&self) -> Result<&Path> {
        self.home.as_ref().map(Home::dir).ok_or_else(|| {
            NodeError::Usage("this node lives in memory: it has no home folder".into())
        })
    }

    /// Reports, during imports, how many messages of the file being read were read so far.
    /// Imports end early, keeping what they read, once `stop` is set (Ctrl-C).
    pub fn stop_when(&mut self, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) {
        self.stop = Some(stop);
    }

    pub fn on_progress(&mut self, progress: Box<dyn Fn(u64) + Send>) {
        self.progress = Some(progress);
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Puts away `feed`'s message requests (later ones from it arrive put away); how many.
    pub fn dismiss_requests(&mut self, feed: &FeedId) -> Result<u64> {
        Ok(self.store.dismiss_requests(feed)?)
    }

    /// Direct store access, for benchmarks that set up peer state.
    #[doc(hidden)]
    pub fn store_mut_for_bench(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Where its store lives on disk (`None` in memory).
    pub fn store_path(&self) -> Option<PathBuf> {
        self.home.as_ref().map(Home::store_file)
    }

    /// Forgets a hidden feed (one we unfollowed or blocked) now, instead of after
    /// `forget-after-days`; returns how many messages went. A feed we replicate is refused.
    pub fn forget(&mut self, feed: &FeedId) -> Result<u64> {
        if self.replication_set()?.contains(feed) {
            return Err(NodeError::Usage(
                "you replicate that feed: unfollow or block it first, then forget it".into(),
            ));
        }
        Ok(self.store.drop_unwanted_feed(feed)?)
    }

    pub fn graph(&self) -> Result<Graph> {
        Ok(Graph::new(self.store.edges()?).with_devices(Devices::new(self.store.device_claims()?)))
    }

    /// The feeds this node stores and carries.
    pub fn replication_set(&self) -> Result<ReplicationSet> {
        self.replication_set_for(false)
    }

    /// The replication set, widened in pub mode (asked for, or set in the config) by every
    /// feed that follows us.
    pub fn replication_set_for(&self, pub_mode: bool) -> Result<ReplicationSet> {
        let graph = self.graph()?;
        let me = self.id();
        let mut set = graph.replication_set(me, self.hops()?);
        if pub_mode || self.is_pub()? {
            for follower in graph.followers(&me) {
                if !set.is_blocked(&follower) {
                    set.distance.entry(follower).or_insert(1);
                }
            }
        }
        Ok(set)
    }
}

/// The home holds the key and every private message we could open: only its owner may enter,
/// whether `init` creates it or finds it already there, empty. (A folder with other things in
/// it is left as it is: it may be shared, like /tmp.)
fn create_home(home: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(home)
        .map_err(io_at(home))?;
    let empty = fs::read_dir(home).map_err(io_at(home))?.next().is_none();
    if empty {
        fs::set_permissions(home, fs::Permissions::from_mode(0o700)).map_err(io_at(home))?;
    }
    Ok(())
}

/// A peer as `peers` shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PeerView {
    pub peer: FeedId,
    pub name: Option<String>,
    /// When we last imported a bundle it signed (ms since the epoch).
    pub last_heard: Option<i64>,
    /// How: `bundle <file name>`.
    pub via: Option<String>,
    /// When we last exported a bundle for it.
    pub last_export: Option<i64>,
    /// Messages we hold, in feeds we replicate, that it does not hold as far as we know.
    pub behind: u64,
    /// Its own feed is forked.
    pub forked: bool,
}

impl Node {
    pub fn peers(&self) -> Result<Vec<PeerView>> {
        let set = self.replication_set()?;
        let held = self.store.frontiers()?;
        let summaries = self.store.feeds()?;
        let mut out = Vec::new();
        for record in self.store.peers()? {
            let theirs = self.store.peer_frontier(&record.peer)?;
            let behind = held
                .iter()
                .filter(|(feed, _)| set.contains(feed))
                .map(|(feed, f)| {
                    f.sequence
                        .saturating_sub(theirs.get(feed).copied().unwrap_or(0))
                })
                .sum();
            let summary = summaries.iter().find(|s| s.feed == record.peer);
            out.push(PeerView {
                peer: record.peer,
                name: summary.and_then(|s| s.name.clone()),
                last_heard: record.last_heard,
                via: record.via,
                last_export: record.last_export,
                behind,
                forked: summary.is_some_and(|s| s.forked),
            });
        }
        Ok(out)
    }

    /// The picture `grapevine graph` draws.
    pub fn picture(&self) -> Result<crate::graph_view::Picture> {
        let graph = self.graph()?;
        let set = graph.replication_set(self.id(), self.hops()?);
        let names = self.names()?;
        let mut marks = crate::graph_view::Marks::default();
        for feed in self.store.feeds()? {
            marks.held.insert(feed.feed, feed.frontier.sequence);
        }
        for feed in set
            .members()
            .into_iter()
            .map(|(f, _)| f)
            .chain(set.excluded.keys().copied())
        {
            marks.names.insert(feed, names.name(&feed));
        }
        // Heard from in the last week: a bundle read or a session held.
        let lately = self.now().saturating_sub(7 * 86_400_000);
        let pubs = self.pubs()?;
        for peer in self.store.peers()? {
            if peer.last_heard.is_some_and(|at| at >= lately) {
                marks.gossiping.insert(peer.peer);
            }
            let via = peer.via.as_deref().unwrap_or_default();
            if pubs.iter().any(|p| via.ends_with(p.as_str())) {
                marks.pubs.insert(peer.peer);
            }
        }
        Ok(crate::graph_view::Picture::new(&graph, &set, &marks))
    }
}
