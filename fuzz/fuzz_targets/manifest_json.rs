//! Any bytes as a manifest or a trailer entry: parsed and validated, or refused with a reason;
//! what parses survives a round trip through our writer's JSON.
#![no_main]

use grapevine::bundle::{Manifest, Trailer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = Manifest::parse(data) {
        let again = serde_json::to_vec(&manifest).expect("a parsed manifest serialises");
        assert_eq!(Manifest::parse(&again).as_ref(), Ok(&manifest));
    }
    if let Ok(trailer) = Trailer::parse(data) {
        let again = serde_json::to_vec(&trailer).expect("a parsed trailer serialises");
        assert_eq!(Trailer::parse(&again).as_ref(), Ok(&trailer));
    }
});
