//! How a linked message is kept: its envelope without what its row and its chain already say.
//!
//! Of an envelope's 182 bytes (bundle-format/messages.md), the author is the row's feed, the
//! sequence is the row's, the previous id is the id of the row before it in the same feed (a
//! linked chain has no gaps), and the content size and hash follow from the row's content. A row
//! keeps the other 74 bytes: version, kind, timestamp and signature. The message id stays in its
//! own indexed column, and a rebuilt envelope is checked against it when read.

use super::{Result, StoreError};
use crate::ids::{FeedId, MessageId};
use crate::message::{ENVELOPE_LEN, UNSIGNED_LEN};

/// Bytes of an envelope a row keeps.
pub const LEAN_LEN: usize = 2 + 8 + 64;

// Field offsets in an envelope (messages.md): version and kind, author, sequence, previous,
// timestamp, content size, content hash, then the signature.
const AUTHOR: usize = 2;
const SEQUENCE: usize = 34;
const PREVIOUS: usize = 42;
const TIMESTAMP: usize = 74;
const SIZE: usize = 82;
const HASH: usize = 86;

/// The bytes of `envelope` that a row keeps.
pub fn strip(envelope: &[u8; ENVELOPE_LEN]) -> [u8; LEAN_LEN] {
    let mut out = [0u8; LEAN_LEN];
    out[..2].copy_from_slice(&envelope[..AUTHOR]);
    out[2..10].copy_from_slice(&envelope[TIMESTAMP..SIZE]);
    out[10..].copy_from_slice(&envelope[UNSIGNED_LEN..]);
    out
}

/// The envelope a row stands for, from the row (`lean`, `sequence`, `content`), its feed's
/// author and the id of the message before it (`None` for message 1).
pub fn rebuild(
    lean: &[u8],
    author: &FeedId,
    sequence: u64,
    previous: Option<&MessageId>,
    content: &[u8],
) -> Result<[u8; ENVELOPE_LEN]> {
    let lean: &[u8; LEAN_LEN] = lean
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("a stored envelope of {} bytes", lean.len())))?;
    let size = u32::try_from(content.len())
        .map_err(|_| StoreError::Corrupt(format!("content of {} bytes", content.len())))?;
    let mut out = [0u8; ENVELOPE_LEN];
    out[..AUTHOR].copy_from_slice(&lean[..2]);
    out[AUTHOR..SEQUENCE].copy_from_slice(author.as_bytes());
    out[SEQUENCE..PREVIOUS].copy_from_slice(&sequence.to_be_bytes());
    if let Some(previous) = previous {
        out[PREVIOUS..TIMESTAMP].copy_from_slice(previous.as_bytes());
    }
    out[TIMESTAMP..SIZE].copy_from_slice(&lean[2..10]);
    out[SIZE..HASH].copy_from_slice(&size.to_be_bytes());
    out[HASH..UNSIGNED_LEN].copy_from_slice(blake3::hash(content).as_bytes());
    out[UNSIGNED_LEN..].copy_from_slice(&lean[10..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use crate::message::{ContentKind, Message};

    #[test]
    fn an_envelope_is_rebuilt_byte_for_byte_from_its_row_and_chain() {
        let author = Identity::from_seed(&[3; 32]);
        let first = Message::create(
            &author,
            1,
            None,
            -5,
            ContentKind::Json,
            b"{\"type\":\"a\"}".to_vec(),
        )
        .expect("first");
        let second = Message::create(
            &author,
            2,
            Some(first.id),
            i64::MAX,
            ContentKind::Other(7),
            vec![0xff; 300],
        )
        .expect("second");
        for (m, previous) in [(&first, None), (&second, Some(&first.id))] {
            let lean = strip(&m.envelope);
            let back = rebuild(
                &lean,
                &author.feed_id(),
                m.header.sequence,
                previous,
                &m.content,
            )
            .expect("rebuild");
            assert_eq!(back, m.envelope);
        }
        assert!(matches!(
            rebuild(&[0; 73], &author.feed_id(), 1, None, b""),
            Err(StoreError::Corrupt(_))
        ));
    }
}
