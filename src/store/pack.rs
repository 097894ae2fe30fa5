//! Content kept compressed with a dictionary trained on the store's own messages.
//!
//! A post is a few hundred bytes of JSON: too short for zstd to find repeats inside it, but
//! much like the posts around it. Once the store holds [`TRAIN_AT`] linked messages, a 16 KiB
//! zstd dictionary is trained on the newest of them and kept in `dictionaries`, and from then on
//! a message's content is stored as a zstd frame made with it whenever that is smaller. A row's
//! `dict` names its dictionary (NULL: stored as it came). The frame leaves out its 4-byte magic
//! number, the dictionary id and a checksum: the row says which dictionary, and the message id,
//! checked whenever a message is read back, covers the content.
//!
//! SQL reads content through `unpack(content, dict)`, registered on the store's connection.

use std::collections::HashMap;
use std::sync::Mutex;

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OptionalExtension};
use zstd::bulk::{Compressor, Decompressor};
use zstd::zstd_safe::CParameter;

use crate::message::MAX_CONTENT;

/// Linked messages held before a dictionary is trained.
pub const TRAIN_AT: i64 = 2_000;
/// The newest contents a dictionary is trained on.
pub const SAMPLES: i64 = 4_096;
const DICTIONARY_SIZE: usize = 16 * 1024;
const LEVEL: i32 = 3;
const MAGIC: [u8; 4] = 0xFD2F_B528u32.to_le_bytes();

/// Packs content with one dictionary.
pub struct Packer {
    key: i64,
    compressor: Compressor<'static>,
}

impl Packer {
    pub fn new(key: i64, dictionary: &[u8]) -> std::io::Result<Self> {
        let mut compressor = Compressor::with_dictionary(LEVEL, dictionary)?;
        compressor.set_parameter(CParameter::ChecksumFlag(false))?;
        compressor.set_parameter(CParameter::DictIdFlag(false))?;
        Ok(Self { key, compressor })
    }

    /// The dictionary's key, for the row's `dict`.
    pub fn key(&self) -> i64 {
        self.key
    }

    /// `content` packed, if that makes it smaller.
    pub fn pack(&mut self, content: &[u8]) -> Option<Vec<u8>> {
        let frame = self.compressor.compress(content).ok()?;
        let packed = frame.strip_prefix(&MAGIC[..])?;
        (packed.len() < content.len()).then(|| packed.to_vec())
    }
}

/// Trains a dictionary on `samples`; `None` when they are too few or too alike to train on.
pub fn train(samples: &[Vec<u8>]) -> Option<Vec<u8>> {
    zstd::dict::from_samples(samples, DICTIONARY_SIZE).ok()
}

/// Unpacks content for SQL, with a decompressor per dictionary, each loaded on first use.
struct Unpackers {
    location: super::Location,
    by_key: HashMap<i64, Decompressor<'static>>,
}

impl Unpackers {
    fn unpack(&mut self, packed: &[u8], key: i64) -> Result<Vec<u8>, String> {
        if !self.by_key.contains_key(&key) {
            let dictionary = self.load(key)?;
            let decompressor = Decompressor::with_dictionary(&dictionary)
                .map_err(|e| format!("dictionary {key} does not load: {e}"))?;
            self.by_key.insert(key, decompressor);
        }
        let decompressor = self
            .by_key
            .get_mut(&key)
            .ok_or_else(|| format!("dictionary {key} is missing"))?;
        let frame = [&MAGIC[..], packed].concat();
        decompressor
            .decompress(&frame, MAX_CONTENT)
            .map_err(|e| format!("stored content does not unpack with dictionary {key}: {e}"))
    }

    /// A dictionary from the store, read on a connection of its own: this one may be inside a
    /// statement, and another process may have trained it.
    fn load(&self, key: i64) -> Result<Vec<u8>, String> {
        let conn = self.location.connect(true).map_err(|e| e.to_string())?;
        conn.query_row(
            "SELECT bytes FROM dictionaries WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("dictionary {key} is not in the store"))
    }
}

/// Registers `unpack(content, dict)` on `conn`, the store at `location`. A dictionary is read
/// when first needed, so one trained in a transaction is usable once that commits.
pub(crate) fn register(conn: &Connection, location: &super::Location) -> rusqlite::Result<()> {
    let unpackers = Mutex::new(Unpackers {
        location: location.clone(),
        by_key: HashMap::new(),
    });
    conn.create_scalar_function("unpack", 2, FunctionFlags::SQLITE_UTF8, move |ctx| {
        let content = ctx.get_raw(0).as_blob().map_err(|e| {
            rusqlite::Error::UserFunctionError(format!("stored content: {e}").into())
        })?;
        let Some(key) = ctx.get::<Option<i64>>(1)? else {
            return Ok(content.to_vec());
        };
        let mut unpackers = unpackers
            .lock()
            .map_err(|_| rusqlite::Error::UserFunctionError("unpack: poisoned".into()))?;
        unpackers
            .unpack(content, key)
            .map_err(|e| rusqlite::Error::UserFunctionError(e.into()))
    })
}

#[cfg(test)]
mod tests {
    use crate::identity::Identity;
    use crate::ingest::Ingester;
    use crate::message::{ContentKind, Message};
    use crate::private_box::Opener;
    use crate::store::Store;

