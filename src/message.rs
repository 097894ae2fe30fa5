//! The signed message envelope (bundle-format/messages.md).
//!
//! An envelope is exactly 182 bytes: 118 bytes of fields followed by an ed25519 signature over
//! `"grapevine-message"` and those 118 bytes. It signs the content's size and BLAKE3 hash rather
//! than the content, so content can later be pruned without breaking the chain. The message id is
//! the BLAKE3 hash of the 182 envelope bytes. We keep and forward the exact bytes we verified;
//! nothing is ever re-serialised before checking a signature.

use thiserror::Error;

use crate::bytes::ByteReader;
use crate::identity::Identity;
use crate::ids::{FeedId, MessageId};
use crate::signature::{self, SignatureError};

pub const VERSION: u8 = 1;
pub const UNSIGNED_LEN: usize = 118;
pub const ENVELOPE_LEN: usize = UNSIGNED_LEN + 64;
pub const MAX_CONTENT: usize = 8 * 1024;
const _: () = assert!(crate::private_box::MAX_BOX == MAX_CONTENT);
/// Largest sequence number: SQLite and JSON consumers hold it as a signed 64-bit integer.
pub const MAX_SEQUENCE: u64 = i64::MAX as u64;
const SIGNING_CONTEXT: &[u8] = b"grapevine-message";

/// How a message's content is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentKind {
    /// A UTF-8 JSON object with a string `type`.
    Json,
    /// A private box (bundle-format/private-box.md); carried by everyone, read by recipients.
    PrivateBox,
    /// A kind this version does not interpret: verified, stored and forwarded as opaque bytes.
    Other(u8),
}

impl ContentKind {
    pub fn code(self) -> u8 {
        match self {
            Self::Json => 1,
            Self::PrivateBox => 2,
            Self::Other(code) => code,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => None,
            1 => Some(Self::Json),
            2 => Some(Self::PrivateBox),
            other => Some(Self::Other(other)),
        }
    }
}

/// Why a message was refused. Malformed bytes, illegal fields and bad content are kept apart
/// so that a parser bug cannot pass for a signature failure.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageError {
    #[error("truncated: expected {expected} bytes but only {found} remain")]
    Truncated { expected: usize, found: usize },
    #[error(
        "unsupported message version {0} (this grapevine reads version {VERSION}); upgrade grapevine"
    )]
    UnsupportedVersion(u8),
    #[error("content kind 0 is invalid")]
    InvalidContentKind,
    #[error("sequence {0} is out of range (1 to 2^63-1)")]
    SequenceOutOfRange(u64),
    #[error("message 1 must not name a previous message")]
    FirstWithPrevious,
    #[error("message {0} must name the previous message")]
    MissingPrevious(u64),
    #[error("content of {0} bytes exceeds the {MAX_CONTENT}-byte limit")]
    ContentTooLarge(u32),
    #[error("content hash does not match the signed envelope")]
    ContentHashMismatch,
    #[error("content is not valid: {0}")]
    BadContent(String),
    #[error("author key is not a usable ed25519 public key (not a curve point, or of small order)")]
    BadAuthorKey,
    #[error("signature does not verify")]
    BadSignature,
}

/// The parsed fields of an envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: ContentKind,
    pub author: FeedId,
    pub sequence: u64,
    pub previous: Option<MessageId>,
    pub timestamp: i64,
    pub content_size: u32,
    pub content_hash: [u8; 32],
}

/// A message as it travels: the exact envelope bytes and the content they commit to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub envelope: [u8; ENVELOPE_LEN],
    pub content: Vec<u8>,
    pub id: MessageId,
}

