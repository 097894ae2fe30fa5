//! Gossip follows trust: hops, blocks, incremental and sealed bundles, peers, the graph.

use std::fs;
use std::path::Path;

use grapevine::bundle;
use grapevine::identity::Identity;
use grapevine::message::{ContentKind, Message};

use crate::harness::{TestNode, import_counts, path_str, stick, wrote_path};

/// The feeds a bundle carries, read from its manifest.
fn carried_feeds(path: &std::path::Path) -> Vec<String> {
    let manifest = bundle::read_manifest(fs::File::open(path).unwrap())
        .unwrap()
        .unwrap();
    manifest.feeds.iter().map(|r| r.feed.to_string()).collect()
}

fn held_feeds(node: &TestNode) -> Vec<String> {
    let out = node.ok(&["graph", "--format", "dot"]);
    let mut feeds: Vec<String> = out
        .lines()
        .filter(|l| l.contains("held") && !l.contains("blocked"))
        .filter_map(|l| l.split('"').nth(1).map(str::to_owned))
        .collect();
    feeds.sort();
    feeds
}

/// A follows B, B follows C, C follows D: at 2 hops A holds B and C but not D; at 3, D too.
#[test]
fn hops_limit_how_far_gossip_reaches() {
    let [a, b, c, d] = ["a", "b", "c", "d"].map(TestNode::new);
    a.follow(&b);
    b.follow(&c);
    c.follow(&d);
    for n in [&b, &c, &d] {
        n.post(&format!("hello from {}", n.name));
    }
    // A carrier who follows everyone brings all four feeds in one bundle.
    let carrier = TestNode::new("carrier");
    carrier.ok(&["config", "set", "hops", "1"]);
    let s = stick();
    for n in [&b, &c, &d] {
        carrier.follow(n);
        carrier.import(&n.export_to(s.path()));
    }
    let t = stick();
    let bundle = carrier.export_to(t.path());
    let out = a.import(&bundle);
    let (new, _, _) = import_counts(&out);
    assert!(out.contains("not wanted"), "{out}");
    assert_eq!(a.posts(&b.id()), ["hello from b"]);
    assert_eq!(
        a.posts(&c.id()),
        ["hello from c"],
        "C is two hops away: {out}"
    );
    assert!(a.feed(&d.id()).is_empty(), "D is three hops away");
    assert!(new > 0);

    assert_eq!(a.ok(&["config", "get", "hops"]).trim(), "2");
    a.ok(&["config", "set", "hops", "3"]);
    a.import(&bundle);
    assert_eq!(a.posts(&d.id()), ["hello from d"]);
    let bad = a.fails_with(1, &["config", "set", "hops", "many"]);
    assert!(bad.contains("whole number"), "{bad}");
}

/// A blocks X: X's messages are not stored and never exported. B, A's friend, blocks Y at A's
/// outer hop: A does not carry Y either.
#[test]
fn blocks_keep_feeds_out() {
    let [a, b, c, x, y] = ["a", "b", "c", "x", "y"].map(TestNode::new);
    a.follow(&b);
    a.follow(&c);
    c.follow(&x);
    c.follow(&y);
    b.ok(&["block", &y.id(), "--yes"]);
    x.post("spam from x");
    y.post("spam from y");
    a.post("before blocking");
    // A holds X for now (two hops through C); then blocks it.
    let carrier = TestNode::new("carrier");
    carrier.ok(&["config", "set", "hops", "1"]);
    for n in [&b, &c, &x, &y] {
        let s = stick();
        carrier.follow(n);
        carrier.import(&n.export_to(s.path()));
    }
    let t = stick();
    let bundle = carrier.export_to(t.path());
    a.import(&bundle);
    assert_eq!(a.posts(&x.id()), ["spam from x"]);
    assert!(a.feed(&y.id()).is_empty(), "Y is blocked by A's friend B");

    a.ok(&["block", &x.id(), "--yes"]);
    assert!(a.feed(&x.id()).is_empty(), "blocking hides what was held");
    let out = a.import(&bundle);
    assert!(a.feed(&x.id()).is_empty(), "{out}");
    let u = stick();
    let exported = a.export_to(u.path());
    let feeds = carried_feeds(&exported);
    assert!(
        !feeds.contains(&x.id()) && !feeds.contains(&y.id()),
        "{feeds:?}"
    );
    assert!(feeds.contains(&c.id()));
    let dot = a.ok(&["graph", "--format", "dot"]);
    assert!(
        dot.contains(&format!("\"{}\" [label=", x.id())) && dot.contains("blocked"),
        "{dot}"
    );
}

