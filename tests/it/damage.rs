//! Damaged, tampered and hostile bundles: clear reports, salvage, nothing invalid stored.

use std::fs;
use std::path::Path;

use grapevine::bundle;
use grapevine::identity::Identity;
use grapevine::message::{ContentKind, Message};
use grapevine::node::Node;

use crate::harness::{TestNode, import_counts, path_str, stick};

/// Signed posts 1..=n of the feed with this seed.
pub fn chain(identity: &Identity, n: u64) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    for seq in 1..=n {
        let content = format!(r#"{{"type":"post","text":"post {seq}"}}"#).into_bytes();
        let previous = out.last().map(|m| m.id);
        out.push(
            Message::create(
                identity,
                seq,
                previous,
                1_700_000_000_000,
                ContentKind::Json,
                content,
            )
            .unwrap(),
        );
    }
    out
}

/// Writes `messages` (one feed) as a bundle signed by `exporter`.
pub fn write_bundle(path: &Path, exporter: &Identity, messages: &[Message]) {
    let id = format!("{:032x}", messages.len());
    let (bytes, _) =
        bundle::write_messages(Vec::new(), exporter, &id, 1_700_000_000_000, messages).unwrap();
    fs::write(path, bytes).unwrap();
}

/// Byte offsets where zstd frames start (the magic number), for aiming damage.
fn frame_starts(bytes: &[u8]) -> Vec<usize> {
    bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == [0x28, 0xB5, 0x2F, 0xFD])
        .map(|(i, _)| i)
        .collect()
}

/// bob carries alice's, carol's and his own feeds, one segment each. One flipped byte in any
/// one segment, whichever place it has in the file, costs that segment's feed and nothing else;
/// what the reader held before is unchanged.
#[test]
fn one_flipped_byte_costs_one_segment() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    let carol = TestNode::new("carol");
    alice.post("alice's news");
    carol.post("carol's news");
    bob.follow(&alice);
    bob.follow(&carol);
    let s = stick();
    bob.import(&alice.export_to(s.path()));
    // Carol's own stick: in one shared with alice she would write only what alice wants.
    let carols = stick();
    let carol_bundle = carol.export_to(carols.path());
    bob.import(&carol_bundle);
    let out_dir = stick();
    let bundle_path = bob.export_to(out_dir.path());
    let pristine = fs::read(&bundle_path).unwrap();
    let starts = frame_starts(&pristine);
    assert_eq!(starts.len(), 6, "manifest, 3 segments, trailer, end");
    let author_of = |i: usize| {
        let frame = zstd::decode_all(&pristine[starts[i]..starts[i + 1]]).unwrap();
        grapevine::FeedId::from_slice(&frame[512 + 2..512 + 34])
            .unwrap()
            .to_string()
    };
    let everyone = [alice.id(), bob.id(), carol.id()];
    // Every segment in turn: first, middle and last in the file.
    for segment in 1..4 {
        let lost = author_of(segment);
        let dave = TestNode::new("dave");
        dave.follow(&bob);
        dave.follow(&carol);
        dave.import(&carol_bundle);
        let carol_before = dave.feed(&carol.id());
        let mut bytes = pristine.clone();
        let middle = (starts[segment] + starts[segment + 1]) / 2;
        bytes[middle] ^= 0x40;
        fs::write(&bundle_path, &bytes).unwrap();
        let out = dave.fails_with(3, &["import", path_str(&bundle_path)]);
        assert!(
            out.contains(&format!(
                "zstd frame at byte {} is damaged",
                starts[segment]
            )),
            "{out}"
        );
        assert!(
            out.contains(path_str(&bundle_path)),
            "names the file: {out}"
        );
        assert!(
            out.contains("Ask the sender for a fresh bundle"),
            "says what to do: {out}"
        );
        for feed in &everyone {
            let held = dave.feed(feed);
            // dave wants alice only through bob's follow, which travels in bob's segment.
            let unwanted = *feed == alice.id() && lost == bob.id();
            if *feed == carol.id() {
                assert_eq!(
                    held, carol_before,
                    "segment {segment}: a held feed is unchanged"
                );
            } else if *feed == lost || unwanted {
                assert!(held.is_empty(), "segment {segment}: {feed} stored nothing");
            } else {
                assert!(!held.is_empty(), "segment {segment}: {feed} was salvaged");
            }
        }
    }
}

