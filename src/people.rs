//! Names for feeds, both ways: the name to show for a feed (petname › self-chosen name › short
//! id), and the feed or message a person means by what they typed (an id, a unique id prefix,
//! a petname or a self-chosen name). The CLI and any later UI share it.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};
use thiserror::Error;

use crate::devices::Devices;
use crate::ids::{FeedId, ID_CHARS, MessageId};
use crate::store::{self, Store};
use crate::text::{escape, escape_name};

/// Shortest id prefix taken as one (shorter ones match too much to be meant).
pub const MIN_PREFIX: usize = 4;
/// Most candidates an ambiguous input lists.
const MAX_CANDIDATES: usize = 8;

#[derive(Debug, Error)]
pub enum ResolveError {
    #[error("{0}")]
    NotFound(String),
    #[error("'{input}' could mean any of:\n{}\nuse more of the id, or a petname (`grapevine petname ID NAME`)", .candidates.join("\n"))]
    Ambiguous {
        input: String,
        candidates: Vec<String>,
    },
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// The names this node knows, loaded once per command. Another person's linked devices share
/// one name: the first petname among its devices, else the first self-chosen name, devices we
/// follow first. Our own devices keep their own names.
pub struct Names {
    me: FeedId,
    petnames: HashMap<FeedId, String>,
    own: HashMap<FeedId, String>,
    devices: Devices,
    /// The shared name of each device of a person of two or more, if any device has one.
    person_names: HashMap<FeedId, String>,
    /// The device that stands for each device's person when it is named: ours, else one we
    /// follow, else the smallest id.
    lead: HashMap<FeedId, FeedId>,
    /// Feeds we block: their own names are neither shown nor resolved (a blocked feed calling
    /// itself "alice" must not pass for alice); only a petname or the id names them.
    blocked: HashSet<FeedId>,
    /// Feeds whose shown name looks like another person's (Unicode TR39 skeletons): they are
    /// shown with their short id, so that the two are told apart.
    lookalikes: HashSet<FeedId>,
}

impl Names {
    pub fn load(store: &Store, me: FeedId) -> store::Result<Self> {
        let mut petnames = HashMap::new();
        let mut own = HashMap::new();
        for (feed, pet, chosen) in store.names()? {
            if let Some(pet) = pet {
                petnames.insert(feed, pet);
            }
            if let Some(chosen) = chosen {
                own.insert(feed, chosen);
            }
        }
        let devices = Devices::new(store.device_claims()?);
        let mine = devices.person(&me);
        let edges = store.edges()?;
        let followed: HashSet<FeedId> = edges
            .iter()
            .filter(|e| e.following && !e.blocking && mine.contains(&e.from))
            .map(|e| e.to)
            .collect();
        let blocked: HashSet<FeedId> = edges
            .iter()
            .filter(|e| e.blocking && mine.contains(&e.from))
            .map(|e| e.to)
            .collect();
        own.retain(|feed, _| !blocked.contains(feed));
        let mut person_names = HashMap::new();
        let mut lead = HashMap::new();
        for person in devices.persons() {
            let mut order = person.clone();
            order.sort_by_key(|f| (!mine.contains(f), !followed.contains(f), *f));
            for member in person {
                lead.insert(*member, order[0]);
            }
            let name = order
                .iter()
                .find_map(|f| petnames.get(f))
                .or_else(|| order.iter().find_map(|f| own.get(f)));
            // Our own devices keep their own names, so that we see which one wrote what.
            if let (Some(name), false) = (name, person.contains(&me)) {
                for member in person {
                    person_names.insert(*member, name.clone());
                }
            }
        }
        let mut names = Self {
            me,
            petnames,
            own,
            devices,
            person_names,
            lead,
            blocked,
            lookalikes: HashSet::new(),
        };
        names.lookalikes = names.find_lookalikes();
        Ok(names)
    }

    /// The feeds whose shown name has the skeleton of another person's shown name.
    fn find_lookalikes(&self) -> HashSet<FeedId> {
        let mut by_key: HashMap<String, HashSet<FeedId>> = HashMap::new();
        let feeds: HashSet<&FeedId> = self.petnames.keys().chain(self.own.keys()).collect();
        for feed in feeds {
            if let Some(name) = self.shown(feed) {
                let person = self.lead.get(feed).copied().unwrap_or(*feed);
                by_key
                    .entry(crate::text::lookalike_key(name))
                    .or_default()
                    .insert(person);
            }
        }
        let alike: HashSet<FeedId> = by_key
            .into_values()
            .filter(|persons| persons.len() > 1)
            .flatten()
            .collect();
        self.petnames
            .keys()
            .chain(self.own.keys())
            .filter(|f| alike.contains(&self.lead.get(f).copied().unwrap_or(**f)))
            .copied()
            .collect()
    }

    /// Whether `feed`'s name looks like another person's, so that it is shown with its id.
    pub fn is_lookalike(&self, feed: &FeedId) -> bool {
        self.lookalikes.contains(feed)
    }

    /// Whether we block `feed`.
    pub fn is_blocked(&self, feed: &FeedId) -> bool {
        self.blocked.contains(feed)
    }

