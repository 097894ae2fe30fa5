//! Private boxes (bundle-format/private-box.md): content that only its recipients can read,
//! and that does not say who they are.
//!
//! A box holds a fresh X25519 public key, one sealed slot per recipient holding the body key,
//! random filler slots up to 4, 8 or 16, and the body sealed under the body key. A recipient
//! derives its slot key from one Diffie-Hellman with the ephemeral key and tries the slots.
//! The body's associated data is the author's feed id, so a box re-posted in another feed does
//! not open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use ed25519_dalek::VerifyingKey;
use thiserror::Error;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::identity::Identity;
use crate::ids::FeedId;

/// The largest box: a box is a message's content, so it fits in one (the message module holds
/// it to `message::MAX_CONTENT`). Defined here so that boxes do not depend on messages.
pub const MAX_BOX: usize = 8 * 1024;

pub const VERSION: u8 = 1;
pub const MAX_RECIPIENTS: usize = 16;
pub const SLOT_LEN: usize = 32 + 16;
/// Bodies are padded to a multiple of this many bytes.
pub const PAD: usize = 256;
const TAG_LEN: usize = 16;
const SLOT_KEY_CONTEXT: &str = "grapevine private-box v1 slot key";
const BODY_AAD_PREFIX: &[u8] = b"grapevine-box-v1";

#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BoxError {
    #[error("a private message needs 1 to {MAX_RECIPIENTS} recipients (you included), got {0}")]
    RecipientCount(usize),
    #[error("{0} is not a valid ed25519 public key, so it cannot receive private messages")]
    BadRecipient(FeedId),
    #[error(
        "the text is too long for a private message: the box would be {0} bytes, at most {MAX_BOX} fit"
    )]
    TooLarge(usize),
    #[error("malformed private box: {0}")]
    Malformed(String),
    #[error(
        "the private box opened for us but its body fails authentication (tampered, or re-posted by another author)"
    )]
    BodyAuthentication,
    #[error("the private box's padding is invalid")]
    BadPadding,
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}

/// The random choices of one box; fixed only in test vectors.
pub struct Randomness {
    pub ephemeral: Zeroizing<[u8; 32]>,
    pub body_key: Zeroizing<[u8; 32]>,
    pub filler: Vec<u8>,
}

impl Randomness {
    /// Drawn from the operating system's generator.
    pub fn fresh() -> Result<Self, BoxError> {
        Self::drawn(&crate::entropy::OsEntropy)
    }

    /// Drawn from `entropy`.
    pub fn drawn(entropy: &dyn crate::entropy::Entropy) -> Result<Self, BoxError> {
        let mut r = Self {
            ephemeral: Zeroizing::new([0; 32]),
            body_key: Zeroizing::new([0; 32]),
            filler: vec![0; MAX_RECIPIENTS * SLOT_LEN],
        };
        for buf in [&mut r.ephemeral[..], &mut r.body_key[..], &mut r.filler[..]] {
            entropy.fill(buf).map_err(BoxError::Random)?;
        }
        Ok(r)
    }
}

/// The X25519 key that receives a feed's private messages: the standard Edwards-to-Montgomery
/// conversion of its ed25519 key.
pub fn recipient_key(feed: &FeedId) -> Option<PublicKey> {
    let key = VerifyingKey::from_bytes(feed.as_bytes()).ok()?;
    if key.is_weak() {
        return None;
    }
    Some(PublicKey::from(key.to_montgomery().to_bytes()))
}

/// A node's own key for opening boxes.
pub struct Opener {
    secret: StaticSecret,
    public: PublicKey,
}

impl Opener {
    /// The opener of the boxes sent to `identity`.
    pub fn of(identity: &Identity) -> Self {
        Self::new(identity.x25519_secret())
    }

    /// From the ed25519 key's scalar bytes (the standard conversion; X25519 clamps them).
    pub fn new(scalar_bytes: Zeroizing<[u8; 32]>) -> Self {
        let secret = StaticSecret::from(*scalar_bytes);
        let public = PublicKey::from(&secret);
        Self { secret, public }
    }

