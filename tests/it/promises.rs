//! The promises people rely on above the bytes (issue #27): private replies stay private,
//! mistakes undo, a newcomer and a restored key get in, strangers cannot steer a folder or pass
//! for a friend. Each test drives the binary as a person would.

use std::path::Path;

use grapevine::bundle;
use grapevine::identity::Identity;
use serde_json::Value;

use crate::harness::{TestNode, path_str, stick, written_id};

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// Every post of every conversation in `inbox --json`, as (conversation index, text).
fn conversations(node: &TestNode) -> Vec<Vec<String>> {
    json(&node.ok(&["inbox", "--json", "--limit", "1000"]))
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["posts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["text"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

/// #27.1: bob replies to alice's private message. The reply is private, to alice (and bob),
/// sits in their conversation, and carol, who replicates bob, sees nothing that names the
/// private message; a like of it is refused with the reason.
#[test]
fn a_reply_to_a_private_message_is_private() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    let carol = TestNode::new("carol");
    alice.follow(&bob);
    bob.follow(&alice);
    carol.follow(&bob);
    let dm = written_id(&alice.ok(&["dm", "--to", &bob.id(), "cake on sunday?", "--json"]));
    let s = stick();
    bob.import(&alice.export_to(s.path()));

    let said = bob.ok(&["reply", &dm[..8], "Yes, I'll bring a cake"]);
    assert!(said.contains("privately"), "{said}");
    assert!(said.contains("only alice and you"), "{said}");
    let reply = json(&bob.ok(&["feed", &bob.id(), "--json", "--limit", "1"]));
    assert_eq!(reply[0]["private"], true, "{reply}");
    assert_eq!(
        conversations(&bob),
        [["Yes, I'll bring a cake", "cake on sunday?"]]
    );

    let refused = bob.fails_with(1, &["like", &dm]);
    assert!(refused.contains("private message"), "{refused}");
    assert!(refused.contains("grapevine reply"), "{refused}");

    let t = stick();
    carol.import(&bob.export_to(t.path()));
    for m in carol.feed(&bob.id()) {
        assert!(
            m["private"] == true || !m["content"].to_string().contains(&dm[1..]),
            "carol sees a public message naming the private one: {m}"
        );
    }
    let u = stick();
    alice.import(&bob.export_to(u.path()));
    assert_eq!(
        conversations(&alice),
        [["Yes, I'll bring a cake", "cake on sunday?"]]
    );
    let thread = json(&alice.ok(&["thread", &dm, "--json"]));
    assert_eq!(thread.as_array().unwrap().len(), 2, "{thread}");
    assert_eq!(thread[1]["private"], true);
}

/// A bundle signed by `signer` that carries nothing and claims to hold `feed` up to `claimed`.
fn claiming_bundle(path: &Path, signer: &Identity, feed: &str, claimed: u64) {
    let feed: grapevine::FeedId = feed.parse().unwrap();
    let manifest = bundle::Manifest {
        format: bundle::FORMAT.into(),
        version: bundle::FORMAT_VERSION,
        bundle_id: "cd".repeat(16),
        exporter: signer.feed_id(),
        created_at: grapevine::now_ms(),
        recipient: None,
        feeds: Vec::new(),
        frontier: bundle::Frontier::Tagged(
            bundle::Tagged::pack(&[0xcd; 16], &[(feed, claimed)], true).unwrap(),
        ),
        hops: Some(2),
    };
    let writer = bundle::BundleWriter::new(Vec::new(), signer, &manifest).unwrap();
    let (bytes, _) = writer.finish().unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// The files in `dir` whose names start with `node`'s bundle prefix.
fn named_as(node: &TestNode, dir: &Path) -> Vec<std::path::PathBuf> {
    let prefix = format!("gv-{}-", node.id().trim_start_matches('@'));
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&prefix)
        })
        .collect();
    out.sort();
    out
}

