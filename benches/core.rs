//! Micro-benchmarks of the hot paths, each beside its ceiling (raw ed25519 verification).
//! `cargo bench`; figures and ratios go in docs/benchmarks.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::io::Cursor;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signer, SigningKey};
use grapevine::bundle::{self, BundleSink, Manifest};
use grapevine::bytes::ByteReader;
use grapevine::identity::Identity;
use grapevine::message::{ContentKind, Message, verify_all};
use grapevine::{private_box, signature};

fn posts(n: u64) -> Vec<Message> {
    let id = Identity::from_seed(&[1; 32]);
    let mut out: Vec<Message> = Vec::new();
    for seq in 1..=n {
        let content = format!(r#"{{"type":"post","text":"market on saturday, stall {seq}"}}"#);
        let previous = out.last().map(|m| m.id);
        out.push(
            Message::create(
                &id,
                seq,
                previous,
                0,
                ContentKind::Json,
                content.into_bytes(),
            )
            .unwrap(),
        );
    }
    out
}

fn bundle_bytes(messages: &[Message]) -> Vec<u8> {
    let id = Identity::from_seed(&[1; 32]);
    bundle::write_messages(Vec::new(), &id, &"00".repeat(16), 0, messages)
        .unwrap()
        .0
}

struct Count(usize);

impl BundleSink for Count {
    type Error = std::io::Error;
    fn manifest(&mut self, _: &Manifest) -> std::io::Result<()> {
        Ok(())
    }
    fn segment(&mut self, _: &str, data: &[u8]) -> std::io::Result<()> {
        let mut r = ByteReader::new(data);
        while let Ok(m) = Message::read_record(&mut r) {
            self.0 += black_box(&m).content.len().min(1);
        }
        Ok(())
    }
}

fn bench(c: &mut Criterion) {
    let messages = posts(10_000);
    let refs: Vec<&Message> = messages.iter().take(256).collect();

    // Ceilings: one thread, the verification rule of bundle-format/README.md "Signatures".
    let mut g = c.benchmark_group("ceiling");
    g.throughput(Throughput::Elements(1));
    let key = SigningKey::from_bytes(&[2; 32]);
    let sig = key.sign(&[7u8; 135]).to_bytes();
    let vk = key.verifying_key().to_bytes();
    g.bench_function("ed25519_verify", |b| {
        b.iter(|| signature::verify(&vk, black_box(&[7u8; 135]), &sig).unwrap())
    });
    let inputs: Vec<[u8; 135]> = (0..256u32)
        .map(|i| {
            let mut m = [0u8; 135];
            m[..4].copy_from_slice(&i.to_be_bytes());
            m
        })
        .collect();
    let keys: Vec<SigningKey> = (0..256u32)
        .map(|i| SigningKey::from_bytes(&[(i % 251) as u8 + 3; 32]))
        .collect();
    let one_author: Vec<([u8; 32], [u8; 64])> = inputs
        .iter()
        .map(|m| (vk, key.sign(m).to_bytes()))
        .collect();
    let many_authors: Vec<([u8; 32], [u8; 64])> = inputs
        .iter()
        .zip(&keys)
        .map(|(m, k)| (k.verifying_key().to_bytes(), k.sign(m).to_bytes()))
        .collect();
    g.throughput(Throughput::Elements(256));
    for (name, batch) in [
        ("verify_batch_256_one_author", &one_author),
        ("verify_batch_256_many_authors", &many_authors),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                assert!(signature::verify_batch(
                    batch
                        .iter()
                        .zip(&inputs)
                        .map(|((k, s), m)| (k, black_box(m.as_slice()), s))
                ))
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("message");
    g.throughput(Throughput::Elements(256));
    g.bench_function("verify_all_256", |b| {
        b.iter(|| verify_all(black_box(&refs)))
    });
    let mut record = Vec::new();
    messages[0].write_record(&mut record);
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode", |b| {
        b.iter(|| Message::read_record(&mut ByteReader::new(black_box(&record))).unwrap())
    });
    g.finish();

    let alice = Identity::from_seed(&[1; 32]);
    let bob = Identity::from_seed(&[2; 32]);
    let eve = private_box::Opener::of(&Identity::from_seed(&[3; 32]));
    let to_bob = private_box::seal(
        &alice.feed_id(),
        &[alice.feed_id(), bob.feed_id()],
        br#"{"type":"post","text":"meet at six"}"#,
        &private_box::Randomness::fresh().unwrap(),
    )
    .unwrap();
    let bob_opener = private_box::Opener::of(&bob);
    let mut g = c.benchmark_group("private_box");
    g.throughput(Throughput::Elements(1));
    g.bench_function("reject_not_for_me", |b| {
        b.iter(|| {
            assert!(
                eve.open(&alice.feed_id(), black_box(&to_bob))
                    .unwrap()
                    .is_none()
            )
        })
    });
    g.bench_function("open_for_me", |b| {
        b.iter(|| {
            bob_opener
                .open(&alice.feed_id(), black_box(&to_bob))
                .unwrap()
                .unwrap()
        })
    });
    g.finish();

    let bytes = bundle_bytes(&messages);
    let mut g = c.benchmark_group("bundle_10k");
    g.throughput(Throughput::Elements(messages.len() as u64));
    g.sample_size(20);
    g.bench_function("write", |b| b.iter(|| bundle_bytes(black_box(&messages))));
    g.bench_function("read_and_decode", |b| {
        b.iter(|| {
            let mut count = Count(0);
            bundle::read_bundle(Cursor::new(&bytes), &mut count).unwrap();
            assert_eq!(count.0, 10_000);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
