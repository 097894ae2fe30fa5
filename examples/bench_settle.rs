//! What reading a folder again costs when the replication set grows (docs/benchmarks.md).
//! A 100,000-message bundle of 10 feeds; the node follows 9 of them, imports, then follows the
//! tenth: settling reads the file again. Compared with the first import and with a re-read
//! that finds everything held, all in the same run.
//! `cargo run --release --example bench-settle [MESSAGES]`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

#[path = "common/mod.rs"]
mod common;

use grapevine::content::ContactChange;
use grapevine::node::Node;

fn main() {
    let total: u64 = common::count_arg(100_000);
    let feeds = 10u64;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("stick");
    std::fs::create_dir(&folder).unwrap();
    common::sample_bundle(&folder.join("carried.gvb"), feeds, total / feeds);
    let ids = common::sample_feeds(feeds);
    let mut node = Node::init(&dir.path().join("home"), None).unwrap();
    for feed in &ids[..ids.len() - 1] {
        node.contact(*feed, ContactChange::Follow).unwrap();
    }

    let t = Instant::now();
    let first = node.import(std::slice::from_ref(&folder)).unwrap().total();
    let first_secs = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let (_, settled) = node
        .contact(ids[ids.len() - 1], ContactChange::Follow)
        .unwrap();
    let reread_secs = t.elapsed().as_secs_f64();
    let reread = settled.total();
    assert_eq!(reread.new, total / feeds, "the tenth feed was read again");
    assert_eq!(settled.bundles.len(), 1, "one file, read once");

    let t = Instant::now();
    let held = node.import(std::slice::from_ref(&folder)).unwrap().total();
    let held_secs = t.elapsed().as_secs_f64();
    assert_eq!(held.already_held, total);

    println!("messages in the folder           {total}");
    println!(
        "first import (9 of 10 feeds)     {:.3} s  ({} new, {} not wanted)",
        first_secs, first.new, first.not_wanted
    );
    println!(
        "follow + settle (re-read)        {:.3} s  ({} new, {} already held) = {:.2} x the first import",
        reread_secs,
        reread.new,
        reread.already_held,
        reread_secs / first_secs
    );
    println!(
        "re-read with everything held     {:.3} s  = {:.2} x the first import, {:.0} held messages/s",
        held_secs,
        held_secs / first_secs,
        total as f64 / held_secs
    );
}
