//! One JSON vocabulary (docs/json.md): every command that reports something takes `--json`,
//! prints JSON that parses, uses only documented field names, and shows every feed the same
//! way, as `{"id", "name"}`.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::harness::{TestNode, path_str, stick, written_id};

/// Field names documented in docs/json.md: the backticked words in the first cell of each
/// table row of its "Fields" table.
fn documented() -> BTreeSet<String> {
    documented_in("docs/json.md")
}

/// The backticked words in the first cell of each table row of `doc` (from the repository).
pub fn documented_in(doc: &str) -> BTreeSet<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(doc);
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{doc}: {e}"));
    doc.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split(" |").next())
        .flat_map(|cell| {
            cell.split('`')
                .map(|w| w.trim_matches([',', ' ']).to_owned())
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Fields whose value is a feed, or a list of feeds.
const FEED_FIELDS: &[&str] = &[
    "author",
    "reply_author",
    "peer",
    "feed",
    "me",
    "exporter",
    "contact",
    "with",
    "mentions",
    "recipients",
    "follows",
    "followers",
    "blocks",
    "following",
    "blocked",
    "liked_by",
    "not_wanted_feeds",
    "device",
    "devices",
    "this_device",
    "device_offers",
];

fn is_feed(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        o.len() == 2
            && o["id"].as_str().is_some_and(|id| id.starts_with('@'))
            && (o["name"].is_null() || o["name"].is_string())
    })
}

fn walk(command: &str, value: &Value, known: &BTreeSet<String>, seen: &mut BTreeSet<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| walk(command, v, known, seen)),
        Value::Object(map) => {
            for (key, v) in map {
                assert!(
                    known.contains(key),
                    "`{command}` prints field `{key}`, which docs/json.md does not document"
                );
                seen.insert(key.clone());
                if FEED_FIELDS.contains(&key.as_str()) && !v.is_null() {
                    let ok = match v {
                        Value::Array(list) => list.iter().all(is_feed),
                        other => is_feed(other),
                    };
                    assert!(ok, "`{command}`: `{key}` is not a feed object: {v}");
                }
                // A message's content is the author's JSON, not ours.
                if key != "content" {
                    walk(command, v, known, seen);
                }
            }
        }
        _ => {}
    }
}

