//! `grapevine check` finds each kind of inconsistency it promises to, and nothing in a sound
//! store: a store with chains, pending messages, a fork, contacts, a name and a DM is checked,
//! then copies of it are damaged one way each.

use std::path::Path;

use grapevine::identity::Identity;
use rusqlite::Connection;

use crate::damage::{chain, write_bundle};
use crate::harness::{TestNode, bin, path_str, stick};

/// A store holding every kind of record: own posts, a name, follows, a DM, another feed with a
/// gap (so pending messages), and a forked feed.
fn rich_node() -> (TestNode, Identity) {
    let bob = TestNode::new("bob");
    let carol = TestNode::new("carol");
    bob.follow(&carol);
    bob.post("hello");
    bob.ok(&["dm", "--to", &carol.id(), "a secret", "--yes"]);
    let dave = Identity::from_seed(&[44; 32]);
    bob.follow_id(&dave.feed_id().to_string());
    let messages = chain(&dave, 6);
    let s = stick();
    let with_gap: Vec<_> = messages
        .iter()
        .filter(|m| m.header.sequence != 4)
        .cloned()
        .collect();
    let file = s.path().join("gap.gvb");
    write_bundle(&file, &dave, &with_gap);
    bob.ok(&["import", path_str(&file)]);
    // dave's key signs a different message 2 as well: a fork.
    let other = grapevine::message::Message::create(
        &dave,
        2,
        Some(messages[0].id),
        1_700_000_000_001,
        grapevine::message::ContentKind::Json,
        br#"{"type":"post","text":"the other 2"}"#.to_vec(),
    )
    .unwrap();
    let forked = s.path().join("fork.gvb");
    write_bundle(&forked, &dave, &[other]);
    bob.fails_with(0, &["import", path_str(&forked)]);
    (bob, dave)
}

