//! Randomness, handed in: keys, private boxes, sealed bundles and bundle ids draw from the
//! [`Entropy`] they are given. A release build has one kind: [`OsEntropy`], the operating
//! system's generator. A seeded generator (`Seeded`), which makes a simulation repeat byte
//! for byte, exists only in the library's own tests and with the `simulation` feature, which
//! no release build turns on; and the trait is sealed, so nothing else can stand in for the
//! system's generator where a key or a box is made.

use std::fmt::Debug;
use std::sync::Arc;

mod sealed {
    /// Only this module's generators are [`super::Entropy`].
    pub trait Sealed {}
}

/// A source of random bytes.
pub trait Entropy: sealed::Sealed + Send + Sync + Debug {
    /// Fills `buf`; an error says why the source failed.
    fn fill(&self, buf: &mut [u8]) -> Result<(), String>;
}

/// Entropy as it is handed around.
pub type SharedEntropy = Arc<dyn Entropy>;

/// The operating system's generator.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsEntropy;

impl sealed::Sealed for OsEntropy {}

impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), String> {
        getrandom::fill(buf).map_err(|e| e.to_string())
    }
}

/// The operating system's generator, shared.
pub fn os() -> SharedEntropy {
    Arc::new(OsEntropy)
}

/// A generator that repeats for a seed: BLAKE3's extendable output of the seed. For
/// simulations and tests only (feature `simulation`, or the library's own tests).
#[cfg(any(test, feature = "simulation"))]
#[derive(Debug)]
pub struct Seeded(std::sync::Mutex<blake3::OutputReader>);

#[cfg(any(test, feature = "simulation"))]
impl Seeded {
    pub fn from_seed(seed: u64) -> SharedEntropy {
        let mut hasher = blake3::Hasher::new_derive_key("grapevine simulation entropy v1");
        hasher.update(&seed.to_le_bytes());
        Arc::new(Self(std::sync::Mutex::new(hasher.finalize_xof())))
    }
}

#[cfg(any(test, feature = "simulation"))]
impl sealed::Sealed for Seeded {}

#[cfg(any(test, feature = "simulation"))]
impl Entropy for Seeded {
    fn fill(&self, buf: &mut [u8]) -> Result<(), String> {
        self.0
            .lock()
            .map_err(|_| "the seeded generator's lock is poisoned".to_owned())?
            .fill(buf);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_repeats_and_seeds_differ() {
        let draw = |e: &SharedEntropy| {
            let mut b = [0u8; 16];
            e.fill(&mut b).unwrap();
            b
        };
        let (a, again, other) = (
            Seeded::from_seed(7),
            Seeded::from_seed(7),
            Seeded::from_seed(8),
        );
        assert_eq!(draw(&a), draw(&again));
        assert_ne!(draw(&a), draw(&other));
        assert_ne!(draw(&os()), draw(&os()));
    }
}
