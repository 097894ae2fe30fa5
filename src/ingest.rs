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

use std::collections::HashMap;

use crate::content;
use crate::ids::FeedId;
use crate::message::{Message, MessageError, verify_all};
use crate::store::{self, Frontier, Store, write};

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
    /// Messages we already held.
    pub already_held: u64,
    /// Messages that proved a fork (kept as evidence, not linked).
    pub forks: u64,
    pub rejected: u64,
    /// The first rejections, with reasons (at most 50 kept).
    pub rejections: Vec<Rejection>,
}

impl IngestReport {
    pub fn add(&mut self, other: &IngestReport) {
        self.new += other.new;
        self.already_held += other.already_held;
        self.forks += other.forks;
        self.rejected += other.rejected;
        for r in &other.rejections {
            self.reject(r.clone());
        }
        self.rejected -= other.rejections.len() as u64;
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
    batch: Vec<(Message, String)>,
    pub report: IngestReport,
}

impl<'a> Ingester<'a> {
    pub fn new(store: &'a mut Store) -> Self {
        Self {
            store,
            batch: Vec::new(),
            report: IngestReport::default(),
        }
    }

    /// Parses one segment's records; a record that cannot be parsed ends the segment,
    /// since the position of the next one is unknown.
    pub fn push_segment(&mut self, place: &str, data: &[u8]) -> store::Result<()> {
        let mut reader = crate::bytes::ByteReader::new(data);
        while !reader.is_empty() {
            let remaining = reader.remaining();
            match Message::read_record(&mut reader) {
                Ok(message) => self.push(message, place)?,
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
            }
        }
        Ok(())
    }

    pub fn push(&mut self, message: Message, place: &str) -> store::Result<()> {
        self.batch.push((message, place.to_owned()));
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> store::Result<IngestReport> {
        self.flush()?;
        Ok(self.report)
    }

    fn flush(&mut self) -> store::Result<()> {
        let batch = std::mem::take(&mut self.batch);
        if batch.is_empty() {
            return Ok(());
        }
        let fresh = self.drop_held(batch)?;
        let refs: Vec<&Message> = fresh.iter().map(|(m, _)| m).collect();
        let verdicts = verify_all(&refs);
        let mut verified = Vec::with_capacity(fresh.len());
        for ((message, place), verdict) in fresh.into_iter().zip(verdicts) {
            match verdict {
                Ok(()) => verified.push(message),
                Err(error) => self.reject(&message, &place, &error),
            }
        }
        verified.sort_by_key(|m| (m.header.author, m.header.sequence));
        let tx = self.store.write()?;
        // Frontiers as read at the start of the transaction, and as they are now.
        let mut frontiers: HashMap<FeedId, (Frontier, Frontier)> = HashMap::new();
        for message in verified {
            let author = message.header.author;
            let (start, mut frontier) = match frontiers.get(&author) {
                Some(f) => *f,
                None => {
                    let f = store::frontier(&tx, &author)?;
                    (f, f)
                }
            };
            apply(&tx, message, &mut frontier, &mut self.report)?;
            frontiers.insert(author, (start, frontier));
        }
        for (feed, (start, now)) in &frontiers {
            if start != now {
                write::set_frontier(&tx, feed, now)?;
            }
        }
        tx.commit()?;
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

    fn reject(&mut self, message: &Message, place: &str, error: &MessageError) {
        self.report.reject(Rejection {
            place: place.to_owned(),
            feed: Some(message.header.author),
            sequence: Some(message.header.sequence),
            reason: error.to_string(),
        });
    }
}

/// Places one verified message: linked, pending, already held or fork evidence.
fn apply(
    tx: &rusqlite::Transaction<'_>,
    message: Message,
    frontier: &mut Frontier,
    report: &mut IngestReport,
) -> store::Result<()> {
    let h = &message.header;
    if h.sequence <= frontier.sequence {
        let held = store::held_id(tx, &h.author, h.sequence)?;
        if held == Some(message.id) {
            report.already_held += 1;
        } else {
            write::record_fork(tx, &message, held)?;
            report.forks += 1;
        }
    } else if h.sequence == frontier.sequence + 1 {
        if h.previous == frontier.head {
            link(tx, &message, frontier)?;
            report.new += 1;
            link_pending(tx, h.author, frontier, report)?;
        } else {
            // Signed by the author, yet chained to a different predecessor than the one we hold.
            write::record_fork(tx, &message, frontier.head)?;
            report.forks += 1;
        }
    } else {
        match write::pending_id(tx, &h.author, h.sequence)? {
            None => {
                write::insert_pending(tx, &message)?;
                report.new += 1;
            }
            Some(id) if id == message.id => report.already_held += 1,
            Some(id) => {
                write::record_fork(tx, &message, Some(id))?;
                report.forks += 1;
            }
        }
    }
    Ok(())
}

/// Links a message of our own, just signed at our frontier + 1.
pub(crate) fn link_own(tx: &rusqlite::Transaction<'_>, message: &Message) -> store::Result<()> {
    let mut frontier = Frontier::EMPTY;
    link(tx, message, &mut frontier)?;
    write::set_frontier(tx, &message.header.author, &frontier)
}

fn link(
    tx: &rusqlite::Transaction<'_>,
    message: &Message,
    frontier: &mut Frontier,
) -> store::Result<()> {
    write::insert_linked(tx, message)?;
    index(tx, message)?;
    *frontier = Frontier {
        sequence: message.header.sequence,
        head: Some(message.id),
    };
    Ok(())
}

/// Links pending messages that the frontier has now reached.
fn link_pending(
    tx: &rusqlite::Transaction<'_>,
    author: FeedId,
    frontier: &mut Frontier,
    report: &mut IngestReport,
) -> store::Result<()> {
    while let Some(next) = write::take_pending(tx, &author, frontier.sequence + 1)? {
        if next.header.previous == frontier.head {
            link(tx, &next, frontier)?;
        } else {
            write::record_fork(tx, &next, frontier.head)?;
            report.forks += 1;
            break;
        }
    }
    Ok(())
}

/// Updates the indexes derived from content: names and contacts.
fn index(tx: &rusqlite::Transaction<'_>, message: &Message) -> store::Result<()> {
    let Some(json) = message.json() else {
        return Ok(());
    };
    let h = &message.header;
    if let Some(name) = content::self_name(h.author, &json) {
        write::set_name(tx, &h.author, &name, h.sequence)?;
    }
    if let Some((contact, change)) = content::contact_change(&json) {
        use content::ContactChange::*;
        let (following, blocking) = match change {
            Follow => (Some(true), None),
            Unfollow => (Some(false), None),
            Block => (None, Some(true)),
            Unblock => (None, Some(false)),
        };
        write::set_contact(tx, &h.author, &contact, following, blocking, h.sequence)?;
    }
    Ok(())
}