    fn posts(
        author: &Identity,
        from: u64,
        to: u64,
        previous: &mut Option<crate::MessageId>,
    ) -> Vec<Message> {
        (from..=to)
            .map(|seq| {
                let text = format!(
                    "{{\"type\":\"post\",\"text\":\"market day {seq}: bring seeds and water\"}}"
                );
                let m = Message::create(
                    author,
                    seq,
                    *previous,
                    seq as i64,
                    ContentKind::Json,
                    text.into_bytes(),
                )
                .expect("message");
                *previous = Some(m.id);
                m
            })
            .collect()
    }

    fn ingest(store: &mut Store, reader: &Identity, messages: Vec<Message>) {
        let opener = Opener::of(reader);
        let mut ingester = Ingester::new(store, &opener, &crate::clock::SystemClock);
        for m in messages {
            ingester.push(m, "test").expect("push");
        }
        ingester.finish().expect("finish");
    }

    fn sizes(store: &Store) -> (i64, i64, i64) {
        store
            .conn
            .query_row(
                "SELECT (SELECT count(*) FROM dictionaries), count(dict), sum(length(content)) \
                 FROM messages",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("sizes")
    }

    /// Below the threshold nothing is packed; crossing it trains a dictionary and packs what is
    /// held; later messages are packed as they come; every reader, including a connection that
    /// was open before the dictionary existed, reads the same messages back.
    #[test]
    fn content_is_packed_once_a_dictionary_is_trained_and_reads_back_the_same() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("s.sqlite");
        let (reader, author) = (Identity::from_seed(&[1; 32]), Identity::from_seed(&[2; 32]));
        let mut store = Store::open(&path).expect("store");
        let other = Store::open(&path).expect("a second connection");
        let mut previous = None;
        let below = super::TRAIN_AT as u64 - 1;
        let mut all = posts(&author, 1, below, &mut previous);
        ingest(&mut store, &reader, all.clone());
        assert_eq!(
            sizes(&store).0,
            0,
            "no dictionary below {}",
            super::TRAIN_AT
        );

        let more = posts(&author, below + 1, below + 2, &mut previous);
        ingest(&mut store, &reader, more.clone());
        all.extend(more);
        let (dictionaries, packed, _) = sizes(&store);
        assert_eq!(
            (dictionaries, packed),
            (1, all.len() as i64),
            "what is held is packed"
        );
        let size: i64 = store
            .conn
            .query_row("SELECT length(bytes) FROM dictionaries", [], |r| r.get(0))
            .expect("dictionary");
        assert_eq!(size, 16 * 1024);

        let later = posts(&author, below + 3, below + 50, &mut previous);
        ingest(&mut store, &reader, later.clone());
        all.extend(later);
        let (_, packed, bytes) = sizes(&store);
        assert_eq!(
            packed,
            all.len() as i64,
            "new messages are packed as they come"
        );
        let raw: usize = all.iter().map(|m| m.content.len()).sum();
        assert!((bytes as usize) < raw / 2, "{bytes} packed bytes for {raw}");

        all.reverse();
        let n = all.len() as u64;
        assert_eq!(store.latest(&author.feed_id(), n).expect("latest"), all);
        assert_eq!(other.latest(&author.feed_id(), n).expect("other"), all);
        assert!(store.check(true).expect("check").is_consistent());

        // A changed byte in packed content is found by `check`, and refused by readers.
        store
            .conn
            .execute(
                "UPDATE messages SET content = CAST(substr(content, 1, 10) || x'00' || \
                 substr(content, 12) AS BLOB) WHERE seq = 5",
                [],
            )
            .expect("damage");
        let report = store.check(false).expect("check");
        assert!(
            report.problems.iter().any(|p| p.contains("message 5:")),
            "{:?}",
            report.problems
        );
        assert!(store.latest(&author.feed_id(), n).is_err());
    }

    /// Content that does not shrink is kept as it came.
    #[test]
    fn a_packer_keeps_only_what_is_smaller() {
        let samples: Vec<Vec<u8>> = (0..500u32)
            .map(|i| {
                format!("{{\"type\":\"post\",\"text\":\"note {i} about the harvest\"}}")
                    .into_bytes()
            })
            .collect();
        let dictionary = super::train(&samples).expect("trained");
        let mut packer = super::Packer::new(7, &dictionary).expect("packer");
        assert!(
            packer
                .pack(&samples[3])
                .is_some_and(|p| p.len() < samples[3].len())
        );
        assert_eq!(packer.pack(&[0x5a]), None);
        assert_eq!(packer.key(), 7);

        // Packed to exactly its own size, content is kept as it came: unpacking would buy nothing.
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let same = (0..4_000)
            .map(|i| {
                let sample = &samples[i % samples.len()];
                let mut content = sample[..(i / 7) % sample.len()].to_vec();
                content.extend((0..i % 13).map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    rng as u8
                }));
                content
            })
            .find(|c| packer.compressor.compress(c).expect("frame").len() - 4 == c.len())
            .expect("some content packs to its own size");
        assert_eq!(packer.pack(&same), None);
    }
}