/// #27.5: on a stick that already holds others' bundles, a newcomer's `sync-dir` leaves a
/// bundle of theirs with their diary, and says "current" only when a file of theirs is there.
#[test]
fn a_newcomer_gets_onto_a_shared_stick_with_sync_dir() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    alice.follow(&bob);
    bob.follow(&alice);
    alice.post("alice was here");
    bob.post("bob was here");
    let s = stick();
    let dir = path_str(s.path());
    alice.ok(&["sync-dir", dir]);
    bob.ok(&["sync-dir", dir]);
    alice.ok(&["sync-dir", dir]);

    let carol = TestNode::new("carol");
    carol.post("hello, I am new here");
    let said = carol.ok(&["sync-dir", dir]);
    assert!(!said.contains("current"), "{said}");
    let mine = named_as(&carol, s.path());
    assert_eq!(mine.len(), 1, "{said}");
    assert!(said.contains(path_str(&mine[0])), "{said}");
    let again = carol.ok(&["sync-dir", dir]);
    assert!(
        again.contains(&format!(
            "our bundle there is current ({})",
            mine[0].display()
        )),
        "{again}"
    );
    // alice follows carol by what the stick told her, and reads her.
    alice.ok(&["sync-dir", dir]);
    alice.ok(&["follow", &carol.id()]);
    assert_eq!(alice.posts(&carol.id()), ["hello, I am new here"]);
}

/// #27.6: alice restores her key from the 24 words on a new laptop. One ordinary stick round
/// with bob, who follows her (laptop, bob, laptop), brings her diary back, and she can post.
#[test]
fn a_restored_key_gets_its_diary_back_in_one_stick_round() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    alice.follow(&bob);
    bob.follow(&alice);
    alice.post("one");
    alice.post("two");
    let s = stick();
    let dir = path_str(s.path());
    alice.ok(&["sync-dir", dir]);
    bob.ok(&["sync-dir", dir]);
    alice.ok(&["sync-dir", dir]);
    let words = alice.ok(&["backup"]);
    drop(alice);

    let laptop = TestNode::uninitialised("laptop");
    let out = laptop.run_with_input(&["init", "--restore"], words.as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let waiting = laptop.ok(&["status"]);
    assert!(waiting.contains("waiting for your own diary"), "{waiting}");
    laptop.ok(&["sync-dir", dir]);
    bob.ok(&["sync-dir", dir]);
    laptop.ok(&["sync-dir", dir]);
    let id = laptop.post("back again");
    let feed = laptop.feed(&laptop.id());
    assert_eq!(feed[0]["id"], id.as_str());
    assert_eq!(feed[0]["sequence"], 5, "name, follow, one, two, then this");
}

/// #27.8: a file planted under our name with the highest counter is neither overwritten nor
/// taken for ours: `sync-dir` writes our bundle beside it, and replanting changes nothing.
#[test]
fn a_planted_file_name_does_not_delete_our_bundle() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    bob.follow(&alice);
    alice.post("still here");
    let s = stick();
    let dir = path_str(s.path());
    let planted = s.path().join(format!(
        "gv-{}-18446744073709551615.gvb",
        alice.id().trim_start_matches('@')
    ));
    for round in 0..2 {
        std::fs::write(&planted, b"planted by someone else").unwrap();
        let said = alice.ok(&["sync-dir", dir]);
        assert!(said.contains("wrote"), "round {round}: {said}");
        assert_eq!(std::fs::read(&planted).unwrap(), b"planted by someone else");
        let named = named_as(&alice, s.path());
        assert_eq!(
            named.len(),
            2,
            "round {round}: ours beside the planted one: {named:?}"
        );
        let ours = named.iter().find(|p| **p != planted).unwrap();
        bob.import(ours);
        alice.post(&format!("round {round}"));
    }
    assert_eq!(bob.posts(&alice.id()), ["still here", "round 0"]);
}

