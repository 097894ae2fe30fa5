//! Ingest: the one way messages enter the store, whatever carried them.
//!
//! For every message, in order: fields and content are checked ([`Message::decode`]); a message
//! identical to one held is counted and skipped without touching its signature; the rest have
//! their signatures verified in batches; then, in one transaction per batch, each message is
//!
//! - linked, if its sequence is the feed's frontier + 1 and its `previous` is the frontier's id
//!   (and any pending successors are linked after it);
//! - kept pending, verified, if it lies beyond a gap;
//! - recorded as fork evidence, if the author signed a different message for a position already
//!   held (the first one is kept).
//!
//! Nothing invalid is stored, and nothing held is ever changed.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use crate::content::Content;
use crate::graph::ReplicationSet;
use crate::ids::FeedId;
use crate::message::{
    ContentKind, Message, MessageError, claimed_position, split_record, verify_all,
};
use crate::private_box::Opener;
use crate::store::{self, Frontier, Store};

mod place;
pub(crate) use place::link_own;
use place::{Packing, Placer};

/// Messages checked per transaction.
pub const BATCH: usize = 8192;

/// Why one message (or the rest of a segment) was refused, and where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub place: String,
    pub feed: Option<FeedId>,
    pub sequence: Option<u64>,
    pub reason: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.place)?;
        if let (Some(feed), Some(seq)) = (self.feed, self.sequence) {
            write!(f, ", message {seq} of {}", feed.short())?;
        }
        write!(f, ": {}", self.reason)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Messages stored for the first time (linked or pending).
    pub new: u64,
    /// Of `new`, those stored pending: verified, waiting for an earlier message.
    pub pending: u64,
    /// Messages we already held.
    pub already_held: u64,
    /// Messages of feeds outside our replication set (or blocked): not stored, not an error.
    pub not_wanted: u64,
    /// Messages that proved a fork (kept as evidence, not linked).
    pub forks: u64,
    /// The first forks met: (feed, sequence), at most 50 kept.
    pub forked: Vec<(FeedId, u64)>,
    pub rejected: u64,
    /// Private messages addressed to us that failed to open.
    pub unreadable: u64,
    /// Private messages for us from feeds we do not replicate, kept apart as message requests
    /// (new ones only).
    pub requests: u64,
    /// Who wrote them.
    pub requested_by: std::collections::BTreeSet<FeedId>,
    /// Feeds we do not replicate that newly ask to be linked as another device of ours.
    pub offered_by: std::collections::BTreeSet<FeedId>,
    /// The first rejections, with reasons (at most 50 kept).
    pub rejections: Vec<Rejection>,
    /// Every feed met, and whether it was wanted (its messages were considered for storing).
    pub feeds: BTreeMap<FeedId, bool>,
}

impl IngestReport {
    /// A private message for us that did not open: linked (its envelope is valid), not shown.
    pub fn unreadable(&mut self, rejection: Rejection) {
        self.unreadable += 1;
        if self.rejections.len() < 50 {
            self.rejections.push(rejection);
        }
    }

    /// A message that proves its author signed two histories.
    pub fn fork(&mut self, feed: FeedId, sequence: u64) {
        self.forks += 1;
        if self.forked.len() < 50 {
            self.forked.push((feed, sequence));
        }
    }

    pub fn reject(&mut self, rejection: Rejection) {
        self.rejected += 1;
        if self.rejections.len() < 50 {
            self.rejections.push(rejection);
        }
    }
}