/// A carrier that forges messages and signs the bundle itself gains nothing: each forged
/// message fails its author's signature alone, and every other message is kept, whether it sits
/// before or after a forgery, inside a verification batch or at its edges. (After the first
/// forgery the chain cannot link, so the rest wait, verified, as pending.)
#[test]
fn forged_messages_are_rejected_alone() {
    let alice = Identity::from_seed(&[1; 32]);
    let mallory = Identity::from_seed(&[2; 32]);
    let total = 12_000u64;
    let mut messages = chain(&alice, total);
    let batch = grapevine::ingest::BATCH as u64;
    let forged = [5_000, batch, batch + 1, 10_000];
    for seq in forged {
        messages[seq as usize - 1].envelope[150] ^= 1; // inside the signature
    }
    let dir = stick();
    let path = dir.path().join("forged.gvb");
    write_bundle(&path, &mallory, &messages);
    let bob = TestNode::new("bob");
    bob.follow_id(&alice.feed_id().to_string());
    let out = bob.fails_with(3, &["import", path_str(&path)]);
    assert_eq!(
        import_counts(&out),
        (total - forged.len() as u64, 0, forged.len() as u64),
        "{out}"
    );
    for seq in forged {
        assert!(out.contains(&format!("message {seq} of @")), "{out}");
    }
    assert!(out.contains("signature does not verify"), "{out}");
    assert_eq!(bob.feed(&alice.feed_id().to_string()).len(), 4_999);
    let report: serde_json::Value = serde_json::from_str(&bob.ok(&["check", "--json"])).unwrap();
    assert_eq!(report["pending"], total - 4_999 - forged.len() as u64);
}

#[test]
fn truncated_bundle_is_reported_incomplete_and_salvaged() {
    let alice = TestNode::new("alice");
    let carol = TestNode::new("carol");
    let bob = TestNode::new("bob");
    let long = "y".repeat(8000);
    for _ in 0..200 {
        alice.post(&long);
    }
    carol.post("hi");
    carol.follow(&alice);
    bob.follow(&carol);
    let s = stick();
    carol.import(&alice.export_to(s.path()));
    let fresh = stick();
    let bundle_path = carol.export_to(fresh.path());
    let bytes = fs::read(&bundle_path).unwrap();
    let starts = frame_starts(&bytes);
    // Cut inside the last segment: everything before it is whole.
    let cut = starts[starts.len() - 3] + 10;
    fs::write(&bundle_path, &bytes[..cut]).unwrap();
    let out = bob.fails_with(3, &["import", path_str(&bundle_path)]);
    assert!(out.contains("incomplete"), "{out}");
    let (new, _, rejected) = import_counts(&out);
    // 203 messages in three segments of at most ~128; the cut costs one segment at most.
    assert!(
        (203 - 128..203).contains(&new),
        "whole segments salvaged, got {new}: {out}"
    );
    assert_eq!(rejected, 0);
}

/// alice's key on two devices posts two different message 3s: the first one bob sees is kept,
/// the second is recorded as proof, and bob is told.
#[test]
fn a_fork_is_recorded_and_shown() {
    let alice = TestNode::new("alice");
    alice.post("before the split");
    let twin = TestNode::uninitialised("alice-twin");
    copy_dir(&alice.home(), &twin.home());
    alice.post("from the laptop");
    twin.post("from the phone");
    let bob = TestNode::new("bob");
    bob.follow(&alice);
    let s = stick();
    bob.import(&alice.export_to(s.path()));
    let t = stick();
    let out = bob.fails_with(0, &["import", path_str(&twin.export_to(t.path()))]);
    assert!(out.contains("1 fork proof recorded"), "{out}");
    assert_eq!(
        bob.posts(&alice.id()),
        ["before the split", "from the laptop"]
    );
    let forks = &bob.status()["fork_proofs"];
    assert_eq!(forks[0]["feed"]["id"], alice.id().as_str());
    assert_eq!(forks[0]["sequence"], 3);
    let text = bob.ok(&["feed", &alice.id()]);
    assert!(text.contains("forked"), "{text}");
}

pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Messages that arrive before their predecessors wait, verified, and link when the gap fills.
#[test]
fn messages_ahead_of_a_gap_wait_then_link() {
    let alice = Identity::from_seed(&[7; 32]);
    let messages = chain(&alice, 6);
    let dir = stick();
    let late = dir.path().join("late.gvb");
    let early = dir.path().join("early.gvb");
    write_bundle(&late, &alice, &messages[3..]);
    write_bundle(&early, &alice, &messages[..3]);
    let bob = TestNode::new("bob");
    let feed = alice.feed_id().to_string();
    bob.follow_id(&feed);
    assert_eq!(import_counts(&bob.import(&late)), (3, 0, 0));
    assert_eq!(bob.status()["pending"], 3);
    assert!(bob.feed(&feed).is_empty(), "nothing linked yet");
    assert!(
        bob.ok(&["feed", &feed])
            .contains("0 messages, 3 more waiting for earlier ones")
    );
    assert_eq!(import_counts(&bob.import(&early)), (3, 0, 0));
    assert_eq!(bob.status()["pending"], 0);
    assert_eq!(bob.feed(&feed).len(), 6);
}

/// Thousands of random mutations of a real bundle: never a panic, and whatever is stored is a
/// valid chain of correctly signed messages.
#[test]
fn mutated_bundles_never_corrupt_the_store() {
    let home = tempfile::tempdir().unwrap();
    let alice = Identity::from_seed(&[9; 32]);
    let dir = stick();
    let original = dir.path().join("original.gvb");
    write_bundle(&original, &alice, &chain(&alice, 40));
    let bytes = fs::read(&original).unwrap();
    let mut node = Node::init(&home.path().join("n"), None).unwrap();
    node.contact(alice.feed_id(), grapevine::content::ContactChange::Follow)
        .unwrap();
    let mut next = crate::harness::xorshift(0x9E37_79B9_7F4A_7C15u64);
    let target = dir.path().join("mutant.gvb");
    for round in 0..400 {
        let mut mutant = bytes.clone();
        match round % 4 {
            0 => {
                let at = next() as usize % mutant.len();
                mutant[at] ^= 1 << (next() % 8);
            }
            1 => mutant.truncate(next() as usize % mutant.len()),
            2 => {
                let at = next() as usize % mutant.len();
                let len = (next() as usize % 64).min(mutant.len() - at);
                mutant.drain(at..at + len);
            }
            _ => {
                let at = next() as usize % mutant.len();
                mutant.splice(at..at, (0..next() % 32).map(|_| next() as u8));
            }
        }
        fs::write(&target, &mutant).unwrap();
        node.import(std::slice::from_ref(&target)).unwrap();
    }
    // Whatever was stored links up and verifies.
    let feed = alice.feed_id();
    let stored = node.feed(&feed, u64::MAX).unwrap();
    for pair in stored.windows(2) {
        assert_eq!(pair[0].header.sequence, pair[1].header.sequence + 1);
        assert_eq!(pair[0].header.previous, Some(pair[1].id));
    }
    for m in &stored {
        m.verify_signature().unwrap();
    }
    assert_eq!(
        stored.len(),
        40,
        "every message eventually salvaged from some mutant"
    );
}

