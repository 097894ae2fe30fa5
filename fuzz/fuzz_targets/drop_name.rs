//! Any file name in a drop folder: a node's bundle name parses to exactly one (feed, counter),
//! and that pair spells the name back exactly; anything else names no one.
#![no_main]

use grapevine::node::parse_bundle_name;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((feed, n)) = parse_bundle_name(name) {
        assert_eq!(format!("gv-{}-{n}.gvb", feed.base32()), name);
    }
});