/// Collects messages and ingests them in batches.
pub struct Ingester<'a> {
    store: &'a mut Store,
    opener: &'a Opener,
    /// The clock each batch is placed by (a live session lasts hours: read per batch).
    clock: &'a dyn crate::clock::Clock,
    wanted: Option<Cow<'a, ReplicationSet>>,
    batch: Vec<(Message, String)>,
    /// Messages of feeds we do not replicate that still matter once verified: `about`
    /// messages (their names help a person find and follow them), and private messages
    /// for us (message requests).
    heard: Vec<(Message, Heard)>,
    /// Told how many messages were read so far, after each batch.
    progress: Option<&'a dyn Fn(u64)>,
    read: u64,
    pub report: IngestReport,
    /// Contiguous runs of (feed, first, last) that the records pushed claim, in order.
    carried: crate::bundle::CarriedRuns,
    /// The batch being verified on other threads while this one decodes the next batch and
    /// writes the one before: verification and SQLite writes overlap.
    verifying: Option<std::thread::JoinHandle<Checked>>,
}

/// A batch with its signature verdicts and its contents packed, and the `about` messages
/// met beside it with their verdicts.
struct Checked {
    fresh: Vec<(Message, String)>,
    verdicts: Vec<Result<(), MessageError>>,
    packed: Vec<Packing>,
    heard: Vec<(Message, Heard)>,
    heard_ok: Vec<Result<(), MessageError>>,
}

impl Checked {
    /// Runs on its own thread while the writer stores the batch before.
    fn verify(
        fresh: Vec<(Message, String)>,
        heard: Vec<(Message, Heard)>,
        mut packer: Option<store::Packer>,
    ) -> Self {
        let refs: Vec<&Message> = fresh.iter().map(|(m, _)| m).collect();
        let verdicts = verify_all(&refs);
        let packed = fresh
            .iter()
            .zip(&verdicts)
            .map(|((m, _), verdict)| match (verdict, packer.as_mut()) {
                (Ok(()), Some(packer)) => Packing::with(packer, &m.content),
                _ => Packing::Untried,
            })
            .collect();
        let heard_refs: Vec<&Message> = heard.iter().map(|(m, _)| m).collect();
        let heard_ok = verify_all(&heard_refs);
        Self {
            fresh,
            verdicts,
            packed,
            heard,
            heard_ok,
        }
    }
}

impl<'a> Ingester<'a> {
    pub fn new(
        store: &'a mut Store,
        opener: &'a Opener,
        clock: &'a dyn crate::clock::Clock,
    ) -> Self {
        Self {
            store,
            opener,
            clock,
            wanted: None,
            batch: Vec::new(),
            heard: Vec::new(),
            progress: None,
            read: 0,
            report: IngestReport::default(),
            carried: crate::bundle::CarriedRuns::default(),
            verifying: None,
        }
    }

    /// The store it writes to, to read between batches.
    pub fn store(&self) -> &Store {
        self.store
    }

    /// Reports progress to `progress` (messages read so far) after each batch.
    pub fn reporting(mut self, progress: Option<&'a dyn Fn(u64)>) -> Self {
        self.progress = progress;
        self
    }

    /// Keeps only messages of feeds in `set`; the rest are counted as not wanted.
    pub fn wanting(mut self, set: &'a ReplicationSet) -> Self {
        self.wanted = Some(Cow::Borrowed(set));
        self
    }

    /// From the next batch on, keeps only messages of feeds in `set`: a live session's set
    /// widens as it learns who follows whom.
    pub fn want(&mut self, set: ReplicationSet) {
        self.wanted = Some(Cow::Owned(set));
    }

