//! How long planning an export takes when the store holds 1,000 feeds.
//! `cargo run --release --example bench-plan`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use grapevine::bundle;
use grapevine::identity::Identity;
use grapevine::message::{ContentKind, Message};
use grapevine::node::{ExportOptions, Node};

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut me = Node::init(&dir.path().join("me"), None).unwrap();
    let friends = 30usize;
    let per_friend = 33usize;
    let feeds = friends + friends * per_friend; // 1,020 feeds
    let ids: Vec<Identity> = (0..feeds)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            Identity::from_seed(&seed)
        })
        .collect();
    // Friend i follows its own 33 feeds; everyone posts 10 times.
    let mut messages = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let mut contents: Vec<serde_json::Value> = Vec::new();
        if i < friends {
            for j in 0..per_friend {
                let other = ids[friends + i * per_friend + j].feed_id();
                contents.push(
                    serde_json::json!({"type": "contact", "contact": other, "following": true}),
                );
            }
        }
        for n in 0..10 {
            contents.push(serde_json::json!({"type": "post", "text": format!("post {n}")}));
        }
        let mut previous = None;
        for (k, c) in contents.iter().enumerate() {
            let m = Message::create(
                id,
                k as u64 + 1,
                previous,
                0,
                ContentKind::Json,
                serde_json::to_vec(c).unwrap(),
            )
            .unwrap();
            previous = Some(m.id);
            messages.push(m);
        }
    }
    for f in ids.iter().take(friends) {
        me.contact(f.feed_id(), grapevine::content::ContactChange::Follow)
            .unwrap();
    }
    let path = dir.path().join("all.gvb");
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    bundle::write_messages(file, &ids[0], &"00".repeat(16), 0, &messages).unwrap();
    let t = Instant::now();
    let summary = me.import(&[path]).unwrap();
    let import = t.elapsed();
    let set = me.replication_set().unwrap();
    println!(
        "store: {} feeds in the replication set, {} messages ({} imported in {:.2} s)",
        set.len(),
        me.store().counts().unwrap().0,
        summary.total().new,
        import.as_secs_f64()
    );
    // A peer (friend 0) whose frontier we know for half the feeds.
    let peer = ids[0].feed_id();
    let known: Vec<_> = ids.iter().step_by(2).map(|i| (i.feed_id(), 5u64)).collect();
    me.store_mut_for_bench()
        .note_heard(&peer, &known, None, 0, "bench", 0)
        .unwrap();
    let options = ExportOptions {
        for_peers: vec![peer],
        ..Default::default()
    };
    let mut times = Vec::new();
    let mut planned = 0;
    for _ in 0..21 {
        let t = Instant::now();
        planned = me.plan_export(&options, None).unwrap().ranges.len();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "plan an export for one peer: median {:.1} ms (min {:.1}, max {:.1}), {planned} feed ranges",
        times[10], times[0], times[20]
    );
    // A peer whose graph we do not know: it may want everything we replicate.
    let stranger = ExportOptions {
        for_peers: vec![Identity::from_seed(&[0xEE; 32]).feed_id()],
        ..Default::default()
    };
    let mut times = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        planned = me.plan_export(&stranger, None).unwrap().ranges.len();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "plan an export for an unknown peer: median {:.1} ms (min {:.1}, max {:.1}), {planned} feed ranges",
        times[10], times[0], times[20]
    );
    let t = Instant::now();
    let e = me
        .export(dir.path(), &options)
        .unwrap()
        .wrote
        .expect("the peer lacks messages");
    println!(
        "export --for that peer: {} messages of {} feeds, {} bytes, {:.1} ms",
        e.messages,
        e.feeds,
        e.bytes,
        t.elapsed().as_secs_f64() * 1000.0
    );
}
