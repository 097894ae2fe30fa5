//! Carrying what is new, not everything (docs/replication.md, "What a bundle carries"): readers
//! say what they want, strangers and those who stopped coming shape nothing, a folder holds one
//! bundle of ours, and a stick only we write to gets what is new since our last bundle on it.

use std::fs;
use std::path::PathBuf;

use grapevine::bundle;
use grapevine::identity::Identity;

use crate::harness::{TestNode, exported, path_str, stick};

/// "wrote PATH (N messages of …)" from `sync-dir`'s output: (path, N).
fn wrote(out: &str) -> Option<(PathBuf, u64)> {
    let line = out.lines().find(|l| l.starts_with("wrote "))?;
    let (path, rest) = line["wrote ".len()..].split_once(" (")?;
    let n = rest.split_whitespace().next()?.parse().ok()?;
    Some((PathBuf::from(path), n))
}

/// A stranger who runs `sync-dir` once in a shared folder makes no one send everything: its
/// manifest says it wants only its own feed.
#[test]
fn a_stranger_in_a_folder_is_sent_only_what_it_wants() {
    let [a, b, c] = ["a", "b", "c"].map(TestNode::new);
    for (x, y) in [(&a, &b), (&a, &c), (&b, &a), (&b, &c), (&c, &a), (&c, &b)] {
        x.follow(y);
    }
    for n in [&a, &b, &c] {
        n.post("hello folder");
    }
    let folder = stick();
    let dir = path_str(folder.path());
    for _ in 0..2 {
        for n in [&a, &b, &c] {
            n.ok(&["sync-dir", dir]);
        }
    }
    let stranger = TestNode::new("stranger");
    stranger.post("just passing through");
    stranger.ok(&["sync-dir", dir]);
    a.post("one more");
    let out = a.ok(&["sync-dir", dir]);
    let (path, n) = wrote(&out).unwrap_or_else(|| panic!("a wrote nothing: {out}"));
    assert_eq!(n, 1, "only the new post, for b and c: {out}");
    let manifest = bundle::read_manifest(fs::File::open(&path).unwrap())
        .unwrap()
        .unwrap();
    let known: Vec<grapevine::FeedId> = [a.id(), b.id(), c.id(), stranger.id()]
        .iter()
        .map(|id| id.parse().unwrap())
        .collect();
    let mut wants: Vec<String> = manifest
        .claims(&known)
        .wants
        .expect("a's manifest says what a wants")
        .iter()
        .map(ToString::to_string)
        .collect();
    wants.sort();
    let mut expected = vec![a.id(), b.id(), c.id()];
    expected.sort();
    assert_eq!(wants, expected);
    assert_eq!(
        a.own_bundles_in(folder.path()),
        1,
        "one bundle of a's there"
    );
}

/// A `--for` peer is sent what its own manifest says it wants, not what we guess from its
/// contacts: b replicates one hop only, so c's feed (two hops from b) is not sent to it.
#[test]
fn a_peer_is_sent_what_its_manifest_wants() {
    let [a, b, c] = ["a", "b", "c"].map(TestNode::new);
    b.ok(&["config", "set", "hops", "1"]);
    a.follow(&b);
    a.follow(&c);
    b.follow(&a);
    c.post("c's post");
    a.import(&c.export_to(stick().path()));
    a.import(&b.export_to(stick().path()));
    let to_b = stick();
    let out = a.ok(&["export", path_str(to_b.path()), "--for", &b.id()]);
    let (_, path) = exported(&out).unwrap_or_else(|| panic!("{out}"));
    let manifest = bundle::read_manifest(fs::File::open(&path).unwrap())
        .unwrap()
        .unwrap();
    let carried: Vec<String> = manifest.feeds.iter().map(|r| r.feed.to_string()).collect();
    assert_eq!(carried, [a.id()], "c is two hops from b: {out}");
}

/// A participant whose newest file is older than `folder-stale-days` no longer shapes what we
/// write, and we say so once.
#[test]
fn a_participant_who_stopped_coming_is_forgotten() {
    let [a, b] = ["a", "b"].map(TestNode::new);
    a.ok(&["config", "set", "folder-stale-days", "1"]);
    a.post("news");
    let folder = stick();
    // b's only file there is two days old.
    let b_key = Identity::load(&b.home().join("secret.key")).unwrap();
    let two_days_ago = grapevine::now_ms() - 2 * 86_400_000;
    let (bytes, _) =
        bundle::write_messages(Vec::new(), &b_key, &"0b".repeat(16), two_days_ago, &[]).unwrap();
    let b_file = folder
        .path()
        .join(format!("gv-{}-1.gvb", b.id().trim_start_matches('@')));
    fs::write(&b_file, bytes).unwrap();
    let dir = path_str(folder.path());

    let first = a.run(&["sync-dir", dir]);
    assert!(first.status.success());
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(stderr.matches("last wrote here").count(), 1, "{stderr}");
    assert!(stderr.contains(&b.id()), "{stderr}");
    let out = String::from_utf8_lossy(&first.stdout);
    let (_, n) = wrote(&out).unwrap_or_else(|| panic!("a wrote nothing: {out}"));
    assert!(n >= 2, "a's posts, as if b were not there: {out}");

    // Alone there, a writes what is new since its last bundle.
    a.post("more news");
    let second = a.run(&["sync-dir", dir]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!stderr.contains("last wrote here"), "said once: {stderr}");
    let out = String::from_utf8_lossy(&second.stdout);
    assert_eq!(wrote(&out).map(|(_, n)| n), Some(1), "{out}");
    assert!(b_file.exists(), "nobody removes another's file");

    // With the default (30 days) b is a participant again: it lacks all of a's feed.
    a.ok(&["config", "set", "folder-stale-days", "30"]);
    a.post("for b");
    let third = a.ok(&["sync-dir", dir]);
    assert!(wrote(&third).is_some_and(|(_, n)| n >= 3), "{third}");
}

