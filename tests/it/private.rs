//! Private messages: only recipients read them, carriers learn nothing, re-posts do not fool.

use std::fs;
use std::path::Path;

use grapevine::bundle;
use grapevine::identity::Identity;
use grapevine::message::{ContentKind, Message};

use crate::harness::{TestNode, import_counts, path_str, stick, written_id};

fn inbox_texts(node: &TestNode) -> Vec<String> {
    let out = node.ok(&["inbox", "--json", "--limit", "1000"]);
    let conversations: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let mut posts: Vec<&serde_json::Value> = conversations
        .iter()
        .flat_map(|c| c["posts"].as_array().unwrap())
        .collect();
    posts.sort_by_key(|p| std::cmp::Reverse(p["at"].as_i64()));
    posts
        .iter()
        .map(|p| p["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Every byte of every file under `dir`.
fn contains_bytes(dir: &Path, needle: &[u8]) -> Option<String> {
    for entry in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if entry.file_type().is_file() {
            let bytes = fs::read(entry.path()).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                return Some(entry.path().display().to_string());
            }
        }
    }
    None
}

/// alice writes to bob; carol carries alice's diary to bob. bob reads it, carol cannot, and
/// the text is nowhere in carol's home; alice reads what she sent.
#[test]
fn only_the_recipient_reads_what_a_carrier_carried() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    let carol = TestNode::new("carol");
    bob.follow(&alice);
    carol.follow(&alice);
    let secret = "meet at the library at 6, bring the blue folder";
    let id = written_id(&alice.ok(&["dm", "--to", &bob.id(), secret, "--yes", "--json"]));
    let s = stick();
    carol.import(&alice.export_to(s.path()));
    let t = stick();
    bob.import(&carol.export_to(t.path()));

    assert_eq!(inbox_texts(&bob), [secret]);
    assert_eq!(
        inbox_texts(&alice),
        [secret],
        "the sender reads its own message"
    );
    assert!(inbox_texts(&carol).is_empty());
    assert!(carol.ok(&["inbox"]).starts_with("no private messages yet"));
    assert_eq!(contains_bytes(&carol.home(), secret.as_bytes()), None);
    assert_eq!(contains_bytes(&carol.home(), b"blue folder"), None);

    let in_carols_view = carol.feed(&alice.id());
    let boxed = in_carols_view
        .iter()
        .find(|m| m["id"] == id.as_str())
        .unwrap();
    assert_eq!(boxed["content"], serde_json::json!({"type": "encrypted"}));
    assert_eq!(boxed["private"], true);
    let in_bobs_view = bob.feed(&alice.id());
    let opened = in_bobs_view
        .iter()
        .find(|m| m["id"] == id.as_str())
        .unwrap();
    assert_eq!(opened["content"]["text"], secret);
    let recipients = opened["content"]["recipients"].as_array().unwrap();
    assert_eq!(recipients.len(), 2);
    assert!(recipients.contains(&serde_json::json!(alice.id())));
    assert!(recipients.contains(&serde_json::json!(bob.id())));
    assert!(
        carol
            .ok(&["feed", &alice.id()])
            .contains("[encrypted: not for you]")
    );
}