impl Header {
    /// Parses the 118 unsigned bytes, checking every field on its own (not the signature).
    fn parse(bytes: &[u8; UNSIGNED_LEN]) -> Result<Self, MessageError> {
        let mut r = ByteReader::new(bytes);
        let truncated = MessageError::Truncated {
            expected: UNSIGNED_LEN,
            found: 0,
        };
        let version = r.u8().ok_or(truncated.clone())?;
        if version != VERSION {
            return Err(MessageError::UnsupportedVersion(version));
        }
        let kind = ContentKind::from_code(r.u8().ok_or(truncated.clone())?)
            .ok_or(MessageError::InvalidContentKind)?;
        let author = FeedId(r.array().ok_or(truncated.clone())?);
        let sequence = r.u64().ok_or(truncated.clone())?;
        let previous: [u8; 32] = r.array().ok_or(truncated.clone())?;
        let timestamp = r.i64().ok_or(truncated.clone())?;
        let content_size = r.u32().ok_or(truncated.clone())?;
        let content_hash = r.array().ok_or(truncated)?;
        if sequence == 0 || sequence > MAX_SEQUENCE {
            return Err(MessageError::SequenceOutOfRange(sequence));
        }
        let previous = match (sequence, previous == [0; 32]) {
            (1, true) => None,
            (1, false) => return Err(MessageError::FirstWithPrevious),
            (n, true) => return Err(MessageError::MissingPrevious(n)),
            (_, false) => Some(MessageId(previous)),
        };
        if content_size as usize > MAX_CONTENT {
            return Err(MessageError::ContentTooLarge(content_size));
        }
        Ok(Self {
            kind,
            author,
            sequence,
            previous,
            timestamp,
            content_size,
            content_hash,
        })
    }

    fn encode(&self) -> [u8; UNSIGNED_LEN] {
        let mut out = [0u8; UNSIGNED_LEN];
        let previous = self.previous.map(|p| p.0).unwrap_or([0; 32]);
        let fields: [&[u8]; 8] = [
            &[VERSION, self.kind.code()],
            &self.author.0,
            &self.sequence.to_be_bytes(),
            &previous,
            &self.timestamp.to_be_bytes(),
            &self.content_size.to_be_bytes(),
            &self.content_hash,
            &[],
        ];
        let mut at = 0;
        for field in fields {
            out[at..at + field.len()].copy_from_slice(field);
            at += field.len();
        }
        out
    }
}

impl Message {
    /// Signs a new message. The caller supplies sequence and previous from its own frontier.
    pub fn create(
        identity: &Identity,
        sequence: u64,
        previous: Option<MessageId>,
        timestamp: i64,
        kind: ContentKind,
        content: Vec<u8>,
    ) -> Result<Self, MessageError> {
        let content_size = u32::try_from(content.len())
            .ok()
            .filter(|&n| n as usize <= MAX_CONTENT)
            .ok_or(MessageError::ContentTooLarge(
                content.len().min(u32::MAX as usize) as u32,
            ))?;
        let header = Header {
            kind,
            author: identity.feed_id(),
            sequence,
            previous,
            timestamp,
            content_size,
            content_hash: *blake3::hash(&content).as_bytes(),
        };
        let unsigned = header.encode();
        // Re-parse our own fields so that we can never sign what a reader would refuse.
        Header::parse(&unsigned)?;
        check_content(kind, &content)?;
        let signature = identity.sign(&signing_input(&unsigned));
        let mut envelope = [0u8; ENVELOPE_LEN];
        envelope[..UNSIGNED_LEN].copy_from_slice(&unsigned);
        envelope[UNSIGNED_LEN..].copy_from_slice(&signature);
        Ok(Self {
            header,
            id: message_id(&envelope),
            envelope,
            content,
        })
    }

    /// Parses an envelope and its content, checking every field and the content, but not the
    /// signature (see [`Message::verify_signature`] and [`verify_all`], which batches).
    pub fn decode(envelope: &[u8], content: &[u8]) -> Result<Self, MessageError> {
        let envelope: [u8; ENVELOPE_LEN] =
            envelope.try_into().map_err(|_| MessageError::Truncated {
                expected: ENVELOPE_LEN,
                found: envelope.len(),
            })?;
        let mut unsigned = [0u8; UNSIGNED_LEN];
        unsigned.copy_from_slice(&envelope[..UNSIGNED_LEN]);
        let header = Header::parse(&unsigned)?;
        if content.len() != header.content_size as usize {
            return Err(MessageError::Truncated {
                expected: header.content_size as usize,
                found: content.len(),
            });
        }
        if blake3::hash(content).as_bytes() != &header.content_hash {
            return Err(MessageError::ContentHashMismatch);
        }
        check_content(header.kind, content)?;
        Ok(Self {
            header,
            id: message_id(&envelope),
            envelope,
            content: content.to_vec(),
        })
    }

