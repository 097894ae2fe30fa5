//! A key file locked with a passphrase: Argon2id stretches the passphrase into a key, and
//! ChaCha20-Poly1305 seals the 32-byte seed with it.
//!
//! The line is `grapevine-secret-v1-argon2id:` and base32 of
//! `memory KiB (u32 BE) ‖ passes (u32 BE) ‖ lanes (u32 BE) ‖ salt (16) ‖ nonce (12) ‖ sealed seed (48)`,
//! the first 28 bytes (costs and salt) being the AEAD's associated data. Costs are read from the
//! file so that stronger ones can be chosen later; they are bounded, so a damaged or planted file
//! cannot make a reader allocate without limit.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use zeroize::Zeroizing;

use crate::ids::{decode_base32, encode_base32};

pub const LOCKED_PREFIX: &str = "grapevine-secret-v1-argon2id:";

/// Argon2id costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cost {
    pub memory_kib: u32,
    pub passes: u32,
    pub lanes: u32,
}

/// What `init --passphrase` uses: 64 MiB, 3 passes, 1 lane (RFC 9106's second recommendation).
pub const DEFAULT_COST: Cost = Cost {
    memory_kib: 64 * 1024,
    passes: 3,
    lanes: 1,
};

/// The most a key file may ask for: 1 GiB, 16 passes, 8 lanes.
const MAX_COST: Cost = Cost {
    memory_kib: 1024 * 1024,
    passes: 16,
    lanes: 8,
};

const SALT: usize = 16;
const NONCE: usize = 12;
const HEADER: usize = 12 + SALT;
const SEALED: usize = 32 + 16;
const LEN: usize = HEADER + NONCE + SEALED;

#[derive(Debug, PartialEq, Eq)]
pub enum UnlockError {
    /// Not a locked key of this format, or costs out of bounds.
    Malformed,
    /// The passphrase does not open it (or the file was altered).
    Wrong,
}

fn stretch(passphrase: &[u8], salt: &[u8], cost: Cost) -> Result<Zeroizing<[u8; 32]>, UnlockError> {
    let in_bounds = (8..=MAX_COST.memory_kib).contains(&cost.memory_kib)
        && (1..=MAX_COST.passes).contains(&cost.passes)
        && (1..=MAX_COST.lanes).contains(&cost.lanes);
    if !in_bounds {
        return Err(UnlockError::Malformed);
    }
    let params = Params::new(cost.memory_kib, cost.passes, cost.lanes, Some(32))
        .map_err(|_| UnlockError::Malformed)?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, salt, key.as_mut())
        .map_err(|_| UnlockError::Malformed)?;
    Ok(key)
}

/// The locked line (without newline) for `seed`, with fresh salt and nonce from `random`.
pub fn lock(
    seed: &[u8; 32],
    passphrase: &[u8],
    cost: Cost,
    random: [u8; SALT + NONCE],
) -> Result<String, UnlockError> {
    let mut out = Vec::with_capacity(LEN);
    out.extend_from_slice(&cost.memory_kib.to_be_bytes());
    out.extend_from_slice(&cost.passes.to_be_bytes());
    out.extend_from_slice(&cost.lanes.to_be_bytes());
    out.extend_from_slice(&random[..SALT]);
    let key = stretch(passphrase, &random[..SALT], cost)?;
    let nonce =
        Nonce::from(<[u8; NONCE]>::try_from(&random[SALT..]).map_err(|_| UnlockError::Malformed)?);
    let sealed = ChaCha20Poly1305::new_from_slice(&key[..])
        .map_err(|_| UnlockError::Malformed)?
        .encrypt(
            &nonce,
            Payload {
                msg: seed,
                aad: &out[..HEADER],
            },
        )
        .map_err(|_| UnlockError::Malformed)?;
    out.extend_from_slice(&random[SALT..]);
    out.extend_from_slice(&sealed);
    Ok(format!("{LOCKED_PREFIX}{}", encode_base32(&out)))
}

/// The seed in a locked line, if `passphrase` opens it.
pub fn unlock(line: &str, passphrase: &[u8]) -> Result<Zeroizing<[u8; 32]>, UnlockError> {
    let body = line
        .trim()
        .strip_prefix(LOCKED_PREFIX)
        .ok_or(UnlockError::Malformed)?;
    let bytes = decode_base32(body).ok_or(UnlockError::Malformed)?;
    if bytes.len() != LEN {
        return Err(UnlockError::Malformed);
    }
    let word = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let cost = Cost {
        memory_kib: word(0),
        passes: word(4),
        lanes: word(8),
    };
    let key = stretch(passphrase, &bytes[12..HEADER], cost)?;
    let nonce = Nonce::from(
        <[u8; NONCE]>::try_from(&bytes[HEADER..HEADER + NONCE])
            .map_err(|_| UnlockError::Malformed)?,
    );
    let seed = Zeroizing::new(
        ChaCha20Poly1305::new_from_slice(&key[..])
            .map_err(|_| UnlockError::Malformed)?
            .decrypt(
                &nonce,
                Payload {
                    msg: &bytes[HEADER + NONCE..],
                    aad: &bytes[..HEADER],
                },
            )
            .map_err(|_| UnlockError::Wrong)?,
    );
    let seed: [u8; 32] = seed
        .as_slice()
        .try_into()
        .map_err(|_| UnlockError::Malformed)?;
    Ok(Zeroizing::new(seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: Cost = Cost {
        memory_kib: 64,
        passes: 1,
        lanes: 1,
    };

    #[test]
    fn a_locked_seed_opens_only_with_its_passphrase() {
        let line = lock(&[7; 32], b"correct horse", CHEAP, [3; 28]).expect("locks");
        assert!(line.starts_with(LOCKED_PREFIX));
        assert!(
            !line.contains(&encode_base32(&[7; 32])),
            "the seed is not in the clear"
        );
        assert_eq!(*unlock(&line, b"correct horse").expect("opens"), [7; 32]);
        assert_eq!(unlock(&line, b"correct horsf"), Err(UnlockError::Wrong));
        // Any altered byte (costs and salt included) is refused.
        let mut bytes = decode_base32(&line[LOCKED_PREFIX.len()..]).expect("base32");
        bytes[13] ^= 1;
        let altered = format!("{LOCKED_PREFIX}{}", encode_base32(&bytes));
        assert_eq!(unlock(&altered, b"correct horse"), Err(UnlockError::Wrong));
    }

    #[test]
    fn costs_out_of_bounds_are_refused_before_any_work() {
        let line = lock(&[7; 32], b"pw", CHEAP, [3; 28]).expect("locks");
        let mut bytes = decode_base32(&line[LOCKED_PREFIX.len()..]).expect("base32");
        bytes[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        let greedy = format!("{LOCKED_PREFIX}{}", encode_base32(&bytes));
        assert_eq!(unlock(&greedy, b"pw"), Err(UnlockError::Malformed));
        assert_eq!(
            unlock("grapevine-secret-v1-argon2id:abc", b"pw"),
            Err(UnlockError::Malformed)
        );
    }
}
