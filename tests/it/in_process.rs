//! The replication core as a library (issue "One replication core"): time handed in, one
//! planner under both transports.

use grapevine::Node;
use grapevine::clock::{Clock, ManualClock, SharedClock};
use grapevine::node::ExportOptions;
use grapevine::store::Filter;

/// A node runs by the clock it is given: what it writes, the bundles it signs and what it
/// notes of peers carry that clock's time, and another node's clock does not move with it.
#[test]
fn a_node_runs_by_the_clock_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let start = 1_900_000_000_000; // in 2030
    let clock = ManualClock::starting_at(start);
    let theirs = ManualClock::starting_at(start);
    let given = |c: &std::sync::Arc<ManualClock>| -> SharedClock { c.clone() };
    let mut alice = Node::init(&dir.path().join("alice"), Some("alice"))
        .unwrap()
        .with_clock(given(&clock));
    let mut bob = Node::init(&dir.path().join("bob"), Some("bob"))
        .unwrap()
        .with_clock(given(&theirs));
    bob.contact(alice.id(), grapevine::content::ContactChange::Follow)
        .unwrap();
    clock.advance(3 * 86_400_000);
    let later = start + 3 * 86_400_000;
    let written = alice.post("three days on", None).unwrap();
    assert_eq!(written.header.timestamp, later);
    assert_eq!(theirs.now_ms(), start, "bob's clock stood still");
    let file = dir.path().join("from-alice.gvb");
    let all = ExportOptions {
        all: true,
        ..Default::default()
    };
    alice.export(&file, &all).unwrap();
    let manifest = grapevine::bundle::read_bundle(
        std::fs::File::open(&file).unwrap(),
        &mut grapevine::bundle::Discard,
    )
    .unwrap()
    .manifest
    .expect("a manifest");
    assert_eq!(manifest.created_at, later);
    bob.import(std::slice::from_ref(&file)).unwrap();
    let heard = bob.store().peers().unwrap();
    let alice_heard = heard.iter().find(|p| p.peer == alice.id()).unwrap();
    assert_eq!(alice_heard.last_heard, Some(start), "heard at bob's time");
    // A post claiming a time after bob's now is shown at bob's now.
    let shown = bob.timeline(&Filter::default()).unwrap();
    let post = shown
        .iter()
        .find(|p| p.post.text == "three days on")
        .unwrap();
    assert_eq!(post.at, start);
}