/// `export` to a stick only we write to carries what is new since our last bundle there, and
/// replaces that bundle; with nothing new it writes nothing.
#[test]
fn exports_to_ones_own_stick_carry_what_is_new() {
    let a = TestNode::new("a");
    for i in 0..20 {
        a.post(&format!("post {i}"));
    }
    let own = stick();
    let dir = path_str(own.path());
    let out = a.ok(&["export", dir]);
    let (all, first) = exported(&out).unwrap_or_else(|| panic!("{out}"));
    assert!(all >= 20, "{out}");
    a.post("new");
    a.post("newer");
    let out = a.ok(&["export", dir]);
    assert_eq!(exported(&out).map(|(n, _)| n), Some(2), "{out}");
    assert!(!first.exists(), "superseded");
    assert_eq!(a.own_bundles_in(own.path()), 1);
    let out = a.ok(&["export", dir]);
    assert!(out.starts_with("nothing to send"), "{out}");
    let out = a.ok(&["export", dir, "--all"]);
    assert_eq!(exported(&out).map(|(n, _)| n), Some(all + 2), "{out}");
}

/// Peers we heard from lately are readers of our stick too: what they lack travels on it.
#[test]
fn exports_to_ones_own_stick_carry_what_known_peers_lack() {
    let [a, b] = ["a", "b"].map(TestNode::new);
    a.follow(&b);
    b.follow(&a);
    a.post("first");
    let own = stick();
    let dir = path_str(own.path());
    exported(&a.ok(&["export", dir])).unwrap();
    // b tells a (on another stick) that it holds nothing of a's feed yet.
    a.import(&b.export_to(stick().path()));
    a.post("second");
    let out = a.ok(&["export", dir]);
    let (n, _) = exported(&out).unwrap_or_else(|| panic!("{out}"));
    assert!(
        n >= 3,
        "all of a's feed, which b lacks, not only 'second': {out}"
    );
}

