//! Concurrency soak: one home runs `watch` and `serve` at once while the CLI posts, imports and
//! reads on it, and three peers post and sync with it by drop folder, LAN and stick, in random
//! order. Nothing may be lost, nothing may deadlock, no command may fail or report a busy
//! database, and every home passes `grapevine check` at the end.
//!
//! `GRAPEVINE_SOAK_SECS` sets how long the random phase runs (default 15 s; CI's system run
//! 120 s; the figures in docs/security.md come from a 600 s run).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::harness::{TestNode, eventually, path_str, stick};

const WAIT: Duration = Duration::from_secs(60);

fn soak_time() -> Duration {
    let secs = std::env::var("GRAPEVINE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    Duration::from_secs(secs)
}

/// Runs a command that must succeed without a word about a busy or locked store.
fn clean(node: &TestNode, args: &[&str]) -> String {
    let out = node.run(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{}: `grapevine {}` failed during the soak:\n{text}",
        node.name,
        args.join(" ")
    );
    assert!(
        !busy(&text),
        "{}: `grapevine {}` surfaced a busy store:\n{text}",
        node.name,
        args.join(" ")
    );
    text
}

/// Whether output speaks of a busy or locked store, or of a failure. Only phrases with spaces
/// are matched: ids are base32, and any word of letters can occur inside one.
fn busy(text: &str) -> bool {
    let lower = text.to_lowercase();
    [
        "database is locked",
        "table is locked",
        "sqlite_busy",
        "could not",
        "watch error",
        "dropped ",
    ]
    .iter()
    .any(|phrase| lower.contains(phrase))
}

#[test]
fn one_home_under_watch_serve_and_the_cli_at_once() {
    let [home, folder_friend, lan_friend, stick_friend] =
        ["home", "folder", "lan", "stick"].map(TestNode::new);
    for peer in [&folder_friend, &lan_friend, &stick_friend] {
        home.follow(peer);
        peer.follow(&home);
    }
    let folder = stick();
    let carry = stick();
    let mut watcher = home.spawn(&["watch", path_str(folder.path()), "--settle", "0"]);
    watcher.expect(WAIT, "the watcher ready", |l| l.starts_with("watching "));
    let (mut server, address) = crate::lan::serve(&home, &[]);

    let mut posted: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut post = |node: &TestNode, n: usize| {
        let text = format!("{} #{n}", node.name);
        clean(node, &["post", &text]);
        posted.entry(node.name.clone()).or_default().push(text);
    };
    let mut next = crate::harness::xorshift(0x2545_F491_4F6C_DD1Du64);
    let start = Instant::now();
    let mut actions = 0usize;
    while start.elapsed() < soak_time() {
        actions += 1;
        match next() % 6 {
            0 => post(&home, actions),
            1 => {
                post(&folder_friend, actions);
                clean(&folder_friend, &["sync-dir", path_str(folder.path())]);
            }
            2 => {
                post(&lan_friend, actions);
                clean(&lan_friend, &["sync", &address]);
            }
            3 => {
                post(&stick_friend, actions);
                let bundle = stick_friend.export_to(carry.path());
                clean(&home, &["import", path_str(&bundle)]);
                std::fs::remove_file(bundle).unwrap();
            }
            4 => {
                clean(&home, &["status"]);
                clean(&home, &["feed", "--limit", "5"]);
            }
            _ => {
                clean(&home, &["sync-dir", path_str(folder.path())]);
            }
        }
    }

    // Everything the peers posted reaches the home, through the processes still running.
    clean(&folder_friend, &["sync-dir", path_str(folder.path())]);
    clean(&lan_friend, &["sync", &address]);
    let want = |name: &str| posted.get(name).cloned().unwrap_or_default();
    for peer in [&folder_friend, &lan_friend, &stick_friend] {
        let expected = want(&peer.name);
        eventually(
            WAIT,
            &format!("the home holds every post of {}", peer.name),
            || home.posts(&peer.id()) == expected,
        );
    }
    // The home's own posts are all there, once each, in order: nothing lost, no fork.
    assert_eq!(home.posts(&home.id()), want("home"));
    assert_eq!(home.status()["fork_proofs"], serde_json::json!([]));
    // And they travel back out: the watcher writes the home's bundle, the server answers.
    eventually(WAIT, "the folder friend holds the home's posts", || {
        clean(&folder_friend, &["sync-dir", path_str(folder.path())]);
        folder_friend.posts(&home.id()) == want("home")
    });
    clean(&lan_friend, &["sync", &address]);
    assert_eq!(lan_friend.posts(&home.id()), want("home"));
    watcher.drain(Duration::from_millis(100));
    server.drain(Duration::from_millis(100));
    for line in watcher.seen.iter().chain(&server.seen) {
        assert!(!busy(line), "a long-running process said: {line}");
    }
    eprintln!(
        "soak: {actions} actions in {:?}; home holds {} posts of its own",
        start.elapsed(),
        want("home").len()
    );
}