/// #27.9: a stranger's bundle in a shared folder, signed with a fresh key, claims to hold
/// alice's diary to the end of time; a feed alice follows claims the same. Neither silences
/// her: she writes her diary there, and bob, who only reads, gets it.
#[test]
fn a_strangers_signed_claim_does_not_silence_us() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    bob.follow(&alice);
    alice.post("do not silence me");
    let s = stick();
    let dir = path_str(s.path());
    let stranger = Identity::from_seed(&[201; 32]);
    claiming_bundle(
        &s.path().join("stranger.gvb"),
        &stranger,
        &alice.id(),
        i64::MAX as u64,
    );
    let said = alice.ok(&["sync-dir", dir]);
    assert!(said.contains("wrote"), "{said}");
    bob.ok(&["sync-dir", dir, "--no-export"]);
    assert_eq!(bob.posts(&alice.id()), ["do not silence me"]);

    // A friend's key making the same impossible claim is ignored too.
    let friend = Identity::from_seed(&[202; 32]);
    alice.follow_id(&friend.feed_id().to_string());
    let t = stick();
    claiming_bundle(
        &t.path().join("friend.gvb"),
        &friend,
        &alice.id(),
        i64::MAX as u64,
    );
    alice.post("still talking");
    let said = alice.ok(&["sync-dir", path_str(t.path())]);
    assert!(said.contains("wrote"), "{said}");
    bob.ok(&["sync-dir", path_str(t.path()), "--no-export"]);
    assert_eq!(
        bob.posts(&alice.id()),
        ["do not silence me", "still talking"]
    );
}

/// The texts of the timeline, newest first.
fn timeline(node: &TestNode) -> Vec<String> {
    json(&node.ok(&["timeline", "--all", "--json"]))
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["text"].as_str().unwrap().to_owned())
        .collect()
}

/// The feeds a bundle `export --all` writes carries.
fn carried(node: &TestNode) -> Vec<String> {
    let s = stick();
    let path = s.path().join("all.gvb");
    node.ok(&["export", "--all", path_str(&path)]);
    let manifest = bundle::read_manifest(std::fs::File::open(&path).unwrap())
        .unwrap()
        .unwrap();
    manifest.feeds.iter().map(|r| r.feed.to_string()).collect()
}

/// #27.3: a mistaken unfollow or block hides a diary and stops carrying it at once, and
/// undoing it shows every message again at once; `forget` (or `forget-after-days`) drops it.
#[test]
fn unfollow_and_block_hide_and_undo_at_once() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    bob.follow(&alice);
    for n in 1..=13 {
        alice.post(&format!("post {n}"));
    }
    bob.import(&alice.export_to(stick().path()));
    assert_eq!(timeline(&bob).len(), 13);

    let out = bob.run(&["unfollow", "alice"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("hid 14 messages of 1 feed"), "{said}");
    assert!(timeline(&bob).is_empty());
    assert!(!carried(&bob).contains(&alice.id()), "no longer carried");
    let again = json(&bob.ok(&["follow", "alice", "--json"]));
    assert_eq!(again["shown"], 1, "{again}");
    assert_eq!(timeline(&bob).len(), 13, "every post is back at once");
    assert!(carried(&bob).contains(&alice.id()));

    bob.ok(&["block", "alice"]);
    assert!(timeline(&bob).is_empty());
    assert!(!carried(&bob).contains(&alice.id()));
    bob.ok(&["unblock", &alice.id()]);
    assert_eq!(timeline(&bob).len(), 13);

    // Forgetting is explicit, or comes after the grace period.
    let refused = bob.fails_with(1, &["forget", &alice.id()]);
    assert!(refused.contains("unfollow or block it first"), "{refused}");
    bob.ok(&["unfollow", &alice.id()]);
    let forgot = bob.ok(&["forget", &alice.id()]);
    assert!(forgot.contains("forgot 14 messages"), "{forgot}");
    bob.ok(&["follow", &alice.id()]);
    assert_eq!(
        timeline(&bob).len(),
        0,
        "forgotten until a bundle brings it again"
    );
    bob.import(&alice.export_to(stick().path()));
    assert_eq!(timeline(&bob).len(), 13);
    bob.ok(&["config", "set", "forget-after-days", "0"]);
    bob.ok(&["unfollow", &alice.id()]);
    assert_eq!(
        bob.status()["feeds"],
        1,
        "only bob's own feed is left: {}",
        bob.status()
    );
}

