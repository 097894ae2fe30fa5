//! Crash safety: `grapevine` killed (SIGKILL) at arbitrary moments during import and export
//! leaves a consistent store and never a partial bundle under a final name.

use std::fs;
use std::time::Duration;

use grapevine::bundle;
use grapevine::identity::Identity;
use grapevine::message::{ContentKind, Message};

use crate::harness::{TestNode, path_str, stick};

/// The feed must be a chain 1..n where each message names the one before.
fn assert_chain(node: &TestNode, feed: &str) -> usize {
    let messages = node.feed(feed);
    for pair in messages.windows(2) {
        assert_eq!(
            pair[0]["sequence"].as_u64().unwrap(),
            pair[1]["sequence"].as_u64().unwrap() + 1
        );
        assert_eq!(
            pair[0]["previous"], pair[1]["id"],
            "a broken chain after a kill"
        );
    }
    if let Some(first) = messages.last() {
        assert_eq!(first["sequence"], 1);
    }
    messages.len()
}

#[test]
fn kills_during_import_and_export_leave_a_consistent_store() {
    let author = Identity::from_seed(&[42; 32]);
    let mut messages: Vec<Message> = Vec::new();
    for seq in 1..=30_000u64 {
        let content =
            format!(r#"{{"type":"post","text":"message {seq} of a long diary"}}"#).into_bytes();
        let previous = messages.last().map(|m| m.id);
        messages
            .push(Message::create(&author, seq, previous, 0, ContentKind::Json, content).unwrap());
    }
    let dir = stick();
    let path = dir.path().join("big.gvb");
    let (bytes, _) =
        bundle::write_messages(Vec::new(), &author, &"ee".repeat(16), 0, &messages).unwrap();
    fs::write(&path, bytes).unwrap();
    let node = TestNode::new("victim");
    let feed = author.feed_id().to_string();
    node.follow_id(&feed);
    let out = stick();
    let mut rng = 0x5DEECE66Du64;
    for round in 0..6 {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_millis(30 + (rng >> 33) % 400);
        let args: Vec<&str> = if round % 2 == 0 {
            vec!["import", path_str(&path)]
        } else {
            vec!["export", path_str(out.path()), "--all"]
        };
        let mut child = node
            .command(&args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // The pause is the random moment of the kill, not a wait for anything.
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let held = assert_chain(&node, &feed);
        eprintln!(
            "round {round}: killed `{}` after {delay:?}; {held} messages held, chain intact",
            args[0]
        );
        for entry in fs::read_dir(out.path()).unwrap() {
            let file = entry.unwrap().path();
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".gvb") && !name.starts_with('.') {
                let check = TestNode::new("checker");
                check.follow_id(&feed);
                let report = check.ok(&["import", path_str(&file)]);
                assert!(
                    report.contains("0 rejected"),
                    "a complete bundle under its final name: {report}"
                );
            }
        }
    }
    node.ok(&["import", path_str(&path)]);
    assert_eq!(
        assert_chain(&node, &feed),
        30_000,
        "a final import completes the diary"
    );
}
