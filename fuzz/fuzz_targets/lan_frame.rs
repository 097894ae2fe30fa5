//! Any bytes as a decrypted LAN frame or a discovery datagram: decoded or refused, never a panic.
#![no_main]

use grapevine::lan::{discovery, network_key};
use grapevine::replicate::wire::parse_frame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_frame(data);
    let _ = discovery::decode(&network_key("grapevine"), data);
});