/// #27.4 and #27.11: mallory, blocked, calls herself "alice". Her files are "ignored", never
/// suggested for following; "alice" names the real alice only, and `dm --to alice` reaches her.
#[test]
fn a_blocked_feed_is_neither_suggested_nor_named() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    let mallory = TestNode::new("alice");
    mallory.post("I am alice, trust me");
    bob.follow(&alice);
    bob.import(&alice.export_to(stick().path()));
    let s = stick();
    let from_mallory = mallory.export_to(s.path());
    let before = bob.import(&from_mallory);
    assert!(before.contains("hint: `grapevine follow"), "{before}");
    assert!(
        bob.fails_with(1, &["who", "alice"])
            .contains("could mean any of")
    );

    bob.ok(&["block", &mallory.id()]);
    let after = bob.import(&from_mallory);
    assert!(after.contains("1 blocked feed's files ignored"), "{after}");
    assert!(!after.contains("hint"), "{after}");
    let who = json(&bob.ok(&["who", "alice", "--json"]));
    assert_eq!(who["feed"]["id"], alice.id(), "{who}");
    bob.ok(&["dm", "--to", "alice", "for the real alice"]);
    let inbox = json(&bob.ok(&["inbox", "--json"]));
    assert_eq!(inbox[0]["with"][0]["id"], alice.id(), "{inbox}");
    assert_eq!(inbox[0]["with"].as_array().unwrap().len(), 1, "{inbox}");
    let contacts = bob.ok(&["contacts"]);
    assert!(!contacts.contains("blocked   alice"), "{contacts}");
}

/// #27.10: a feed named "bob" + U+200B, and one named "Ьob" (a Cyrillic soft sign), do not pass
/// for bob: the invisible character is written out, and names that look alike carry their
/// short ids, in the terminal and in `--json`.
#[test]
fn lookalike_names_are_told_apart() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    let hidden = TestNode::new("bob\u{200b}");
    let cyrillic = TestNode::new("\u{42c}ob");
    let s = stick();
    for (n, who) in [&bob, &hidden, &cyrillic].into_iter().enumerate() {
        who.post(&format!("I am bob ({n})"));
        alice.follow(who);
        alice.import(&who.export_to(s.path()));
    }
    let shown = alice.ok(&["timeline"]);
    let short = |n: &TestNode| n.id()[..9].to_owned();
    assert!(shown.contains(&format!("bob ({})", short(&bob))), "{shown}");
    assert!(
        shown.contains(&format!("bob\\u{{200b}} ({})", short(&hidden))),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("\u{42c}ob ({})", short(&cyrillic))),
        "{shown}"
    );
    let posts = json(&alice.ok(&["timeline", "--json"]));
    let mut authors: Vec<String> = posts
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["author"]["name"].as_str().unwrap().to_owned())
        .collect();
    authors.sort();
    authors.dedup();
    assert_eq!(authors.len(), 3, "{authors:?}");
    assert!(authors.iter().all(|a| a.contains(" (@")), "{authors:?}");
    // A petname tells them apart too, and "bob" then names only the real one.
    alice.ok(&["petname", &bob.id(), "Bob from the mill"]);
    let who = json(&alice.ok(&["who", "Bob from the mill", "--json"]));
    assert_eq!(who["feed"]["id"], bob.id());
}

