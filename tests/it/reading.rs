//! Reading and talking like email: timeline, threads, show, inbox, mentions, tags, search,
//! likes, names everywhere, and typed names, prefixes and petnames resolving to feeds.

use serde_json::Value;

use crate::harness::{TestNode, path_str, stick, written_id};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// Alice and bob follow each other and swap a stick; returns the stick.
fn friends(alice: &TestNode, bob: &TestNode) -> tempfile::TempDir {
    let s = stick();
    alice.follow(bob);
    bob.follow(alice);
    alice.ok(&["sync-dir", path_str(s.path())]);
    bob.ok(&["sync-dir", path_str(s.path())]);
    alice.ok(&["sync-dir", path_str(s.path())]);
    s
}

#[test]
fn a_conversation_reads_like_email() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    let s = friends(&alice, &bob);
    // Names typed, not ids: bob is known to alice by the name he published.
    let question = written_id(&alice.ok(&["post", "Is the #Well water safe, @bob?", "--json"]));
    alice.ok(&["sync-dir", path_str(s.path())]);
    bob.ok(&["sync-dir", path_str(s.path())]);

    // Bob's timeline: alice's post, unread, by name, with a mention of him.
    let timeline = bob.ok(&["timeline"]);
    assert!(
        timeline.contains("● alice · just now"),
        "unread and named: {timeline}"
    );
    assert!(
        !timeline.contains(&alice.id()[..9]) && !timeline.contains(&bob.id()[..9]),
        "no raw ids: {timeline}"
    );
    let again = bob.ok(&["timeline"]);
    assert!(!again.contains('●'), "shown once, then read: {again}");
    assert!(bob.ok(&["timeline", "--unread"]).contains("nothing unread"));
    let mentions = json(&bob.ok(&["mentions", "--json"]));
    assert_eq!(mentions.as_array().unwrap().len(), 1, "{mentions}");
    assert_eq!(mentions[0]["id"], question.as_str());
    assert_eq!(mentions[0]["author"]["name"], "alice");
    assert_eq!(mentions[0]["mentions"][0]["id"], bob.id().as_str());
    // Mentions go by name: an @word that only starts bob's id names no one.
    let prefix_post =
        written_id(&alice.ok(&["post", &format!("see @{}", &bob.id()[1..7]), "--json"]));
    let shown = json(&alice.ok(&["show", &prefix_post, "--json"]));
    assert_eq!(shown["mentions"], serde_json::json!([]), "{shown}");

    // Bob replies by a short prefix of the id, and likes the question.
    let prefix = &question[..7];
    let said = bob.ok(&["reply", prefix, "Boil it first"]);
    assert!(said.starts_with("replied to alice"), "{said}");
    assert!(bob.ok(&["like", prefix]).contains("you like alice's post"));
    let reply = json(&bob.ok(&["timeline", "--json", "--limit", "1"]))[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    bob.ok(&["sync-dir", path_str(s.path())]);
    alice.ok(&["sync-dir", path_str(s.path())]);
    let answer = written_id(&alice.ok(&["reply", &reply, "Thanks!", "--json"]));

    // The thread, as a tree: question, bob's reply under it, alice's answer under that.
    let human = alice.ok(&["thread", &question]);
    let lines: Vec<&str> = human.lines().collect();
    assert!(lines[0].starts_with("  alice (you) · "), "{human}");
    assert!(
        lines.iter().any(|l| l.starts_with("  ● bob · ")),
        "bob's reply indented and unread: {human}"
    );
    let thread = json(&alice.ok(&["thread", &reply, "--json"]));
    let order: Vec<(&str, u64)> = thread
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["depth"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        order,
        [
            (question.as_str(), 0),
            (reply.as_str(), 1),
            (answer.as_str(), 2)
        ]
    );
    assert_eq!(thread[0]["likes"], 1);
    assert_eq!(thread[0]["replies"], 1);
    let shown = alice.ok(&["show", &question[..9]]);
    assert!(shown.contains("liked by bob"), "{shown}");

    // Tags and search.
    let tagged = json(&alice.ok(&["tag", "#well", "--json"]));
    assert_eq!(tagged[0]["id"], question.as_str());
    assert_eq!(tagged[0]["tags"][0], "well");
    assert!(alice.ok(&["tag"]).contains("#well (1 post)"));
    let found = json(&alice.ok(&["search", "boil", "--json"]));
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["id"], reply.as_str());
    assert!(
        alice
            .ok(&["search", "nothing-like-this"])
            .contains("no post")
    );
}

