//! Ed25519 verification under one rule for every signature grapevine checks: messages, bundle
//! manifests and LAN hellos (bundle-format/README.md, "Signatures").
//!
//! The rule is ZIP-215 (cofactored verification, any point encoding, canonical `S`) plus one
//! addition: a public key of small order is refused, since anyone can sign for it. Cofactored
//! verification is what lets a batch accept exactly the signatures that one-by-one verification
//! accepts; with RFC 8032's cofactorless equation an author can craft signatures that a batch
//! accepts and a single check refuses, and nodes would disagree about what is valid.

use ed25519_zebra::batch::Verifier as BatchVerifier;
use ed25519_zebra::{Signature, VerificationKey, VerificationKeyBytes};
use std::sync::LazyLock;

use thiserror::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum SignatureError {
    #[error("the public key is not a curve point, or is of small order")]
    BadKey,
    #[error("the signature does not verify")]
    Invalid,
}

/// Every encoding that decodes to a point of small order: the 8 points, plus second encodings
/// where x = 0 takes either sign bit and where y + p fits in 255 bits.
const SMALL_ORDER: [&str; 14] = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
];

fn is_small_order(key: &[u8; 32]) -> bool {
    static LIST: LazyLock<Vec<[u8; 32]>> = LazyLock::new(|| {
        SMALL_ORDER
            .iter()
            .filter_map(|hex| data_encoding::HEXLOWER.decode(hex.as_bytes()).ok())
            .filter_map(|bytes| bytes.try_into().ok())
            .collect()
    });
    LIST.contains(key)
}

/// Verifies one signature by `key` over `signed`.
pub fn verify(key: &[u8; 32], signed: &[u8], signature: &[u8; 64]) -> Result<(), SignatureError> {
    if is_small_order(key) {
        return Err(SignatureError::BadKey);
    }
    let key = VerificationKey::try_from(*key).map_err(|_| SignatureError::BadKey)?;
    key.verify(&Signature::from_bytes(signature), signed)
        .map_err(|_| SignatureError::Invalid)
}

/// True if every `(key, signed, signature)` verifies. False says only that one or more do not;
/// check them one by one with [`verify`] to learn which. A batch accepts exactly what [`verify`]
/// accepts, but for a chance of 2^-128 per batch of accepting a bad signature.
pub fn verify_batch<'a>(
    items: impl IntoIterator<Item = (&'a [u8; 32], &'a [u8], &'a [u8; 64])>,
) -> bool {
    let mut batch = BatchVerifier::new();
    for (key, signed, signature) in items {
        // A key that is no curve point fails the batch itself.
        if is_small_order(key) {
            return false;
        }
        batch.queue((
            VerificationKeyBytes::from(*key),
            Signature::from_bytes(signature),
            signed,
        ));
    }
    batch
        .verify(getrandom::rand_core::UnwrapErr(getrandom::SysRng))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn signed(identity: &Identity, text: &[u8]) -> Item {
        (identity.feed_id().0, text.to_vec(), identity.sign(text))
    }

    type Item = ([u8; 32], Vec<u8>, [u8; 64]);

    fn view(items: &[Item]) -> Vec<(&[u8; 32], &[u8], &[u8; 64])> {
        items.iter().map(|(k, m, s)| (k, m.as_slice(), s)).collect()
    }

    #[test]
    fn single_and_batch_agree_on_honest_and_forged_signatures() {
        let alice = Identity::from_seed(&[1; 32]);
        let bob = Identity::from_seed(&[2; 32]);
        let mut items: Vec<_> = (0..40)
            .map(|i| {
                signed(
                    if i % 3 == 0 { &bob } else { &alice },
                    format!("m{i}").as_bytes(),
                )
            })
            .collect();
        assert!(items.iter().all(|(k, m, s)| verify(k, m, s).is_ok()));
        assert!(verify_batch(view(&items)));
        items[17].2[40] ^= 1;
        assert_eq!(
            verify(&items[17].0, &items[17].1, &items[17].2),
            Err(SignatureError::Invalid)
        );
        assert!(!verify_batch(view(&items)));
        items[17].2[40] ^= 1;
        items[17].1.push(b'!');
        assert!(!verify_batch(view(&items)));
    }

    /// The list is complete: every encoding of each of the 8 small-order points, canonical or
    /// not, is on it, and each decodes to a small-order point.
    #[test]
    fn the_small_order_list_is_exactly_the_small_order_encodings() {
        use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
        let order_8 = CompressedEdwardsY(
            data_encoding::HEXLOWER
                .decode(SMALL_ORDER[12].as_bytes())
                .unwrap()
                .try_into()
                .unwrap(),
        )
        .decompress()
        .unwrap();
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        let mut found = Vec::new();
        let mut point = EdwardsPoint::default();
        for _ in 0..8 {
            let canonical = point.compress().to_bytes();
            let mut candidates = vec![canonical];
            let (mut y_plus_p, mut carry) = ([0u8; 32], 0u16);
            for i in 0..32 {
                let y = canonical[i] & if i == 31 { 0x7f } else { 0xff };
                let sum = u16::from(y) + u16::from(p[i]) + carry;
                y_plus_p[i] = sum as u8;
                carry = sum >> 8;
            }
            if carry == 0 && y_plus_p[31] & 0x80 == 0 {
                candidates.push(y_plus_p);
            }
            for c in candidates.clone() {
                let mut flipped = c;
                flipped[31] ^= 0x80;
                candidates.push(flipped);
            }
            for c in candidates {
                if CompressedEdwardsY(c).decompress() == Some(point) && !found.contains(&c) {
                    found.push(c);
                }
            }
            point += order_8;
        }
        assert_eq!(found.len(), SMALL_ORDER.len());
        for encoding in &found {
            assert!(is_small_order(encoding), "{encoding:02x?} missing");
            assert!(
                ed25519_dalek::VerifyingKey::from_bytes(encoding)
                    .unwrap()
                    .is_weak()
            );
        }
    }

    #[test]
    fn small_order_and_off_curve_keys_are_refused() {
        // The identity point: a signature with R = [s]B satisfies the cofactored equation for
        // any message, so only the key rule stands between it and a forgery.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            verify(&identity, b"", &[0; 64]),
            Err(SignatureError::BadKey)
        );
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        assert_eq!(
            verify(&off_curve, b"", &[0; 64]),
            Err(SignatureError::BadKey)
        );
        let alice = Identity::from_seed(&[1; 32]);
        let (_, m, s) = signed(&alice, b"hello");
        assert_eq!(verify(&identity, &m, &s), Err(SignatureError::BadKey));
        assert!(!verify_batch([(&identity, m.as_slice(), &s)]));
    }
}
