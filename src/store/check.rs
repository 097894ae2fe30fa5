//! `grapevine check`: proves the store consistent from its own contents.
//!
//! SQLite's integrity check covers pages and indexes; on top of it every stored message is
//! rebuilt and decoded again, chains must run from sequence 1 without gaps and each message
//! must hash to its stored id, frontiers must name the
//! last linked message, pending messages must sit beyond a gap, fork evidence must be flagged,
//! and what is derived from content (names, contacts, inbox) must agree with the messages.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{Result, Store, blob_id};
use crate::content::{ContactChange, Content};
use crate::devices::{Claim, ClaimIndex};
use crate::ids::{FeedId, MessageId};
use crate::message::{ContentKind, Message, verify_all};

/// Problems past this many are counted, not listed.
const MAX_LISTED: usize = 100;
/// Messages whose signatures are checked together.
const VERIFY_BATCH: usize = 4096;

/// What `check` found.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub feeds: u64,
    pub messages: u64,
    pub pending: u64,
    pub forks: u64,
    pub signatures_checked: u64,
    pub problems: Vec<String>,
    /// Problems found beyond the ones listed.
    pub more_problems: u64,
}

impl CheckReport {
    pub fn is_consistent(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, text: String) {
        if self.problems.len() < MAX_LISTED {
            self.problems.push(text);
        } else {
            self.more_problems += 1;
        }
    }
}

/// Follow and block state per (author, contact), with the sequence that set it last.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Edge {
    following: bool,
    blocking: bool,
    seq: u64,
}

/// A row of `feeds`: frontier sequence and head, whether fork evidence exists, and the name.
struct FeedRow {
    seq: u64,
    head: Option<MessageId>,
    forked: bool,
    name: Option<(String, u64)>,
    description: Option<String>,
    /// Left the replication set: its reading rows are gone until it is shown again.
    hidden: bool,
}

type Feeds = HashMap<FeedId, FeedRow>;

/// What the linked messages say the derived tables must hold.
#[derive(Default)]
struct Derived {
    names: HashMap<FeedId, (String, u64)>,
    descriptions: HashMap<FeedId, (String, u64)>,
    edges: BTreeMap<(FeedId, FeedId), Edge>,
    devices: ClaimIndex,
    boxes: HashMap<MessageId, ()>,
    /// Public posts, and per (link, author) the winning vote: (likes, sequence).
    posts: HashSet<MessageId>,
    votes: HashMap<(MessageId, FeedId), (bool, u64)>,
}

impl Derived {
    /// Notes what message `m` means for the derived tables; of a `hidden` feed (one that left
    /// the replication set), only its name, description and opened box stay.
    fn note(&mut self, m: &Message, hidden: bool) {
        let h = &m.header;
        if h.kind == ContentKind::PrivateBox {
            self.boxes.insert(m.id, ());
            return;
        }
        let content = Content::of(m);
        if let Content::About { name, description } = &content {
            if let Some(name) = name {
                self.names.insert(h.author, (name.clone(), h.sequence));
            }
            if let Some(text) = description {
                self.descriptions
                    .insert(h.author, (text.clone(), h.sequence));
            }
        }
        if hidden {
            return;
        }
        match content {
            Content::Post { .. } => {
                self.posts.insert(m.id);
            }
            // Messages arrive in sequence order per author: the last one wins.
            Content::Vote(link, like) => {
                self.votes.insert((link, h.author), (like, h.sequence));
            }
            Content::Device(change) => self.devices.note(h.author, h.sequence, &change),
            Content::Contact(contact, change) => self.edge(h, contact, change),
            Content::About { .. } | Content::Private | Content::Unknown => {}
        }
    }

    /// A contact message's change to the edge from its author to `contact`.
    fn edge(&mut self, h: &crate::message::Header, contact: FeedId, change: ContactChange) {
        let edge = self.edges.entry((h.author, contact)).or_insert(Edge {
            following: false,
            blocking: false,
            seq: h.sequence,
        });
        match change {
            ContactChange::Follow => edge.following = true,
            ContactChange::Unfollow => edge.following = false,
            ContactChange::Block => edge.blocking = true,
            ContactChange::Unblock => edge.blocking = false,
        }
        edge.seq = h.sequence;
    }
}

