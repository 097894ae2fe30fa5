#![cfg(test)]
use std::cell::RefCell;
use std::collections::HashMap;

use super::*;
use crate::identity::Identity;
use crate::private_box::Opener;

fn feed(identity: &Identity, contents: &[String]) -> Vec<Message> {
    let mut previous = None;
    let mut out = Vec::new();
    for (i, text) in contents.iter().enumerate() {
        let m = Message::create(
            identity,
            i as u64 + 1,
            previous,
            0,
            ContentKind::Json,
            text.clone().into_bytes(),
        )
        .expect("a message");
        previous = Some(m.id);
        out.push(m);
    }
    out
}

fn only(feed: FeedId) -> ReplicationSet {
    ReplicationSet {
        root: feed,
        distance: HashMap::from([(feed, 0)]),
        excluded: HashMap::new(),
    }
}

/// Every rejection, unreadable box and fork is counted; the first 50 are kept to show.
#[test]
fn a_cheap_look_finds_only_what_is_there() {
    assert!(holds(br#"{"type":"device"}"#, br#""device""#));
    assert!(!holds(
        br#"{"type":"post","text":"devices"}"#,
        br#""device""#
    ));
    assert!(!holds(b"\"dev", br#""device""#));
}

#[test]
fn reports_count_everything_and_keep_the_first_fifty() {
    let mut report = IngestReport::default();
    let rejection = |i: u64| Rejection {
        place: "test".into(),
        feed: None,
        sequence: Some(i),
        reason: format!("number {i}"),
    };
    for i in 0..30 {
        report.unreadable(rejection(i));
    }
    for i in 30..61 {
        report.reject(rejection(i));
    }
    for i in 0..51 {
        report.fork(FeedId([1; 32]), i);
    }
    assert_eq!(
        (report.unreadable, report.rejected, report.forks),
        (30, 31, 51)
    );
    assert_eq!(report.rejections.len(), 50);
    assert_eq!(
        report.rejections[0].sequence,
        Some(0),
        "the first ones are kept"
    );
    assert_eq!(report.rejections[49].sequence, Some(49));
    assert_eq!(report.forked.len(), 50);
    assert_eq!(report.forked[49], (FeedId([1; 32]), 49));
    let mut only_unreadable = IngestReport::default();
    for i in 0..51 {
        only_unreadable.unreadable(rejection(i));
    }
    assert_eq!(only_unreadable.rejections.len(), 50);
}

#[test]
fn progress_counts_the_messages_read_batch_by_batch() {
    let dir = tempfile::tempdir().expect("dir");
    let mut store = Store::open(&dir.path().join("s.sqlite")).expect("store");
    let me = Identity::from_seed(&[1; 32]);
    let opener = Opener::of(&me);
    let posts: Vec<String> = (0..BATCH + 5)
        .map(|i| format!(r#"{{"type":"post","text":"{i}"}}"#))
        .collect();
    let seen = RefCell::new(Vec::new());
    let note = |n: u64| seen.borrow_mut().push(n);
    let mut ingester =
        Ingester::new(&mut store, &opener, &crate::clock::SystemClock).reporting(Some(&note));
    let messages = feed(&me, &posts);
    for m in messages.iter().cloned().chain([messages[0].clone()]) {
        ingester.push(m, "test").expect("push");
    }
    let report = ingester.finish().expect("finish");
    assert_eq!(report.new, (BATCH + 5) as u64);
    assert_eq!(
        report.already_held, 1,
        "the first message again, in the next batch, while the first may still be unwritten"
    );
    assert_eq!(*seen.borrow(), [BATCH as u64, (BATCH + 6) as u64]);
    assert_eq!(
        store.frontier(&me.feed_id()).expect("frontier").sequence,
        (BATCH + 5) as u64
    );
}

/// A message met twice in one batch is stored once and counted once as already held,
/// whether it links or waits for an earlier one; another one for a waiting position is a
/// fork.
#[test]
fn duplicates_within_a_batch_are_already_held() {
    let dir = tempfile::tempdir().expect("dir");
    let mut store = Store::open(&dir.path().join("s.sqlite")).expect("store");
    let (a, b) = (Identity::from_seed(&[1; 32]), Identity::from_seed(&[2; 32]));
    let opener = Opener::of(&a);
    let posts: Vec<String> = (0..3)
        .map(|i| format!(r#"{{"type":"post","text":"{i}"}}"#))
        .collect();
    let (fa, fb) = (feed(&a, &posts), feed(&b, &posts));
    // Another message b signed for position 2, while 1 is missing: fork evidence.
    let other = feed(&b, &[posts[2].clone(), posts[1].clone()]);
    let mut ingester = Ingester::new(&mut store, &opener, &crate::clock::SystemClock);
    let pushed = [
        &fa[0], &fa[1], &fa[2], &fa[1], &fa[2], &fb[1], &fb[2], &fb[1], &other[1], &fb[1],
    ];
    for m in pushed {
        ingester.push(m.clone(), "test").expect("push");
    }
    let report = ingester.finish().expect("finish");
    assert_eq!(
        (
            report.new,
            report.pending,
            report.already_held,
            report.forks
        ),
        (5, 2, 4, 1)
    );
}

/// A long-lived ingester (a LAN session's): `settle` stores everything pushed so far, and
/// `want` judges the batches that follow by a new replication set.
#[test]
fn a_long_lived_ingester_settles_and_takes_a_new_set() {
    let dir = tempfile::tempdir().expect("dir");
    let mut store = Store::open(&dir.path().join("s.sqlite")).expect("store");
    let (me, bob) = (Identity::from_seed(&[1; 32]), Identity::from_seed(&[2; 32]));
    let opener = Opener::of(&me);
    let posts: Vec<String> = (0..3)
        .map(|i| format!(r#"{{"type":"post","text":"{i}"}}"#))
        .collect();
    let bobs = feed(&bob, &posts);
    let set = only(me.feed_id());
    let mut ingester = Ingester::new(&mut store, &opener, &crate::clock::SystemClock).wanting(&set);
    ingester.push(bobs[0].clone(), "test").expect("push");
    ingester.settle().expect("settle");
    assert_eq!((ingester.report.new, ingester.report.not_wanted), (0, 1));
    let mut wider = only(me.feed_id());
    wider.distance.insert(bob.feed_id(), 1);
    ingester.want(wider);
    for m in &bobs {
        ingester.push(m.clone(), "test").expect("push");
    }
    ingester.settle().expect("settle");
    assert_eq!(ingester.report.new, 3, "stored once settled, before finish");
    let report = ingester.finish().expect("finish");
    assert_eq!((report.new, report.not_wanted), (3, 1));
    assert_eq!(
        store.frontier(&bob.feed_id()).expect("frontier").sequence,
        3
    );
}

/// The verifier thread packs every valid message's content with the dictionary it was
/// given, exactly as the writer would, so the writer thread only writes; a forged message
/// is left alone.
#[test]
fn contents_are_packed_beside_verification() {
    let me = Identity::from_seed(&[1; 32]);
    let posts: Vec<String> = (0..300)
        .map(|i| format!(r#"{{"type":"post","text":"a post about the weather, number {i}"}}"#))
        .collect();
    let mut messages = feed(&me, &posts);
    messages[7].envelope[150] ^= 1;
    let samples: Vec<Vec<u8>> = messages.iter().map(|m| m.content.clone()).collect();
    let dictionary = store::pack::train(&samples).expect("a dictionary");
    let packer = |key| store::Packer::new(key, &dictionary).expect("a packer");
    let fresh = messages
        .iter()
        .map(|m| (m.clone(), "test".to_owned()))
        .collect();
    let checked = Checked::verify(fresh, Vec::new(), Some(packer(3)));
    let mut writers = packer(3);
    for (i, (m, packing)) in messages.iter().zip(&checked.packed).enumerate() {
        let as_writer = writers.pack(&m.content);
        match (packing, i) {
            (Packing::Untried, 7) => {}
            (Packing::With(3, bytes), i) if i != 7 && as_writer.as_ref() == Some(bytes) => {}
            (Packing::Raw, i) if i != 7 && as_writer.is_none() => {}
            _ => panic!("message {i} was not packed as the writer would"),
        }
    }
    assert_eq!(checked.packed.len(), messages.len());
}

/// A feed we do not replicate is not stored, but the name its own signed `about` message
/// gives it is remembered; a forged one is not.
#[test]
fn names_of_feeds_carried_past_are_heard_when_signed() {
    let dir = tempfile::tempdir().expect("dir");
    let mut store = Store::open(&dir.path().join("s.sqlite")).expect("store");
    let me = Identity::from_seed(&[1; 32]);
    let (bob, carol) = (Identity::from_seed(&[2; 32]), Identity::from_seed(&[3; 32]));
    let opener = Opener::of(&me);
    // With a long description: a name is heard from an `about` message of any size.
    let about = |who: &Identity, name: &str| {
        format!(
            r#"{{"type":"about","about":"{}","name":"{name}","description":"{}"}}"#,
            who.feed_id(),
            "x".repeat(1000)
        )
    };
    let set = only(me.feed_id());
    let mut ingester = Ingester::new(&mut store, &opener, &crate::clock::SystemClock).wanting(&set);
    for m in feed(&bob, &[about(&bob, "bob")]) {
        ingester.push(m, "test").expect("push");
    }
    let mut forged = feed(&carol, &[about(&carol, "carol")]).remove(0);
    forged.envelope[150] ^= 1;
    ingester.push(forged, "test").expect("push");
    let report = ingester.finish().expect("finish");
    assert_eq!((report.new, report.not_wanted), (0, 2));
    let names = store.names().expect("names");
    let heard: Vec<(FeedId, Option<String>)> =
        names.into_iter().map(|(f, _, own)| (f, own)).collect();
    assert_eq!(heard, [(bob.feed_id(), Some("bob".to_owned()))]);
    assert_eq!(
        store.frontier(&bob.feed_id()).expect("frontier").sequence,
        0
    );
}
