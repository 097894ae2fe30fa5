//! The manifest (first entry) and the signature trailer (last entry), both JSON.

use serde::{Deserialize, Serialize};

use super::frontier::{Claims, Frontier, FrontierEntry, MAX_WANTS, Tagged};
use crate::ids::FeedId;

/// What the exporter says the bundle holds and what it holds itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Wire", into = "Wire")]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    /// 16 random bytes in lower-case hex; names this bundle in import logs, and salts the
    /// frontier's tags (version 2).
    pub bundle_id: String,
    pub exporter: FeedId,
    /// Milliseconds since the Unix epoch, as claimed by the exporter.
    pub created_at: i64,
    /// The one peer this bundle was made for, if any.
    pub recipient: Option<FeedId>,
    /// The messages in the segments, one contiguous range per feed.
    pub feeds: Vec<FeedRange>,
    /// What the exporter holds and wants, so that a bundle to it carries what it lacks.
    pub frontier: Frontier,
    /// The exporter's `hops` setting: with it a reader that holds the exporter's contacts can
    /// tell which feeds the exporter will want once it learns its friends' follows.
    pub hops: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedRange {
    pub feed: FeedId,
    pub first: u64,
    pub last: u64,
}

/// The manifest as JSON: `frontier` is a list (version 1) or a packed string (version 2), and
/// `wants` a list of ids (version 1) or `true` (version 2).
#[derive(Serialize, Deserialize)]
struct Wire {
    format: String,
    version: u32,
    bundle_id: String,
    exporter: FeedId,
    created_at: i64,
    #[serde(default)]
    recipient: Option<FeedId>,
    feeds: Vec<FeedRange>,
    frontier: Either<Vec<FrontierEntry>, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wants: Option<Either<Vec<FeedId>, bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hops: Option<u32>,
}

/// A member that is a list in version 1 and a scalar in version 2.
enum Either<L, S> {
    List(L),
    Scalar(S),
}

impl TryFrom<Wire> for Manifest {
    type Error = String;

    fn try_from(w: Wire) -> Result<Self, String> {
        let frontier = match (w.frontier, w.wants) {
            (Either::List(held), None) => Frontier::Listed { held, wants: None },
            (Either::List(held), Some(Either::List(wants))) => Frontier::Listed {
                held,
                wants: Some(wants),
            },
            (Either::Scalar(text), None) => Frontier::Tagged(Tagged::decode(&text, false)?),
            (Either::Scalar(text), Some(Either::Scalar(whole))) => {
                Frontier::Tagged(Tagged::decode(&text, whole)?)
            }
            _ => return Err("frontier and wants are of different format versions".into()),
        };
        Ok(Self {
            format: w.format,
            version: w.version,
            bundle_id: w.bundle_id,
            exporter: w.exporter,
            created_at: w.created_at,
            recipient: w.recipient,
            feeds: w.feeds,
            frontier,
            hops: w.hops,
        })
    }
}

impl From<Manifest> for Wire {
    fn from(m: Manifest) -> Self {
        let (frontier, wants) = match m.frontier {
            Frontier::Listed { held, wants } => (Either::List(held), wants.map(Either::List)),
            Frontier::Tagged(tagged) => (
                Either::Scalar(tagged.encode()),
                tagged.wants.then_some(Either::Scalar(true)),
            ),
        };
        Self {
            format: m.format,
            version: m.version,
            bundle_id: m.bundle_id,
            exporter: m.exporter,
            created_at: m.created_at,
            recipient: m.recipient,
            feeds: m.feeds,
            frontier,
            wants,
            hops: m.hops,
        }
    }
}

impl<L: Serialize, S: Serialize> Serialize for Either<L, S> {
    fn serialize<Z: serde::Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        match self {
            Self::List(list) => list.serialize(s),
            Self::Scalar(scalar) => scalar.serialize(s),
        }
    }
}

impl<'de, L: Deserialize<'de>, S: Deserialize<'de>> Deserialize<'de> for Either<L, S> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::value::SeqAccessDeserializer;
        use serde::de::{IntoDeserializer, SeqAccess, Visitor};
        use std::marker::PhantomData;

        struct Pick<L, S>(PhantomData<(L, S)>);
        impl<'de, L: Deserialize<'de>, S: Deserialize<'de>> Visitor<'de> for Pick<L, S> {
            type Value = Either<L, S>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list (version 1) or a string or boolean (version 2)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                L::deserialize(SeqAccessDeserializer::new(seq)).map(Either::List)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                S::deserialize(v.into_deserializer()).map(Either::Scalar)
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
                S::deserialize(v.into_deserializer()).map(Either::Scalar)
            }
        }
        d.deserialize_any(Pick(PhantomData))
    }
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
            frontier: Frontier::Tagged(Tagged::empty()),
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
        match (self.version, &self.frontier) {
            (1, Frontier::Listed { .. }) | (2, Frontier::Tagged(_)) => {}
            (1 | 2, _) => {
                return Err(format!(
                    "a version {} manifest with a frontier of the other version",
                    self.version
                ));
            }
            (other, _) => {
                return Err(format!(
                    "bundle format version {other} is not supported (this grapevine reads \
                     versions 1 and {}); upgrade grapevine",
                    super::FORMAT_VERSION
                ));
            }
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
        let wanted = match &self.frontier {
            Frontier::Listed { wants, .. } => wants.as_ref().map_or(0, Vec::len),
            Frontier::Tagged(tagged) if tagged.wants => tagged.len(),
            Frontier::Tagged(_) => 0,
        };
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

impl Manifest {
    /// The bundle id's 16 bytes, which salt a version 2 frontier's tags.
    pub fn salt(&self) -> Option<[u8; 16]> {
        data_encoding::HEXLOWER
            .decode(self.bundle_id.as_bytes())
            .ok()?
            .try_into()
            .ok()
    }

    /// What the exporter says it holds and wants, among the feeds `known` to the reader.
    pub fn claims(&self, known: &[FeedId]) -> Claims {
        self.frontier.claims(self.salt().as_ref(), known)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest as JSON, with `frontier` and `wants` as given.
    fn with(frontier: &str, wants: &str) -> String {
        format!(
            r#"{{"format":"grapevine-bundle","version":2,"bundle_id":"{}","exporter":"{}","created_at":1,"recipient":null,"feeds":[],"frontier":{frontier}{wants}}}"#,
            "00".repeat(16),
            FeedId([3; 32]),
        )
    }

    #[test]
    fn a_frontier_of_neither_version_says_what_either_would_be() {
        let err = Manifest::parse(with("5", "").as_bytes()).expect_err("a number");
        assert!(
            err.contains("a list (version 1) or a string or boolean (version 2)"),
            "{err}"
        );
        let err = Manifest::parse(with("[]", r#","wants":true"#).as_bytes()).expect_err("mixed");
        assert!(err.contains("different format versions"), "{err}");
        assert!(Manifest::parse(with(r#""BA==""#, r#","wants":true"#).as_bytes()).is_ok());
    }
}
