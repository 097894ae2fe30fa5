//! What a manifest says its exporter holds and wants (bundle.md "Frontier"). Version 1 lists
//! feeds by their full ids; version 2 packs them as short tags salted with the bundle id, which
//! a reader matches against the feeds it knows: a feed it does not know is one it could not
//! send anyway.

use std::collections::HashMap;

use crate::ids::{FeedId, MessageId};
use serde::{Deserialize, Serialize};

/// Most feeds a manifest lists as wanted (about 570 KB of JSON in version 1).
pub const MAX_WANTS: usize = 10_000;
/// Tags are this long up to [`SHORT_TAGS_UP_TO`] entries, [`LONG_TAG`] bytes beyond: the chance
/// that a reader takes one feed's claim for another's stays under one in 4,000 per bundle for
/// a thousand feeds on each side.
pub const SHORT_TAG: usize = 4;
pub const LONG_TAG: usize = 6;
pub const SHORT_TAGS_UP_TO: usize = 1_000;
const TAG_CONTEXT: &[u8] = b"grapevine-feed-tag";

/// A version 1 frontier entry: a feed held, to `sequence`, whose message there is `id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrontierEntry {
    pub feed: FeedId,
    pub sequence: u64,
    pub id: MessageId,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frontier {
    /// Version 1: every feed held by id, and the feeds wanted if the exporter said.
    Listed {
        held: Vec<FrontierEntry>,
        wants: Option<Vec<FeedId>>,
    },
    /// Version 2: feeds by salted tags.
    Tagged(Tagged),
}

/// A version 2 frontier: `(tag, sequence)` for each feed the exporter holds, and, when `wants`,
/// for each other feed of its replication set at sequence 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tagged {
    tag_len: usize,
    entries: Vec<(u64, u64)>,
    /// Whether the entries are the exporter's whole replication set.
    pub wants: bool,
}

/// A manifest's frontier resolved against the feeds a reader knows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Claims {
    /// Feeds held and how far (sequence ≥ 1), in the manifest's order.
    pub holds: Vec<(FeedId, u64)>,
    /// The feeds wanted, in byte order, if the exporter said.
    pub wants: Option<Vec<FeedId>>,
}

fn tag(salt: &[u8; 16], feed: &FeedId, len: usize) -> u64 {
    let hash = blake3::Hasher::new()
        .update(TAG_CONTEXT)
        .update(salt)
        .update(feed.as_bytes())
        .finalize();
    let mut out = [0u8; 8];
    out[8 - len..].copy_from_slice(&hash.as_bytes()[..len]);
    u64::from_be_bytes(out)
}

impl Tagged {
    /// No entries, and the set unknown: a bundle that is no one's word on what it holds.
    pub fn empty() -> Self {
        Self {
            tag_len: SHORT_TAG,
            entries: Vec::new(),
            wants: false,
        }
    }

    /// Packs `entries` (feed, sequence held, 0 for a wanted feed held not at all) under `salt`.
    /// None when two feeds share a tag: the writer draws another bundle id.
    pub fn pack(salt: &[u8; 16], entries: &[(FeedId, u64)], wants: bool) -> Option<Self> {
        let tag_len = if entries.len() <= SHORT_TAGS_UP_TO {
            SHORT_TAG
        } else {
            LONG_TAG
        };
        let packed: Vec<(u64, u64)> = entries
            .iter()
            .map(|(feed, seq)| (tag(salt, feed, tag_len), *seq))
            .collect();
        let mut tags: Vec<u64> = packed.iter().map(|(t, _)| *t).collect();
        tags.sort_unstable();
        tags.dedup();
        (tags.len() == packed.len()).then_some(Self {
            tag_len,
            entries: packed,
            wants,
        })
    }

    /// The member's text: base64 of the tag length, then each tag and its LEB128 sequence.
    pub fn encode(&self) -> String {
        let mut bytes = vec![self.tag_len as u8];
        for (tag, seq) in &self.entries {
            bytes.extend_from_slice(&tag.to_be_bytes()[8 - self.tag_len..]);
            let mut rest = *seq;
            while rest >= 0x80 {
                // The low seven bits, and the high bit: more follows.
                bytes.push(rest as u8 | 0x80);
                rest >>= 7;
            }
            bytes.push(rest as u8);
        }
        data_encoding::BASE64.encode(&bytes)
    }

