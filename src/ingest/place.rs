//! Placing verified messages in the store, inside one transaction: linked, pending, already
//! held or fork evidence, with what is derived from their content.

use std::collections::HashMap;

use crate::content::Content;
use std::collections::hash_map::Entry;

use super::{IngestReport, Rejection};
use crate::ids::FeedId;
use crate::message::{ContentKind, Message, check_content};
use crate::private_box::{BoxError, Opener};
use crate::store::{self, Frontier, write};

/// How a content is to be stored. A verifier thread packs valid messages' contents with the
/// store's dictionary of the moment, so that the writer thread need not.
#[derive(Default)]
pub(super) enum Packing {
    /// Not tried yet: the writer packs it if it has a dictionary.
    #[default]
    Untried,
    /// As it came (packing would not make it smaller).
    Raw,
    /// Packed with the dictionary of this key.
    With(i64, Vec<u8>),
}

impl Packing {
    pub(super) fn with(packer: &mut store::Packer, content: &[u8]) -> Self {
        match packer.pack(content) {
            Some(bytes) => Self::With(packer.key(), bytes),
            None => Self::Raw,
        }
    }
}

/// Places verified messages inside one transaction.
pub(super) struct Placer<'t, 'c> {
    tx: &'t rusqlite::Transaction<'c>,
    opener: &'t Opener,
    report: &'t mut IngestReport,
    packer: Option<&'t mut store::Packer>,
    /// The feeds met in this transaction.
    feeds: HashMap<FeedId, Feed>,
    /// When the transaction places its messages (the clock the ingester was given).
    at: i64,
}

/// What a transaction knows of one feed, read once and kept up to date as it places messages.
#[derive(Clone, Copy)]
struct Feed {
    /// As the transaction found it, and as it is now.
    start: Frontier,
    now: Frontier,
    /// The feed's row, once a message of it is linked.
    key: Option<i64>,
    /// Whether messages of it may wait for earlier ones (none do when it is `false`).
    waiting: bool,
}

impl<'t, 'c> Placer<'t, 'c> {
    pub(super) fn new(
        tx: &'t rusqlite::Transaction<'c>,
        opener: &'t Opener,
        report: &'t mut IngestReport,
        packer: Option<&'t mut store::Packer>,
        at: i64,
    ) -> Self {
        Self {
            tx,
            opener,
            report,
            packer,
            feeds: HashMap::new(),
            at,
        }
    }

