//! One node on its own: identity, posting, concurrency.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use crate::harness::{TestNode, written_id};

#[test]
fn init_refuses_to_overwrite_an_identity() {
    let alice = TestNode::new("alice");
    let id = alice.id();
    let out = alice.fails_with(1, &["init", "--name", "mallory"]);
    assert!(out.contains("refusing to overwrite"), "{out}");
    assert_eq!(alice.id(), id);
    let key = alice.home().join("secret.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn commands_without_an_identity_explain_what_to_do() {
    let nobody = TestNode::uninitialised("nobody");
    let out = nobody.fails_with(1, &["post", "hello"]);
    assert!(out.contains("grapevine init"), "{out}");
}

#[test]
fn each_command_prints_one_id_and_feeds_read_back() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    let post = alice.post("first");
    assert!(
        post.starts_with('%') && post.len() == 53,
        "message id: {post}"
    );
    let reply = written_id(&alice.ok(&["reply", &post, "answer", "--json"]));
    alice.ok(&["name", "alice2"]);
    let bob_id = bob.id();
    for (verb, said) in [
        ("follow", "now following bob"),
        ("unfollow", "no longer following bob"),
        ("block", "blocked bob"),
        ("unblock", "no longer blocking bob"),
    ] {
        let mut args = vec![verb, &bob_id];
        if verb == "follow" || verb == "block" {
            args.push("--yes");
        }
        let out = alice.ok(&args);
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(out.starts_with(said) || out.contains("@"), "{verb}: {out}");
    }
    let feed = alice.feed(&alice.id());
    assert_eq!(feed.len(), 8);
    assert_eq!(feed[5]["id"], reply.as_str());
    assert_eq!(feed[5]["content"]["reply"], post.as_str());
    assert_eq!(feed[4]["content"]["name"], "alice2");
    assert_eq!(feed[0]["content"]["blocking"], false);
    let limited = alice.ok(&["feed", "--json", "--limit", "2"]);
    assert_eq!(
        serde_json::from_str::<Vec<serde_json::Value>>(&limited)
            .unwrap()
            .len(),
        2
    );
    let out = alice.fails_with(1, &["follow", "not-an-id"]);
    assert!(
        out.contains("no one known here is called 'not-an-id'"),
        "{out}"
    );
}

#[test]
fn post_reads_standard_input() {
    let alice = TestNode::new("alice");
    let out = alice.run_with_input(&["post", "-"], b"line one\nline two\n");
    assert!(out.status.success());
    assert_eq!(alice.posts(&alice.id()), ["line one\nline two"]);
}

/// Two processes posting to one home at once: no lost post, no fork of our own feed.
#[test]
fn concurrent_posts_on_one_home_are_all_kept() {
    let alice = TestNode::new("alice");
    let children: Vec<_> = (0..8)
        .map(|i| {
            alice
                .command(&["post", &format!("post {i}")])
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let feed = alice.feed(&alice.id());
    assert_eq!(feed.len(), 9);
    for (i, message) in feed.iter().rev().enumerate() {
        assert_eq!(message["sequence"], i as u64 + 1);
    }
    assert_eq!(alice.status()["fork_proofs"], serde_json::json!([]));
}

#[test]
fn status_reports_what_is_held() {
    let alice = TestNode::new("alice");
    alice.post("one");
    let status = alice.status();
    assert_eq!(status["me"]["id"], alice.id().as_str());
    assert_eq!(status["messages"], 2);
    assert_eq!(status["feeds"], 1);
    let text = alice.ok(&["status"]);
    assert!(text.contains("holds    2 messages of 1 feed"), "{text}");
}

#[test]
fn demo_runs_and_carol_reads_alice() {
    let out = std::process::Command::new(crate::harness::bin())
        .arg("demo")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let carol_view = text.split("carol's timeline").nth(1).expect("carol's view");
    assert!(
        carol_view.contains("alice  The river bridge is open again.  ♥ 1  (1 reply)"),
        "{text}"
    );
    assert!(
        carol_view.contains("from alice: Carol, the seeds"),
        "{text}"
    );
    assert!(text.contains("mallory's stick, read by bob: 4 messages of 1 feed; 0 new, 4 refused"));
    assert!(text.contains("carol has 0 of them"), "{text}");
    assert!(!carol_view.contains("WATCHES"), "{text}");
    assert!(text.lines().count() <= 25, "{text}");
    // It says its folder is gone, and `--keep` keeps it (#27).
    let gone = text.lines().last().unwrap_or_default();
    let folder = gone.split_whitespace().nth(3).unwrap_or_default();
    assert!(gone.contains("is removed now"), "{gone}");
    assert!(!std::path::Path::new(folder).exists(), "{gone}");
    let kept = std::process::Command::new(crate::harness::bin())
        .args(["demo", "--keep"])
        .output()
        .unwrap();
    let text = String::from_utf8(kept.stdout).unwrap();
    let folder = text
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().nth(5))
        .unwrap_or_default()
        .trim_end_matches(':')
        .to_owned();
    let bob = std::path::Path::new(&folder).join("bob");
    assert!(bob.join("store.sqlite").is_file(), "{text}");
    std::fs::remove_dir_all(&folder).unwrap();
}
