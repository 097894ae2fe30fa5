//! A node: one identity and its store in a home folder. Every CLI command is a call here.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::bundle::{self, BundleReport, BundleSink, FeedRange, FrontierEntry, Manifest};
use crate::content;
use crate::identity::{Identity, IdentityError};
use crate::ids::{FeedId, MessageId};
use crate::ingest::{IngestReport, Ingester};
use crate::message::{ContentKind, Message, MessageError};
use crate::private_box::{self, BoxError, Opener, Randomness};
use crate::store::{self, Store, StoreError};

pub const KEY_FILE: &str = "secret.key";
pub const STORE_FILE: &str = "store.sqlite";

#[derive(Debug, Error)]
pub enum NodeError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot create this message: {0}")]
    Message(#[from] MessageError),
    #[error("cannot seal this private message: {0}")]
    Box(#[from] BoxError),
    #[error("{0}")]
    Usage(String),
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
    opener: Opener,
    store: Store,
}

/// What `export` wrote.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    pub path: PathBuf,
    pub bundle_id: String,
    pub bytes: u64,
    pub feeds: usize,
    pub messages: u64,
}

/// What importing one bundle file did.
#[derive(Debug)]
pub struct BundleOutcome {
    pub path: PathBuf,
    pub container: BundleReport,
    pub messages: IngestReport,
}

impl BundleOutcome {
    /// The file was read without any problem and every message in it was accepted.
    pub fn is_clean(&self) -> bool {
        self.container.is_verified() && self.messages.rejected == 0 && self.messages.unreadable == 0
    }
}

/// What `import` did over all files.
#[derive(Debug, Default)]
pub struct ImportSummary {
    pub bundles: Vec<BundleOutcome>,
    /// Files named on the command line that could not be read at all.
    pub unreadable: Vec<(PathBuf, String)>,
}

impl ImportSummary {
    pub fn total(&self) -> IngestReport {
        let mut total = IngestReport::default();
        for b in &self.bundles {
            total.new += b.messages.new;
            total.already_held += b.messages.already_held;
            total.forks += b.messages.forks;
            total.rejected += b.messages.rejected;
            total.unreadable += b.messages.unreadable;
        }
        total
    }

    pub fn is_clean(&self) -> bool {
        self.unreadable.is_empty() && self.bundles.iter().all(BundleOutcome::is_clean)
    }
}

impl Node {
    /// Creates an identity and an empty store in `home`, and names the feed if asked.
    pub fn init(home: &Path, name: Option<&str>) -> Result<Self> {
        create_home(home)?;
        let identity = Identity::generate()?;
        identity.save_new(&home.join(KEY_FILE))?;
        let mut node = Self::open(home)?;
        if let Some(name) = name {
            node.set_name(name)?;
        }
        Ok(node)
    }

    pub fn open(home: &Path) -> Result<Self> {
        let identity = Identity::load(&home.join(KEY_FILE))?;
        let store = Store::open(&home.join(STORE_FILE))?;
        Ok(Self {
            home: home.to_owned(),
            opener: identity.opener(),
            identity,
            store,
        })
    }