#[test]
fn three_recipients_read_it_a_fourth_cannot() {
    let alice = TestNode::new("alice");
    let readers: Vec<TestNode> = ["bob", "carol", "dave"]
        .into_iter()
        .map(TestNode::new)
        .collect();
    let outsider = TestNode::new("eve");
    for node in readers.iter().chain([&outsider]) {
        node.follow(&alice);
    }
    let mut args = vec!["dm".to_owned(), "--yes".to_owned()];
    for r in &readers {
        args.push("--to".into());
        args.push(r.id());
    }
    args.push("-".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = alice.run_with_input(&args, b"council moved to Thursday\n");
    assert!(out.status.success());
    let s = stick();
    let bundle = alice.export_to(s.path());
    for node in readers.iter().chain([&outsider]) {
        node.import(&bundle);
    }
    for r in &readers {
        assert_eq!(inbox_texts(r), ["council moved to Thursday"], "{}", r.name);
    }
    assert!(inbox_texts(&outsider).is_empty());
}

fn bundle_of(path: &Path, exporter: &Identity, messages: &[Message]) {
    let (bytes, _) =
        bundle::write_messages(Vec::new(), exporter, &"ab".repeat(16), 0, messages).unwrap();
    fs::write(path, bytes).unwrap();
}

/// The box (content) of alice's first message, as bob's inbox would receive it.
fn first_box(alice: &TestNode) -> Vec<u8> {
    let s = stick();
    let bundle = alice.export_to(s.path());
    let home = tempfile::tempdir().unwrap();
    let mut reader = grapevine::Node::init(&home.path().join("r"), None).unwrap();
    let alice_id: grapevine::FeedId = alice.id().parse().unwrap();
    reader
        .contact(alice_id, grapevine::content::ContactChange::Follow)
        .unwrap();
    reader.import(&[bundle]).unwrap();
    let feed = reader.feed(&alice_id, 100).unwrap();
    feed.into_iter()
        .find(|m| m.header.kind == ContentKind::PrivateBox)
        .unwrap()
        .content
}

/// A flipped bit in transit is caught by the signed content hash; a box its author signed with a
/// flipped bit is reported to the recipient. Either way the rest of the bundle is imported.
#[test]
fn tampered_boxes_are_reported_and_the_rest_imports() {
    let bob = TestNode::new("bob");
    let mallory = Identity::from_seed(&[66; 32]);
    let writer = Identity::from_seed(&[11; 32]);
    bob.follow_id(&writer.feed_id().to_string());
    bob.follow_id(&Identity::from_seed(&[12; 32]).feed_id().to_string());
    let sealed = grapevine::private_box::seal(
        &writer.feed_id(),
        &[writer.feed_id(), bob.id().parse().unwrap()],
        br#"{"type":"post","text":"hello bob"}"#,
        &grapevine::private_box::Randomness::fresh().unwrap(),
    )
    .unwrap();
    let post = |seq, previous, kind, content: Vec<u8>| {
        Message::create(&writer, seq, previous, 0, kind, content).unwrap()
    };
    // In transit: bundle carries the signed box with one bit flipped afterwards.
    let m1 = post(1, None, ContentKind::PrivateBox, sealed.clone());
    let m2 = post(
        2,
        Some(m1.id),
        ContentKind::Json,
        br#"{"type":"post","text":"after"}"#.to_vec(),
    );
    let mut in_transit = m1.clone();
    let last = in_transit.content.len() - 1;
    in_transit.content[last] ^= 1;
    let dir = stick();
    let path = dir.path().join("transit.gvb");
    bundle_of(&path, &mallory, &[in_transit, m2.clone()]);
    let out = bob.fails_with(3, &["import", path_str(&path)]);
    assert!(
        out.contains("message 1 of @") && out.contains("content hash does not match"),
        "{out}"
    );
    assert_eq!(
        import_counts(&out),
        (1, 0, 1),
        "message 2 waits for message 1: {out}"
    );

    // Signed tampered: the author's own box has a flipped body bit.
    let other = Identity::from_seed(&[12; 32]);
    let mut bad = sealed.clone();
    let at = bad.len() - 20;
    bad[at] ^= 1;
    let n1 = Message::create(&other, 1, None, 0, ContentKind::PrivateBox, bad).unwrap();
    let n2 = Message::create(
        &other,
        2,
        Some(n1.id),
        0,
        ContentKind::Json,
        br#"{"type":"post","text":"still here"}"#.to_vec(),
    )
    .unwrap();
    let signed_path = dir.path().join("signed.gvb");
    bundle_of(&signed_path, &mallory, &[n1, n2]);
    let out = bob.fails_with(3, &["import", path_str(&signed_path)]);
    assert!(out.contains("fails authentication"), "{out}");
    assert_eq!(import_counts(&out), (2, 0, 0), "{out}");
    assert_eq!(bob.posts(&other.feed_id().to_string()), ["still here"]);
    assert!(inbox_texts(&bob).is_empty());
}

/// mallory copies alice's box to bob into her own feed: bob does not see it as from alice,
/// nor as from mallory.
#[test]
fn a_reposted_box_is_not_shown_as_written_by_its_sender() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    alice.ok(&["dm", "--to", &bob.id(), "only alice says this", "--yes"]);
    let sealed = first_box(&alice);
    let mallory = Identity::from_seed(&[77; 32]);
    bob.follow_id(&mallory.feed_id().to_string());
    let repost = Message::create(&mallory, 1, None, 0, ContentKind::PrivateBox, sealed).unwrap();
    let dir = stick();
    let path = dir.path().join("repost.gvb");
    bundle_of(&path, &mallory, &[repost]);
    let out = bob.fails_with(3, &["import", path_str(&path)]);
    assert!(out.contains("re-posted by another author"), "{out}");
    assert!(inbox_texts(&bob).is_empty());
    let mallory_feed = bob.feed(&mallory.feed_id().to_string());
    assert_eq!(
        mallory_feed[0]["content"],
        serde_json::json!({"type": "encrypted"})
    );
}