    /// Reads one `envelope || content` record from a segment: framing, then [`Message::decode`].
    pub fn read_record(reader: &mut ByteReader<'_>) -> Result<Self, MessageError> {
        let (envelope, content) = split_record(reader)?;
        Self::decode(envelope, content)
    }

    /// Appends this message as an `envelope || content` record.
    pub fn write_record(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.envelope);
        out.extend_from_slice(&self.content);
    }

    pub fn record_len(&self) -> usize {
        ENVELOPE_LEN + self.content.len()
    }

    fn signature(&self) -> &[u8; 64] {
        self.envelope[UNSIGNED_LEN..].try_into().unwrap_or(&[0; 64])
    }

    fn signed_bytes(&self) -> Vec<u8> {
        let mut unsigned = [0u8; UNSIGNED_LEN];
        unsigned.copy_from_slice(&self.envelope[..UNSIGNED_LEN]);
        signing_input(&unsigned)
    }

    pub fn verify_signature(&self) -> Result<(), MessageError> {
        signature::verify(
            &self.header.author.0,
            &self.signed_bytes(),
            self.signature(),
        )
        .map_err(|e| match e {
            SignatureError::BadKey => MessageError::BadAuthorKey,
            SignatureError::Invalid => MessageError::BadSignature,
        })
    }

    /// The content as JSON, for JSON messages.
    pub fn json(&self) -> Option<serde_json::Value> {
        match self.header.kind {
            ContentKind::Json => serde_json::from_slice(&self.content).ok(),
            _ => None,
        }
    }
}

/// Takes the next record's envelope and content bytes without validating them. Only a framing
/// error (too few bytes, an impossible size) leaves the position of the next record unknown.
pub fn split_record<'a>(reader: &mut ByteReader<'a>) -> Result<(&'a [u8], &'a [u8]), MessageError> {
    let found = reader.remaining();
    let envelope = reader.take(ENVELOPE_LEN).ok_or(MessageError::Truncated {
        expected: ENVELOPE_LEN,
        found,
    })?;
    let size_at = UNSIGNED_LEN - 36;
    let size = u32::from_be_bytes([
        envelope[size_at],
        envelope[size_at + 1],
        envelope[size_at + 2],
        envelope[size_at + 3],
    ]);
    if size as usize > MAX_CONTENT {
        return Err(MessageError::ContentTooLarge(size));
    }
    let found = reader.remaining();
    let content = reader.take(size as usize).ok_or(MessageError::Truncated {
        expected: size as usize,
        found,
    })?;
    Ok((envelope, content))
}

/// The author and sequence an envelope claims, for error reports about messages that failed.
pub fn claimed_position(envelope: &[u8]) -> Option<(FeedId, u64)> {
    let author = FeedId::from_slice(envelope.get(2..34)?)?;
    let sequence = u64::from_be_bytes(envelope.get(34..42)?.try_into().ok()?);
    Some((author, sequence))
}

fn signing_input(unsigned: &[u8; UNSIGNED_LEN]) -> Vec<u8> {
    let mut input = Vec::with_capacity(SIGNING_CONTEXT.len() + UNSIGNED_LEN);
    input.extend_from_slice(SIGNING_CONTEXT);
    input.extend_from_slice(unsigned);
    input
}

pub fn message_id(envelope: &[u8; ENVELOPE_LEN]) -> MessageId {
    MessageId(*blake3::hash(envelope).as_bytes())
}

/// Checks content against its kind: JSON content must be an object with a non-empty string
/// `type` of at most 64 bytes; private boxes must be well laid out; other kinds are opaque.
pub fn check_content(kind: ContentKind, content: &[u8]) -> Result<(), MessageError> {
    if content.len() > MAX_CONTENT {
        return Err(MessageError::ContentTooLarge(content.len() as u32));
    }
    match kind {
        ContentKind::Json => {}
        ContentKind::PrivateBox => {
            return crate::private_box::check_structure(content)
                .map_err(|e| MessageError::BadContent(e.to_string()));
        }
        ContentKind::Other(_) => return Ok(()),
    }
    let value: serde_json::Value = serde_json::from_slice(content)
        .map_err(|e| MessageError::BadContent(format!("not JSON ({e})")))?;
    let object = value
        .as_object()
        .ok_or_else(|| MessageError::BadContent("not a JSON object".into()))?;
    match object.get("type").and_then(|t| t.as_str()) {
        Some(t) if !t.is_empty() && t.len() <= 64 => Ok(()),
        _ => Err(MessageError::BadContent(
            "no string `type` of 1 to 64 bytes".into(),
        )),
    }
}

