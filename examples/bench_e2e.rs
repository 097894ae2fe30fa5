//! End-to-end bench: 100,000 messages through a bundle and two stores, with the ceilings measured
//! in the same run. `cargo run --release --example bench-e2e [MESSAGES]`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

#[path = "common/mod.rs"]
mod common;

use ed25519_dalek::{Signer, SigningKey};
use grapevine::identity::Identity;
use grapevine::node::Node;
use grapevine::signature;

fn rate(n: u64, secs: f64) -> f64 {
    n as f64 / secs
}

fn main() {
    let total: u64 = common::count_arg(100_000);
    let feeds = 10u64;
    let per_feed = total / feeds;
    let dir = tempfile::tempdir().unwrap();

    // Ceilings: ed25519 verification by grapevine's rule (grapevine::signature), one by one on
    // one thread, and in batches of 256 one-author signatures (as bundle segments group them)
    // on every core.
    let key = SigningKey::from_bytes(&[5; 32]);
    let vk = key.verifying_key().to_bytes();
    let inputs: Vec<Vec<u8>> = (0..40_000u32)
        .map(|i| format!("{i:0>135}").into_bytes())
        .collect();
    let sigs: Vec<[u8; 64]> = inputs.iter().map(|m| key.sign(m).to_bytes()).collect();
    let t = Instant::now();
    for (m, s) in inputs.iter().zip(&sigs).take(10_000) {
        signature::verify(&vk, m, s).unwrap();
    }
    let verify_rate = rate(10_000, t.elapsed().as_secs_f64());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = inputs.len() / threads / 256 * 256;
    let t = Instant::now();
    std::thread::scope(|scope| {
        for part in 0..threads {
            let range = part * per_thread..(part + 1) * per_thread;
            let (inputs, sigs) = (&inputs[range.clone()], &sigs[range]);
            scope.spawn(move || {
                for (m, s) in inputs.chunks(256).zip(sigs.chunks(256)) {
                    let batch = m.iter().zip(s).map(|(m, s)| (&vk, m.as_slice(), s));
                    assert!(signature::verify_batch(batch));
                }
            });
        }
    });
    let batch_rate = rate((per_thread * threads) as u64, t.elapsed().as_secs_f64());

    // Messages: `feeds` feeds of realistic posts, in a bundle written by a carrier.
    let path = dir.path().join("carried.gvb");
    let sign_rate = common::sample_bundle(&path, feeds, per_feed);

    let mut a = Node::init(&dir.path().join("a"), None).unwrap();
    for f in 0..feeds {
        let feed = Identity::from_seed(&[f as u8 + 1; 32]).feed_id();
        a.contact(feed, grapevine::content::ContactChange::Follow)
            .unwrap();
    }
    // The carried bundle holds the feeds' posts only; a's own follow messages are a's feed.
    let t = Instant::now();
    let s = a.import(std::slice::from_ref(&path)).unwrap();
    let import_secs = t.elapsed().as_secs_f64();
    assert!(
        s.is_clean() && s.total().new == total,
        "import: {:?}",
        s.total()
    );

    let t = Instant::now();
    let s = a.import(std::slice::from_ref(&path)).unwrap();
    let reimport_secs = t.elapsed().as_secs_f64();
    assert_eq!(s.total().already_held, total);

    let out = dir.path().join("stick");
    std::fs::create_dir(&out).unwrap();
    let t = Instant::now();
    let all = grapevine::node::ExportOptions {
        all: true,
        ..Default::default()
    };
    let e = a.export(&out, &all).unwrap().wrote.expect("a bundle");
    let export_secs = t.elapsed().as_secs_f64();

    let mut b = Node::init(&dir.path().join("b"), None).unwrap();
    b.contact(a.id(), grapevine::content::ContactChange::Follow)
        .unwrap();
    let t = Instant::now();
    let s = b.import(std::slice::from_ref(&e.path)).unwrap();
    let import2_secs = t.elapsed().as_secs_f64();
    assert!(s.is_clean() && s.total().new == e.messages);

    let import = rate(total, import_secs);
    println!("messages                       {total} in {feeds} feeds");
    println!("ceiling: ed25519 verify, 1 thread          {verify_rate:>10.0} /s");
    println!("ceiling: verify_batch(256), {threads} threads    {batch_rate:>10.0} /s");
    println!("sign (Message::create)         {sign_rate:>10.0} /s");
    println!(
        "import into empty store        {import:>10.0} /s  = {:.2} × batch verify",
        import / batch_rate
    );
    println!(
        "import of export, node b       {:>10.0} /s",
        rate(e.messages, import2_secs)
    );
    println!(
        "re-import (all already held)   {:>10.0} /s  = {:.2} × batch verify",
        rate(total, reimport_secs),
        rate(total, reimport_secs) / batch_rate
    );
    println!(
        "export from store              {:>10.0} /s  = {:.2} × batch verify",
        rate(e.messages, export_secs),
        rate(e.messages, export_secs) / batch_rate
    );
    let on_disk = std::fs::metadata(&e.path).unwrap().len();
    assert_eq!(on_disk, e.bytes);
    println!(
        "bundle size                    {} bytes for {} messages, {:.1} bytes/message",
        e.bytes,
        e.messages,
        e.bytes as f64 / e.messages as f64
    );
}