/// #27.12: one home has one watcher. A second `watch` on the same home is refused and names the
/// running one; `status` shows it; once it is killed (no clean exit), a new one starts.
#[test]
fn one_home_has_one_watcher() {
    let alice = TestNode::new("alice");
    let (a, b) = (stick(), stick());
    let mut first = alice.spawn(&["watch", path_str(a.path())]);
    let ready = first.expect(std::time::Duration::from_secs(20), "ready", |l| {
        l.contains("watching")
    });
    assert!(ready.contains("watching 1 folder and"), "{ready}");
    let refused = alice.fails_with(1, &["watch", path_str(b.path())]);
    assert!(
        refused.contains("another watcher already runs"),
        "{refused}"
    );
    assert!(refused.contains(path_str(a.path())), "{refused}");
    let status = alice.ok(&["status"]);
    assert!(status.contains(path_str(a.path())), "{status}");
    first.stop_with("KILL", std::time::Duration::from_secs(10));
    let mut second = alice.spawn(&["watch", path_str(b.path())]);
    second.expect(std::time::Duration::from_secs(20), "ready", |l| {
        l.contains("watching")
    });
    let status = alice.ok(&["status"]);
    assert!(status.contains(path_str(b.path())), "{status}");
    second.stop_with("TERM", std::time::Duration::from_secs(10));
}

/// #27.2: carol, whom alice does not follow, writes to her privately. The import says so, the
/// message waits apart as a request (`status` counts it), reads in `requests`, and accepting
/// follows carol and puts it in the inbox; a blocked feed's requests are dropped, and a
/// carrier learns nothing.
#[test]
fn private_messages_from_strangers_wait_as_requests() {
    let alice = TestNode::new("alice");
    let carol = TestNode::new("carol");
    let spammer = TestNode::new("spammer");
    carol.ok(&["dm", "--to", &alice.id(), "hello from the valley", "--yes"]);
    spammer.ok(&["dm", "--to", &alice.id(), "CHEAP WATCHES", "--yes"]);
    let s = stick();
    carol.export_to(s.path());
    spammer.export_to(s.path());
    let said = alice.import(s.path());
    assert!(
        said.contains("2 private messages for you from ") && said.contains("whom you don't follow"),
        "{said}"
    );
    assert_eq!(alice.status()["requests"], 2);
    assert!(alice.ok(&["status"]).contains("`grapevine requests`"));
    let listed = alice.ok(&["requests"]);
    assert!(
        listed.contains("hello from the valley") && listed.contains("CHEAP WATCHES"),
        "{listed}"
    );
    assert!(
        conversations(&alice).is_empty(),
        "held apart from the inbox"
    );

    alice.ok(&["block", &spammer.id()]);
    let listed = json(&alice.ok(&["requests", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["text"], "hello from the valley");

    alice.ok(&["requests", "accept", "carol"]);
    assert_eq!(conversations(&alice), [["hello from the valley"]]);
    assert_eq!(alice.status()["requests"], 0);
    // Read again, the files bring no request back.
    let again = alice.import(s.path());
    assert!(!again.contains("whom you don't follow"), "{again}");

    let dave = TestNode::new("dave");
    let t = stick();
    dave.ok(&["dm", "--to", &alice.id(), "are you there?", "--yes"]);
    dave.export_to(t.path());
    alice.import(t.path());
    alice.ok(&["requests", "dismiss", "dave"]);
    assert!(alice.ok(&["requests"]).contains("no message requests"));
}

/// #27, smaller: `@name`s that name no one, or several people, are said to be not linked; the
/// timeline says how many posts it did not show.
#[test]
fn mentions_and_the_timeline_say_what_they_left_out() {
    let me = TestNode::new("me");
    let s = stick();
    for _ in 0..2 {
        let sam = TestNode::new("sam");
        me.follow(&sam);
        me.import(&sam.export_to(s.path()));
    }
    let out = me.run(&["post", "hello @sam and @zed and @me"]);
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("@sam could be 2 people: not linked"),
        "{said}"
    );
    assert!(
        said.contains("@zed names no one known here: not linked"),
        "{said}"
    );
    assert!(!said.contains("@me"), "{said}");

    for n in 0..24 {
        me.post(&format!("note {n}"));
    }
    let shown = me.ok(&["timeline"]);
    assert!(shown.contains("… and 5 older posts"), "{shown}");
    assert!(!me.ok(&["timeline", "--all"]).contains("older posts"));
}

/// A small sealed bundle cut short or altered is incomplete (exit 3, with what to do), as the
/// spec and the `sealed_truncated` vector say, never "not a grapevine bundle".
#[test]
fn a_damaged_small_sealed_bundle_is_incomplete() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    alice.post("sealed for bob");
    let s = stick();
    let wrote = alice.ok(&[
        "export",
        "--for",
        &bob.id(),
        "--seal",
        "--anyway",
        path_str(s.path()),
    ]);
    let file = crate::harness::wrote_path(&wrote);
    let whole = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    let mut altered = whole.clone();
    altered[whole.len() / 2] ^= 1;
    for (name, bytes) in [
        ("cut.gvb", &whole[..whole.len() - 1]),
        ("header-cut.gvb", &whole[..40]),
        ("altered.gvb", &altered[..]),
    ] {
        let path = s.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let said = bob.fails_with(3, &["import", path_str(&path)]);
        assert!(
            said.contains("the sealed bundle is incomplete or was altered")
                && said.contains("ask for a new bundle")
                && !said.contains("not a grapevine bundle"),
            "{name}: {said}"
        );
        std::fs::remove_file(&path).unwrap();
    }
}