/// Verifies the signatures of many messages, returning one result per message.
///
/// Batches of valid signatures are checked together (about 2.5 times faster), spread over the
/// available cores; if a batch fails, its messages are checked one by one so that one forgery
/// costs no honest message.
pub fn verify_all(messages: &[&Message]) -> Vec<Result<(), MessageError>> {
    const CHUNK: usize = 256;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = messages.len().div_ceil(threads).div_ceil(CHUNK).max(1) * CHUNK;
    let verify = |part: &[&Message]| -> Vec<Result<(), MessageError>> {
        let mut results = Vec::with_capacity(part.len());
        for chunk in part.chunks(CHUNK) {
            if verify_batch(chunk) {
                results.extend(chunk.iter().map(|_| Ok(())));
            } else {
                results.extend(chunk.iter().map(|m| m.verify_signature()));
            }
        }
        results
    };
    if messages.len() <= CHUNK || threads == 1 {
        return verify(messages);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = messages
            .chunks(per_thread)
            .map(|part| scope.spawn(move || verify(part)))
            .collect();
        handles
            .into_iter()
            .zip(messages.chunks(per_thread))
            .flat_map(|(handle, part)| {
                // A panicking verifier thread is a bug; treat its messages as unverified.
                handle.join().unwrap_or_else(|_| {
                    part.iter()
                        .map(|_| Err(MessageError::BadSignature))
                        .collect()
                })
            })
            .collect()
    })
}