/// After B imported A's bundle and A heard back from B, `export --for B` carries only what B
/// lacks: its size grows with the new messages, not with history.
#[test]
fn incremental_bundles_carry_only_what_the_peer_lacks() {
    let a = TestNode::new("a");
    let b = TestNode::new("b");
    b.follow(&a);
    a.follow(&b);
    // 10,000 old messages of A's, restored from a bundle as from a backup.
    let identity = Identity::load(&a.home().join("secret.key")).unwrap();
    let head = a.feed(&a.id());
    let mut previous = Some(head[0]["id"].as_str().unwrap().parse().unwrap());
    let start = head.len() as u64 + 1;
    let mut messages = Vec::new();
    for seq in start..start + 10_000 {
        let content = format!(r#"{{"type":"post","text":"old post {seq}"}}"#).into_bytes();
        let m = Message::create(
            &identity,
            seq,
            previous,
            1_700_000_000_000,
            ContentKind::Json,
            content,
        )
        .unwrap();
        previous = Some(m.id);
        messages.push(m);
    }
    let dir = stick();
    let backup = dir.path().join("backup.gvb");
    write_bundle(&backup, &identity, &messages);
    a.import(&backup);

    let first = a.ok(&["export", path_str(dir.path()), "--for", &b.id()]);
    let first_path = wrote_path(&first);
    let full = fs::metadata(&first_path).unwrap().len();
    assert_eq!(
        import_counts(&b.import(std::path::Path::new(&first_path))).0,
        10_002
    );
    // B answers with its own bundle: A learns B's frontier from its manifest.
    let back = stick();
    a.import(&b.export_to(back.path()));
    for i in 0..10 {
        a.post(&format!("new post {i}"));
    }
    let second = a.ok(&["export", path_str(dir.path()), "--for", &b.id()]);
    let second_path = wrote_path(&second);
    assert!(second.contains(": 10 messages of 1 feed "), "{second}");
    assert!(!Path::new(&first_path).exists(), "superseded by the second");
    let incremental = fs::metadata(&second_path).unwrap().len();
    assert!(
        incremental * 50 < full,
        "{incremental} bytes vs {full} for the full history"
    );
    eprintln!("incremental bundle for 10 new messages: {incremental} bytes (full: {full})");
    assert_eq!(
        import_counts(&b.import(std::path::Path::new(&second_path))),
        (10, 0, 0)
    );
    let peers: serde_json::Value = serde_json::from_str(&a.ok(&["peers", "--json"])).unwrap();
    assert_eq!(peers[0]["peer"]["id"], b.id().as_str());
    assert!(
        peers[0]["via"].as_str().unwrap().starts_with("bundle gv-"),
        "{peers}"
    );
    assert_eq!(
        peers[0]["behind"], 0,
        "A knows it sent B everything: {peers}"
    );
    assert!(peers[0]["last_heard"].is_i64() && peers[0]["last_export"].is_i64());
}

fn write_bundle(path: &std::path::Path, exporter: &Identity, messages: &[Message]) {
    let (bytes, _) =
        bundle::write_messages(Vec::new(), exporter, &"cd".repeat(16), 0, messages).unwrap();
    fs::write(path, bytes).unwrap();
}

/// A sealed bundle: B imports it; C holding the same file learns nothing and is told so; tar
/// cannot list it; its bytes hold no feed id.
#[test]
fn sealed_bundles_reveal_nothing_to_others() {
    let [a, b, c] = ["a", "b", "c"].map(TestNode::new);
    b.follow(&a);
    c.follow(&a);
    a.post("for b's eyes, on a stick that may be lost");
    let s = stick();
    let out = a.ok(&["export", path_str(s.path()), "--seal", "--for", &b.id()]);
    let path = wrote_path(&out);
    assert!(out.contains("sealed"), "{out}");
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("gv-sealed-") && !name.contains(&a.id()[1..]),
        "{name}"
    );

    let imported = b.import(&path);
    assert_eq!(import_counts(&imported).0, 2, "{imported}");
    assert_eq!(
        b.posts(&a.id()),
        ["for b's eyes, on a stick that may be lost"]
    );

    let refused = c.import(&path);
    assert!(refused.contains("not addressed to you"), "{refused}");
    assert!(c.feed(&a.id()).is_empty());

    let listed = std::process::Command::new("tar")
        .args(["--zstd", "-tf", path_str(&path)])
        .output()
        .unwrap();
    assert!(
        !listed.status.success(),
        "tar must not list a sealed bundle"
    );
    let bytes = fs::read(&path).unwrap();
    for node in [&a, &b, &c] {
        let id: grapevine::FeedId = node.id().parse().unwrap();
        assert!(
            !bytes.windows(32).any(|w| w == id.as_bytes()),
            "raw id of {}",
            node.name
        );
        let text = id.base32();
        assert!(
            !bytes.windows(text.len()).any(|w| w == text.as_bytes()),
            "text id of {}",
            node.name
        );
    }
    let unsealed = a.fails_with(2, &["export", path_str(s.path()), "--seal"]);
    assert!(unsealed.contains("--for"), "{unsealed}");
}

