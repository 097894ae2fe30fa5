//! One person, several devices: links both ways by stick, one name to everyone, private
//! messages readable on every device, one-sided claims ignored, unlinks ending the merge.

use serde_json::Value;

use crate::harness::{TestNode, stick, written_id};

/// Carries `from`'s bundle to `to` by a fresh stick.
fn carry(from: &TestNode, to: &TestNode) {
    let s = stick();
    to.import(&from.export_to(s.path()));
}

fn device_states(node: &TestNode) -> Vec<(String, String)> {
    let list: Value = serde_json::from_str(&node.ok(&["device", "list", "--json"])).unwrap();
    list["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let id = d["device"]["id"].as_str().unwrap().to_owned();
            (id, d["state"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// The timeline as (author id, author name, text).
fn timeline(node: &TestNode) -> Vec<(String, String, String)> {
    let posts: Vec<Value> =
        serde_json::from_str(&node.ok(&["timeline", "--all", "--json"])).unwrap();
    posts
        .iter()
        .map(|p| {
            let field = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (
                field(&p["author"]["id"]),
                field(&p["author"]["name"]),
                field(&p["text"]),
            )
        })
        .collect()
}

/// How many feeds the private message `sent` (its `--json` output) was encrypted to.
fn recipients(node: &TestNode, sent: &str) -> usize {
    let id = written_id(sent);
    let message = node
        .feed(&node.id())
        .into_iter()
        .find(|m| m["id"] == id.as_str())
        .unwrap();
    message["content"]["recipients"].as_array().unwrap().len()
}

fn inbox_texts(node: &TestNode) -> Vec<String> {
    let conversations: Vec<Value> = serde_json::from_str(&node.ok(&["inbox", "--json"])).unwrap();
    conversations
        .iter()
        .flat_map(|c| c["posts"].as_array().unwrap().clone())
        .map(|p| p["text"].as_str().unwrap().to_owned())
        .collect()
}

/// Links alice's laptop and desktop by stick, each side naming the other.
fn linked_pair() -> (TestNode, TestNode) {
    let laptop = TestNode::new("alice");
    let desktop = TestNode::new("alice (desktop)");
    let waiting = laptop.ok(&["device", "link", &desktop.id()]);
    assert!(
        waiting.contains("from this side") && waiting.contains(&laptop.id()),
        "{waiting}"
    );
    assert_eq!(device_states(&laptop), [(desktop.id(), "waiting".into())]);
    let linked = desktop.ok(&["device", "link", &laptop.id()]);
    assert!(linked.contains("from this side"), "{linked}");
    carry(&desktop, &laptop);
    assert_eq!(device_states(&laptop), [(desktop.id(), "linked".into())]);
    assert_eq!(
        device_states(&desktop),
        [(laptop.id(), "waiting".into())],
        "the laptop's link has not reached the desktop yet"
    );
    carry(&laptop, &desktop);
    assert_eq!(device_states(&desktop), [(laptop.id(), "linked".into())]);
    let status: Value = serde_json::from_str(&desktop.ok(&["status", "--json"])).unwrap();
    assert_eq!(status["devices"][0]["id"], laptop.id().as_str(), "{status}");
    assert!(desktop.ok(&["status"]).contains("also you: alice"));
    assert!(laptop.ok(&["device", "list"]).contains("linked both ways"));
    (laptop, desktop)
}

/// bob follows only the laptop; he sees the desktop's posts under alice's name, and a private
/// message to "alice" is read on both of her devices, never by the carrier.
#[test]
fn two_devices_are_one_person_to_everyone() {
    let (laptop, desktop) = linked_pair();
    let bob = TestNode::new("bob");
    let carol = TestNode::new("carol");
    bob.follow(&laptop);
    laptop.follow(&bob);
    carol.follow(&bob);
    desktop.post("written on the desktop");
    laptop.post("written on the laptop");
    carry(&desktop, &laptop);
    // By a relative path, as a person types it: the desktop's feed becomes wanted while the
    // file is read (the laptop's link names it) and is taken in by a second read of the same
    // file, which the report counts once and does not call unwanted.
    let s = stick();
    laptop.export_to(s.path());
    let out = bob
        .command(&["import", ".", "--json"])
        .current_dir(s.path())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["bundles"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    assert_eq!(
        report["not_wanted_feeds"],
        serde_json::json!([]),
        "{report}"
    );

    let seen = timeline(&bob);
    let desktop_post = (
        desktop.id(),
        "alice".to_owned(),
        "written on the desktop".to_owned(),
    );
    assert!(seen.contains(&desktop_post), "{seen:?}");
    assert!(
        seen.contains(&(laptop.id(), "alice".into(), "written on the laptop".into())),
        "{seen:?}"
    );
    let who: Value = serde_json::from_str(&bob.ok(&["who", "alice", "--json"])).unwrap();
    let devices: Vec<&str> = who["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        (who["feed"]["id"].as_str(), devices.as_slice()),
        (
            Some(laptop.id().as_str()),
            [desktop.id().as_str()].as_slice()
        ),
        "alice is the device bob follows, with the other beside it"
    );
    assert!(bob.ok(&["who", "alice"]).contains("alice (desktop)"));

    bob.post("see you at the mill, @alice");
    let secret = "the well by the mill is clean again";
    let sent = bob.ok(&["dm", "--to", "alice", secret, "--json"]);
    assert_eq!(
        recipients(&bob, &sent),
        3,
        "bob and both of alice's devices"
    );
    carry(&bob, &carol);
    carry(&carol, &laptop);
    carry(&laptop, &desktop);
    assert_eq!(inbox_texts(&laptop), [secret]);
    assert_eq!(inbox_texts(&desktop), [secret]);
    assert!(inbox_texts(&carol).is_empty(), "the carrier reads nothing");
    let mentions: Vec<Value> = serde_json::from_str(&desktop.ok(&["mentions", "--json"])).unwrap();
    assert_eq!(
        mentions.len(),
        1,
        "@alice named the laptop; the desktop finds it among its mentions too"
    );
    let conversations: Vec<Value> =
        serde_json::from_str(&desktop.ok(&["inbox", "--json"])).unwrap();
    assert_eq!(
        conversations[0]["with"].as_array().map(Vec::len),
        Some(1),
        "one conversation, with bob alone: {conversations:?}"
    );
}

/// A feed that names a device which never named it back merges with nothing; when one side
/// unlinks, the other's later messages are its own while its earlier ones stay alice's.
#[test]
fn one_sided_claims_are_ignored_and_unlinks_end_the_merge() {
    let (laptop, desktop) = linked_pair();
    let mallory = TestNode::new("mallory");
    let bob = TestNode::new("bob");
    mallory.ok(&["device", "link", &laptop.id()]);
    mallory.post("I am alice too");
    bob.follow(&mallory);
    bob.follow(&laptop);
    carry(&mallory, &bob);
    desktop.post("before the theft");
    carry(&desktop, &laptop);
    carry(&laptop, &bob);
    let seen = timeline(&bob);
    assert!(
        seen.contains(&(mallory.id(), "mallory".into(), "I am alice too".into())),
        "{seen:?}"
    );
    let dm = bob.ok(&["dm", "--to", "mallory", "hi", "--json"]);
    assert_eq!(
        recipients(&bob, &dm),
        2,
        "a one-sided claim adds no recipient"
    );

    let unlinked = laptop.ok(&["device", "unlink", &desktop.id()]);
    assert!(unlinked.contains("unlinked"), "{unlinked}");
    assert_eq!(device_states(&laptop), [(desktop.id(), "unlinked".into())]);
    desktop.post("after the theft");
    bob.follow(&desktop);
    carry(&laptop, &bob);
    carry(&desktop, &bob);
    let seen = timeline(&bob);
    assert!(
        seen.contains(&(desktop.id(), "alice".into(), "before the theft".into())),
        "vouched for by the unlink: {seen:?}"
    );
    assert!(
        seen.contains(&(
            desktop.id(),
            "alice (desktop)".into(),
            "after the theft".into()
        )),
        "its own after the unlink: {seen:?}"
    );
    let dm = bob.ok(&["dm", "--to", "alice", "are you ok?", "--json"]);
    assert_eq!(
        recipients(&bob, &dm),
        2,
        "the unlinked desktop reads no more"
    );
}

/// Blocking one device blocks the person: bob forgets both feeds, and names both in his
/// blocks so that his friends carry neither.
#[test]
fn blocking_one_device_blocks_them_all() {
    let (laptop, desktop) = linked_pair();
    let bob = TestNode::new("bob");
    bob.follow(&laptop);
    desktop.post("hello from the desktop");
    carry(&desktop, &laptop);
    carry(&laptop, &bob);
    assert_eq!(timeline(&bob).len(), 1);
    bob.ok(&["block", &desktop.id()]);
    assert!(timeline(&bob).is_empty());
    let contacts: Value = serde_json::from_str(&bob.ok(&["contacts", "--json"])).unwrap();
    let blocked: Vec<&str> = contacts["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(
        blocked.contains(&laptop.id().as_str()) && blocked.contains(&desktop.id().as_str()),
        "{contacts}"
    );
    carry(&laptop, &bob);
    assert!(timeline(&bob).is_empty(), "nothing of either comes back");
}

/// Every device takes a recipient slot: a person of 16 devices cannot be written to together
/// with anyone, and the refusal says why.
#[test]
fn each_device_takes_a_recipient_slot() {
    use grapevine::content;
    use grapevine::identity::Identity;
    use grapevine::message::{ContentKind, Message};
    let home = tempfile::tempdir().unwrap();
    let mut bob = grapevine::Node::init(&home.path().join("bob"), None).unwrap();
    let devices: Vec<Identity> = (1..=16u8).map(|i| Identity::from_seed(&[i; 32])).collect();
    // The first device links every other one, and each links it back.
    let mut messages = Vec::new();
    let first = devices[0].feed_id();
    let mut previous = None;
    for (seq, other) in devices[1..].iter().enumerate() {
        let link = content::device(other.feed_id(), true, 0)
            .to_string()
            .into_bytes();
        let m = Message::create(
            &devices[0],
            seq as u64 + 1,
            previous,
            0,
            ContentKind::Json,
            link,
        )
        .unwrap();
        previous = Some(m.id);
        messages.push(m);
        let back = content::device(first, true, 0).to_string().into_bytes();
        messages.push(Message::create(other, 1, None, 0, ContentKind::Json, back).unwrap());
    }
    let file = home.path().join("devices.gvb");
    let (bytes, _) =
        grapevine::bundle::write_messages(Vec::new(), &devices[0], &"cd".repeat(16), 0, &messages)
            .unwrap();
    std::fs::write(&file, bytes).unwrap();
    bob.contact(first, content::ContactChange::Follow).unwrap();
    bob.import(&[file]).unwrap();
    assert_eq!(bob.devices().unwrap().person(&first).len(), 16);
    let refused = bob.dm(&[first], "hello").unwrap_err().to_string();
    assert!(
        refused.contains("one per device") && refused.contains("17 devices"),
        "{refused}"
    );
}

/// Linking from the old device first: the new one cannot replicate the old feed yet, but its
/// offer reaches it on the first stick, `device list` shows it, and `device link` by name
/// completes the link from the file already read.
#[test]
fn an_offer_from_the_old_device_reaches_the_new_one() {
    let laptop = TestNode::new("alice");
    let desktop = TestNode::new("alice (desktop)");
    laptop.post("Hello from my laptop");
    laptop.ok(&["device", "link", &desktop.id()]);
    let s = stick();
    let folder = crate::harness::path_str(s.path());
    laptop.ok(&["sync-dir", folder]);

    let read = desktop.run(&["sync-dir", folder]);
    let said = String::from_utf8_lossy(&read.stdout) + String::from_utf8_lossy(&read.stderr);
    assert!(
        said.contains("alice asks to link this device as one of theirs"),
        "the import tells of the offer: {said}"
    );
    assert_eq!(device_states(&desktop), [(laptop.id(), "offered".into())]);
    let list = desktop.ok(&["device", "list"]);
    assert!(
        list.contains("asks to be linked: `grapevine device link alice` if it is yours"),
        "{list}"
    );
    assert!(
        timeline(&desktop).is_empty(),
        "an offer alone does not bring a feed in"
    );

    let linked = desktop.ok(&["device", "link", "alice"]);
    assert!(linked.contains("linked with alice"), "{linked}");
    assert_eq!(device_states(&desktop), [(laptop.id(), "linked".into())]);
    assert_eq!(
        timeline(&desktop),
        [(
            laptop.id(),
            "alice".to_owned(),
            "Hello from my laptop".to_owned()
        )],
        "the laptop's diary came in from the file already read"
    );

    desktop.ok(&["sync-dir", folder]);
    laptop.ok(&["sync-dir", folder]);
    assert_eq!(device_states(&laptop), [(desktop.id(), "linked".into())]);
}

/// An offer is only a word: a stranger naming my device cannot get its feed replicated, a
/// later unlink withdraws the offer, and a blocked feed's offers are not kept.
#[test]
fn offers_are_withdrawn_and_blocked_offers_dropped() {
    let me = TestNode::new("dana");
    let stranger = TestNode::new("mallory");
    // A link of some other device, carried past us, is no offer to us.
    let third = TestNode::new("someone else");
    stranger.ok(&["device", "link", &third.id()]);
    carry(&stranger, &me);
    assert!(device_states(&me).is_empty(), "an offer to another device");
    stranger.ok(&["device", "link", &me.id()]);
    carry(&stranger, &me);
    assert_eq!(device_states(&me), [(stranger.id(), "offered".into())]);
    stranger.ok(&["device", "unlink", &me.id()]);
    carry(&stranger, &me);
    assert!(
        device_states(&me).is_empty(),
        "the unlink withdrew the offer"
    );

    stranger.ok(&["device", "link", &me.id()]);
    carry(&stranger, &me);
    assert_eq!(device_states(&me), [(stranger.id(), "offered".into())]);
    me.ok(&["block", &stranger.id()]);
    assert!(device_states(&me).is_empty(), "a blocked feed's offer goes");
    carry(&stranger, &me);
    assert!(device_states(&me).is_empty(), "and is not kept again");
}