fn verify_batch(chunk: &[&Message]) -> bool {
    let inputs: Vec<Vec<u8>> = chunk.iter().map(|m| m.signed_bytes()).collect();
    signature::verify_batch(
        chunk
            .iter()
            .zip(&inputs)
            .map(|(m, input)| (&m.header.author.0, input.as_slice(), m.signature())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(identity: &Identity, seq: u64, previous: Option<MessageId>) -> Message {
        let content = format!(r#"{{"type":"post","text":"number {seq}"}}"#).into_bytes();
        Message::create(
            identity,
            seq,
            previous,
            1_700_000_000_000,
            ContentKind::Json,
            content,
        )
        .unwrap()
    }

    /// Every limit holds at its edge: the largest content and sequence are accepted, one more
    /// is refused with the error that names it.
    #[test]
    fn limits_hold_at_their_edges() {
        let alice = Identity::from_seed(&[1; 32]);
        let make = |sequence: u64, size: usize| {
            let previous = (sequence > 1).then_some(MessageId([7; 32]));
            Message::create(
                &alice,
                sequence,
                previous,
                0,
                ContentKind::Other(9),
                vec![0; size],
            )
        };
        assert_eq!(
            MAX_CONTENT, 8192,
            "the limit bundle-format/messages.md states"
        );
        let largest = make(2, MAX_CONTENT).unwrap();
        assert!(Message::decode(&largest.envelope, &largest.content).is_ok());
        assert_eq!(
            make(2, MAX_CONTENT + 1).unwrap_err(),
            MessageError::ContentTooLarge(MAX_CONTENT as u32 + 1)
        );
        let last = make(MAX_SEQUENCE, 1).unwrap();
        assert!(Message::decode(&last.envelope, &last.content).is_ok());
        let header = |sequence: u64, size: u32| {
            let mut unsigned = [0u8; UNSIGNED_LEN];
            unsigned.copy_from_slice(&last.envelope[..UNSIGNED_LEN]);
            unsigned[34..42].copy_from_slice(&sequence.to_be_bytes());
            unsigned[82..86].copy_from_slice(&size.to_be_bytes());
            Header::parse(&unsigned)
        };
        assert!(header(MAX_SEQUENCE, MAX_CONTENT as u32).is_ok());
        for sequence in [0, MAX_SEQUENCE + 1, u64::MAX] {
            assert_eq!(
                header(sequence, 1).unwrap_err(),
                MessageError::SequenceOutOfRange(sequence)
            );
        }
        assert_eq!(
            header(2, MAX_CONTENT as u32 + 1).unwrap_err(),
            MessageError::ContentTooLarge(MAX_CONTENT as u32 + 1)
        );
        // Records: the size field is read whole, and checked before the content is taken.
        let mut record = Vec::new();
        largest.write_record(&mut record);
        assert_eq!(
            Message::read_record(&mut ByteReader::new(&record)).unwrap(),
            largest
        );
        for size in [MAX_CONTENT as u32 + 1, 0x0001_2000, 0x0100_0000, u32::MAX] {
            let mut claims = record.clone();
            claims[82..86].copy_from_slice(&size.to_be_bytes());
            claims.resize(ENVELOPE_LEN + MAX_CONTENT + 1, 0);
            assert_eq!(
                split_record(&mut ByteReader::new(&claims)).unwrap_err(),
                MessageError::ContentTooLarge(size)
            );
        }
        for kind in [
            ContentKind::Json,
            ContentKind::PrivateBox,
            ContentKind::Other(9),
        ] {
            assert_eq!(
                check_content(kind, &vec![0; MAX_CONTENT + 1]).unwrap_err(),
                MessageError::ContentTooLarge(MAX_CONTENT as u32 + 1)
            );
        }
        assert_eq!(
            check_content(ContentKind::Other(9), &vec![0; MAX_CONTENT]),
            Ok(())
        );
    }

    #[test]
    fn round_trips_through_a_record() {
        let id = Identity::from_seed(&[3; 32]);
        let first = post(&id, 1, None);
        let second = post(&id, 2, Some(first.id));
        let mut bytes = Vec::new();
        first.write_record(&mut bytes);
        assert_eq!(first.record_len(), bytes.len());
        assert_eq!(first.record_len(), ENVELOPE_LEN + first.content.len());
        second.write_record(&mut bytes);
        let mut r = ByteReader::new(&bytes);
        assert_eq!(Message::read_record(&mut r).unwrap(), first);
        assert_eq!(Message::read_record(&mut r).unwrap(), second);
        assert!(r.is_empty());
        assert_eq!(verify_all(&[&first, &second]), vec![Ok(()), Ok(())]);
    }

    #[test]
    fn a_flipped_bit_anywhere_is_caught() {
        let id = Identity::from_seed(&[3; 32]);
        let m = post(&id, 1, None);
        let mut record = Vec::new();
        m.write_record(&mut record);
        for byte in 0..record.len() {
            let mut damaged = record.clone();
            damaged[byte] ^= 0x10;
            let parsed = Message::read_record(&mut ByteReader::new(&damaged))
                .and_then(|m| m.verify_signature().map(|_| m));
            assert!(parsed.is_err(), "flip at byte {byte} went unnoticed");
        }
    }

    #[test]
    fn batch_with_one_forgery_rejects_only_the_forgery() {
        let id = Identity::from_seed(&[4; 32]);
        let good = post(&id, 1, None);
        let mut forged = post(&id, 2, Some(good.id));
        forged.envelope[UNSIGNED_LEN + 5] ^= 1;
        let results = verify_all(&[&good, &forged, &good]);
        assert_eq!(
            results,
            vec![Ok(()), Err(MessageError::BadSignature), Ok(())]
        );
    }

    #[test]
    fn content_rules() {
        assert!(check_content(ContentKind::Json, br#"{"type":"post"}"#).is_ok());
        assert!(check_content(ContentKind::Json, br#"{"text":"x"}"#).is_err());
        assert!(check_content(ContentKind::Json, br#"[1]"#).is_err());
        assert!(check_content(ContentKind::Json, b"\xff").is_err());
        assert!(check_content(ContentKind::Other(9), b"\xff").is_ok());
        let id = Identity::from_seed(&[5; 32]);
        let big = vec![b' '; MAX_CONTENT + 1];
        assert!(matches!(
            Message::create(&id, 1, None, 0, ContentKind::Other(9), big),
            Err(MessageError::ContentTooLarge(_))
        ));
    }
}
