//! Any bytes as the frames a peer sends a replication session (each a u16 length and that
//! many bytes): handled or refused, never a panic, with nothing held and nothing stored.
#![no_main]

use std::collections::HashMap;
use std::time::Duration;

use grapevine::FeedId;
use grapevine::graph::ReplicationSet;
use grapevine::replicate::Holdings;
use grapevine::replicate::session::{Input, Session, Settings};
use libfuzzer_sys::fuzz_target;

struct Nothing;

impl Holdings for Nothing {
    type Error = std::convert::Infallible;
    fn frontier(&self, _: &FeedId) -> Result<u64, Self::Error> {
        Ok(0)
    }
    fn pending_runs(&self, _: &FeedId) -> Result<Vec<(u64, u64)>, Self::Error> {
        Ok(Vec::new())
    }
}

fuzz_target!(|data: &[u8]| {
    let (me, peer) = (FeedId([1; 32]), FeedId([2; 32]));
    let set = ReplicationSet {
        root: me,
        distance: HashMap::from([(me, 0), (peer, 1)]),
        excluded: HashMap::new(),
    };
    let settings = Settings {
        live: data.first().is_some_and(|b| b & 1 == 1),
        pub_mode: data.first().is_some_and(|b| b & 2 == 2),
        timeout: Duration::from_secs(5),
        keepalive: Duration::from_secs(1),
    };
    let mut session = Session::new(settings, me, peer, set);
    let _ = session.start(&Nothing);
    let mut rest = data.get(1..).unwrap_or_default();
    let mut now = Duration::ZERO;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let frame = &rest[2..(2 + len).min(rest.len())];
        rest = &rest[(2 + len).min(rest.len())..];
        now += Duration::from_millis(300);
        if session.handle(Input::Frame(frame), now, &Nothing).is_err() {
            return;
        }
        let _ = session.handle(Input::Tick, now, &Nothing);
    }
});