    /// Parses the member's text (untrusted): every rule of bundle.md "Frontier" but the wanted
    /// count, which the manifest checks.
    pub fn decode(text: &str, wants: bool) -> Result<Self, String> {
        let bytes = data_encoding::BASE64
            .decode(text.as_bytes())
            .map_err(|e| format!("frontier is not base64: {e}"))?;
        let (&len, mut rest) = bytes
            .split_first()
            .ok_or("frontier is empty: it starts with its tag length")?;
        let tag_len = usize::from(len);
        if !(SHORT_TAG..=8).contains(&tag_len) {
            return Err(format!("frontier tags of {len} bytes (4 to 8 allowed)"));
        }
        let mut entries = Vec::new();
        while !rest.is_empty() {
            let (tag, after) = rest
                .split_at_checked(tag_len)
                .ok_or("frontier ends inside a tag")?;
            let mut value = [0u8; 8];
            value[8 - tag_len..].copy_from_slice(tag);
            let (seq, after) = leb128(after)?;
            entries.push((u64::from_be_bytes(value), seq));
            rest = after;
        }
        let mut tags: Vec<u64> = entries.iter().map(|(t, _)| *t).collect();
        tags.sort_unstable();
        tags.dedup();
        if tags.len() != entries.len() {
            return Err("frontier names one tag twice".into());
        }
        Ok(Self {
            tag_len,
            entries,
            wants,
        })
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// What the entries say of the feeds in `known`. A tag that two known feeds share names
    /// neither: the reader cannot tell which.
    pub fn resolve(&self, salt: &[u8; 16], known: &[FeedId]) -> Claims {
        let mut by_tag: HashMap<u64, Option<FeedId>> = HashMap::new();
        for feed in known {
            let slot = by_tag
                .entry(tag(salt, feed, self.tag_len))
                .or_insert(Some(*feed));
            if slot.is_some_and(|f| f != *feed) {
                *slot = None;
            }
        }
        let mut claims = Claims::default();
        let mut wants = Vec::new();
        for (tag, seq) in &self.entries {
            let Some(Some(feed)) = by_tag.get(tag) else {
                continue;
            };
            if *seq > 0 {
                claims.holds.push((*feed, *seq));
            }
            wants.push(*feed);
        }
        if self.wants {
            wants.sort();
            claims.wants = Some(wants);
        }
        claims
    }
}

/// An unsigned LEB128 number of at most 10 bytes that fits in 64 bits, written in its
/// shortest form; and what follows it.
fn leb128(bytes: &[u8]) -> Result<(u64, &[u8]), String> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        let low = u64::from(byte & 0x7f);
        if i == 9 && low > 1 {
            return Err("a frontier sequence does not fit in 64 bits".into());
        }
        value |= low << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && low == 0 {
                return Err("a frontier sequence is not in its shortest form".into());
            }
            return Ok((value, &bytes[i + 1..]));
        }
    }
    Err("frontier ends inside a sequence".into())
}