    /// `Ok(None)` if the box is not for us; the plaintext if it is; an error if it is for us
    /// but does not open cleanly.
    pub fn open(
        &self,
        author: &FeedId,
        sealed: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>, BoxError> {
        let layout = Layout::parse(sealed)?;
        let Some(body_key) = self.open_slots(&layout.ephemeral, layout.slots) else {
            return Ok(None);
        };
        let body_cipher = aead_for(&body_key[..]).map_err(|_| BoxError::BodyAuthentication)?;
        let padded = Zeroizing::new(
            body_cipher
                .decrypt(
                    &Nonce::default(),
                    Payload {
                        msg: layout.body,
                        aad: &body_aad(author),
                    },
                )
                .map_err(|_| BoxError::BodyAuthentication)?,
        );
        unpad(&padded).map(Some)
    }

    /// The 32-byte key sealed in one of `slots` for us, if any: one Diffie-Hellman, then a
    /// trial open per slot.
    pub(crate) fn open_slots(
        &self,
        ephemeral: &[u8; 32],
        slots: &[u8],
    ) -> Option<Zeroizing<[u8; 32]>> {
        let shared = self.secret.diffie_hellman(&PublicKey::from(*ephemeral));
        if !shared.was_contributory() {
            return None;
        }
        let key = slot_key(shared.as_bytes(), ephemeral, self.public.as_bytes());
        let cipher = aead_for(&key[..]).ok()?;
        slots.chunks(SLOT_LEN).enumerate().find_map(|(i, slot)| {
            let opened = Zeroizing::new(cipher.decrypt(&slot_nonce(i), slot).ok()?);
            let key: [u8; 32] = opened.as_slice().try_into().ok()?;
            Some(Zeroizing::new(key))
        })
    }
}

/// `version ‖ slot count ‖ ephemeral key ‖ slots`: `key` sealed to each recipient, random
/// filler slots up to 4, 8 or 16. Shared by private boxes and sealed bundles.
pub(crate) fn seal_key_header(
    recipients: &[FeedId],
    key: &[u8; 32],
    random: &Randomness,
) -> Result<Vec<u8>, BoxError> {
    let mut unique: Vec<FeedId> = Vec::new();
    for r in recipients {
        if !unique.contains(r) {
            unique.push(*r);
        }
    }
    if unique.is_empty() || unique.len() > MAX_RECIPIENTS {
        return Err(BoxError::RecipientCount(unique.len()));
    }
    let slots = slot_count(unique.len());
    let ephemeral = StaticSecret::from(*random.ephemeral);
    let ephemeral_public = PublicKey::from(&ephemeral);
    let mut out = Vec::new();
    out.extend_from_slice(&[VERSION, slots as u8]);
    out.extend_from_slice(ephemeral_public.as_bytes());
    for (i, recipient) in unique.iter().enumerate() {
        let public = recipient_key(recipient).ok_or(BoxError::BadRecipient(*recipient))?;
        let shared = ephemeral.diffie_hellman(&public);
        let slot_key = slot_key(
            shared.as_bytes(),
            ephemeral_public.as_bytes(),
            public.as_bytes(),
        );
        let slot = aead_for(&slot_key[..])?
            .encrypt(&slot_nonce(i), &key[..])
            .map_err(|_| BoxError::Malformed("slot encryption failed".into()))?;
        out.extend_from_slice(&slot);
    }
    out.extend_from_slice(&random.filler[..(slots - unique.len()) * SLOT_LEN]);
    Ok(out)
}

/// A parsed key header and the bytes after it.
pub(crate) struct KeyHeader<'a> {
    pub ephemeral: [u8; 32],
    pub slots: &'a [u8],
    pub rest: &'a [u8],
}