#[test]
fn private_conversations_are_grouped_and_searchable_only_by_their_readers() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    let carol = TestNode::new("carol");
    let s = friends(&alice, &bob);
    carol.follow(&alice);
    carol.follow(&bob);
    alice.ok(&["dm", "--to", "bob", "the key is under the pot"]);
    alice.ok(&[
        "dm",
        "--to",
        "bob",
        "--to",
        "alice",
        "and the gate code is 1234",
    ]);
    alice.ok(&["sync-dir", path_str(s.path())]);
    bob.ok(&["sync-dir", path_str(s.path())]);
    carol.ok(&["sync-dir", path_str(s.path())]);

    let human = bob.ok(&["inbox"]);
    assert!(human.contains("with alice · 2 unread"), "{human}");
    assert!(human.contains("the key is under the pot"), "{human}");
    let inbox = json(&bob.ok(&["inbox", "--json"]));
    assert_eq!(
        inbox.as_array().unwrap().len(),
        1,
        "one conversation: {inbox}"
    );
    assert_eq!(inbox[0]["with"][0]["name"], "alice");
    assert_eq!(inbox[0]["unread_posts"], 0, "read once shown");
    assert_eq!(inbox[0]["posts"].as_array().unwrap().len(), 2);
    assert_eq!(
        json(&bob.ok(&["search", "gate", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        1,
        "a recipient finds it"
    );
    // Carol carries the boxes but can neither read nor find them.
    assert!(carol.ok(&["search", "gate"]).contains("no post"));
    assert!(carol.ok(&["inbox"]).contains("no private messages"));
    assert!(!carol.ok(&["timeline", "--all"]).contains("gate"));
}

#[test]
fn people_are_found_by_prefix_name_and_petname() {
    let me = TestNode::new("me");
    let sam1 = TestNode::new("sam");
    let sam2 = TestNode::new("sam");
    // Each sam's first bundle (on a stick of their own) carries their feed; the sticks stay
    // around, so following takes the feeds in from them.
    let sticks = [stick(), stick()];
    for (sam, s) in [&sam1, &sam2].into_iter().zip(&sticks) {
        sam.ok(&["export", path_str(s.path())]);
        me.ok(&["import", path_str(s.path())]);
    }
    // Their own feeds travel to anyone; a unique start of an id is enough to follow.
    let (id1, id2) = (sam1.id(), sam2.id());
    let said = me.ok(&["follow", &id1[1..9]]);
    // Two feeds call themselves sam: each is shown with its short id until a petname tells
    // them apart (#27.10).
    assert_eq!(said.trim(), format!("now following sam ({})", &id1[..9]));
    me.follow(&sam2);
    // Two feeds call themselves sam: the name is ambiguous, and both are listed.
    let out = me.fails_with(1, &["dm", "--to", "sam", "hi"]);
    assert!(out.contains("could mean any of"), "{out}");
    assert!(out.contains(&id1) && out.contains(&id2), "{out}");
    // A petname settles it, and shows everywhere.
    me.ok(&["petname", &id2, "Sam from the mill"]);
    me.ok(&["dm", "--to", "sam from the mill", "hello"]);
    sam2.ok(&["about", "Runs the\nmill"]);
    sam2.ok(&["export", path_str(sticks[1].path())]);
    me.ok(&["import", path_str(sticks[1].path())]);
    let who = me.ok(&["who", "Sam from the mill"]);
    assert!(who.contains("says        Runs the mill"), "{who}");
    assert!(who.starts_with("Sam from the mill\n"), "{who}");
    assert!(who.contains("calls self  sam"), "{who}");
    assert!(who.contains("followed by you (1 hop)"), "{who}");
    let contacts = json(&me.ok(&["contacts", "--json"]));
    let names: Vec<&str> = contacts["following"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"Sam from the mill") && names.contains(&"sam"));
    me.ok(&["petname", &id2, "--remove"]);
    me.fails_with(1, &["who", "Sam from the mill"]);
}

#[test]
fn a_mistyped_id_is_caught_before_anything_is_published() {
    let me = TestNode::new("me");
    let friend = TestNode::new("friend");
    let id = friend.id();
    let before = me.status()["messages"].as_u64().unwrap();
    // An id nobody here has seen: refused, nothing published.
    let out = me.fails_with(1, &["follow", &id]);
    assert!(out.contains("a character may be wrong"), "{out}");
    assert!(out.contains("--yes"), "{out}");
    for verb in ["block", "dm"] {
        let args: Vec<&str> = if verb == "dm" {
            vec!["dm", "--to", &id, "hello"]
        } else {
            vec![verb, &id]
        };
        me.fails_with(1, &args);
    }
    assert_eq!(me.status()["messages"].as_u64().unwrap(), before);
    // A last character no id can end with is named as a typing slip.
    let mut slip = id.clone();
    slip.pop();
    slip.push('b');
    let out = me.fails_with(1, &["follow", &slip]);
    assert!(out.contains("last character"), "{out}");
    // --yes goes ahead, and says what happened in words.
    let said = me.ok(&["follow", &id, "--yes"]);
    assert!(said.starts_with("now following @"), "{said}");
}

#[test]
fn errors_say_what_to_do_once() {
    let me = TestNode::new("me");
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("stick");
    let cases: Vec<(i32, Vec<String>, &str)> = vec![
        (
            1,
            vec!["export".into(), path_str(&missing).into()],
            "Is the stick mounted?",
        ),
        (
            1,
            vec!["sync-dir".into(), path_str(&missing).into()],
            "Is the stick mounted?",
        ),
        (
            1,
            vec!["import".into(), path_str(&missing).into()],
            "is the stick mounted?",
        ),
        (1, vec!["post".into(), "x".repeat(9000)], "8192"),
    ];
    for (code, args, advice) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = me.fails_with(*code, &args);
        assert!(out.contains(advice), "{args:?}: {out}");
        assert_said_once(&out);
    }
    assert!(!missing.exists(), "a missing stick folder is never created");
    me.ok(&["export", path_str(&missing), "--create"]);
    assert!(missing.is_dir());

    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "shopping: bread, milk\n".repeat(50)).unwrap();
    let out = me.fails_with(1, &["import", path_str(&notes)]);
    assert!(out.contains("is not a grapevine bundle"), "{out}");
    assert!(!out.contains("zstd"), "{out}");
    assert_said_once(&out);
}

/// No sentence of an error is said twice.
fn assert_said_once(text: &str) {
    for part in text.split([':', '.', ';']).map(str::trim) {
        if part.len() >= 12 {
            assert_eq!(
                text.matches(part).count(),
                1,
                "'{part}' is repeated in: {text}"
            );
        }
    }
}

#[test]
fn completions_and_man_page_are_generated() {
    let me = TestNode::uninitialised("me");
    let bash = me.ok(&["completions", "bash"]);
    assert!(
        bash.contains("timeline") && bash.contains("petname"),
        "bash"
    );
    let man = me.ok(&["man"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH grapevine"),
        "{man}"
    );
}
