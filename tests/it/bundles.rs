//! Diaries carried on a stick: round trips, re-imports, carrying for others.

use std::process::Command;

use crate::harness::{TestNode, import_counts, path_str, stick};

/// alice posts, writes a bundle to the stick; bob imports the folder and reads her posts.
#[test]
fn round_trip_over_a_folder() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    bob.follow(&alice);
    alice.post("hello from the hills");
    alice.post("second post");
    let stick = stick();
    let bundle = alice.export_to(stick.path());
    assert!(
        bundle.starts_with(stick.path()),
        "bundle written into the folder: {bundle:?}"
    );
    let summary = bob.import(stick.path());
    assert_eq!(import_counts(&summary), (3, 0, 0), "{summary}");
    assert_eq!(
        bob.posts(&alice.id()),
        ["hello from the hills", "second post"]
    );
    let feed = bob.feed(&alice.id());
    let newest = &feed[0];
    for field in [
        "id",
        "author",
        "sequence",
        "previous",
        "timestamp",
        "content",
    ] {
        assert!(
            newest.get(field).is_some(),
            "feed --json lacks {field}: {newest}"
        );
    }
    assert_eq!(newest["sequence"], 3);
    assert_eq!(newest["previous"], feed[1]["id"]);
    assert_eq!(feed[2]["previous"], serde_json::Value::Null);
    assert_eq!(feed[2]["content"]["type"], "about");
    let text = bob.ok(&["feed", &alice.id()]);
    assert!(
        text.starts_with("alice @"),
        "feed shows the author's name: {text}"
    );
}

/// Importing the same bundle twice changes nothing and says so.
#[test]
fn reimport_is_idempotent() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    bob.follow(&alice);
    for i in 0..5 {
        alice.post(&format!("post {i}"));
    }
    let stick = stick();
    let bundle = alice.export_to(stick.path());
    assert_eq!(import_counts(&bob.import(&bundle)), (6, 0, 0));
    let held = |s: serde_json::Value| {
        [
            "messages",
            "feeds",
            "pending",
            "fork_proofs",
            "unread_posts",
        ]
        .map(|k| s[k].clone())
    };
    let before = held(bob.status());
    assert_eq!(import_counts(&bob.import(&bundle)), (0, 6, 0));
    assert_eq!(held(bob.status()), before);
    assert_eq!(bob.posts(&alice.id()).len(), 5);
}

/// A → B → C: carol gets alice's posts from bob's bundle, never meeting alice.
#[test]
fn three_hop_carry() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    let carol = TestNode::new("carol");
    alice.post("news from the valley");
    bob.follow(&alice);
    carol.follow(&bob);
    let first = stick();
    bob.import(&alice.export_to(first.path()));
    let second = stick();
    let bundle = bob.export_to(second.path());
    let summary = carol.import(&bundle);
    assert_eq!(
        import_counts(&summary),
        (4, 0, 0),
        "alice's 2 and bob's 2 messages: {summary}"
    );
    assert_eq!(carol.posts(&alice.id()), ["news from the valley"]);
    assert_eq!(carol.status()["feeds"], 3);
}

/// Export never overwrites: a folder gets a fresh name each time, an existing file is refused.
#[test]
fn export_never_overwrites() {
    let alice = TestNode::new("alice");
    let stick = stick();
    let first = alice.export_to(stick.path());
    let second = alice.ok(&["export", path_str(stick.path()), "--anyway"]);
    let second = crate::harness::wrote_path(&second);
    assert_ne!(first, second);
    let name = first.file_name().unwrap().to_str().unwrap();
    assert!(
        name.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b)),
        "FAT32-safe, lower-case name: {name}"
    );
    let before = std::fs::read(&second).unwrap();
    let out = alice.fails_with(1, &["export", path_str(&second)]);
    assert!(out.contains("never overwrites"), "{out}");
    assert_eq!(std::fs::read(&second).unwrap(), before);
    let explicit = stick.path().join("for-bob.gvb");
    alice.ok(&["export", path_str(&explicit)]);
    assert!(explicit.is_file());
}

/// `tar --zstd -tf` lists a bundle: it is a standard archive.
#[test]
fn standard_tools_list_a_bundle() {
    let has_zstd_tar = Command::new("zstd").arg("--version").output().is_ok();
    if !has_zstd_tar {
        crate::harness::skip("the zstd command is not installed");
        return;
    }
    let alice = TestNode::new("alice");
    alice.post("listed by tar");
    let stick = stick();
    let bundle = alice.export_to(stick.path());
    let out = Command::new("tar")
        .args(["--zstd", "-tf", path_str(&bundle)])
        .output()
        .expect("run tar");
    assert!(
        out.status.success(),
        "tar failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        names,
        "manifest.json\nsegments/000001.msgs\nsignature.json\n"
    );
}

/// Messages of many feeds, more than one segment each, all arrive.
#[test]
fn large_bundle_spans_many_segments() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    bob.follow(&alice);
    let long = "x".repeat(8000);
    for _ in 0..300 {
        alice.post(&long);
    }
    let stick = stick();
    let bundle = alice.export_to(stick.path());
    let out = Command::new("tar")
        .args(["--zstd", "-tf", path_str(&bundle)])
        .output();
    if let Some(out) = out.ok().filter(|o| o.status.success()) {
        let segments = String::from_utf8_lossy(&out.stdout)
            .matches("segments/")
            .count();
        assert!(
            segments >= 3,
            "300 posts of 8 KB need several 1 MiB segments, got {segments}"
        );
    }
    assert_eq!(import_counts(&bob.import(&bundle)), (301, 0, 0));
    assert_eq!(bob.posts(&alice.id()).len(), 300);
}

/// A file named on the command line must exist (exit 1, with a hint); a file that vanishes
/// between listing a folder and reading it was replaced by its writer (drop-folder rule 3) and
/// is skipped without a word, so a busy shared folder never makes an import fail.
#[test]
fn missing_and_vanished_files() {
    let bob = TestNode::new("bob");
    let out = bob.fails_with(1, &["import", "/nonexistent/stick/x.gvb"]);
    assert!(
        out.contains("no such file or folder") && out.contains("mounted"),
        "{out}"
    );
    let home = tempfile::tempdir().unwrap();
    let mut node = grapevine::Node::init(&home.path().join("n"), None).unwrap();
    let gone = home.path().join("gv-gone-7.gvb");
    let summary = node.import(std::slice::from_ref(&gone)).unwrap();
    assert!(summary.is_clean(), "{:?}", summary.unreadable);
    assert!(summary.unreadable.is_empty() && summary.bundles.is_empty());
}