/// Parses a key header at the start of `bytes`.
pub(crate) fn parse_key_header(bytes: &[u8]) -> Result<KeyHeader<'_>, BoxError> {
    let bad = |why: &str| BoxError::Malformed(why.to_owned());
    let mut r = crate::bytes::ByteReader::new(bytes);
    let version = r.u8().ok_or_else(|| bad("empty"))?;
    if version != VERSION {
        return Err(bad(&format!("version {version}, expected {VERSION}")));
    }
    let slots = r.u8().ok_or_else(|| bad("no slot count"))? as usize;
    if ![4, 8, 16].contains(&slots) {
        return Err(bad(&format!("{slots} slots; a box has 4, 8 or 16")));
    }
    let ephemeral = r.array().ok_or_else(|| bad("no ephemeral key"))?;
    let slots = r
        .take(slots * SLOT_LEN)
        .ok_or_else(|| bad("slots cut short"))?;
    let rest = r.take(r.remaining()).unwrap_or_default();
    Ok(KeyHeader {
        ephemeral,
        slots,
        rest,
    })
}

/// Seals `plaintext` from `author` to `recipients` (the author should be one of them).
pub fn seal(
    author: &FeedId,
    recipients: &[FeedId],
    plaintext: &[u8],
    random: &Randomness,
) -> Result<Vec<u8>, BoxError> {
    let mut out = seal_key_header(recipients, &random.body_key, random)?;
    let padded = pad(plaintext);
    let size = out.len() + padded.len() + TAG_LEN;
    if size > MAX_BOX {
        return Err(BoxError::TooLarge(size));
    }
    // The body key seals exactly one message, so a fixed nonce never repeats under it.
    let body = aead_for(&random.body_key[..])?
        .encrypt(
            &Nonce::default(),
            Payload {
                msg: &padded,
                aad: &body_aad(author),
            },
        )
        .map_err(|_| BoxError::Malformed("body encryption failed".into()))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Checks a box's layout without any key: what every carrier checks.
pub fn check_structure(sealed: &[u8]) -> Result<(), BoxError> {
    Layout::parse(sealed).map(|_| ())
}

/// How many slots a box for `recipients` has: 4, 8 or 16, so a box reveals only that bound.
pub fn slot_count(recipients: usize) -> usize {
    match recipients {
        0..=4 => 4,
        5..=8 => 8,
        _ => 16,
    }
}

struct Layout<'a> {
    ephemeral: [u8; 32],
    slots: &'a [u8],
    body: &'a [u8],
}

impl<'a> Layout<'a> {
    fn parse(sealed: &'a [u8]) -> Result<Self, BoxError> {
        let KeyHeader {
            ephemeral,
            slots,
            rest: body,
        } = parse_key_header(sealed)?;
        if body.len() < PAD + TAG_LEN || !(body.len() - TAG_LEN).is_multiple_of(PAD) {
            return Err(BoxError::Malformed(format!(
                "a body of {} bytes is not padded to {PAD}",
                body.len()
            )));
        }
        Ok(Self {
            ephemeral,
            slots,
            body,
        })
    }
}

fn slot_key(shared: &[u8; 32], ephemeral: &[u8; 32], recipient: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let mut hasher = blake3::Hasher::new_derive_key(SLOT_KEY_CONTEXT);
    hasher.update(shared);
    hasher.update(ephemeral);
    hasher.update(recipient);
    Zeroizing::new(*hasher.finalize().as_bytes())
}

fn aead_for(key: &[u8]) -> Result<ChaCha20Poly1305, BoxError> {
    ChaCha20Poly1305::new_from_slice(key)
        .map_err(|_| BoxError::Malformed("a key of the wrong length".into()))
}

fn slot_nonce(index: usize) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[11] = index as u8;
    Nonce::from(nonce)
}

fn body_aad(author: &FeedId) -> Vec<u8> {
    let mut aad = BODY_AAD_PREFIX.to_vec();
    aad.extend_from_slice(author.as_bytes());
    aad
}

/// `u16 length ‖ plaintext ‖ zeros`, to a multiple of [`PAD`] bytes.
fn pad(plaintext: &[u8]) -> Zeroizing<Vec<u8>> {
    let len = (2 + plaintext.len()).div_ceil(PAD) * PAD;
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    out.extend_from_slice(&(plaintext.len().min(u16::MAX as usize) as u16).to_be_bytes());
    out.extend_from_slice(plaintext);
    out.resize(len, 0);
    out
}