/// A folder shared by several nodes: each export carries what the others there lack.
#[test]
fn folder_exports_carry_what_participants_lack() {
    let [a, b] = ["a", "b"].map(TestNode::new);
    a.follow(&b);
    b.follow(&a);
    a.post("one");
    let shared = stick();
    let first = a.export_to(shared.path());
    b.import(&first);
    b.export_to(shared.path()); // b's manifest now says it holds a's feed
    a.post("two");
    let out = a.ok(&["export", path_str(shared.path())]);
    assert!(
        out.contains(": 1 message of"),
        "only 'two' is new to b: {out}"
    );
    let second = wrote_path(&out);
    assert!(!first.exists(), "the new bundle supersedes a's first one");
    let again = a.ok(&["export", path_str(shared.path())]);
    assert!(
        again.contains("nothing to send: the stick already has it"),
        "{again}"
    );
    assert_eq!(import_counts(&b.import(&second)).0, 1);
    let forced = a.ok(&["export", path_str(shared.path()), "--anyway"]);
    assert!(forced.contains(": 1 message of"), "{forced}");
    assert!(!second.exists(), "superseded again");
    assert_eq!(a.own_bundles_in(shared.path()), 1);
}

/// `graph --format svg` is well-formed XML with one node per feed in the replication set.
#[test]
fn graph_svg_is_xml_with_a_node_per_feed() {
    let [a, b, c] = ["a", "b", "c"].map(TestNode::new);
    a.follow(&b);
    b.follow(&c);
    a.ok(&["name", "a <&> \"quoted\""]);
    let s = stick();
    let carrier = stick();
    b.import(&c.export_to(s.path()));
    a.import(&b.export_to(carrier.path()));
    let dir = stick();
    let file = dir.path().join("net.svg");
    a.ok(&["graph", "--format", "svg", "--out", path_str(&file)]);
    let svg = fs::read_to_string(&file).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("graph --format svg is well-formed XML");
    let feeds: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some("feed"))
        .filter_map(|n| n.attribute("data-feed"))
        .collect();
    let mut expected = vec![a.id(), b.id(), c.id()];
    expected.sort();
    let mut found: Vec<String> = feeds.iter().map(|s| s.to_string()).collect();
    found.sort();
    assert_eq!(found, expected);
    assert_eq!(held_feeds(&a), expected);
}

/// A stick with a bundle for B is lost. A assumed B got it, until B's next bundle says what B
/// really holds: then A's next bundle for B carries the lost messages again.
#[test]
fn a_lost_stick_is_noticed_and_its_messages_resent() {
    let [a, b] = ["a", "b"].map(TestNode::new);
    a.follow(&b);
    b.follow(&a);
    a.post("sent on the stick that was lost");
    let lost = stick();
    let out = a.ok(&["export", path_str(lost.path()), "--for", &b.id()]);
    assert!(out.contains(": 3 messages of"), "{out}");
    let again = a.ok(&["export", path_str(lost.path()), "--for", &b.id()]);
    assert!(
        again.contains("nothing to send"),
        "A assumes B has them: {again}"
    );
    drop(lost);
    let back = stick();
    a.import(&b.export_to(back.path()));
    let resend = a.ok(&["export", path_str(back.path()), "--for", &b.id()]);
    assert!(
        resend.contains(": 3 messages of"),
        "B's manifest shows what it lacks: {resend}"
    );
    let path = wrote_path(&resend);
    b.import(&path);
    assert_eq!(b.posts(&a.id()), ["sent on the stick that was lost"]);
}

