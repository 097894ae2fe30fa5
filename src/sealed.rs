//! Sealed bundles (bundle-format/sealed-bundle.md): a whole bundle encrypted to named peers,
//! so a lost or seized stick shows only the file's size.
//!
//! The file is a private-box key header (the file key sealed to each recipient) followed by the
//! plain bundle in 64 KiB chunks, each sealed with ChaCha20-Poly1305 under a payload key, its
//! nonce a chunk counter and a last-chunk flag (the STREAM construction), so truncation,
//! reordering and tampering are caught while memory stays bounded.

use std::io::{self, BufRead, BufReader, Read, Write};

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use zeroize::Zeroizing;

use crate::ids::FeedId;
use crate::private_box::{self, BoxError, Opener, Randomness};

pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
const PAYLOAD_CONTEXT: &str = "grapevine sealed-bundle v1 payload";

fn payload_cipher(file_key: &[u8; 32], header: &[u8]) -> ChaCha20Poly1305 {
    let mut hasher = blake3::Hasher::new_derive_key(PAYLOAD_CONTEXT);
    hasher.update(file_key);
    hasher.update(header);
    let key = Zeroizing::new(*hasher.finalize().as_bytes());
    ChaCha20Poly1305::new(&(*key).into())
}

fn nonce(counter: u64, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::from(n)
}

/// Encrypts everything written to it; `finish` seals the last chunk.
pub struct SealWriter<W: Write> {
    out: W,
    cipher: ChaCha20Poly1305,
    buffer: Zeroizing<Vec<u8>>,
    counter: u64,
}

impl<W: Write> SealWriter<W> {
    pub fn new(out: W, recipients: &[FeedId]) -> Result<Self, BoxError> {
        Self::with_randomness(out, recipients, &Randomness::fresh()?)
    }

    /// With given randomness (`body_key` is the file key): for test vectors only.
    pub fn with_randomness(
        mut out: W,
        recipients: &[FeedId],
        random: &Randomness,
    ) -> Result<Self, BoxError> {
        let header = private_box::seal_key_header(recipients, &random.body_key, random)?;
        out.write_all(&header)
            .map_err(|e| BoxError::Malformed(e.to_string()))?;
        Ok(Self {
            out,
            cipher: payload_cipher(&random.body_key, &header),
            buffer: Zeroizing::new(Vec::with_capacity(CHUNK)),
            counter: 0,
        })
    }

    fn seal_chunk(&mut self, last: bool) -> io::Result<()> {
        let sealed = self
            .cipher
            .encrypt(&nonce(self.counter, last), self.buffer.as_slice())
            .map_err(|_| io::Error::other("chunk encryption failed"))?;
        self.out.write_all(&sealed)?;
        self.buffer.clear();
        self.counter += 1;
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.seal_chunk(true)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // A full chunk is sealed only when more data arrives, so that `finish` always has a
        // last chunk to flag (empty only if the whole payload is).
        if self.buffer.len() == CHUNK && !data.is_empty() {
            self.seal_chunk(false)?;
        }
        let n = (CHUNK - self.buffer.len()).min(data.len());
        self.buffer.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// What opening a sealed bundle found.
pub enum Unsealed {
    /// Addressed to others: we learn nothing more.
    NotForUs,
    /// Decrypted completely into `out`.
    Opened,
}

#[derive(Debug, thiserror::Error)]
pub enum UnsealError {
    #[error("not a grapevine bundle (neither a zstd archive nor a sealed bundle)")]
    NotABundle,
    #[error(
        "the sealed bundle is incomplete or was altered after byte {0} (cut short, or tampered \
         with). If it is still being copied, import it again when the copy has finished; \
         otherwise ask for a new bundle"
    )]
    Damaged(u64),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Opens a sealed bundle from `input` into `out` if it is for us.
pub fn unseal(
    input: impl Read,
    opener: &Opener,
    out: &mut impl Write,
) -> Result<Unsealed, UnsealError> {
    let mut input = BufReader::with_capacity(CHUNK + TAG, input);
    // Header: 2 bytes, then ephemeral key and slots whose count the second byte gives.
    let mut head = [0u8; 2];
    input
        .read_exact(&mut head)
        .map_err(|_| UnsealError::NotABundle)?;
    let slots = head[1] as usize;
    if head[0] != private_box::VERSION || ![4, 8, 16].contains(&slots) {
        return Err(UnsealError::NotABundle);
    }
    let mut header = head.to_vec();
    header.resize(2 + 32 + slots * private_box::SLOT_LEN, 0);
    // It begins as a sealed bundle does: one that ends early was cut short.
    input
        .read_exact(&mut header[2..])
        .map_err(|_| UnsealError::Damaged(2))?;
    let parsed = private_box::parse_key_header(&header).map_err(|_| UnsealError::NotABundle)?;
    let Some(file_key) = opener.open_slots(&parsed.ephemeral, parsed.slots) else {
        return Ok(Unsealed::NotForUs);
    };
    let cipher = payload_cipher(&file_key, &header);
    let mut offset = header.len() as u64;
    let mut chunk = vec![0u8; CHUNK + TAG];
    for counter in 0u64.. {
        let n = read_up_to(&mut input, &mut chunk)?;
        // The last chunk is the one nothing follows (sealed-bundle.md); a short read is one.
        let last = input.fill_buf()?.is_empty();
        let plain = Zeroizing::new(
            cipher
                .decrypt(&nonce(counter, last), &chunk[..n])
                .map_err(|_| UnsealError::Damaged(offset))?,
        );
        out.write_all(&plain)?;
        offset += n as u64;
        if last {
            break;
        }
    }
    Ok(Unsealed::Opened)
}

fn read_up_to(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn sealed(len: usize, to: &[FeedId]) -> (Vec<u8>, Vec<u8>) {
        let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut w = SealWriter::new(Vec::new(), to).unwrap();
        for piece in plain.chunks(1000) {
            w.write_all(piece).unwrap();
        }
        (plain, w.finish().unwrap())
    }

    #[test]
    fn round_trips_at_chunk_boundaries_and_refuses_others() {
        let bob = Identity::from_seed(&[2; 32]);
        let eve = Identity::from_seed(&[3; 32]);
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK] {
            let (plain, file) = sealed(len, &[bob.feed_id()]);
            let mut out = Vec::new();
            assert!(matches!(
                unseal(&file[..], &Opener::of(&bob), &mut out),
                Ok(Unsealed::Opened)
            ));
            assert_eq!(out, plain, "length {len}");
            let mut nothing = Vec::new();
            assert!(matches!(
                unseal(&file[..], &Opener::of(&eve), &mut nothing),
                Ok(Unsealed::NotForUs)
            ));
            assert!(nothing.is_empty());
        }
    }