/// Mutations inside a sound container: the records of a segment are mutated, then framed and
/// signed again by a carrier, so zstd checksums and the bundle signature hold and every
/// mutant reaches message validation (header, content, signature, linking). Never a panic;
/// what is stored is a valid chain of correctly signed messages; and each kind of check was
/// reached and refused something.
#[test]
fn mutated_records_in_sound_containers_reach_every_check() {
    let home = tempfile::tempdir().unwrap();
    let alice = Identity::from_seed(&[9; 32]);
    let carrier = Identity::from_seed(&[10; 32]);
    let messages = chain(&alice, 40);
    let mut records = Vec::new();
    let mut starts = Vec::new();
    for m in &messages {
        starts.push(records.len());
        m.write_record(&mut records);
    }
    let mut node = Node::init(&home.path().join("n"), None).unwrap();
    node.contact(alice.feed_id(), grapevine::content::ContactChange::Follow)
        .unwrap();
    let mut next = crate::harness::xorshift(0x2545_F491_4F6C_DD1Du64);
    let dir = stick();
    let target = dir.path().join("remade.gvb");
    let mut reasons: std::collections::BTreeMap<&str, u32> = Default::default();
    for round in 0..600u64 {
        let mut mutant = records.clone();
        // Aim at one record: its header fields, its signature or its content.
        let which = next() as usize % messages.len();
        let (record, content) = (starts[which], messages[which].content.len());
        let at = match round % 3 {
            0 => record + next() as usize % 118,
            1 => record + 118 + next() as usize % 64,
            _ => record + 182 + next() as usize % content,
        };
        mutant[at] ^= 1 << (next() % 8);
        let manifest =
            bundle::Manifest::describing(carrier.feed_id(), &format!("{round:032x}"), 0, &messages);
        let mut writer =
            bundle::BundleWriter::new(fs::File::create(&target).unwrap(), &carrier, &manifest)
                .unwrap();
        writer.write_entry("segments/000001.msgs", &mutant).unwrap();
        writer.finish().unwrap();
        let summary = node.import(std::slice::from_ref(&target)).unwrap();
        for outcome in &summary.bundles {
            for r in &outcome.messages.rejections {
                let class = if r.reason.contains("signature") {
                    "signature"
                } else if r.reason.contains("content") {
                    "content"
                } else {
                    "header"
                };
                *reasons.entry(class).or_default() += 1;
            }
        }
    }
    let stored = node.feed(&alice.feed_id(), u64::MAX).unwrap();
    for pair in stored.windows(2) {
        assert_eq!(pair[0].header.sequence, pair[1].header.sequence + 1);
        assert_eq!(pair[0].header.previous, Some(pair[1].id));
    }
    for m in &stored {
        m.verify_signature().unwrap();
    }
    assert_eq!(stored.len(), 40, "every message salvaged from some mutant");
    for class in ["header", "content", "signature"] {
        assert!(
            reasons.get(class).copied().unwrap_or(0) > 0,
            "the {class} checks were reached: {reasons:?}"
        );
    }
    let report = node.store().check(true).unwrap();
    assert!(report.is_consistent(), "{:?}", report.problems);
}

/// Ctrl-C during an import: the reading ends after the batch in hand, every message verified
/// before is kept (a consistent store, no settling skipped for good), the summary says it
/// stopped, and the same import again takes in exactly the rest.
#[test]
fn a_stopped_import_keeps_what_it_read_and_the_next_takes_the_rest() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let home = tempfile::tempdir().unwrap();
    let alice = Identity::from_seed(&[21; 32]);
    let total = 3 * grapevine::ingest::BATCH as u64 + 7;
    let dir = stick();
    let file = dir.path().join("big.gvb");
    write_bundle(&file, &alice, &chain(&alice, total));
    let mut node = Node::init(&home.path().join("n"), None).unwrap();
    node.contact(alice.feed_id(), grapevine::content::ContactChange::Follow)
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    node.stop_when(stop.clone());
    // Ctrl-C as soon as the first batch has been read.
    let pressed = stop.clone();
    node.on_progress(Box::new(move |read| {
        if read > 0 {
            pressed.store(true, Ordering::Relaxed);
        }
    }));
    let first = node.import(std::slice::from_ref(&file)).unwrap();
    assert!(first.stopped && first.is_clean(), "stopping is no damage");
    let kept = first.total().new;
    assert!(kept > 0 && kept < total, "kept {kept} of {total}");
    assert_eq!(
        node.store().frontier(&alice.feed_id()).unwrap().sequence,
        kept
    );
    assert!(node.store().check(false).unwrap().is_consistent());

    stop.store(false, Ordering::Relaxed);
    node.on_progress(Box::new(|_| {}));
    let second = node.import(std::slice::from_ref(&file)).unwrap();
    assert!(!second.stopped && second.is_clean());
    assert_eq!(second.total().new, total - kept);
    assert_eq!(second.total().already_held, kept);
}
