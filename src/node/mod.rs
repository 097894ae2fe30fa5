//! A node: one identity and its store in a home folder. Every CLI command is a call here.

mod devices;
mod dropfolder;
mod export;
mod import;
mod reading;
pub mod running;
mod settle;
#[cfg(test)]
mod simulation_tests;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub use devices::DeviceEntry;
pub use dropfolder::{SyncReport, parse_bundle_name};
pub use export::{ExportOptions, ExportPlan, ExportReport, ExportSummary, StaleParticipant};
pub use import::{BundleOutcome, ImportSummary, bundles_in};
pub use reading::{Contacts, Conversation, MAX_PETNAME, Who};

use crate::content;
use crate::devices::Devices;
use crate::graph::{self, Graph, ReplicationSet};
use crate::identity::{Identity, IdentityError};
use crate::ids::FeedId;
use crate::message::{ContentKind, Message, MessageError};
use crate::private_box::{self, BoxError, Opener, Randomness};
use crate::store::{self, Store, StoreError};

pub const KEY_FILE: &str = "secret.key";
/// The LAN network name used when none is configured (`config set network`).
pub const DEFAULT_NETWORK: &str = "grapevine";
/// The setting that holds a restored key back from writing (`pending`, then `done`).
const RESTORED: &str = "restored";
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
    home: PathBuf,
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
        match passphrase {
            Some(phrase) => identity.save_new_locked(&home.join(KEY_FILE), phrase)?,
            None => identity.save_new(&home.join(KEY_FILE))?,
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
        let target = home.join(KEY_FILE);
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
        let identity = Identity::load(&home.join(KEY_FILE))?;
        let store = Store::open(&home.join(STORE_FILE))?;
        Ok(Self {
            home: home.to_owned(),
            opener: Opener::of(&identity),
            identity,
            store,
            progress: None,
            stop: None,
            clock: crate::clock::system(),
            entropy: crate::entropy::os(),
        })
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

    pub fn id(&self) -> FeedId {
        self.identity.feed_id()
    }

    pub fn home(&self) -> &Path {
        &self.home
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

    pub fn store_path(&self) -> PathBuf {
        self.home.join(STORE_FILE)
    }

    /// Appends one message to our own feed, atomically with respect to other processes.
    pub fn publish(&mut self, kind: ContentKind, content: Vec<u8>) -> Result<Message> {
        self.check_restored()?;
        self.check_links(kind, &content)?;
        let identity = &self.identity;
        let (tx, packer) = self.store.write_packing()?;
        let frontier = store::frontier(&tx, &identity.feed_id())?;
        let message = Message::create(
            identity,
            frontier.sequence + 1,
            frontier.head,
            self.clock.now_ms(),
            kind,
            content,
        )?;
        crate::ingest::link_own(&tx, &self.opener, packer, &message, self.clock.now_ms())?;
        tx.commit().map_err(StoreError::from)?;
        self.store.train_if_due()?;
        Ok(message)
    }

    /// Appends public JSON content. Public content never links to a private message we hold
    /// (bundle-format/messages.md, "Private conversations stay private"): that link alone
    /// would tell every reader that we could read it.
    pub fn publish_json(&mut self, value: &serde_json::Value) -> Result<Message> {
        let bytes = serde_json::to_vec(value).map_err(|e| NodeError::Usage(e.to_string()))?;
        self.publish(ContentKind::Json, bytes)
    }

    /// Refuses public content that links to a private message we hold (see `publish_json`).
    fn check_links(&self, kind: ContentKind, content: &[u8]) -> Result<()> {
        let Some(value) = (kind == ContentKind::Json)
            .then(|| serde_json::from_slice::<serde_json::Value>(content).ok())
            .flatten()
        else {
            return Ok(());
        };
        for link in content::links(&value) {
            if self.is_private(&link)? {
                return Err(NodeError::Usage(format!(
                    "{} is a private message: anything public that names it would tell \
                     everyone you can read it. Reply to it instead (grapevine reply), which \
                     stays private among the same people",
                    link.short()
                )));
            }
        }
        Ok(())
    }

    pub fn set_name(&mut self, name: &str) -> Result<Message> {
        let name = name.trim();
        if name.is_empty() || name.len() > content::MAX_NAME {
            return Err(NodeError::Usage(format!(
                "a name has 1 to {} bytes (a letter outside ASCII takes 2 to 4); this one has {}",
                content::MAX_NAME,
                name.len()
            )));
        }
        let me = self.id();
        self.publish_json(&content::about(me, name))
    }

    /// Publishes a contact message (a block or unblock, one per device of the person), then
    /// settles: feeds that became wanted are read from the
    /// bundle files that still hold them, and feeds that left the set (a block forgets
    /// everything held of the blocked feed) are dropped (docs/replication.md says why).
    pub fn contact(
        &mut self,
        feed: FeedId,
        change: content::ContactChange,
    ) -> Result<(Message, ImportSummary)> {
        let me = self.id();
        if feed == me {
            return Err(NodeError::Usage("that is your own feed id".into()));
        }
        let message = self.publish_json(&content::contact(feed, change))?;
        if matches!(
            change,
            content::ContactChange::Block | content::ContactChange::Unblock
        ) {
            // A block names every device of the person: it must outlast what we forget of
            // their links, and reach friends who never held those links.
            let devices = self.devices()?;
            let mine = devices.person(&me);
            for other in devices.others(&feed).filter(|d| !mine.contains(d)) {
                self.publish_json(&content::contact(*other, change))?;
            }
        }
        let settled = self.settle()?;
        if change == content::ContactChange::Block {
            for device in self.devices()?.person(&feed) {
                self.store.forget_claims(device)?;
            }
            self.store.forget_claims(&feed)?;
        }
        Ok((message, settled))
    }

    /// Sends `text` privately to `recipients` (and to ourselves, so we can read what we sent),
    /// encrypted to every linked device of each.
    pub fn dm(&mut self, recipients: &[FeedId], text: &str) -> Result<Message> {
        self.private_post(recipients, text, None)
    }

    /// Whether `id` is a private message we hold (whether or not we could open it).
    pub fn is_private(&self, id: &crate::ids::MessageId) -> Result<bool> {
        Ok(self
            .store
            .message(id)?
            .is_some_and(|m| m.header.kind == ContentKind::PrivateBox))
    }

    /// A private post to `recipients` (and us), answering `reply` when given.
    pub(crate) fn private_post(
        &mut self,
        recipients: &[FeedId],
        text: &str,
        reply: Option<crate::ids::MessageId>,
    ) -> Result<Message> {
        if text.trim().is_empty() {
            return Err(NodeError::Usage(
                "the message is empty; write some text".into(),
            ));
        }
        let me = self.id();
        let devices = self.devices()?;
        let mut all = vec![me];
        // Every device of each person, ours included, takes a recipient slot.
        for r in std::iter::once(&me).chain(recipients) {
            for device in devices.person(r) {
                if !all.contains(device) {
                    all.push(*device);
                }
            }
        }
        if all.len() > private_box::MAX_RECIPIENTS {
            let mut people: Vec<FeedId> = std::iter::once(&me)
                .chain(recipients)
                .map(|r| devices.person(r)[0])
                .collect();
            people.sort();
            people.dedup();
            let people = people.len();
            if people == all.len() {
                return Err(BoxError::RecipientCount(all.len()).into());
            }
            return Err(NodeError::Usage(format!(
                "a private message holds {} recipients, one per device, and these {people} \
                 people (you included) have {} devices between them; send to fewer people",
                private_box::MAX_RECIPIENTS,
                all.len()
            )));
        }
        let plaintext = serde_json::to_vec(&content::private_post(text, &all, reply))
            .map_err(|e| NodeError::Usage(e.to_string()))?;
        let random = Randomness::drawn(&*self.entropy)?;
        let sealed = private_box::seal(&me, &all, &plaintext, &random)?;
        self.publish(ContentKind::PrivateBox, sealed)
    }

    /// Private messages we could open, newest first, with their plaintext content.
    pub fn inbox(&self, limit: u64) -> Result<Vec<(Message, serde_json::Value)>> {
        Ok(self
            .store
            .inbox(limit)?
            .into_iter()
            .map(|(m, text)| (m, serde_json::from_str(&text).unwrap_or_default()))
            .collect())
    }

    /// What to show of a message: its JSON content, or a private message's plaintext if we
    /// could open it (`None` for boxes not for us and opaque kinds).
    pub fn readable_content(&self, message: &Message) -> Result<Option<serde_json::Value>> {
        match message.header.kind {
            ContentKind::PrivateBox => Ok(self
                .store
                .private_content(&message.id)?
                .and_then(|text| serde_json::from_str(&text).ok())),
            _ => Ok(message.json()),
        }
    }

    /// The newest `limit` messages of a feed, newest first; none of a hidden feed (one we
    /// unfollowed or blocked).
    pub fn feed(&self, feed: &FeedId, limit: u64) -> Result<Vec<Message>> {
        if self.store.is_hidden(feed)? {
            return Ok(Vec::new());
        }
        Ok(self.store.latest(feed, limit)?)
    }

    /// How many follow-steps away feeds are replicated (`config set hops N`).
    pub fn hops(&self) -> Result<u32> {
        Ok(self
            .store
            .config("hops")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(graph::DEFAULT_HOPS))
    }

    /// Days after which a drop-folder participant's newest file no longer shapes what we write
    /// (`config set folder-stale-days N`).
    pub fn folder_stale_days(&self) -> Result<u32> {
        Ok(self
            .store
            .config("folder-stale-days")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_STALE_DAYS))
    }

    /// Days a feed that left the replication set stays hidden, ready to be shown again,
    /// before it is forgotten (`config set forget-after-days N`).
    pub fn forget_after_days(&self) -> Result<u32> {
        Ok(self
            .store
            .config("forget-after-days")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_FORGET_DAYS))
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

    /// The LAN network name (`config set network NAME`): only nodes with the same name talk.
    pub fn network(&self) -> Result<String> {
        Ok(self
            .store
            .config("network")?
            .unwrap_or_else(|| DEFAULT_NETWORK.to_owned()))
    }

    /// Always-on peers that `serve` visits (`pub add HOST:PORT`).
    pub fn pubs(&self) -> Result<Vec<String>> {
        Ok(self
            .store
            .config("pubs")?
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default())
    }

    /// Forgets a pub; false if it was not one.
    pub fn remove_pub(&mut self, address: &str) -> Result<bool> {
        let mut pubs = self.pubs()?;
        let before = pubs.len();
        pubs.retain(|p| p != address);
        if pubs.len() == before {
            return Ok(false);
        }
        let json = serde_json::to_string(&pubs).map_err(|e| NodeError::Usage(e.to_string()))?;
        self.store.set_config("pubs", &json)?;
        Ok(true)
    }

    pub fn add_pub(&mut self, address: &str) -> Result<()> {
        use std::net::ToSocketAddrs;
        if address
            .to_socket_addrs()
            .map(|mut a| a.next().is_none())
            .unwrap_or(true)
        {
            return Err(NodeError::Usage(format!(
                "'{address}' is not a HOST:PORT this machine can resolve"
            )));
        }
        let mut pubs = self.pubs()?;
        if !pubs.iter().any(|p| p == address) {
            pubs.push(address.to_owned());
        }
        let json = serde_json::to_string(&pubs).map_err(|e| NodeError::Usage(e.to_string()))?;
        Ok(self.store.set_config("pubs", &json)?)
    }

    pub fn config(&self, key: &str) -> Result<String> {
        match key {
            "hops" => Ok(self.hops()?.to_string()),
            "network" => self.network(),
            "pub" => Ok(if self.is_pub()? { "on" } else { "off" }.into()),
            "folder-stale-days" => Ok(self.folder_stale_days()?.to_string()),
            "forget-after-days" => Ok(self.forget_after_days()?.to_string()),
            "restored" => Ok(self
                .store
                .config(RESTORED)?
                .unwrap_or_else(|| "no".to_owned())),
            other => Err(unknown_setting(other)),
        }
    }

    pub fn set_config(&mut self, key: &str, value: &str) -> Result<()> {
        match key {
            "restored" => {
                if value != "done" {
                    return Err(NodeError::Usage(
                        "restored can only be set to done: you are sure no one holds a later \
                         message of your diary"
                            .into(),
                    ));
                }
                self.store.set_config(RESTORED, "done")?;
                Ok(())
            }
            "hops" => {
                let hops: u32 = value
                    .parse()
                    .ok()
                    .filter(|h| *h <= graph::MAX_HOPS)
                    .ok_or_else(|| {
                        NodeError::Usage(format!(
                            "hops is a whole number from 0 to {}",
                            graph::MAX_HOPS
                        ))
                    })?;
                self.store.set_config("hops", &hops.to_string())?;
                self.settle()?;
                Ok(())
            }
            "pub" => {
                if !matches!(value, "on" | "off") {
                    return Err(NodeError::Usage("pub is on or off".into()));
                }
                self.store.set_config("pub", value)?;
                self.settle()?;
                Ok(())
            }
            "network" if !value.trim().is_empty() => {
                Ok(self.store.set_config("network", value.trim())?)
            }
            "folder-stale-days" => {
                let days: u32 = value
                    .parse()
                    .ok()
                    .filter(|d| (1..=MAX_STALE_DAYS).contains(d))
                    .ok_or_else(|| {
                        NodeError::Usage(format!(
                            "folder-stale-days is a whole number of days from 1 to {MAX_STALE_DAYS}"
                        ))
                    })?;
                Ok(self.store.set_config(key, &days.to_string())?)
            }
            "forget-after-days" => {
                let days: u32 = value
                    .parse()
                    .ok()
                    .filter(|d| *d <= MAX_STALE_DAYS)
                    .ok_or_else(|| {
                        NodeError::Usage(format!(
                            "forget-after-days is a whole number of days from 0 (at once) to \
                             {MAX_STALE_DAYS}"
                        ))
                    })?;
                self.store.set_config(key, &days.to_string())?;
                self.settle()?;
                Ok(())
            }
            other => Err(unknown_setting(other)),
        }
    }

    pub fn graph(&self) -> Result<Graph> {
        Ok(Graph::new(self.store.edges()?).with_devices(Devices::new(self.store.device_claims()?)))
    }

    /// Pub mode (`serve --pub`, `config set pub on`): also carry every feed that follows us.
    pub fn is_pub(&self) -> Result<bool> {
        Ok(self.store.config("pub")?.as_deref() == Some("on"))
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

pub const DEFAULT_STALE_DAYS: u32 = 30;
pub const DEFAULT_FORGET_DAYS: u32 = 30;
const MAX_STALE_DAYS: u32 = 36_500;

fn unknown_setting(key: &str) -> NodeError {
    NodeError::Usage(format!(
        "there is no setting '{key}'; the settings are: hops (0 to {}), network (a name), \
         pub (on or off), folder-stale-days (1 to {MAX_STALE_DAYS}), forget-after-days (0 to \
         {MAX_STALE_DAYS})",
        graph::MAX_HOPS
    ))
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