/// Two steps when both are there: b writes only what it holds (`--frontier-only`), and a, who
/// last heard from b before b got a's posts elsewhere, then sends b just the one it lacks.
#[test]
fn a_frontier_first_lets_the_other_send_only_what_is_lacking() {
    let [a, b] = ["a", "b"].map(TestNode::new);
    a.follow(&b);
    b.follow(&a);
    for i in 0..10 {
        a.post(&format!("post {i}"));
    }
    let (a_stick, b_stick) = (stick(), stick());
    let old = b.export_to(b_stick.path());
    a.import(b_stick.path());
    // b gets a's posts another way (a shared folder, someone else's stick).
    b.import(&a.export_to(stick().path()));
    a.post("new since");

    let out = b.ok(&[
        "export",
        path_str(b_stick.path()),
        "--frontier-only",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["wrote"]["messages"], 0, "{out}");
    assert!(
        !old.exists(),
        "the frontier replaces b's older bundle: {out}"
    );
    assert_eq!(b.own_bundles_in(b_stick.path()), 1);
    a.import(b_stick.path());

    let out = a.ok(&["export", path_str(a_stick.path()), "--for", &b.id()]);
    assert_eq!(
        exported(&out).map(|(n, _)| n),
        Some(1),
        "only the post b lacks: {out}"
    );
    b.import(a_stick.path());
    assert_eq!(
        b.posts(&a.id()).last().map(String::as_str),
        Some("new since")
    );
    let human = b.ok(&["export", path_str(b_stick.path()), "--frontier-only"]);
    assert!(human.contains("no messages"), "{human}");
}

/// A peer met on a stick that wants a feed it holds none of yet is sent that feed's follows
/// too: it learns them from this very bundle, and may not meet us again for days.
#[test]
fn a_peer_first_meeting_a_feed_is_sent_its_follows_too() {
    let [a, b, c, d] = ["a", "b", "c", "d"].map(TestNode::new);
    c.follow(&d);
    a.follow(&c);
    b.follow(&c);
    c.post("c's news");
    d.post("d's news");
    a.import(&c.export_to(stick().path()));
    a.import(&d.export_to(stick().path()));
    assert_eq!(
        a.posts(&d.id()),
        ["d's news"],
        "a replicates d, two hops away"
    );

    let b_stick = stick();
    b.ok(&["export", path_str(b_stick.path()), "--frontier-only"]);
    a.import(b_stick.path());
    let a_stick = stick();
    a.ok(&["export", path_str(a_stick.path()), "--for", &b.id()]);
    b.import(a_stick.path());
    assert_eq!(b.posts(&c.id()), ["c's news"]);
    assert_eq!(
        b.posts(&d.id()),
        ["d's news"],
        "d, whom b learns of from c's follows in the same bundle, travelled too"
    );
}

/// A folder is read whole: what one participant's file there carries, the others' files do
/// not carry again, even for a reader that still lacks it (here one who stopped coming, whose
/// old claim stays alive for `folder-stale-days`). Only files of people we replicate count.
#[test]
fn what_one_file_in_a_folder_carries_the_others_do_not_carry_again() {
    let [a, b, c, gone] = ["a", "b", "c", "gone"].map(TestNode::new);
    for (x, y) in [(&a, &b), (&a, &c), (&b, &a), (&b, &c), (&c, &a), (&c, &b)] {
        x.follow(y);
    }
    gone.follow(&a);
    let folder = stick();
    let dir = path_str(folder.path());
    // Everyone writes there once; then `gone` stops coming.
    for node in [&gone, &a, &b, &c, &a, &b, &c] {
        node.ok(&["sync-dir", dir]);
    }
    a.post("news from a");
    let (_, n) = wrote(&a.ok(&["sync-dir", dir])).expect("a writes its news");
    assert!(n >= 1);
    let a_feed: grapevine::FeedId = a.id().parse().unwrap();
    let carries_a = |node: &TestNode| {
        let out = node.ok(&["sync-dir", dir]);
        assert!(
            node.posts(&a.id()).contains(&"news from a".to_owned()),
            "{} read a's file: {out}",
            node.name
        );
        wrote(&out).is_some_and(|(path, _)| {
            let manifest = bundle::read_manifest(fs::File::open(path).unwrap())
                .unwrap()
                .unwrap();
            manifest.feeds.iter().any(|r| r.feed == a_feed)
        })
    };
    assert!(!carries_a(&b), "b carried a's news again");
    assert!(!carries_a(&c), "c carried a's news again");
}

/// A signed frontier-only bundle from `peer` saying it holds `feed` up to `held` and wants it,
/// as a manifest of `version` states it: 1 lists ids, 2 packs salted tags (bundle.md).
fn claims_in_version(path: &std::path::Path, peer: &Identity, feed: &str, held: u64, version: u32) {
    let feed: grapevine::FeedId = feed.parse().unwrap();
    let bundle_id = "5a".repeat(16);
    let frontier = if version == 1 {
        bundle::Frontier::Listed {
            held: vec![bundle::FrontierEntry {
                feed,
                sequence: held,
                id: grapevine::MessageId([3; 32]),
            }],
            wants: Some(vec![feed]),
        }
    } else {
        bundle::Frontier::Tagged(bundle::Tagged::pack(&[0x5a; 16], &[(feed, held)], true).unwrap())
    };
    let manifest = bundle::Manifest {
        format: bundle::FORMAT.into(),
        version,
        bundle_id,
        exporter: peer.feed_id(),
        created_at: grapevine::now_ms(),
        recipient: None,
        feeds: Vec::new(),
        frontier,
        hops: Some(2),
    };
    let writer = bundle::BundleWriter::new(Vec::new(), peer, &manifest).unwrap();
    fs::write(path, writer.finish().unwrap().0).unwrap();
}

/// What a peer says it holds counts the same from a version 1 manifest (an older grapevine)
/// as from a version 2 one: a bundle for it carries only what lies beyond.
#[test]
fn an_older_grapevines_claims_count_as_a_newer_ones() {
    for version in [1, 2] {
        let a = TestNode::new("a");
        let peer = Identity::from_seed(&[71; 32]);
        a.follow_id(&peer.feed_id().to_string());
        for n in 1..=5 {
            a.post(&format!("post {n}"));
        }
        let s = stick();
        let claims = s.path().join("claims.gvb");
        claims_in_version(&claims, &peer, &a.id(), 3, version);
        let out = a.import(&claims);
        assert!(!out.contains("not verified"), "version {version}: {out}");
        let t = stick();
        let out = a.ok(&[
            "export",
            path_str(t.path()),
            "--for",
            &peer.feed_id().to_string(),
        ]);
        let (n, _) = exported(&out).unwrap_or_else(|| panic!("version {version}: {out}"));
        let beyond = a.feed(&a.id()).len() as u64 - 3;
        assert_eq!(
            n, beyond,
            "version {version}: only what lies beyond 3: {out}"
        );
    }
}