impl Store {
    /// Checks everything; `signatures` also verifies every stored signature again (all cores).
    pub fn check(&self, signatures: bool) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        self.check_pages(&mut report)?;
        let feeds = self.all_feed_rows()?;
        let derived = self.check_chains(&mut report, &feeds, signatures)?;
        self.check_pending(&mut report, &feeds)?;
        self.check_forks(&mut report, &feeds)?;
        self.check_derived(&mut report, &feeds, &derived)?;
        Ok(report)
    }

    fn check_pages(&self, report: &mut CheckReport) -> Result<()> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if rows != ["ok"] {
            for row in rows {
                report.problem(format!("SQLite integrity check: {row}"));
            }
        }
        Ok(())
    }

    /// Walks every linked message in feed order: decodes it, checks its columns and its link
    /// to the one before, then compares the feed's recorded frontier.
    fn check_chains(
        &self,
        report: &mut CheckReport,
        feeds: &Feeds,
        signatures: bool,
    ) -> Result<Derived> {
        let frontiers: HashMap<FeedId, (u64, Option<MessageId>)> = feeds
            .iter()
            .map(|(feed, r)| (*feed, (r.seq, r.head)))
            .collect();
        report.feeds = frontiers.values().filter(|(seq, _)| *seq > 0).count() as u64;
        let mut derived = Derived::default();
        let mut stmt = self.conn.prepare(
            "SELECT f.author, m.seq, m.id, m.envelope, m.content, m.dict \
             FROM messages m LEFT JOIN feeds f ON f.key = m.feed ORDER BY m.feed, m.seq",
        )?;
        // Unpacked one by one, so that content that does not unpack is a problem listed.
        let mut unpack = self.conn.prepare("SELECT unpack(?1, ?2)")?;
        let mut rows = stmt.query([])?;
        let mut current: Option<(FeedId, u64, MessageId)> = None;
        let mut batch: Vec<Message> = Vec::new();
        let finish_feed = |report: &mut CheckReport, last: Option<(FeedId, u64, MessageId)>| {
            if let Some((feed, seq, id)) = last {
                match frontiers.get(&feed) {
                    Some(&(fseq, fhead)) if fseq == seq && fhead == Some(id) => {}
                    Some(&(fseq, _)) if fseq == seq => report.problem(format!(
                        "feed {feed}: its frontier's head is not message {seq}, {id}"
                    )),
                    Some(&(fseq, _)) => report.problem(format!(
                        "feed {feed}: frontier says {fseq}, but its chain ends at {seq}"
                    )),
                    None => report.problem(format!("feed {feed}: messages but no frontier")),
                }
            }
        };
        while let Some(row) = rows.next()? {
            report.messages += 1;
            let seq = row.get::<_, i64>(1)? as u64;
            let Some(author) = row
                .get_ref(0)?
                .as_blob_or_null()?
                .and_then(FeedId::from_slice)
            else {
                report.problem(format!("message {seq} of a feed with no row"));
                continue;
            };
            let id = MessageId(blob_id(row.get_ref(2)?.as_blob()?).unwrap_or_default());
            let place = format!("feed {author} message {seq}");
            if current.is_some_and(|(feed, _, _)| feed != author) {
                finish_feed(report, current.take());
            }
            // The envelope names the message before it, which a row does not keep (lean.rs):
            // without it, the message cannot be rebuilt.
            let previous = match current {
                Some((_, s, prev)) if s + 1 == seq => Some(prev),
                Some((_, s, _)) => {
                    report.problem(format!("{place}: follows message {s}; the chain has a gap"));
                    current = Some((author, seq, id));
                    continue;
                }
                None if seq != 1 => {
                    report.problem(format!("{place}: the chain does not start at 1"));
                    current = Some((author, seq, id));
                    continue;
                }
                None => None,
            };
            current = Some((author, seq, id));
            let packed = (row.get_ref(4)?.as_blob()?, row.get::<_, Option<i64>>(5)?);
            let content = match unpack.query_row(packed, |r| r.get::<_, Vec<u8>>(0)) {
                Ok(content) => content,
                Err(e) => {
                    report.problem(format!("{place}: its content does not unpack: {e}"));
                    continue;
                }
            };
            let decoded = match row.get_ref(3)?.as_blob() {
                Ok(lean) => {
                    match super::lean::rebuild(lean, &author, seq, previous.as_ref(), &content) {
                        Ok(envelope) => Message::decode(&envelope, &content),
                        Err(e) => {
                            report.problem(format!("{place}: {e}"));
                            continue;
                        }
                    }
                }
                Err(_) => {
                    report.problem(format!("{place}: its envelope is not a blob"));
                    continue;
                }
            };
            let m = match decoded {
                Ok(m) => m,
                Err(e) => {
                    report.problem(format!("{place}: does not decode: {e}"));
                    continue;
                }
            };
            // Rebuilt from the row and the chain, a message hashes to its stored id only if
            // neither was changed.
            if m.id != id {
                report.problem(format!("{place}: stored id {id} is not its hash {}", m.id));
            }
            let hidden = feeds.get(&author).is_some_and(|f| f.hidden);
            derived.note(&m, hidden);
            if signatures {
                batch.push(m);
                if batch.len() >= VERIFY_BATCH {
                    verify(report, &mut batch);
                }
            }
        }
        finish_feed(report, current);
        verify(report, &mut batch);
        // A frontier above zero must have its chain.
        let counted: HashMap<FeedId, u64> = self
            .conn
            .prepare(
                "SELECT f.author, count(*) FROM messages m JOIN feeds f ON f.key = m.feed \
                 GROUP BY m.feed",
            )?
            .query_map([], |r| {
                Ok((
                    FeedId(blob_id(r.get_ref(0)?.as_blob()?).unwrap_or_default()),
                    r.get::<_, i64>(1)? as u64,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (feed, (seq, head)) in &frontiers {
            if *seq > 0 && !counted.contains_key(feed) {
                report.problem(format!(
                    "feed {feed}: frontier says {seq}, but nothing is stored"
                ));
            }
            if *seq == 0 && head.is_some() {
                report.problem(format!("feed {feed}: a head without messages"));
            }
        }
        Ok(derived)
    }

    fn check_pending(&self, report: &mut CheckReport, feeds: &Feeds) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare("SELECT author, seq, id, envelope, content FROM pending")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            report.pending += 1;
            let author = FeedId(blob_id(row.get_ref(0)?.as_blob()?).unwrap_or_default());
            let seq = row.get::<_, i64>(1)? as u64;
            let id = MessageId(blob_id(row.get_ref(2)?.as_blob()?).unwrap_or_default());
            let place = format!("feed {author} pending message {seq}");
            let decoded = match (row.get_ref(3)?.as_blob(), row.get_ref(4)?.as_blob()) {
                (Ok(envelope), Ok(content)) => Message::decode(envelope, content),
                _ => Err(crate::message::MessageError::InvalidContentKind),
            };
            match decoded {
                Ok(m) if m.id == id && m.header.author == author && m.header.sequence == seq => {}
                Ok(_) => report.problem(format!("{place}: its columns disagree with its envelope")),
                Err(e) => report.problem(format!("{place}: does not decode: {e}")),
            }
            match feeds.get(&author).map(|r| r.seq) {
                None => report.problem(format!("{place}: its feed has no row")),
                Some(f) if seq <= f.saturating_add(1) => report.problem(format!(
                    "{place}: the frontier is {f}, so it should be linked, not pending"
                )),
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn check_forks(&self, report: &mut CheckReport, feeds: &Feeds) -> Result<()> {
        let mut with_evidence: HashMap<FeedId, ()> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare("SELECT author, seq, held, other, other_envelope, other_content FROM forks")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            report.forks += 1;
            let author = FeedId(blob_id(row.get_ref(0)?.as_blob()?).unwrap_or_default());
            let seq = row.get::<_, i64>(1)? as u64;
            let held = row.get_ref(2)?.as_blob_or_null()?.and_then(blob_id);
            let other = blob_id(row.get_ref(3)?.as_blob()?);
            let place = format!("feed {author} fork at {seq}");
            with_evidence.insert(author, ());
            match Message::decode(row.get_ref(4)?.as_blob()?, row.get_ref(5)?.as_blob()?) {
                Ok(m) if Some(m.id.0) == other && m.header.author == author => {
                    if held == other {
                        report.problem(format!("{place}: both sides are the same message"));
                    }
                }
                Ok(_) => report.problem(format!("{place}: evidence disagrees with its columns")),
                Err(e) => report.problem(format!("{place}: evidence does not decode: {e}")),
            }
            if !feeds.get(&author).is_some_and(|r| r.forked) {
                report.problem(format!("{place}: the feed is not marked as forked"));
            }
        }
        for (feed, row) in feeds {
            if row.forked && !with_evidence.contains_key(feed) {
                report.problem(format!("feed {feed}: marked as forked without evidence"));
            }
        }
        Ok(())
    }

    fn check_derived(
        &self,
        report: &mut CheckReport,
        feeds: &Feeds,
        derived: &Derived,
    ) -> Result<()> {
        let mut stored: BTreeMap<(FeedId, FeedId), Edge> = BTreeMap::new();
        let mut stmt = self
            .conn
            .prepare("SELECT author, contact, following, blocking, seq FROM contacts")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let author = FeedId(blob_id(row.get_ref(0)?.as_blob()?).unwrap_or_default());
            let contact = FeedId(blob_id(row.get_ref(1)?.as_blob()?).unwrap_or_default());
            stored.insert(
                (author, contact),
                Edge {
                    following: row.get::<_, i64>(2)? != 0,
                    blocking: row.get::<_, i64>(3)? != 0,
                    seq: row.get::<_, i64>(4)? as u64,
                },
            );
        }
        for (key, edge) in &derived.edges {
            if stored.get(key) != Some(edge) {
                report.problem(format!(
                    "contacts: {} → {}: the messages say {edge:?}, the table says {:?}",
                    key.0,
                    key.1,
                    stored.get(key)
                ));
            }
        }
        for key in stored.keys().filter(|k| !derived.edges.contains_key(k)) {
            report.problem(format!(
                "contacts: {} → {} has no contact message behind it",
                key.0, key.1
            ));
        }
        let stored: BTreeMap<(FeedId, FeedId), Claim> = self
            .device_claims()?
            .into_iter()
            .map(|c| ((c.author, c.device), c))
            .collect();
        let keys: std::collections::BTreeSet<_> =
            stored.keys().chain(derived.devices.keys()).collect();
        for (author, device) in keys {
            let (table, messages) = (
                stored.get(&(*author, *device)),
                derived.devices.get(author, device),
            );
            if table != messages {
                report.problem(format!(
                    "devices: {author} → {device}: the messages say {messages:?}, the table says \
                     {table:?}"
                ));
            }
        }
        for (feed, row) in feeds {
            let stored_name = &row.name;
            let expected = derived.names.get(feed);
            if stored_name.as_ref() != expected {
                let show = |n: Option<&(String, u64)>| {
                    n.map_or("no name".to_owned(), |(name, seq)| {
                        format!("{name:?} (message {seq})")
                    })
                };
                report.problem(format!(
                    "feed {feed}: named {}, but its messages say {}",
                    show(stored_name.as_ref()),
                    show(expected)
                ));
            }
            if row.description.as_deref() != derived.descriptions.get(feed).map(|(t, _)| t.as_str())
            {
                report.problem(format!(
                    "feed {feed}: its description is not the one its messages give"
                ));
            }
        }
        let mut stmt = self.conn.prepare("SELECT id FROM inbox")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let id = MessageId(blob_id(row.get_ref(0)?.as_blob()?).unwrap_or_default());
            if !derived.boxes.contains_key(&id) {
                report.problem(format!("inbox: {id} is not a stored private message"));
            }
        }
        self.check_reading(report, derived)
    }

    /// The reading tables: a row for every public post and no other, private posts only for
    /// opened boxes, the text index in step with the posts, and the winning vote per pair.
    fn check_reading(&self, report: &mut CheckReport, derived: &Derived) -> Result<()> {
        let mut public = HashSet::new();
        let mut stmt = self.conn.prepare(
            "SELECT m.id, p.private, i.id IS NOT NULL, p.rowid FROM posts p \
             LEFT JOIN messages m ON m.key = p.rowid LEFT JOIN inbox i ON i.id = m.id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let Some(id) = row.get_ref(0)?.as_blob_or_null()?.and_then(blob_id) else {
                let key: i64 = row.get(3)?;
                report.problem(format!("posts: row {key} is not a stored message"));
                continue;
            };
            let id = MessageId(id);
            match (row.get::<_, bool>(1)?, row.get::<_, bool>(2)?) {
                (false, _) if !derived.posts.contains(&id) => {
                    report.problem(format!("posts: {id} is not a stored public post"))
                }
                (false, _) => {
                    public.insert(id);
                }
                (true, false) => report.problem(format!("posts: private {id} is not in the inbox")),
                (true, true) => {}
            }
        }
        for id in derived.posts.difference(&public) {
            report.problem(format!("posts: the stored post {id} is missing"));
        }
        let (posts, indexed): (i64, i64) = self.conn.query_row(
            "SELECT (SELECT count(*) FROM posts), (SELECT count(*) FROM post_text)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if posts != indexed {
            report.problem(format!("search index: {indexed} texts for {posts} posts"));
        }
        let mut stored = HashMap::new();
        let mut stmt = self
            .conn
            .prepare("SELECT link, author, liked, seq FROM votes")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let link = MessageId(blob_id(row.get_ref(0)?.as_blob()?).unwrap_or_default());
            let author = FeedId(blob_id(row.get_ref(1)?.as_blob()?).unwrap_or_default());
            stored.insert(
                (link, author),
                (row.get::<_, bool>(2)?, row.get::<_, i64>(3)? as u64),
            );
        }
        if stored != derived.votes {
            report.problem(format!(
                "votes: {} in the table, {} in the messages, and they differ",
                stored.len(),
                derived.votes.len()
            ));
        }
        Ok(())
    }

    /// Every row of `feeds`, read once for all the checks.
    fn all_feed_rows(&self) -> Result<Feeds> {
        let mut stmt = self.conn.prepare(
            "SELECT author, seq, head, forked, name, name_seq, description, description_seq, \
                    hidden_at IS NOT NULL \
                 FROM feeds",
        )?;
        let rows = stmt.query_map([], |r| {
            let feed = FeedId(blob_id(r.get_ref(0)?.as_blob()?).unwrap_or_default());
            let name = r
                .get::<_, Option<String>>(4)?
                .zip(r.get::<_, Option<i64>>(5)?.map(|s| s as u64));
            Ok((
                feed,
                FeedRow {
                    seq: r.get::<_, i64>(1)? as u64,
                    head: r
                        .get_ref(2)?
                        .as_blob_or_null()?
                        .and_then(blob_id)
                        .map(MessageId),
                    forked: r.get::<_, i64>(3)? != 0,
                    name,
                    description: r.get::<_, Option<String>>(6)?,
                    hidden: r.get(8)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

fn verify(report: &mut CheckReport, batch: &mut Vec<Message>) {
    let refs: Vec<&Message> = batch.iter().collect();
    for (m, result) in batch.iter().zip(verify_all(&refs)) {
        report.signatures_checked += 1;
        if let Err(e) = result {
            report.problem(format!(
                "feed {} message {}: {e}",
                m.header.author, m.header.sequence
            ));
        }
    }
    batch.clear();
}
