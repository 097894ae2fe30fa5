//! Backups and restoring without forking: 24 words (or a locked key file) bring a key back on
//! a fresh home, which writes nothing until it holds its diary's newest message.

use crate::harness::{Said, TestNode, path_str, stick, wrote_path};

fn restore(node: &TestNode, words: &str) -> Said {
    Said::from(node.run_with_input(&["init", "--restore"], words.as_bytes()))
}

#[test]
fn a_restored_key_waits_for_its_newest_message_and_never_forks() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    alice.follow(&bob);
    bob.follow(&alice);
    alice.post("one");
    alice.post("two");
    let old = stick();
    let old_bundle =
        wrote_path(&alice.ok(&["export", "--all", path_str(&old.path().join("old.gvb"))]));
    alice.post("three");
    alice.post("four");
    let newest = stick();
    let new_bundle =
        wrote_path(&alice.ok(&["export", "--all", path_str(&newest.path().join("new.gvb"))]));
    bob.import(&new_bundle);
    bob.post("hello alice");
    let from_bob = stick();
    // Bob's bundle for alice carries only bob's feed, but says bob holds alice's up to 6.
    let bob_bundle =
        wrote_path(&bob.ok(&["export", path_str(from_bob.path()), "--for", &alice.id()]));

    let backup = alice.said(&["backup"]);
    assert!(backup.success(), "{backup:?}");
    let words = &backup.out;
    assert_eq!(words.split_whitespace().count(), 24, "{words}");
    assert!(
        backup.err.contains("whoever reads them can write as you"),
        "{backup:?}"
    );

    // A new computer: the words bring the key back, and nothing is written yet.
    let laptop = TestNode::uninitialised("laptop");
    let out = restore(&laptop, &format!("{}\n", words.trim()));
    assert!(out.success(), "{out:?}");
    assert_eq!(out.out.trim(), alice.id());
    assert_eq!(
        laptop.status()["messages"],
        0,
        "a restore publishes nothing"
    );
    let refused = laptop.fails_with(1, &["post", "back again"]);
    assert!(
        refused.contains("restored from a backup") && refused.contains("not heard from anyone"),
        "{refused}"
    );

    // An old bundle of one's own, and bob's word that the diary goes further: still refused.
    laptop.import(&old_bundle);
    laptop.import(&bob_bundle);
    let refused = laptop.fails_with(1, &["post", "back again"]);
    assert!(
        refused.contains("up to message 6, and this node holds 4"),
        "{refused}"
    );
    // With the newest message back, writing goes on where the diary ended.
    laptop.import(&new_bundle);
    let id = laptop.post("back again");
    let mine = laptop.feed(&alice.id());
    assert_eq!(mine[0]["id"], id.as_str());
    assert_eq!(mine[0]["sequence"], 7);
    let s = stick();
    bob.import(&laptop.export_to(s.path()));
    assert_eq!(
        bob.status()["fork_proofs"],
        serde_json::json!([]),
        "no fork"
    );
    assert_eq!(bob.posts(&alice.id()).last().unwrap(), "back again");

    // Wrong words are refused with advice, and create nothing.
    let other = TestNode::uninitialised("other");
    let out = restore(&other, "abandon abandon abandon");
    assert_eq!(out.code, Some(1));
    assert!(out.err.contains("not the 24 backup words"), "{out:?}");
    assert!(!other.home().join("secret.key").exists());
}

#[test]
fn a_locked_key_file_is_a_backup_too() {
    let phrase = "correct horse battery staple";
    // Runs a command that must succeed, the passphrase given; returns its standard output.
    let ok = |node: &TestNode, args: &[&str]| {
        let out = node
            .command(args)
            .env("GRAPEVINE_PASSPHRASE", phrase)
            .output()
            .unwrap();
        let said = Said::from(out);
        assert!(said.success(), "{args:?}: {said:?}");
        said.out
    };
    let alice = TestNode::new("alice");
    let file = tempfile::tempdir().unwrap();
    let key = file.path().join("alice.key");
    ok(&alice, &["backup", "--file", path_str(&key)]);
    let locked = std::fs::read_to_string(&key).unwrap();
    assert!(!locked.contains(&alice.id()[1..]));
    let laptop = TestNode::uninitialised("laptop");
    let restored = ok(&laptop, &["init", "--restore-file", path_str(&key)]);
    assert_eq!(restored.trim(), alice.id());
    // Alice's diary was only ever on that computer: she says so, and writes again.
    ok(&laptop, &["config", "set", "restored", "done"]);
    ok(&laptop, &["post", "from the laptop"]);
}

/// A key used on two computers forks its own diary: the owner is told loudly, on every
/// command, with both messages.
#[test]
fn a_fork_of_ones_own_diary_is_said_loudly_with_both_messages() {
    let alice = TestNode::new("alice");
    alice.post("before the copy");
    let twin = TestNode::uninitialised("alice-twin");
    crate::damage::copy_dir(&alice.home(), &twin.home());
    alice.post("from the laptop");
    twin.post("from the phone");
    let s = stick();
    let out = alice.run(&["import", path_str(&twin.export_to(s.path()))]);
    assert!(out.status.success() || out.status.code() == Some(3));
    let warning = alice.said(&["status"]).err;
    assert!(warning.contains("YOUR OWN DIARY IS FORKED"), "{warning}");
    assert!(
        warning.contains("\"from the laptop\"") && warning.contains("\"from the phone\""),
        "both messages shown: {warning}"
    );
    assert_eq!(
        warning.matches("FORKED").count(),
        1,
        "said once per fork: {warning}"
    );
    let json = alice.run(&["status", "--json"]);
    let parsed: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("--json output still parses");
    assert_eq!(parsed["fork_proofs"][0]["sequence"], 3, "{parsed}");
}
