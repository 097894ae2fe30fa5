//! Any bytes as a private box from the fixtures' author (seed 01) to their reader (seed 02):
//! not for us, opened, or refused, never a panic; what opens is no longer than the box.
#![no_main]

use std::sync::LazyLock;

use grapevine::identity::Identity;
use grapevine::ids::FeedId;
use grapevine::private_box::{Opener, check_structure};
use libfuzzer_sys::fuzz_target;

static READER: LazyLock<Opener> = LazyLock::new(|| Opener::of(&Identity::from_seed(&[2; 32])));
static AUTHOR: LazyLock<FeedId> = LazyLock::new(|| Identity::from_seed(&[1; 32]).feed_id());

fuzz_target!(|data: &[u8]| {
    let _ = check_structure(data);
    if let Ok(Some(plain)) = READER.open(&AUTHOR, data) {
        assert!(plain.len() <= data.len());
    }
});