    fn feed(&mut self, author: FeedId) -> store::Result<&mut Feed> {
        let tx = self.tx;
        Ok(match self.feeds.entry(author) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => {
                let start = store::frontier(tx, &author)?;
                new.insert(Feed {
                    start,
                    now: start,
                    key: None,
                    waiting: write::has_pending(tx, &author)?,
                })
            }
        })
    }

    /// Places one verified message: linked, pending, already held or fork evidence.
    pub(super) fn apply(&mut self, message: Message, packed: Packing) -> store::Result<()> {
        let tx = self.tx;
        let h = &message.header;
        let frontier = self.feed(h.author)?.now;
        if h.sequence <= frontier.sequence {
            let held = store::held_id(tx, &h.author, h.sequence)?;
            if held == Some(message.id) {
                self.report.already_held += 1;
            } else {
                write::record_fork(tx, &message, held, self.at)?;
                self.report.fork(h.author, h.sequence);
            }
        } else if h.sequence == frontier.sequence + 1 {
            if h.previous == frontier.head {
                self.link(&message, packed)?;
                self.report.new += 1;
                self.link_pending(h.author)?;
            } else {
                // Signed by the author, yet chained to a different predecessor than the one held.
                write::record_fork(tx, &message, frontier.head, self.at)?;
                self.report.fork(h.author, h.sequence);
            }
        } else {
            match write::pending_id(tx, &h.author, h.sequence)? {
                None => {
                    write::insert_pending(tx, &message)?;
                    self.feed(h.author)?.waiting = true;
                    self.report.new += 1;
                    self.report.pending += 1;
                }
                Some(id) if id == message.id => self.report.already_held += 1,
                Some(id) => {
                    write::record_fork(tx, &message, Some(id), self.at)?;
                    self.report.fork(h.author, h.sequence);
                }
            }
        }
        Ok(())
    }

    /// Stores a message that links to its feed's frontier and moves the frontier on; returns
    /// the message's key.
    fn link(&mut self, message: &Message, packed: Packing) -> store::Result<i64> {
        let tx = self.tx;
        let h = &message.header;
        let feed = self.feed(h.author)?;
        let row = match feed.key {
            Some(row) => row,
            None => *feed.key.insert(write::feed_key(tx, &h.author)?),
        };
        let packed = match (packed, self.packer.as_deref_mut()) {
            (Packing::Untried, Some(packer)) => Packing::with(packer, &message.content),
            (packed, _) => packed,
        };
        let packed = match &packed {
            Packing::With(dict, bytes) => Some((&bytes[..], *dict)),
            Packing::Untried | Packing::Raw => None,
        };
        let key = write::insert_linked(tx, row, message, packed)?;
        self.index(key, message)?;
        self.feed(h.author)?.now = Frontier {
            sequence: h.sequence,
            head: Some(message.id),
        };
        Ok(key)
    }

    /// Links pending messages that the frontier has now reached.
    fn link_pending(&mut self, author: FeedId) -> store::Result<()> {
        loop {
            let feed = *self.feed(author)?;
            if !feed.waiting {
                return Ok(());
            }
            let now = feed.now;
            let Some(next) = write::take_pending(self.tx, &author, now.sequence + 1)? else {
                return Ok(());
            };
            if next.header.previous == now.head {
                self.link(&next, Packing::Untried)?;
            } else {
                write::record_fork(self.tx, &next, now.head, self.at)?;
                self.report.fork(author, next.header.sequence);
                return Ok(());
            }
        }
    }

    /// Records the frontiers that moved (once per feed per transaction, not per message), in
    /// the feeds' order: the same messages make the same store, byte for byte.
    pub(super) fn set_frontiers(&self) -> store::Result<()> {
        let mut moved: Vec<_> = self
            .feeds
            .iter()
            .filter(|(_, f)| f.start != f.now)
            .collect();
        moved.sort_unstable_by_key(|(author, _)| **author);
        for (author, feed) in moved {
            write::set_frontier(self.tx, author, &feed.now)?;
        }
        Ok(())
    }

    /// Updates what is derived from content: names, contacts, devices, and the inbox of private
    /// messages we can open. Boxes are the only messages that cost a trial decryption.
    fn index(&mut self, key: i64, message: &Message) -> store::Result<()> {
        let h = &message.header;
        if h.kind == ContentKind::PrivateBox {
            return self.open_box(key, message);
        }
        store::derive(self.tx, key, message, &Content::of(message), self.at)
    }

    fn open_box(&mut self, key: i64, message: &Message) -> store::Result<()> {
        let h = &message.header;
        let opened = match self.opener.open(&h.author, &message.content) {
            Ok(Some(text)) => check_content(ContentKind::Json, &text)
                .ok()
                .and_then(|()| String::from_utf8(text.to_vec()).ok())
                .map(Some)
                .ok_or_else(|| {
                    BoxError::Malformed("its content is not a JSON object with a type".into())
                }),
            other => other.map(|_| None),
        };
        match opened {
            Ok(Some(plaintext)) => {
                write::add_to_inbox(self.tx, message, &plaintext)?;
                if let Ok(value) = serde_json::from_str(&plaintext) {
                    let content = Content::parse(h.author, &value);
                    store::posts::index(self.tx, key, message, &content, self.at)?;
                }
            }
            Ok(None) => {}
            Err(error) => self.report.unreadable(Rejection {
                place: "private message".into(),
                feed: Some(h.author),
                sequence: Some(h.sequence),
                reason: format!("{error}; it is not shown"),
            }),
        }
        Ok(())
    }
}

/// Links a message of our own, just signed at our frontier + 1, at `now`.
pub(crate) fn link_own(
    tx: &rusqlite::Transaction<'_>,
    opener: &Opener,
    packer: Option<&mut store::Packer>,
    message: &Message,
    now: i64,
) -> store::Result<()> {
    let mut report = IngestReport::default();
    let mut placer = Placer::new(tx, opener, &mut report, packer, now);
    let key = placer.link(message, Packing::Untried)?;
    store::posts::mark_read(tx, key)?;
    placer.set_frontiers()
}