/// The picture: you highlighted, rings by hops, a legend, width and height, follows drawn as
/// arrows that pass through no node on their way.
#[test]
fn graph_arrows_pass_through_no_node() {
    let people: Vec<TestNode> = ["me", "b", "c", "d", "e", "f", "g", "h"]
        .into_iter()
        .map(TestNode::new)
        .collect();
    let follows = [
        (0, 1),
        (0, 2),
        (0, 3),
        (0, 4),
        (1, 2),
        (1, 5),
        (2, 6),
        (3, 7),
        (1, 0),
        (2, 0),
        (5, 1),
        (4, 2),
        (6, 3),
    ];
    for (from, to) in follows {
        people[from].follow(&people[to]);
    }
    let s = stick();
    for (i, p) in people.iter().enumerate().skip(1) {
        p.ok(&[
            "export",
            "--all",
            path_str(&s.path().join(format!("{i}.gvb"))),
        ]);
    }
    people[0].import(s.path());
    let svg = people[0].ok(&["graph"]);
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let root = doc.root_element();
    assert!(root.attribute("width").is_some() && root.attribute("height").is_some());
    assert!(svg.contains("class=\"legend\"") && svg.contains("marker-end=\"url(#arrow)\""));
    assert!(svg.contains("data-kind=\"me\""));
    let number = |s: &str| s.parse::<f64>().unwrap();
    let circles: Vec<(f64, f64, f64)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some("feed"))
        .filter_map(|g| {
            g.children()
                .filter(|c| c.has_tag_name("circle"))
                .find(|c| c.attribute("fill") != Some("none"))
        })
        .map(|c| {
            (
                number(c.attribute("cx").unwrap()),
                number(c.attribute("cy").unwrap()),
                number(c.attribute("r").unwrap()),
            )
        })
        .collect();
    assert_eq!(circles.len(), people.len());
    let paths: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("follow"))
        .filter_map(|n| n.attribute("d"))
        .collect();
    assert!(paths.len() >= 10, "{} arrows", paths.len());
    for d in paths {
        let v: Vec<f64> = d
            .split([' ', ',', 'M', 'Q'])
            .filter(|t| !t.is_empty())
            .map(number)
            .collect();
        let [sx, sy, cx, cy, ex, ey] = v[..] else {
            panic!("not a quadratic path: {d}")
        };
        let ends: Vec<usize> = circles
            .iter()
            .enumerate()
            .filter(|(_, (x, y, r))| {
                (sx - x).hypot(sy - y) <= r + 3.0 || (ex - x).hypot(ey - y) <= r + 3.0
            })
            .map(|(i, _)| i)
            .collect();
        for i in 1..20 {
            let t = f64::from(i) / 20.0;
            let u = 1.0 - t;
            let (px, py) = (
                u * u * sx + 2.0 * u * t * cx + t * t * ex,
                u * u * sy + 2.0 * u * t * cy + t * t * ey,
            );
            for (k, (x, y, r)) in circles.iter().enumerate() {
                assert!(
                    ends.contains(&k) || (px - x).hypot(py - y) > *r,
                    "the arrow {d} passes through the node at ({x}, {y})"
                );
            }
        }
    }
}

/// `graph` writes what a file's name promises (SVG or DOT, never SVG in a .png), and on a
/// terminal without --out it lists the network in words instead of dumping SVG.
#[test]
fn graph_files_match_their_names_and_a_terminal_gets_words() {
    let [a, b] = ["a", "b"].map(TestNode::new);
    a.follow(&b);
    let dir = stick();
    let png = dir.path().join("net.png");
    let refused = a.fails_with(1, &["graph", "--out", path_str(&png)]);
    assert!(refused.contains("not .png"), "{refused}");
    assert!(!png.exists(), "nothing written under a name that lies");
    let dot = dir.path().join("net.dot");
    a.ok(&["graph", "--out", path_str(&dot)]);
    assert!(fs::read_to_string(&dot).unwrap().starts_with("digraph"));
    let clash = a.fails_with(1, &["graph", "--format", "svg", "--out", path_str(&dot)]);
    assert!(clash.contains("disagree"), "{clash}");

    // `script` gives the command a terminal for its standard output.
    let command = format!(
        "'{}' --home '{}' graph",
        crate::harness::bin(),
        a.home().display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run script (util-linux)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("<svg"), "no SVG on a terminal: {text}");
    assert!(text.contains("you ") && text.contains("1 hop"), "{text}");
    assert!(text.contains("graph --out network.svg"), "{text}");
}