    /// Parses one segment's records; a record that cannot be parsed ends the segment,
    /// since the position of the next one is unknown.
    pub fn push_segment(&mut self, place: &str, data: &[u8]) -> store::Result<()> {
        let mut reader = crate::bytes::ByteReader::new(data);
        while !reader.is_empty() {
            let remaining = reader.remaining();
            let (envelope, content) = match split_record(&mut reader) {
                Ok(record) => {
                    if let Some((feed, seq)) = claimed_position(record.0) {
                        self.carried.note(feed, seq);
                    }
                    record
                }
                Err(error) => {
                    self.report.reject(Rejection {
                        place: place.to_owned(),
                        feed: None,
                        sequence: None,
                        reason: format!(
                            "unreadable record ({error}); the last {remaining} bytes of the segment are lost"
                        ),
                    });
                    break;
                }
            };
            match Message::decode(envelope, content) {
                Ok(message) => self.push(message, place)?,
                Err(error) => {
                    let claimed = claimed_position(envelope);
                    self.report.reject(Rejection {
                        place: place.to_owned(),
                        feed: claimed.map(|c| c.0),
                        sequence: claimed.map(|c| c.1),
                        reason: error.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// What the segments carried, as runs of records (valid or not).
    pub fn carried_runs(&self) -> &crate::bundle::CarriedRuns {
        &self.carried
    }

    pub fn push(&mut self, message: Message, place: &str) -> store::Result<()> {
        self.batch.push((message, place.to_owned()));
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Verifies and writes everything pushed so far, so that it is stored when this returns.
    pub fn settle(&mut self) -> store::Result<()> {
        self.flush()?;
        match self.verifying.take() {
            Some(last) => self.write_verified(last),
            None => Ok(()),
        }
    }

    pub fn finish(mut self) -> store::Result<IngestReport> {
        self.settle()?;
        Ok(self.report)
    }

    /// Starts verifying the batch on other threads, then writes the batch verified before.
    fn flush(&mut self) -> store::Result<()> {
        let batch = std::mem::take(&mut self.batch);
        if batch.is_empty() {
            return Ok(());
        }
        self.read += batch.len() as u64;
        if let Some(progress) = self.progress {
            progress(self.read);
        }
        let fresh = self.drop_held(batch)?;
        let heard = std::mem::take(&mut self.heard);
        let packer = self.store.spare_packer()?;
        let next = std::thread::spawn(move || Checked::verify(fresh, heard, packer));
        match self.verifying.replace(next) {
            Some(previous) => self.write_verified(previous),
            None => Ok(()),
        }
    }

    /// Waits for a batch's verification and writes it. (`verify_all` contains its own
    /// threads' panics; one here would be a bug, raised again as it would have been inline.)
    fn write_verified(&mut self, handle: std::thread::JoinHandle<Checked>) -> store::Result<()> {
        let checked = handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        self.write(checked)
    }

    /// Stores one verified batch in one transaction, in feed order.
    fn write(&mut self, checked: Checked) -> store::Result<()> {
        let (tx, packer) = self.store.write_packing()?;
        let now = self.clock.now_ms();
        let mut verified = Vec::with_capacity(checked.fresh.len());
        let batch = checked.fresh.into_iter().zip(checked.packed);
        for (((message, place), packed), verdict) in batch.zip(checked.verdicts) {
            match verdict {
                Ok(()) => verified.push((message, packed)),
                Err(error) => self.report.reject(rejection(&message, &place, &error)),
            }
        }
        verified.sort_by_key(|(m, _)| (m.header.author, m.header.sequence));
        for ((message, heard), verdict) in checked.heard.iter().zip(checked.heard_ok) {
            match (heard, verdict) {
                (Heard::Name(name), Ok(())) => store::posts::heard_name(&tx, message, name)?,
                (Heard::Request(plaintext), Ok(())) => {
                    if store::requests::add(&tx, message, plaintext, now)? {
                        self.report.requests += 1;
                        self.report.requested_by.insert(message.header.author);
                    }
                }
                (Heard::Offer(linked), Ok(())) => {
                    if store::offers::note(&tx, message, *linked)? {
                        self.report.offered_by.insert(message.header.author);
                    }
                }
                (_, Err(_)) => {}
            }
        }
        let mut placer = Placer::new(&tx, self.opener, &mut self.report, packer, now);
        for (message, packed) in verified {
            placer.apply(message, packed)?;
        }
        placer.set_frontiers()?;
        tx.commit()?;
        self.store.train_if_due()?;
        Ok(())
    }

    /// Counts and removes messages identical to ones held, so their signatures are not checked again.
    fn drop_held(
        &mut self,
        batch: Vec<(Message, String)>,
    ) -> store::Result<Vec<(Message, String)>> {
        let mut feeds: HashMap<FeedId, (Frontier, bool)> = HashMap::new();
        let mut fresh = Vec::with_capacity(batch.len());
        for (message, place) in batch {
            let author = message.header.author;
            let seq = message.header.sequence;
            let wanted = self.wanted.as_ref().is_none_or(|set| set.contains(&author));
            self.report.feeds.entry(author).or_insert(wanted);
            if !wanted {
                self.report.not_wanted += 1;
                let Some(set) = self.wanted.as_ref().filter(|set| !set.is_blocked(&author)) else {
                    continue;
                };
                if let Some(name) = about_self(&message) {
                    self.heard.push((message, Heard::Name(name)));
                } else if let Some(linked) = device_offer(&message, &set.root) {
                    self.heard.push((message, Heard::Offer(linked)));
                } else if let Some(plaintext) = self.request(&message) {
                    self.heard.push((message, Heard::Request(plaintext)));
                }
                continue;
            }
            let (frontier, has_pending) = match feeds.get(&author) {
                Some(known) => *known,
                None => {
                    let known = (
                        self.store.frontier(&author)?,
                        self.store.has_pending(&author)?,
                    );
                    feeds.insert(author, known);
                    known
                }
            };
            let held = if seq <= frontier.sequence {
                self.store.held_id(&author, seq)?
            } else if has_pending {
                self.store.pending_id(&author, seq)?
            } else {
                None
            };
            if held == Some(message.id) {
                self.report.already_held += 1;
            } else {
                fresh.push((message, place));
            }
        }
        Ok(fresh)
    }
}

/// What a message of a feed we do not replicate leaves behind once its signature holds.
enum Heard {
    /// The name an `about` message gives its author.
    Name(String),
    /// The plaintext of a private message for us: a message request.
    Request(String),
    /// A `device` message naming us: whether it links us (an offer to be linked) or not.
    Offer(bool),
}

impl Ingester<'_> {
    /// The plaintext of a private message for us from a feed we do not replicate, if it opens
    /// to JSON content (the box is tried here, as the recipients' own boxes are).
    fn request(&self, message: &Message) -> Option<String> {
        if message.header.kind != ContentKind::PrivateBox {
            return None;
        }
        let text = self
            .opener
            .open(&message.header.author, &message.content)
            .ok()??;
        crate::message::check_content(ContentKind::Json, &text).ok()?;
        String::from_utf8(text.to_vec()).ok()
    }
}

/// What a `device` message of another feed says about `me`, if it names `me`: a new device
/// cannot replicate the feed that offers to link it before it links back, so the offer is
/// kept apart for `device list` (docs/devices.md).
fn device_offer(message: &Message, me: &FeedId) -> Option<bool> {
    if message.header.kind != ContentKind::Json {
        return None;
    }
    // Most carried messages are no `device` message, and are not parsed.
    if !holds(&message.content, b"\"device\"") {
        return None;
    }
    let Content::Device(change) = Content::of(message) else {
        return None;
    };
    (change.device == *me && message.header.author != *me).then_some(change.linked)
}

/// Whether `content` holds `needle`: a cheap look before parsing JSON.
fn holds(content: &[u8], needle: &[u8]) -> bool {
    content.windows(needle.len()).any(|w| w == needle)
}

fn rejection(message: &Message, place: &str, error: &MessageError) -> Rejection {
    Rejection {
        place: place.to_owned(),
        feed: Some(message.header.author),
        sequence: Some(message.header.sequence),
        reason: error.to_string(),
    }
}

/// The name an `about` message gives its own author, looked for only in JSON messages that
/// mention `"about"` (most carried messages do not, and are not parsed).
fn about_self(message: &Message) -> Option<String> {
    if message.header.kind != ContentKind::Json {
        return None;
    }
    if !holds(&message.content, b"\"about\"") {
        return None;
    }
    match Content::of(message) {
        Content::About { name, .. } => name,
        _ => None,
    }
}

#[cfg(test)]
mod tests;