#[test]
fn too_many_recipients_is_a_clear_error() {
    let alice = TestNode::new("alice");
    let mut args = vec!["dm".to_owned(), "--yes".to_owned()];
    for i in 0..16u8 {
        args.push("--to".into());
        args.push(Identity::from_seed(&[i + 100; 32]).feed_id().to_string());
    }
    args.push("hello".into());
    let out = alice.fails_with(1, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.contains("1 to 16 recipients"), "{out}");
}

/// A sealed bundle is read as it opens: importing one writes no plaintext anywhere in the
/// home (its folder is watched; only the store's own files change), and a bundle cut short
/// keeps what came before the cut and says so.
#[test]
fn a_sealed_bundle_opens_into_the_reader_not_a_file() {
    use notify::Watcher;
    let [alice, bob] = ["alice", "bob"].map(TestNode::new);
    bob.follow(&alice);
    // Hex that compresses only to half: a sealed bundle of many chunks and several frames.
    let mut rng = crate::harness::xorshift(7);
    for i in 0..300 {
        let noise: String = (0..430).map(|_| format!("{:016x}", rng())).collect();
        alice.post(&format!("sealed post {i}: {noise}"));
    }
    let s = stick();
    let out = alice.ok(&["export", path_str(s.path()), "--seal", "--for", &bob.id()]);
    let path = crate::harness::wrote_path(&out);
    let (tx, rx) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(tx).unwrap();
    watcher
        .watch(&bob.home(), notify::RecursiveMode::NonRecursive)
        .unwrap();
    let imported = bob.import(&path);
    assert_eq!(import_counts(&imported).0, 301, "{imported}");
    // Events come in order: once the marker's is in, every earlier one is too.
    let marker = bob.home().join("marker");
    fs::write(&marker, b"").unwrap();
    let mut others = Vec::new();
    loop {
        let event = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the marker's event, within 20 s")
            .unwrap();
        if event.paths.contains(&marker) {
            break;
        }
        for p in event.paths {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if !name.starts_with("store.sqlite")
                && !matches!(event.kind, notify::EventKind::Access(_))
            {
                others.push(name);
            }
        }
    }
    drop(watcher);
    assert!(others.is_empty(), "files besides the store: {others:?}");

    let cut = TestNode::new("cut");
    let cut_id = cut.id();
    let out = alice.ok(&[
        "export",
        path_str(s.path()),
        "--seal",
        "--for",
        &cut_id,
        "--anyway",
    ]);
    let whole = crate::harness::wrote_path(&out);
    cut.follow(&alice);
    let bytes = fs::read(&whole).unwrap();
    let short = s.path().join("short.gvb");
    fs::write(&short, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let said = cut.said(&["import", path_str(&short)]);
    assert!(said.all().contains("cut short"), "{}", said.all());
    let kept = cut.feed(&alice.id()).len();
    assert!(kept > 0 && kept < 301, "kept {kept} of 301: {}", said.all());
}