    /// The raw name shown for `feed`: its petname › its person's name › its own name.
    fn shown(&self, feed: &FeedId) -> Option<&String> {
        self.petnames
            .get(feed)
            .or_else(|| self.person_names.get(feed))
            .or_else(|| self.own.get(feed))
    }

    /// The best name for `feed`, safe to print: petname › person's name › self-chosen name ›
    /// short id.
    pub fn name(&self, feed: &FeedId) -> String {
        match self.shown(feed) {
            Some(name) if self.lookalikes.contains(feed) => {
                format!("{} ({})", escape_name(name), feed.short())
            }
            Some(name) => escape_name(name),
            None => feed.short(),
        }
    }

    /// Whose message `sequence` of `feed` is: a device that was unlinked still counts as its
    /// former person up to where the unlink vouches for it.
    fn owner(&self, feed: &FeedId, sequence: u64) -> FeedId {
        self.devices.vouched_by(feed, sequence).unwrap_or(*feed)
    }

    /// The name, and "(you)" after our own (any of our devices).
    pub fn label(&self, feed: &FeedId) -> String {
        if self.devices.person(&self.me).contains(feed) {
            format!("{} (you)", self.name(feed))
        } else {
            self.name(feed)
        }
    }

    /// [`Names::label`] for message `sequence` of `feed`, named as its owner.
    pub fn author_label(&self, feed: &FeedId, sequence: u64) -> String {
        self.label(&self.owner(feed, sequence))
    }

    /// [`Names::json`] for message `sequence` of `feed`: the id is the device's, the name its
    /// owner's.
    pub fn author_json(&self, feed: &FeedId, sequence: u64) -> Value {
        json!({ "id": feed, "name": self.json_name(&self.owner(feed, sequence)) })
    }

    pub fn petname(&self, feed: &FeedId) -> Option<&str> {
        self.petnames.get(feed).map(String::as_str)
    }

    /// The name `feed` gave itself (a device's own name, not its person's).
    pub fn chosen(&self, feed: &FeedId) -> Option<&str> {
        self.own.get(feed).map(String::as_str)
    }

    /// The linked devices that make one person with `feed` (`feed` included).
    pub fn person<'a>(&'a self, feed: &'a FeedId) -> &'a [FeedId] {
        self.devices.person(feed)
    }

    /// A feed in JSON: `{"id": …, "name": …}`, the name null when only the id is known. A name
    /// that looks like another person's carries the short id after it, as on the terminal.
    pub fn json(&self, feed: &FeedId) -> Value {
        json!({ "id": feed, "name": self.json_name(feed) })
    }

    fn json_name(&self, feed: &FeedId) -> Option<String> {
        let name = self.shown(feed)?;
        Some(match self.lookalikes.contains(feed) {
            true => format!("{name} ({})", feed.short()),
            false => name.clone(),
        })
    }

    /// The feeds a typed name stands for: petnames first, then self-chosen names, any case.
    /// Devices of one person count once: its lead device stands for it.
    fn by_name(&self, name: &str) -> Vec<FeedId> {
        let wanted = name.to_lowercase();
        let mut found: Vec<FeedId> = sorted_matches(&self.petnames, &wanted);
        if found.is_empty() {
            found = sorted_matches(&self.person_names, &wanted);
            found.extend(sorted_matches(&self.own, &wanted));
            found.sort();
        }
        let mut leads: Vec<FeedId> = found
            .into_iter()
            .map(|f| self.lead.get(&f).copied().unwrap_or(f))
            .collect();
        leads.sort();
        leads.dedup();
        leads
    }

    /// How many people a typed name (petname, else self-chosen name) could stand for.
    pub fn people_named(&self, name: &str) -> usize {
        self.by_name(name).len()
    }

