//! The manifest (first entry) and the signature trailer (last entry), both JSON.

use serde::{Deserialize, Serialize};

use crate::ids::{FeedId, MessageId};

/// What the exporter says the bundle holds and what it holds itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    /// 16 random bytes in lower-case hex; names this bundle in import logs.
    pub bundle_id: String,
    pub exporter: FeedId,
    /// Milliseconds since the Unix epoch, as claimed by the exporter.
    pub created_at: i64,
    /// The one peer this bundle was made for, if any.
    #[serde(default)]
    pub recipient: Option<FeedId>,
    /// The messages in the segments, one contiguous range per feed.
    pub feeds: Vec<FeedRange>,
    /// The exporter's frontier: for every feed it holds, its highest contiguous message.
    pub frontier: Vec<FrontierEntry>,
    /// The feeds the exporter replicates, so that a bundle to it carries what it wants and no
    /// more. Absent in older bundles and when the set is larger than [`MAX_WANTS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wants: Option<Vec<FeedId>>,
    /// The exporter's `hops` setting: with it a reader that holds the exporter's contacts can
    /// tell which feeds the exporter will want once it learns its friends' follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hops: Option<u32>,
}

/// Most feeds a manifest lists as wanted (about 570 KB of JSON).
pub const MAX_WANTS: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedRange {
    pub feed: FeedId,
    pub first: u64,
    pub last: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrontierEntry {
    pub feed: FeedId,
    pub sequence: u64,
    pub id: MessageId,
}

/// The last entry: the digest of every earlier entry and the exporter's signature over them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trailer {
    pub entries: Vec<TrailerEntry>,
    /// 64 bytes in lower-case hex.
    pub signature: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailerEntry {
    pub name: String,
    pub size: u64,
    /// BLAKE3 of the entry's data, lower-case hex in JSON. Read under either name the spec
    /// has used, `digest` or `blake3`.
    #[serde(with = "hex32", alias = "blake3")]
    pub digest: [u8; 32],
}

impl Trailer {
    /// Parses a trailer entry as read from a bundle (untrusted bytes).
    pub fn parse(data: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(data).map_err(|e| e.to_string())
    }
}

impl Manifest {
    /// A manifest for `messages` (in feed order): one range per contiguous run, no frontier.
    pub fn describing(
        exporter: FeedId,
        bundle_id: &str,
        created_at: i64,
        messages: &[crate::message::Message],
    ) -> Self {
        let mut feeds: Vec<FeedRange> = Vec::new();
        for m in messages {
            let (feed, seq) = (m.header.author, m.header.sequence);
            match feeds.last_mut() {
                // One range per contiguous run: a gap starts a new one (bundle.md).
                Some(range) if range.feed == feed && range.last.checked_add(1) == Some(seq) => {
                    range.last = seq
                }
                _ => feeds.push(FeedRange {
                    feed,
                    first: seq,
                    last: seq,
                }),
            }
        }
        Self {
            format: super::FORMAT.into(),
            version: super::FORMAT_VERSION,
            bundle_id: bundle_id.to_owned(),
            exporter,
            created_at,
            recipient: None,
            feeds,
            frontier: Vec::new(),
            wants: None,
            hops: None,
        }
    }

    /// Parses and validates a manifest entry as read from a bundle (untrusted bytes).
    pub fn parse(data: &[u8]) -> Result<Self, String> {
        let manifest: Self = serde_json::from_slice(data).map_err(|e| e.to_string())?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Checks what serde cannot: format, version, range sanity, sizes.
    pub fn validate(&self) -> Result<(), String> {
        if self.format != super::FORMAT {
            return Err(format!(
                "format is '{}', expected '{}'",
                self.format,
                super::FORMAT
            ));
        }
        if self.version != super::FORMAT_VERSION {
            return Err(format!(
                "bundle format version {} is not supported (this grapevine reads version {}); \
                 upgrade grapevine",
                self.version,
                super::FORMAT_VERSION
            ));
        }
        let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if self.bundle_id.len() != 32 || !self.bundle_id.bytes().all(hex) {
            return Err("bundle_id is not 32 lower-case hex digits".into());
        }
        if let Some(hops) = self.hops.filter(|h| *h > crate::graph::MAX_HOPS) {
            return Err(format!(
                "hops {hops} is more than the {} allowed",
                crate::graph::MAX_HOPS
            ));
        }
        let wanted = self.wants.as_ref().map_or(0, Vec::len);
        if wanted > MAX_WANTS {
            return Err(format!(
                "it lists {wanted} wanted feeds, more than the {MAX_WANTS} allowed"
            ));
        }
        for range in &self.feeds {
            if range.first == 0 || range.first > range.last {
                return Err(format!(
                    "feed {} has an empty or invalid range {}..{}",
                    range.feed, range.first, range.last
                ));
            }
        }
        Ok(())
    }
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&data_encoding::HEXLOWER.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(text.as_bytes())
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| D::Error::custom("expected 64 hex digits"))
    }
}