#[test]
fn every_command_speaks_one_json_vocabulary() {
    let known = documented();
    assert!(
        known.len() > 40,
        "docs/json.md lists too few fields: {known:?}"
    );
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    let s = stick();
    let dir = path_str(s.path());
    let mut outputs: Vec<(String, String)> = Vec::new();
    let mut run = |node: &TestNode, args: &[&str]| {
        let mut args = args.to_vec();
        args.push("--json");
        let out = node.ok(&args);
        outputs.push((args.join(" "), out.clone()));
        out
    };
    run(&alice, &["follow", &bob.id(), "--yes"]);
    run(&bob, &["follow", &alice.id(), "--yes"]);
    run(&alice, &["name", "Alice"]);
    run(&alice, &["about", "Keeps bees above the mill"]);
    run(&alice, &["export", dir]);
    run(&bob, &["import", dir]);
    run(&bob, &["sync-dir", dir]);
    run(&alice, &["sync-dir", dir]);
    // Now alice knows bob's name: a mention and a private message by name.
    let post = written_id(&run(&alice, &["post", "hello #tea @bob"]));
    run(&alice, &["dm", "--to", "bob", "psst"]);
    run(&alice, &["sync-dir", dir]);
    run(&bob, &["sync-dir", dir]);
    run(&bob, &["reply", &post, "hi"]);
    run(&bob, &["like", &post]);
    run(&bob, &["unlike", &post]);
    for args in [
        &["timeline", "--all"][..],
        &["thread", &post],
        &["show", &post],
        &["inbox"],
        &["feed", "Alice"],
        &["mentions"],
        &["tag"],
        &["tag", "tea"],
        &["search", "hello"],
        &["who", "Alice"],
        &["contacts"],
        &["status"],
        &["peers"],
        &["check"],
    ] {
        run(&bob, args);
    }
    // Unfollowing drops alice's feed, and with it her name: her id is typed again.
    let alice_id = alice.id();
    run(&bob, &["unfollow", "Alice"]);
    run(&bob, &["follow", &alice_id]);
    run(&bob, &["block", &alice_id]);
    run(&bob, &["unblock", &alice_id]);
    run(&bob, &["follow", &alice_id]);
    let laptop = TestNode::new("bob's laptop");
    run(&bob, &["device", "link", &laptop.id()]);
    run(&bob, &["device", "list"]);
    run(&bob, &["device", "unlink", &laptop.id()]);
    // A stranger's private message waits as a request, and is put away.
    let stranger = TestNode::new("stranger");
    stranger.ok(&["dm", "--to", &bob.id(), "hello?", "--yes"]);
    let t = stick();
    stranger.export_to(t.path());
    run(&bob, &["import", path_str(t.path())]);
    run(&bob, &["requests"]);
    run(&bob, &["requests", "dismiss", &stranger.id()]);
    // A key restored from its words says what it waits for.
    let words = bob.ok(&["backup"]);
    let restored = TestNode::uninitialised("bob restored");
    let out = restored.run_with_input(&["init", "--restore"], words.as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    run(&restored, &["status"]);
    // Settings, names and the network picture.
    run(&bob, &["whoami"]);
    run(&bob, &["config", "set", "hops", "2"]);
    run(&bob, &["config", "get", "hops"]);
    run(&bob, &["petname", &alice_id, "Al"]);
    bob.ok(&["pub", "add", "127.0.0.1:8008"]);
    run(&bob, &["pub", "list"]);
    run(&bob, &["graph"]);
    let backup: Value = serde_json::from_str(&run(&bob, &["backup"])).unwrap();
    assert_eq!(
        backup["words"].as_array().map(Vec::len),
        Some(24),
        "{backup}"
    );
    let fresh = TestNode::uninitialised("carol");
    run(&fresh, &["init", "--name", "carol"]);
    let again = TestNode::uninitialised("bob again");
    let out = again.run_with_input(&["init", "--restore", "--json"], words.as_bytes());
    outputs.push((
        "init --restore --json".into(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ));
    let mut seen = BTreeSet::new();
    for (command, out) in &outputs {
        let value: Value = serde_json::from_str(out)
            .unwrap_or_else(|e| panic!("`{command}` printed no JSON ({e}):\n{out}"));
        walk(command, &value, &known, &mut seen);
    }
    // The documentation lists nothing that no command prints (watch, serve and sync aside,
    // which run elsewhere).
    let elsewhere = [
        "event",
        "says",
        "folders",
        "media",
        "folder",
        "mount",
        "problem",
        "error",
        "newest",
        "address",
        "received",
        "sent",
        "reread",
        "feeds",
        "bytes",
        "me",
        "pub",
        "discovery",
        "ms",
        "why",
        "more",
        "path",
    ];
    for field in &known {
        assert!(
            seen.contains(field) || elsewhere.contains(&field.as_str()),
            "docs/json.md documents `{field}`, which no command printed"
        );
    }
}

/// `serve --json` speaks the same vocabulary: each event of a session, from `listening` to
/// `session-ended`, is one JSON line whose fields docs/json.md documents, and says in words
/// what the plain `serve` prints.
#[test]
fn serve_tells_its_events_as_json() {
    let known = documented();
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    alice.follow(&bob);
    bob.follow(&alice);
    alice.post("over the LAN");
    let mut serving = alice.spawn(&[
        "serve",
        "--json",
        "--listen",
        "127.0.0.1:0",
        "--no-discovery",
    ]);
    let wait = std::time::Duration::from_secs(20);
    let parse = |line: &str| -> Value {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    };
    let listening = parse(&serving.expect(wait, "listening", |l| l.contains("\"listening\"")));
    assert_eq!(listening["me"]["id"], alice.id());
    let address = listening["address"]
        .as_str()
        .expect("an address")
        .to_owned();
    bob.ok(&["sync", &address]);
    let ended = parse(&serving.expect(wait, "the session's end", |l| {
        l.contains("\"session-ended\"")
    }));
    assert_eq!(ended["peer"]["id"], bob.id());
    // alice's name, follow and post; bob's name and follow.
    assert_eq!(
        (&ended["sent"], &ended["new"]),
        (&3.into(), &2.into()),
        "{ended}"
    );
    assert!(
        ended["says"]
            .as_str()
            .is_some_and(|s| s.contains(" ended: received ")),
        "{ended}"
    );
    // Stopped, it says so in JSON too: every line it printed parses.
    let status = serving.stop_with("INT", wait);
    assert_eq!(status.code(), Some(0));
    let stopped = parse(&serving.expect(wait, "its last line", |l| l.contains("\"stopped\"")));
    assert_eq!(stopped["says"], "stopped serving");
    let mut seen = BTreeSet::new();
    for event in [&listening, &ended, &stopped] {
        walk("serve --json", event, &known, &mut seen);
    }
}
