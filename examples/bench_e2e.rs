//! End-to-end bench: 100,000 messages through a bundle and two stores, with the ceilings measured
//! in the same run. `cargo run --release --example bench-e2e [MESSAGES]`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use ed25519_dalek::{Signer, SigningKey, Verifier};
use grapevine::bundle::{self, BundleWriter, FeedRange, Manifest};
use grapevine::identity::Identity;
use grapevine::message::{ContentKind, Message};
use grapevine::node::Node;

fn rate(n: u64, secs: f64) -> f64 {
    n as f64 / secs
}

/// Text with the word statistics of a short note: compresses about as well as real posts.
fn sentence(rng: &mut u64, words: usize) -> String {
    const VOCABULARY: &[&str] = &[
        "the", "river", "bridge", "market", "seeds", "we", "will", "meet", "at", "library", "on",
        "Saturday", "bring", "water", "school", "road", "is", "open", "closed", "news", "from",
        "hills", "valley", "north", "south", "and", "a", "to", "of", "for", "rain", "harvest",
        "clinic", "doctor", "tomorrow", "morning", "evening", "village", "council", "vote",
    ];
    let mut out = Vec::with_capacity(words);
    for _ in 0..words {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        out.push(VOCABULARY[(*rng % VOCABULARY.len() as u64) as usize]);
    }
    out.join(" ")
}

fn main() {
    let total: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let feeds = 10u64;
    let per_feed = total / feeds;
    let dir = tempfile::tempdir().unwrap();

    // Ceilings: raw ed25519 verification, one by one and in batches of 256.
    let key = SigningKey::from_bytes(&[5; 32]);
    let inputs: Vec<Vec<u8>> = (0..20_000u32)
        .map(|i| format!("{i:0>135}").into_bytes())
        .collect();
    let sigs: Vec<_> = inputs.iter().map(|m| key.sign(m)).collect();
    let vk = key.verifying_key();
    let t = Instant::now();
    for (m, s) in inputs.iter().zip(&sigs) {
        vk.verify(m, s).unwrap();
    }
    let verify_rate = rate(inputs.len() as u64, t.elapsed().as_secs_f64());
    let t = Instant::now();
    for chunk in 0..inputs.len() / 256 {
        let r = chunk * 256..chunk * 256 + 256;
        let m: Vec<&[u8]> = inputs[r.clone()].iter().map(Vec::as_slice).collect();
        ed25519_dalek::verify_batch(&m, &sigs[r], &vec![vk; 256]).unwrap();
    }
    let batch_rate = rate((inputs.len() / 256 * 256) as u64, t.elapsed().as_secs_f64());

    // Messages: `feeds` feeds of realistic posts (60 to 260 bytes of text).
    let t = Instant::now();
    let mut all = Vec::with_capacity(total as usize);
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    for f in 0..feeds {
        let id = Identity::from_seed(&[f as u8 + 1; 32]);
        let mut previous = None;
        for seq in 1..=per_feed {
            let text = sentence(&mut rng, 10 + (seq % 40) as usize);
            let content =
                serde_json::to_vec(&serde_json::json!({"type": "post", "text": text})).unwrap();
            let m = Message::create(
                &id,
                seq,
                previous,
                1_700_000_000_000 + seq as i64,
                ContentKind::Json,
                content,
            )
            .unwrap();
            previous = Some(m.id);
            all.push(m);
        }
    }
    let sign_rate = rate(total, t.elapsed().as_secs_f64());

    // A bundle file of all of them, written by a carrier.
    let carrier = Identity::from_seed(&[99; 32]);
    let manifest = Manifest {
        format: bundle::FORMAT.into(),
        version: bundle::FORMAT_VERSION,
        bundle_id: "00".repeat(16),
        exporter: carrier.feed_id(),
        created_at: 1_700_000_000_000,
        recipient: None,
        feeds: (0..feeds)
            .map(|f| FeedRange {
                feed: Identity::from_seed(&[f as u8 + 1; 32]).feed_id(),
                first: 1,
                last: per_feed,
            })
            .collect(),
        frontier: vec![],
    };
    let path = dir.path().join("carried.gvb");
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut writer = BundleWriter::new(file, &carrier, &manifest).unwrap();
    let mut segment = Vec::new();
    let mut index = 0;
    for m in &all {
        if !segment.is_empty()
            && (segment.len() + m.record_len() > bundle::SEGMENT_TARGET || m.header.sequence == 1)
        {
            index += 1;
            writer
                .write_entry(&bundle::segment_name(index), &segment)
                .unwrap();
            segment.clear();
        }
        m.write_record(&mut segment);
    }
    index += 1;
    writer
        .write_entry(&bundle::segment_name(index), &segment)
        .unwrap();
    writer.finish().unwrap();
    drop(all);

    let mut a = Node::init(&dir.path().join("a"), None).unwrap();
    for f in 0..feeds {
        let feed = Identity::from_seed(&[f as u8 + 1; 32]).feed_id();
        a.contact(feed, grapevine::content::ContactChange::Follow)
            .unwrap();
    }
    let total = total + feeds; // a's own follow messages travel too
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
    assert_eq!(s.total().already_held, total - feeds);

    let out = dir.path().join("stick");
    std::fs::create_dir(&out).unwrap();
    let t = Instant::now();
    let all = grapevine::node::ExportOptions {
        all: true,
        ..Default::default()
    };
    let e = a.export(&out, &all).unwrap();
    let export_secs = t.elapsed().as_secs_f64();

    let mut b = Node::init(&dir.path().join("b"), None).unwrap();
    b.contact(a.id(), grapevine::content::ContactChange::Follow)
        .unwrap();
    let t = Instant::now();
    let s = b.import(std::slice::from_ref(&e.path)).unwrap();
    let import2_secs = t.elapsed().as_secs_f64();
    assert!(s.is_clean() && s.total().new == e.messages);

    let total = total - feeds;
    let import = rate(total, import_secs);
    println!("messages                       {total} in {feeds} feeds");
    println!("ceiling: ed25519 verify        {verify_rate:>10.0} /s");
    println!("ceiling: ed25519 verify_batch  {batch_rate:>10.0} /s");
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
