//! A store written by an earlier grapevine opens in this one with nothing lost.
//!
//! fixtures/stores/schema-7 is bob's home as grapevine at b6d58d7 (store schema 7, before the
//! lean store) left it, with what that version's commands printed about it (fixtures/README.md).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::harness::TestNode;

fn fixture() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/stores/schema-7"
    ))
}

fn recorded(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture().join(format!("{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every message id a store holds, read with SQL alone (any schema keeps an `id` column).
fn ids_in(store: &Path) -> BTreeSet<Vec<u8>> {
    let conn =
        rusqlite::Connection::open_with_flags(store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn
        .prepare("SELECT id FROM messages UNION SELECT id FROM pending")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_schema_7_store_upgrades_with_every_post_read_state_and_index_kept() {
    let bob = TestNode::uninitialised("bob");
    std::fs::create_dir_all(bob.home()).unwrap();
    for file in ["secret.key", "store.sqlite"] {
        std::fs::copy(fixture().join(file), bob.home().join(file)).unwrap();
    }
    // Git keeps no file modes but the executable bit; grapevine refuses a key others can read.
    use std::os::unix::fs::PermissionsExt;
    let key = bob.home().join("secret.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let before = ids_in(&fixture().join("store.sqlite"));
    assert_eq!(before.len(), 18, "the fixture's messages");

    // Opening migrates; the upgraded store proves itself consistent, signatures included.
    let status = bob.status();
    assert_eq!(status["messages"], 18, "{status}");
    assert_eq!(
        status["unread_posts"], 1,
        "the one unread post stays unread: {status}"
    );
    let check = bob.ok(&["check"]);
    assert!(check.contains("18 signatures verified"), "{check}");
    let version: i64 = rusqlite::Connection::open(bob.home().join("store.sqlite"))
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 11);

    // Every reading command prints what the old version printed, in the order it was recorded
    // (the timeline marks what it shows as read).
    for (name, args) in [
        ("timeline", &["timeline", "--json", "--limit", "100"][..]),
        ("search", &["search", "--json", "market"]),
        ("inbox", &["inbox", "--json"]),
        ("tags", &["tag", "--json"]),
        ("mentions", &["mentions", "--json", "carol"]),
        ("thread", &["thread", "--json", "%s5mlgv52"]),
    ] {
        let now: Value = serde_json::from_str(&bob.ok(args)).unwrap();
        assert_eq!(
            now,
            recorded(name),
            "`grapevine {}` after the upgrade",
            args.join(" ")
        );
    }

    // Exported, every message is rebuilt byte for byte: a fresh node verifies each and ends up
    // with the very ids the old store held.
    let stick = tempfile::tempdir().unwrap();
    let out = bob.ok(&["export", "--all", crate::harness::path_str(stick.path())]);
    let dave = TestNode::new("dave");
    for author in ["alice", "bob", "carol"] {
        let id = bob.ok(&["who", "--json", author]);
        let id: Value = serde_json::from_str(&id).unwrap();
        let id = id["feed"]["id"].as_str().unwrap().to_owned();
        dave.ok(&["follow", "--yes", &id]);
    }
    dave.import(&crate::harness::wrote_path(&out));
    let mut dave_ids = ids_in(&dave.home().join("store.sqlite"));
    let own: BTreeSet<Vec<u8>> = dave_ids.difference(&before).cloned().collect();
    assert_eq!(own.len(), 4, "dave's own name and three follows only");
    dave_ids.retain(|id| !own.contains(id));
    assert_eq!(dave_ids, before);
}