impl Frontier {
    /// What the exporter says it holds and wants, among the feeds `known` (version 2 names
    /// feeds by tags; version 1 names them all and `known` is not used).
    pub fn claims(&self, salt: Option<&[u8; 16]>, known: &[FeedId]) -> Claims {
        match (self, salt) {
            (Self::Listed { held, wants }, _) => Claims {
                holds: held.iter().map(|e| (e.feed, e.sequence)).collect(),
                wants: wants.clone(),
            },
            (Self::Tagged(tagged), Some(salt)) => tagged.resolve(salt, known),
            (Self::Tagged(_), None) => Claims::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(n: u8) -> FeedId {
        FeedId([n; 32])
    }

    #[test]
    fn packed_entries_read_back_for_the_feeds_a_reader_knows() {
        let salt = [7; 16];
        let entries = [(feed(1), 3), (feed(2), 0), (feed(3), 300)];
        let packed = Tagged::pack(&salt, &entries, true).expect("distinct tags");
        let read = Tagged::decode(&packed.encode(), true).expect("decodes");
        assert_eq!(read, packed);
        let claims = read.resolve(&salt, &[feed(3), feed(1), feed(9)]);
        assert_eq!(claims.holds, vec![(feed(1), 3), (feed(3), 300)]);
        assert_eq!(claims.wants, Some(vec![feed(1), feed(3)]));
        // Another salt gives other tags: nothing resolves by chance.
        let other = read.resolve(&[8; 16], &[feed(1), feed(2), feed(3)]);
        assert_eq!(
            other,
            Claims {
                holds: vec![],
                wants: Some(vec![])
            }
        );
    }

    #[test]
    fn sequences_take_their_shortest_form_and_fit_in_64_bits() {
        for seq in [0, 1, 127, 128, 16_383, 16_384, u64::MAX] {
            let packed = Tagged::pack(&[0; 16], &[(feed(1), seq)], false).expect("one tag");
            let read = Tagged::decode(&packed.encode(), false).expect("decodes");
            assert_eq!(
                read.resolve(&[0; 16], &[feed(1)]).holds.len(),
                usize::from(seq > 0)
            );
            assert_eq!(read.entries[0].1, seq);
        }
        let frame = |tail: &[u8]| {
            let mut bytes = vec![4, 1, 2, 3, 4];
            bytes.extend_from_slice(tail);
            data_encoding::BASE64.encode(&bytes)
        };
        assert!(
            Tagged::decode(&frame(&[0x80, 0x00]), false).is_err(),
            "overlong"
        );
        assert!(Tagged::decode(&frame(&[0x80]), false).is_err(), "cut");
        let mut eleven = vec![0xff; 9];
        eleven.push(0x02);
        assert!(Tagged::decode(&frame(&eleven), false).is_err(), "2^64");
        eleven[9] = 0x01;
        assert!(Tagged::decode(&frame(&eleven), false).is_ok(), "2^64 - 1");
        assert!(
            Tagged::decode(&frame(&[1, 1, 2, 3, 4, 1]), false).is_err(),
            "tag twice"
        );
        assert!(
            Tagged::decode(&frame(&[1, 9]), false).is_err(),
            "cut inside a tag"
        );
        assert!(Tagged::decode("", false).is_err(), "no tag length");
        let three = data_encoding::BASE64.encode(&[3, 1, 2, 3, 1]);
        assert!(Tagged::decode(&three, false).is_err(), "3-byte tags");
        assert!(Tagged::decode("BA=", false).is_err(), "not base64");
    }

    #[test]
    fn a_tag_two_known_feeds_share_names_neither() {
        let salt = [1; 16];
        // Two feeds whose 4-byte tags collide under this salt: about 2^16 tries.
        let mut seen: HashMap<u64, FeedId> = HashMap::new();
        let (a, b) = (0u32..)
            .find_map(|i| {
                let mut key = [9u8; 32];
                key[..4].copy_from_slice(&i.to_be_bytes());
                let f = FeedId(key);
                seen.insert(tag(&salt, &f, SHORT_TAG), f).map(|g| (g, f))
            })
            .expect("a collision");
        assert_eq!(
            Tagged::pack(&salt, &[(a, 1), (b, 2)], false),
            None,
            "the writer redraws"
        );
        let packed = Tagged::pack(&salt, &[(a, 5)], false).expect("one tag");
        assert_eq!(packed.resolve(&salt, &[a]).holds, vec![(a, 5)]);
        assert_eq!(
            packed.resolve(&salt, &[a, a]).holds,
            vec![(a, 5)],
            "one feed twice"
        );
        assert_eq!(
            packed.resolve(&salt, &[b]).holds,
            vec![(b, 5)],
            "taken for another"
        );
        assert_eq!(
            packed.resolve(&salt, &[a, b]).holds,
            vec![],
            "ambiguous: neither"
        );
    }

    #[test]
    fn more_than_a_thousand_entries_take_longer_tags() {
        let entries: Vec<(FeedId, u64)> = (0..1_001u32)
            .map(|i| {
                let mut key = [0u8; 32];
                key[..4].copy_from_slice(&i.to_be_bytes());
                (FeedId(key), 1)
            })
            .collect();
        let packed = Tagged::pack(&[2; 16], &entries, false).expect("distinct");
        assert_eq!(packed.tag_len, LONG_TAG);
        let fewer = Tagged::pack(&[2; 16], &entries[..1_000], false).expect("distinct");
        assert_eq!(fewer.tag_len, SHORT_TAG);
    }
}
