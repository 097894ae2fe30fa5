//! Any bytes as a sealed bundle for the fixtures' reader (seed 02): refused or opened, never a
//! panic, and never more plaintext than the input could hold.
#![no_main]

use std::sync::LazyLock;

use grapevine::identity::Identity;
use grapevine::private_box::Opener;
use grapevine::sealed::unseal;
use libfuzzer_sys::fuzz_target;

static READER: LazyLock<Opener> = LazyLock::new(|| Opener::of(&Identity::from_seed(&[2; 32])));

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let _ = unseal(data, &READER, &mut out);
    assert!(out.len() <= data.len());
});