    /// The one feed a name (petname, else self-chosen name) stands for, if exactly one.
    pub fn resolve_feed_by_name(&self, name: &str) -> Option<FeedId> {
        match self.by_name(name).as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// The feed meant by `input`: an id (with or without `@`), a unique prefix of a known id,
    /// a petname or a self-chosen name. An id that parses is taken even if nobody has seen it;
    /// the caller decides whether to warn ([`Store::has_seen`]).
    pub fn resolve_feed(&self, store: &Store, input: &str) -> Result<FeedId, ResolveError> {
        let text = input.trim();
        if let Ok(feed) = text.parse::<FeedId>() {
            return Ok(feed);
        }
        let bare = text.strip_prefix('@').unwrap_or(text);
        if let Ok(feed) = format!("@{bare}").parse::<FeedId>() {
            return Ok(feed);
        }
        let named = self.by_name(bare);
        match named.len() {
            1 => return Ok(named[0]),
            0 => {}
            _ => return Err(self.ambiguous(input, &named)),
        }
        let prefix = bare.to_ascii_lowercase();
        if is_base32(&prefix) && prefix.len() >= MIN_PREFIX && prefix.len() <= ID_CHARS {
            let mut found: Vec<FeedId> = store
                .known_feeds()?
                .into_iter()
                .filter(|f| f.base32().starts_with(&prefix) && !self.blocked.contains(f))
                .collect();
            found.sort();
            match found.len() {
                1 => return Ok(found[0]),
                0 => {}
                _ => return Err(self.ambiguous(input, &found)),
            }
        }
        Err(ResolveError::NotFound(not_found_feed(text, bare)))
    }

    fn ambiguous(&self, input: &str, feeds: &[FeedId]) -> ResolveError {
        let mut candidates: Vec<String> = feeds
            .iter()
            .take(MAX_CANDIDATES)
            .map(|f| format!("  {}  {f}", self.name(f)))
            .collect();
        if feeds.len() > MAX_CANDIDATES {
            candidates.push(format!("  … and {} more", feeds.len() - MAX_CANDIDATES));
        }
        ResolveError::Ambiguous {
            input: escape(input),
            candidates,
        }
    }
}

fn sorted_matches(names: &HashMap<FeedId, String>, wanted: &str) -> Vec<FeedId> {
    let mut found: Vec<FeedId> = names
        .iter()
        .filter(|(_, n)| n.to_lowercase() == wanted)
        .map(|(f, _)| *f)
        .collect();
    found.sort();
    found
}

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

fn is_base32(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| ALPHABET.contains(&b))
}

/// Why a typed feed is no feed we know, and what to do.
fn not_found_feed(text: &str, bare: &str) -> String {
    let shown = escape(&text.chars().take(60).collect::<String>());
    if bare.len() == ID_CHARS && is_base32(&bare.to_ascii_lowercase()) {
        // 52 base32 characters hold 260 bits and an id 256, so the last character carries
        // one bit and four zeros: only 'a' or 'q' can end an id.
        return format!(
            "'{shown}' is not a feed id: its last character cannot end an id, so a character \
             was probably mistyped. Copy the id again"
        );
    }
    if bare.len() > ID_CHARS {
        return format!(
            "'{shown}' is not a feed id: a feed id is '@' and {ID_CHARS} characters. Copy it again"
        );
    }
    format!(
        "no one known here is called '{shown}', and no feed id known here starts with it. Use \
         their feed id (or its first few characters, once one of their bundles was read here), \
         or a name from `grapevine contacts`; `grapevine petname ID NAME` names someone for you"
    )
}

/// The message meant by `input`: a full id (with or without `%`) or a unique prefix of the id
/// of a message held here.
pub fn resolve_message(store: &Store, input: &str) -> Result<MessageId, ResolveError> {
    let text = input.trim();
    if let Ok(id) = text.parse::<MessageId>() {
        return Ok(id);
    }
    let bare = text.strip_prefix('%').unwrap_or(text).to_ascii_lowercase();
    let shown = escape(&text.chars().take(60).collect::<String>());
    let Some((low, high)) = prefix_range(&bare) else {
        return Err(ResolveError::NotFound(format!(
            "'{shown}' is not a message id: a message id is '%' and 52 characters (a unique \
             start of one will do, at least {MIN_PREFIX} characters)"
        )));
    };
    let found = store.message_ids_between(&low, &high, MAX_CANDIDATES as u64 + 1)?;
    match found.len() {
        1 => Ok(found[0]),
        0 => Err(ResolveError::NotFound(format!(
            "no message held here has an id starting with '{shown}'. Import the bundle that \
             carries it, or check the id"
        ))),
        _ => Err(ResolveError::Ambiguous {
            input: shown,
            candidates: found.iter().map(|id| format!("  {id}")).collect(),
        }),
    }
}

/// The lowest and highest 32-byte values whose base32 starts with `prefix`.
fn prefix_range(prefix: &str) -> Option<([u8; 32], [u8; 32])> {
    if prefix.len() < MIN_PREFIX || prefix.len() > ID_CHARS || !is_base32(prefix) {
        return None;
    }
    let mut low = [0u8; 32];
    let mut high = [0xffu8; 32];
    for (i, b) in prefix.bytes().enumerate() {
        let value = ALPHABET.iter().position(|&a| a == b)? as u8;
        for bit in 0..5 {
            let at = i * 5 + bit;
            if at >= 256 {
                break;
            }
            let set = value >> (4 - bit) & 1 == 1;
            let (byte, mask) = (at / 8, 0x80u8 >> (at % 8));
            if set {
                low[byte] |= mask;
            } else {
                high[byte] &= !mask;
            }
        }
    }
    Some((low, high))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_range_holds_exactly_the_ids_that_start_with_it() {
        for seed in 0..50u8 {
            let id = MessageId(*blake3::hash(&[seed]).as_bytes());
            let text = id.base32();
            for len in [4, 5, 8, 13, 51, 52] {
                let (low, high) = prefix_range(&text[..len]).unwrap();
                assert!(low <= id.0 && id.0 <= high, "{text} len {len}");
                // The next value past either end no longer starts with the prefix.
                if len < 52 {
                    let above = MessageId(high).base32();
                    assert!(above.starts_with(&text[..len]));
                    let below = MessageId(low).base32();
                    assert!(below.starts_with(&text[..len]));
                }
            }
        }
        assert!(prefix_range("abc").is_none());
        assert!(prefix_range("abc1").is_none());
    }
}