fn unpad(padded: &[u8]) -> Result<Zeroizing<Vec<u8>>, BoxError> {
    let len = u16::from_be_bytes([padded[0], padded[1]]) as usize;
    let text = padded.get(2..2 + len).ok_or(BoxError::BadPadding)?;
    if padded[2 + len..].iter().any(|&b| b != 0) {
        return Err(BoxError::BadPadding);
    }
    Ok(Zeroizing::new(text.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opener(identity: &Identity) -> Opener {
        Opener::of(identity)
    }

    #[test]
    fn recipients_open_others_do_not() {
        let alice = Identity::from_seed(&[1; 32]);
        let bob = Identity::from_seed(&[2; 32]);
        let eve = Identity::from_seed(&[3; 32]);
        let sealed = seal(
            &alice.feed_id(),
            &[alice.feed_id(), bob.feed_id()],
            b"meet at six",
            &Randomness::fresh().unwrap(),
        )
        .unwrap();
        assert_eq!(sealed.len(), 2 + 32 + 4 * SLOT_LEN + PAD + TAG_LEN);
        for reader in [&alice, &bob] {
            let text = opener(reader)
                .open(&alice.feed_id(), &sealed)
                .unwrap()
                .unwrap();
            assert_eq!(&text[..], b"meet at six");
        }
        assert_eq!(opener(&eve).open(&alice.feed_id(), &sealed).unwrap(), None);
        assert_eq!(
            opener(&bob).open(&eve.feed_id(), &sealed),
            Err(BoxError::BodyAuthentication),
            "a box re-posted under another author does not open"
        );
    }

    /// Sizes are exact: bodies pad to 256 (the 2-byte length included), slots come in 4, 8
    /// or 16, and the largest box that fits in a message is sealed while one more byte is not.
    #[test]
    fn box_sizes_follow_the_layout() {
        let alice = Identity::from_seed(&[1; 32]);
        let people: Vec<FeedId> = (1..=16u8)
            .map(|i| Identity::from_seed(&[i; 32]).feed_id())
            .collect();
        let sealed = |to: &[FeedId], len: usize| {
            seal(
                &alice.feed_id(),
                to,
                &vec![b'a'; len],
                &Randomness::fresh().unwrap(),
            )
        };
        for n in 1..=16 {
            let expected = match n {
                1..=4 => 4,
                5..=8 => 8,
                _ => 16,
            };
            assert_eq!(slot_count(n), expected, "{n} recipients");
            let boxed = sealed(&people[..n], 1).unwrap();
            assert_eq!(boxed.len(), 2 + 32 + expected * SLOT_LEN + PAD + TAG_LEN);
        }
        let header = 2 + 32 + 4 * SLOT_LEN;
        for (text, body) in [(0, PAD), (254, PAD), (255, 2 * PAD)] {
            let boxed = sealed(&people[..1], text).unwrap();
            assert_eq!(boxed.len(), header + body + TAG_LEN, "{text}-byte text");
            let opened = Opener::of(&alice)
                .open(&alice.feed_id(), &boxed)
                .unwrap()
                .unwrap();
            assert_eq!(opened.len(), text);
        }
        // 31 blocks of 256 fit in 8,192 bytes with a 4-slot header; 32 do not.
        let largest = 31 * PAD - 2;
        assert_eq!(
            sealed(&people[..1], largest).unwrap().len(),
            header + 31 * PAD + TAG_LEN
        );
        assert_eq!(
            sealed(&people[..1], largest + 1),
            Err(BoxError::TooLarge(header + 32 * PAD + TAG_LEN))
        );
    }

    /// What every carrier checks, with no key: each malformed layout is refused.
    #[test]
    fn check_structure_refuses_malformed_layouts() {
        let alice = Identity::from_seed(&[1; 32]);
        let boxed = seal(
            &alice.feed_id(),
            &[alice.feed_id()],
            b"x",
            &Randomness::fresh().unwrap(),
        )
        .unwrap();
        assert_eq!(check_structure(&boxed), Ok(()));
        let header = 2 + 32 + 4 * SLOT_LEN;
        let mut bad_version = boxed.clone();
        bad_version[0] = 2;
        let mut bad_slots = boxed.clone();
        bad_slots[1] = 5;
        let mut cases = vec![
            ("empty", Vec::new()),
            ("another version", bad_version),
            ("5 slots", bad_slots),
            ("slots cut short", boxed[..header - 1].to_vec()),
            ("no body", boxed[..header].to_vec()),
            (
                "a body of the tag alone",
                boxed[..header + TAG_LEN].to_vec(),
            ),
            ("a body not padded", boxed[..boxed.len() - 1].to_vec()),
        ];
        let mut longer = boxed.clone();
        longer.extend_from_slice(&[0; PAD - 1]);
        cases.push(("a body padded wrong", longer));
        for (what, bytes) in cases {
            assert!(
                matches!(check_structure(&bytes), Err(BoxError::Malformed(_))),
                "{what} passed"
            );
        }
    }

    #[test]
    fn a_flipped_bit_is_caught_never_misread() {
        let alice = Identity::from_seed(&[1; 32]);
        let bob = Identity::from_seed(&[2; 32]);
        let sealed = seal(
            &alice.feed_id(),
            &[bob.feed_id()],
            b"x",
            &Randomness::fresh().unwrap(),
        )
        .unwrap();
        for byte in 0..sealed.len() {
            let mut damaged = sealed.clone();
            damaged[byte] ^= 1;
            // Filler slots are not authenticated (the envelope's content hash covers them);
            // a flip anywhere else must stop the box from opening.
            let in_filler = (2 + 32 + SLOT_LEN..2 + 32 + 4 * SLOT_LEN).contains(&byte);
            match opener(&bob).open(&alice.feed_id(), &damaged) {
                Ok(Some(text)) => assert!(in_filler && &text[..] == b"x", "flip at {byte} misread"),
                Ok(None) | Err(_) => assert!(!in_filler, "flip in filler at {byte} broke the box"),
            }
        }
    }

    /// Randomness is what keeps a box private: with constant randomness two equal messages box
    /// alike (a carrier links them), and with all-zero randomness anyone can derive the body key.
    #[test]
    fn every_box_is_fresh() {
        let alice = Identity::from_seed(&[1; 32]);
        let bob = Identity::from_seed(&[2; 32]);
        let boxed = || {
            seal(
                &alice.feed_id(),
                &[bob.feed_id()],
                b"same words",
                &Randomness::fresh().unwrap(),
            )
            .unwrap()
        };
        let (one, two) = (boxed(), boxed());
        assert_ne!(one, two, "two boxes of the same text are alike");
        let ephemeral = |b: &[u8]| b[2..34].to_vec();
        assert_ne!(ephemeral(&one), ephemeral(&two));
        assert_ne!(ephemeral(&one), vec![0; 32]);
        // Slots 2..4 are filler: random, and different each time.
        let filler = |b: &[u8]| b[2 + 32 + SLOT_LEN..2 + 32 + 4 * SLOT_LEN].to_vec();
        assert_ne!(filler(&one), filler(&two));
        assert!(filler(&one).iter().any(|&b| b != 0));
        // A non-recipient who knows the layout cannot guess the body key.
        let body = &one[2 + 32 + 4 * SLOT_LEN..];
        let zero_key = aead_for(&[0; 32]).unwrap();
        let guessed = zero_key.decrypt(
            &Nonce::default(),
            Payload {
                msg: body,
                aad: &body_aad(&alice.feed_id()),
            },
        );
        assert!(guessed.is_err(), "the body opens with an all-zero key");
    }

    #[test]
    fn sizes_reveal_only_a_recipient_bound() {
        let ids: Vec<FeedId> = (1..=16u8)
            .map(|i| Identity::from_seed(&[i; 32]).feed_id())
            .collect();
        let size = |n: usize| {
            seal(&ids[0], &ids[..n], b"hi", &Randomness::fresh().unwrap())
                .unwrap()
                .len()
        };
        assert_eq!(size(1), size(4));
        assert_eq!(size(5), size(8));
        assert_eq!(size(9), size(16));
        assert!(seal(&ids[0], &[], b"hi", &Randomness::fresh().unwrap()).is_err());
    }
}