    /// Two sealings of the same bundle to the same peer share no bytes past the version: fresh
    /// ephemeral key, slots, filler and file key each time.
    #[test]
    fn every_sealing_is_fresh() {
        let bob = Identity::from_seed(&[2; 32]);
        let (_, one) = sealed(3000, &[bob.feed_id()]);
        let (_, two) = sealed(3000, &[bob.feed_id()]);
        assert_eq!(one.len(), two.len());
        let same = one[2..]
            .iter()
            .zip(&two[2..])
            .filter(|(a, b)| a == b)
            .count();
        // Chance agreement is about 1 byte in 256.
        assert!(same < one.len() / 64, "{same} of {} bytes alike", one.len());
    }

    #[test]
    fn truncation_and_tampering_are_caught() {
        let bob = Identity::from_seed(&[2; 32]);
        let (_, file) = sealed(2 * CHUNK + 10, &[bob.feed_id()]);
        let header = 2 + 32 + 4 * private_box::SLOT_LEN;
        for cut in [
            file.len() - 1,
            header + CHUNK + TAG,
            header + 5,
            header - 1,
            3,
        ] {
            let result = unseal(&file[..cut], &Opener::of(&bob), &mut Vec::new());
            assert!(
                matches!(result, Err(UnsealError::Damaged(_))),
                "cut at {cut}"
            );
        }
        let mut flipped = file.clone();
        flipped[header + 100] ^= 1;
        assert!(matches!(
            unseal(&flipped[..], &Opener::of(&bob), &mut Vec::new()),
            Err(UnsealError::Damaged(_))
        ));
        // The report says where: the start of the chunk that failed, here the second.
        let mut second = file.clone();
        second[header + CHUNK + TAG + 7] ^= 1;
        let mut salvaged = Vec::new();
        match unseal(&second[..], &Opener::of(&bob), &mut salvaged) {
            Err(UnsealError::Damaged(at)) => assert_eq!(at, (header + CHUNK + TAG) as u64),
            _ => panic!("a damaged second chunk is reported"),
        }
        assert_eq!(salvaged.len(), CHUNK, "the first chunk is salvaged");
    }

    #[test]
    fn only_version_1_with_4_8_or_16_slots_is_a_sealed_bundle() {
        let bob = Identity::from_seed(&[2; 32]);
        let (_, file) = sealed(10, &[bob.feed_id()]);
        for (version, slots) in [(2u8, 4u8), (0, 8), (1, 5), (1, 0), (1, 32)] {
            let mut other = file.clone();
            other[0] = version;
            other[1] = slots;
            assert!(
                matches!(
                    unseal(&other[..], &Opener::of(&bob), &mut Vec::new()),
                    Err(UnsealError::NotABundle)
                ),
                "version {version}, {slots} slots"
            );
        }
    }
}