fn check(home: &Path) -> (i32, String) {
    let out = std::process::Command::new(bin())
        .args(["--home", path_str(home), "check"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// A copy of `node`'s home, to damage without touching the node's own.
fn copy_home(node: &TestNode) -> (tempfile::TempDir, std::path::PathBuf) {
    let copy = tempfile::tempdir().unwrap();
    let home = copy.path().join("home");
    crate::damage::copy_dir(&node.home(), &home);
    (copy, home)
}

/// Copies `bob`'s home, applies `damage` to the copy's store, and returns what check says.
fn damaged(bob: &TestNode, damage: impl FnOnce(&Connection)) -> (i32, String) {
    let (_copy, home) = copy_home(bob);
    let conn = Connection::open(home.join("store.sqlite")).unwrap();
    damage(&conn);
    drop(conn);
    check(&home)
}

#[test]
fn check_passes_a_sound_store_and_names_each_kind_of_damage() {
    let (bob, dave) = rich_node();
    let (code, out) = check(&bob.home());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the store is consistent"), "{out}");
    let report: serde_json::Value = serde_json::from_str(&bob.ok(&["check", "--json"])).unwrap();
    assert_eq!(report["consistent"], true);
    assert_eq!(report["pending"], 2, "dave's 5 and 6 wait for 4: {report}");
    assert_eq!(report["forks"], 1, "{report}");
    assert_eq!(report["signatures_checked"], report["messages"]);

    let dave_hex: String = dave
        .feed_id()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dave_is = format!("author = x'{dave_hex}'");
    // Linked messages name their feed by its key.
    let daves = format!("feed = (SELECT key FROM feeds WHERE {dave_is})");
    let cases: Vec<(String, &str)> = vec![
        (
            format!("DELETE FROM messages WHERE {daves} AND seq = 2"),
            "the chain has a gap",
        ),
        (
            format!("UPDATE feeds SET seq = 2 WHERE {dave_is}"),
            "frontier says 2",
        ),
        (
            format!(
                "UPDATE messages SET content = CAST('{{\"type\":\"post\",\"text\":\"edited\"}}' AS BLOB) \
                 WHERE {daves} AND seq = 1"
            ),
            "is not its hash",
        ),
        (
            format!("UPDATE messages SET dict = 99 WHERE {daves} AND seq = 1"),
            "its content does not unpack: dictionary 99 is not in the store",
        ),
        (
            format!("UPDATE pending SET seq = 4 WHERE {dave_is} AND seq = 5"),
            "pending message 4",
        ),
        (
            format!("DELETE FROM forks WHERE {dave_is}"),
            "marked as forked without evidence",
        ),
        (
            format!("UPDATE contacts SET following = 0 WHERE contact = x'{dave_hex}'"),
            "contacts:",
        ),
        (
            format!("INSERT INTO contacts VALUES (x'{dave_hex}', x'{dave_hex}', 1, 0, 1)"),
            "no contact message behind it",
        ),
        (
            "UPDATE feeds SET name = 'mallory' WHERE name = 'bob'".into(),
            "named \"mallory\" (message 1), but its messages say \"bob\"",
        ),
        (
            "INSERT INTO inbox VALUES (zeroblob(32), 0, '{}')".into(),
            "is not a stored private message",
        ),
        (
            "UPDATE feeds SET description = 'a liar' WHERE name = 'bob'".into(),
            "its description is not the one its messages give",
        ),
        (
            format!(
                "DELETE FROM posts WHERE rowid = (SELECT key FROM messages WHERE {daves} AND seq = 2)"
            ),
            "is missing",
        ),
        (
            "INSERT INTO posts VALUES (999999, 0, NULL, 0, 1)".into(),
            "is not a stored message",
        ),
        (
            "INSERT INTO posts SELECT key, 0, NULL, 0, 1 FROM messages \
             WHERE key NOT IN (SELECT rowid FROM posts) LIMIT 1"
                .into(),
            "is not a stored public post",
        ),
        (
            "DELETE FROM post_text WHERE rowid = (SELECT min(rowid) FROM posts)".into(),
            "search index:",
        ),
        (
            "INSERT INTO votes VALUES (zeroblob(32), zeroblob(32), 1, 1)".into(),
            "votes:",
        ),
    ];
    // A different signature in an envelope, its id left as it was.
    let (code, out) = damaged(&bob, |conn| {
        let sql = format!("SELECT envelope FROM messages WHERE {daves} AND seq = 3");
        let mut envelope: Vec<u8> = conn.query_row(&sql, [], |r| r.get(0)).unwrap();
        let last = envelope.len() - 1;
        envelope[last] ^= 1;
        let sql = format!("UPDATE messages SET envelope = ?1 WHERE {daves} AND seq = 3");
        conn.execute(&sql, [envelope]).unwrap();
    });
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("is not its hash"), "{out}");
    for (sql, says) in cases {
        let (code, out) = damaged(&bob, |conn| conn.execute_batch(&sql).unwrap());
        assert_eq!(code, 4, "check passed a store damaged by `{sql}`:\n{out}");
        assert!(
            out.contains(says) && out.contains("NOT consistent"),
            "after `{sql}`, expected '{says}' in:\n{out}"
        );
    }
}

/// A signature that no longer verifies, with every column made to agree, is found only by
/// verifying again; `--no-signatures` skips that and says so.
#[test]
fn check_verifies_every_signature_again() {
    let bob = TestNode::new("bob");
    bob.post("one");
    bob.post("two");
    let bob_id =
        grapevine::FeedId::from_slice(&grapevine::ids::decode_base32(&bob.id()[1..]).unwrap())
            .unwrap();
    let (_copy, home) = copy_home(&bob);
    // Replace message 3 (the last) by one signed with another key but claiming bob's feed, with its id,
    // head and link all consistent: only the signature is wrong.
    let conn = Connection::open(home.join("store.sqlite")).unwrap();
    let bob_is = "feed = (SELECT key FROM feeds WHERE author = ?1)";
    let (previous, content): (Vec<u8>, Vec<u8>) = conn
        .query_row(
            &format!(
                "SELECT (SELECT id FROM messages WHERE seq = 2 AND feed = m.feed), content \
                 FROM messages m WHERE seq = 3 AND {bob_is}"
            ),
            [bob_id.as_bytes()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let forger = Identity::from_seed(&[9; 32]);
    let mut forged = grapevine::message::Message::create(
        &forger,
        3,
        Some(grapevine::MessageId(previous.try_into().unwrap())),
        1_700_000_000_000,
        grapevine::message::ContentKind::Json,
        content,
    )
    .unwrap();
    forged.envelope[2..34].copy_from_slice(bob_id.as_bytes());
    // A row keeps version and kind, timestamp and signature (src/store/lean.rs).
    let e = &forged.envelope;
    let lean = [&e[..2], &e[74..82], &e[118..]].concat();
    let id = grapevine::message::message_id(&forged.envelope);
    conn.execute(
        "UPDATE messages SET envelope = ?1, id = ?2 \
         WHERE feed = (SELECT key FROM feeds WHERE author = ?3) AND seq = 3",
        rusqlite::params![lean, id.0.to_vec(), bob_id.as_bytes()],
    )
    .unwrap();
    conn.execute(
        "UPDATE feeds SET head = ?1 WHERE author = ?2",
        rusqlite::params![id.0.to_vec(), bob_id.as_bytes()],
    )
    .unwrap();
    drop(conn);
    let quick = std::process::Command::new(bin())
        .args(["--home", path_str(&home), "check", "--no-signatures"])
        .output()
        .unwrap();
    assert!(
        quick.status.success(),
        "{}",
        String::from_utf8_lossy(&quick.stdout)
    );
    let (code, out) = check(&home);
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("message 3") && out.contains("signature"),
        "{out}"
    );
}