    pub fn id(&self) -> FeedId {
        self.identity.feed_id()
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn store_path(&self) -> PathBuf {
        self.home.join(STORE_FILE)
    }

    /// Appends one message to our own feed, atomically with respect to other processes.
    pub fn publish(&mut self, kind: ContentKind, content: Vec<u8>) -> Result<Message> {
        let identity = &self.identity;
        let tx = self.store.write()?;
        let frontier = store::frontier(&tx, &identity.feed_id())?;
        let message = Message::create(
            identity,
            frontier.sequence + 1,
            frontier.head,
            crate::now_ms(),
            kind,
            content,
        )?;
        crate::ingest::link_own(&tx, &self.opener, &message)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(message)
    }

    pub fn publish_json(&mut self, value: &serde_json::Value) -> Result<Message> {
        let bytes = serde_json::to_vec(value).map_err(|e| NodeError::Usage(e.to_string()))?;
        self.publish(ContentKind::Json, bytes)
    }

    pub fn post(&mut self, text: &str, reply: Option<MessageId>) -> Result<Message> {
        if text.trim().is_empty() {
            return Err(NodeError::Usage(
                "the post is empty; write some text".into(),
            ));
        }
        self.publish_json(&content::post(text, reply))
    }

    pub fn set_name(&mut self, name: &str) -> Result<Message> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(NodeError::Usage("a name has 1 to 64 characters".into()));
        }
        let me = self.id();
        self.publish_json(&content::about(me, name))
    }

    pub fn contact(&mut self, feed: FeedId, change: content::ContactChange) -> Result<Message> {
        if feed == self.id() {
            return Err(NodeError::Usage("that is your own feed id".into()));
        }
        self.publish_json(&content::contact(feed, change))
    }

    /// Sends `text` privately to `recipients` (and to ourselves, so we can read what we sent).
    pub fn dm(&mut self, recipients: &[FeedId], text: &str) -> Result<Message> {
        if text.trim().is_empty() {
            return Err(NodeError::Usage(
                "the message is empty; write some text".into(),
            ));
        }
        let me = self.id();
        let mut all = vec![me];
        for r in recipients {
            if !all.contains(r) {
                all.push(*r);
            }
        }
        if all.len() > private_box::MAX_RECIPIENTS {
            return Err(BoxError::RecipientCount(all.len()).into());
        }
        let plaintext = serde_json::to_vec(&content::private_post(text, &all))
            .map_err(|e| NodeError::Usage(e.to_string()))?;
        let sealed = private_box::seal(&me, &all, &plaintext, &Randomness::fresh()?)?;
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

    /// The newest `limit` messages of a feed, newest first.
    pub fn feed(&self, feed: &FeedId, limit: u64) -> Result<Vec<Message>> {
        Ok(self.store.latest(feed, limit)?)
    }

    /// Writes a bundle of everything held. `target` is a folder (a fresh file name is chosen)
    /// or a file path that must not exist yet.
    pub fn export(&mut self, target: &Path) -> Result<ExportSummary> {
        let path = if target.is_dir() {
            free_bundle_path(target, &self.id())
        } else if target.exists() {
            return Err(NodeError::Usage(format!(
                "{} already exists; grapevine never overwrites a file. Name a new file or a folder",
                target.display()
            )));
        } else {
            target.to_owned()
        };
        let frontiers = self.store.frontiers()?;
        let manifest = Manifest {
            format: bundle::FORMAT.into(),
            version: bundle::FORMAT_VERSION,
            bundle_id: new_bundle_id()?,
            exporter: self.id(),
            created_at: crate::now_ms(),
            recipient: None,
            feeds: frontiers
                .iter()
                .map(|(feed, f)| FeedRange {
                    feed: *feed,
                    first: 1,
                    last: f.sequence,
                })
                .collect(),
            frontier: frontiers
                .iter()
                .filter_map(|(feed, f)| {
                    f.head.map(|id| FrontierEntry {
                        feed: *feed,
                        sequence: f.sequence,
                        id,
                    })
                })
                .collect(),
        };
        let (bytes, messages) = crate::fsutil::write_atomically(&path, |out| {
            write_bundle(out, &self.identity, &self.store, &manifest)
        })
        .map_err(io_at(&path))?;
        Ok(ExportSummary {
            path,
            bundle_id: manifest.bundle_id,
            bytes,
            feeds: manifest.feeds.len(),
            messages,
        })
    }

    /// Imports bundle files, and every bundle found in folders (temporary files skipped).
    pub fn import(&mut self, paths: &[PathBuf]) -> Result<ImportSummary> {
        let mut summary = ImportSummary::default();
        for path in paths {
            if path.is_dir() {
                for file in bundles_in(path) {
                    self.import_file(&file, &mut summary)?;
                }
            } else {
                self.import_file(path, &mut summary)?;
            }
        }
        Ok(summary)
    }

    fn import_file(&mut self, path: &Path, summary: &mut ImportSummary) -> Result<()> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) => {
                summary.unreadable.push((path.to_owned(), e.to_string()));
                return Ok(());
            }
        };
        let mut sink = IngestSink {
            ingester: Ingester::new(&mut self.store, &self.opener),
        };
        let container = match bundle::read_bundle(file, &mut sink) {
            Ok(report) => report,
            Err(SinkError::Store(e)) => return Err(e.into()),
            Err(SinkError::Io(e)) => {
                summary.unreadable.push((path.to_owned(), e.to_string()));
                return Ok(());
            }
        };
        let messages = sink.ingester.finish()?;
        if let Some(m) = &container.manifest {
            let file_name = path.display().to_string();
            self.store.record_bundle(
                &m.bundle_id,
                &m.exporter,
                m.created_at,
                &file_name,
                container.is_verified(),
                messages.new,
            )?;
        }
        summary.bundles.push(BundleOutcome {
            path: path.to_owned(),
            container,
            messages,
        });
        Ok(())
    }
}