/// `node`'s grapevine with `args`, seeing `dir` read-only: a bind mount in a mount namespace
/// of its own, as the system shows a stick whose lock switch is on.
fn on_read_only(node: &TestNode, dir: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        r#"d=$1; shift; mount --bind "$d" "$d" && mount -o remount,ro,bind "$d" && exec "$@""#,
        "sh",
        path_str(dir),
        crate::harness::bin(),
        "--home",
        path_str(&node.home()),
    ])
    .args(args)
    .env_remove("GRAPEVINE_HOME")
    .stdin(std::process::Stdio::null());
    cmd
}

/// A locked stick: `sync-dir` still reads what is there, then says plainly that it cannot
/// leave its bundle and what to do (exit 1); `export` says the same; `watch` says it once and
/// backs off instead of failing at every scan.
#[test]
fn a_read_only_stick_is_read_and_said_plainly() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    alice.follow(&bob);
    bob.follow(&alice);
    alice.post("on the locked stick");
    let s = stick();
    let folder = path_str(s.path());
    alice.ok(&["sync-dir", folder]);
    let before = named_as(&alice, s.path());
    assert_eq!(before.len(), 1);

    let out = on_read_only(&bob, s.path(), &["sync-dir", folder])
        .output()
        .expect("run unshare");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("3 new messages"),
        "what was there is read: {stdout}"
    );
    assert!(
        stderr.contains("it is read-only") && stderr.contains("Unlock it"),
        "{stderr}"
    );
    assert!(!stderr.contains("os error"), "no raw OS error: {stderr}");
    assert_eq!(timeline(&bob), ["on the locked stick"]);
    assert!(named_as(&bob, s.path()).is_empty());

    let out = on_read_only(&bob, s.path(), &["export", "--all", folder])
        .output()
        .expect("run unshare");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("it is read-only"), "{stderr}");

    // The watcher rescans every second; it tries to write once, then waits a minute.
    let mut watch = bob.spawn_command(on_read_only(
        &bob,
        s.path(),
        &["watch", folder, "--rescan", "1"],
    ));
    let error = watch.expect(std::time::Duration::from_secs(20), "an error", |l| {
        l.contains("cannot leave our bundle")
    });
    assert!(
        error.contains("read-only") && error.contains("trying again in 1 min"),
        "{error}"
    );
    let seen = watch.drain(std::time::Duration::from_secs(3));
    let errors = seen
        .iter()
        .filter(|l| l.contains("cannot leave our bundle"))
        .count();
    assert_eq!(
        errors,
        1,
        "one error in four scans, not one per scan:\n{}",
        seen.join("\n")
    );
    watch.stop_with("TERM", std::time::Duration::from_secs(10));
}
