//! 100,000 messages between two nodes over loopback TCP, against importing the same messages
//! from a bundle, in one run. `cargo run --release --example bench-lan [MESSAGES]`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

#[path = "common/mod.rs"]
mod common;

fn main() {
    let total: u64 = common::count_arg(100_000);
    let feeds = 10u64;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("carried.gvb");
    common::sample_bundle(&path, feeds, total / feeds);
    let ids = common::sample_feeds(feeds);

    // Ceiling for this run: the same messages imported from the bundle.
    let mut server = common::follower(&dir.path().join("server"), &ids);
    let t = Instant::now();
    let s = server.import(std::slice::from_ref(&path)).unwrap();
    let bundle_secs = t.elapsed().as_secs_f64();
    assert_eq!(s.total().new, total);
    let server_home = server.home().expect("on disk").to_owned();
    drop(server);

    let listen = common::serve_on_loopback(&server_home);
    let client = common::follower(&dir.path().join("client"), &ids);
    let client_home = client.home().expect("on disk").to_owned();
    drop(client);
    let t = Instant::now();
    let report = common::sync(&client_home, listen);
    let lan_secs = t.elapsed().as_secs_f64();
    assert_eq!(report.received.new, total, "{report:?}");
    let again = common::sync(&client_home, listen);

    let bundle_rate = total as f64 / bundle_secs;
    let lan_rate = total as f64 / lan_secs;
    println!("messages                         {total} in {feeds} feeds");
    println!("import from a bundle (ceiling)   {bundle_rate:>9.0} /s  ({bundle_secs:.2} s)");
    println!(
        "sync over loopback TCP           {lan_rate:>9.0} /s  ({lan_secs:.2} s) = {:.2} × bundle import",
        lan_rate / bundle_rate
    );
    println!(
        "second sync (nothing to do)      {:.3} s, {} received, {} sent",
        again.duration.as_secs_f64(),
        again.received.new,
        again.sent
    );
}