enum SinkError {
    Io(io::Error),
    Store(StoreError),
}

impl From<io::Error> for SinkError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

struct IngestSink<'a> {
    ingester: Ingester<'a>,
}

impl BundleSink for IngestSink<'_> {
    type Error = SinkError;

    fn manifest(&mut self, _manifest: &Manifest) -> Result<(), SinkError> {
        Ok(())
    }

    fn segment(&mut self, name: &str, data: &[u8]) -> Result<(), SinkError> {
        self.ingester
            .push_segment(name, data)
            .map_err(SinkError::Store)
    }
}

/// Streams every message the manifest names into a bundle, one feed per segment.
fn write_bundle(
    out: &mut impl io::Write,
    identity: &Identity,
    store: &Store,
    manifest: &Manifest,
) -> io::Result<(u64, u64)> {
    let mut writer = bundle::BundleWriter::new(out, identity, manifest)?;
    let mut segment = Vec::with_capacity(bundle::SEGMENT_TARGET);
    let mut index = 0;
    let mut messages = 0u64;
    for range in &manifest.feeds {
        let mut failure = None;
        store
            .for_each_in_range(&range.feed, range.first, range.last, |message| {
                if segment.len() + message.record_len() > bundle::SEGMENT_TARGET {
                    index += 1;
                    if let Err(e) = writer.write_entry(&bundle::segment_name(index), &segment) {
                        failure = Some(e);
                    }
                    segment.clear();
                }
                message.write_record(&mut segment);
                messages += 1;
                Ok(())
            })
            .map_err(io::Error::other)?;
        if let Some(e) = failure {
            return Err(e);
        }
        if !segment.is_empty() {
            index += 1;
            writer.write_entry(&bundle::segment_name(index), &segment)?;
            segment.clear();
        }
    }
    let (_, bytes) = writer.finish()?;
    Ok((bytes, messages))
}

fn create_home(home: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(home)
        .map_err(io_at(home))
}

fn new_bundle_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| IdentityError::Random(e.to_string()))?;
    Ok(data_encoding::HEXLOWER.encode(&bytes))
}

/// `gv-<feed base32>-<n>.gvb`: FAT32-safe, ours alone, never an existing file.
fn free_bundle_path(dir: &Path, me: &FeedId) -> PathBuf {
    let stamp = crate::now_ms();
    (0..)
        .map(|n| {
            dir.join(format!(
                "gv-{}-{}.{}",
                me.base32(),
                stamp + n,
                bundle::EXTENSION
            ))
        })
        .find(|p| !p.exists())
        .unwrap_or_else(|| dir.join("unreachable"))
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
