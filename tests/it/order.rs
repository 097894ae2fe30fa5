//! Gossip never depends on arrival order (issue 9): whatever order bundles, folders and
//! sessions arrive in, a node ends up holding exactly the feeds its replication set reaches,
//! each complete, and nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use grapevine::content::ContactChange;
use grapevine::graph::{Edge, Graph};
use grapevine::node::ExportOptions;
use grapevine::{FeedId, MessageId, Node};

use crate::harness::{Running, TestNode, eventually, import_counts, path_str, stick};

const WAIT: Duration = Duration::from_secs(20);

/// What a node holds: the message ids of every feed it holds anything of.
fn snapshot(node: &Node) -> BTreeMap<FeedId, Vec<MessageId>> {
    let mut out = BTreeMap::new();
    // Feeds that left the set are hidden, kept for a quick undo: what is stored and carried
    // is the set's.
    let set = node.replication_set().unwrap();
    for feed in node.store().held_feeds().unwrap() {
        if !set.contains(&feed) {
            continue;
        }
        let mut ids: Vec<MessageId> = node
            .feed(&feed, u64::MAX)
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        ids.sort();
        out.insert(feed, ids);
    }
    out
}

/// A feed's messages as the binary shows them (ids), empty when not held.
fn shown(node: &TestNode, id: &str) -> Vec<String> {
    let out = node.run(&["feed", id, "--json", "--limit", "100000"]);
    if !out.status.success() {
        return Vec::new();
    }
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut ids: Vec<String> = list
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// `me` follows `friend`, `friend` follows `fof`; each exports its own feed into a file.
struct FriendOfFriend {
    me: TestNode,
    friend: TestNode,
    fof: TestNode,
}

impl FriendOfFriend {
    fn new() -> Self {
        let [me, friend, fof] = ["me", "friend", "fof"].map(TestNode::new);
        me.follow(&friend);
        friend.follow(&fof);
        fof.post("from two hops away");
        friend.post("from a friend");
        Self { me, friend, fof }
    }

    /// Writes both bundles into `dir` under names that sort with fof's first or last.
    fn export(&self, dir: &Path, fof_first: bool) -> (PathBuf, PathBuf) {
        let (f, g) = if fof_first { ("a", "b") } else { ("b", "a") };
        let fof = dir.join(format!("{f}-fof.gvb"));
        let friend = dir.join(format!("{g}-friend.gvb"));
        self.fof.ok(&["export", path_str(&fof)]);
        self.friend.ok(&["export", path_str(&friend)]);
        (fof, friend)
    }
}

/// The stick case of issue 9: one `import` of a stick takes in the friend of a friend even
/// when the file that makes it wanted sorts after the file that carries it.
#[test]
fn one_import_of_a_stick_takes_friends_of_friends_in_either_file_order() {
    for fof_first in [true, false] {
        let world = FriendOfFriend::new();
        let dir = stick();
        world.export(dir.path(), fof_first);
        let out = world.me.import(dir.path());
        assert_eq!(
            world.me.posts(&world.fof.id()),
            ["from two hops away"],
            "fof first: {fof_first}\n{out}"
        );
        assert!(out.contains("0 not wanted"), "{out}");
        assert_eq!(import_counts(&out), (5, 0, 0), "{out}");
        let again = world.me.import(dir.path());
        assert_eq!(import_counts(&again), (0, 5, 0), "{again}");
    }
}

/// A folder holding only feeds nobody here replicates says so once, with names and a hint;
/// following one then takes it in from the files already read, with no second import.
#[test]
fn not_wanted_feeds_are_named_and_a_follow_takes_them_in() {
    let [me, carol] = ["me", "carol"].map(TestNode::new);
    carol.post("hello from carol");
    let dir = stick();
    carol.export_to(dir.path());
    let out = me.import(dir.path());
    assert!(
        out.contains("these bundles hold only 1 feed you do not replicate")
            && out.contains(&carol.id())
            && out.contains("grapevine follow"),
        "{out}"
    );
    let followed = me.run(&["follow", &carol.id()]);
    assert!(followed.status.success());
    let said = String::from_utf8_lossy(&followed.stderr);
    assert!(said.contains("took in 2 messages"), "{said}");
    assert_eq!(me.posts(&carol.id()), ["hello from carol"]);
}

/// A friend's block read after the blocked feed's messages leaves the same store as when it is
/// read first: files `w`, `y`, `friend` against `friend`, `y`, `w`.
#[test]
fn a_friends_block_read_late_leaves_the_same_store_as_read_early() {
    let [w, y, friend] = ["w", "y", "friend"].map(TestNode::new);
    w.follow(&y);
    friend.ok(&["block", &y.id(), "--yes"]);
    y.post("a post the friend blocked");
    let dir = stick();
    let files: Vec<PathBuf> = [&w, &y, &friend]
        .iter()
        .map(|n| {
            let path = dir.path().join(format!("{}.gvb", n.name));
            n.ok(&["export", path_str(&path)]);
            path
        })
        .collect();
    let mut stores = Vec::new();
    for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2]] {
        let me = TestNode::new("me");
        me.follow(&w);
        me.follow(&friend);
        for i in order {
            me.import(&files[i]);
        }
        let held: Vec<Vec<String>> = [&w, &y, &friend]
            .iter()
            .map(|n| shown(&me, &n.id()))
            .collect();
        assert!(held[1].is_empty(), "order {order:?}: y is not shown");
        let status = me.status();
        assert_eq!(
            status["feeds"], 3,
            "order {order:?}: me, w, friend: {status}"
        );
        // Not forwarded either.
        let out = stick();
        me.ok(&["export", "--all", path_str(&out.path().join("all.gvb"))]);
        let probe = TestNode::new("probe");
        probe.ok(&["config", "set", "hops", "6"]);
        probe.follow(&y);
        let summary = probe.import(out.path());
        assert!(probe.posts(&y.id()).is_empty(), "{summary}");
        stores.push(held);
    }
    assert!(stores.windows(2).all(|p| p[0] == p[1]), "{stores:?}");
}

/// `watch` takes in the friend of a friend whichever of the two files appears first, and
/// whether they come through one folder or two.
#[test]
fn watch_takes_friends_of_friends_whichever_file_appears_first() {
    for (fof_first, two_folders) in [(true, false), (false, false), (true, true)] {
        let world = FriendOfFriend::new();
        let made = stick();
        let (fof, friend) = world.export(made.path(), fof_first);
        let (one, two) = (stick(), stick());
        let second_dir = if two_folders { two.path() } else { one.path() };
        let mut watch = world.me.spawn(&[
            "watch",
            path_str(one.path()),
            path_str(two.path()),
            "--no-export",
            "--rescan",
            "3",
        ]);
        watch.expect(WAIT, "ready", |l| l.starts_with("watching"));
        let (first, second) = if fof_first {
            (fof, friend)
        } else {
            (friend, fof)
        };
        drop_in(&first, one.path());
        let name = first.file_name().unwrap().to_string_lossy().into_owned();
        watch.expect(WAIT, "the first file merged", |l| {
            l.starts_with(&format!("merged {name}"))
        });
        drop_in(&second, second_dir);
        eventually(WAIT, "the friend of a friend's post arrives", || {
            world.me.posts(&world.fof.id()) == ["from two hops away"]
        });
        assert_eq!(world.me.posts(&world.friend.id()), ["from a friend"]);
    }
}

/// A follow made in another process while `watch` runs takes in a feed whose bundle already
/// sits in the watched folder.
#[test]
fn a_follow_while_watching_takes_in_a_bundle_already_in_the_folder() {
    let [me, carol] = ["me", "carol"].map(TestNode::new);
    carol.post("waiting on the stick");
    let dir = stick();
    let mut watch = me.spawn(&["watch", path_str(dir.path()), "--no-export"]);
    watch.expect(WAIT, "ready", |l| l.starts_with("watching"));
    let made = stick();
    let file = made.path().join("carol.gvb");
    carol.ok(&["export", path_str(&file)]);
    drop_in(&file, dir.path());
    watch.expect(WAIT, "carol's file merged, not wanted", |l| {
        l.starts_with("merged carol.gvb") && l.contains("2 not wanted")
    });
    assert!(me.posts(&carol.id()).is_empty());
    me.follow(&carol);
    eventually(WAIT, "carol's post arrives", || {
        me.posts(&carol.id()) == ["waiting on the stick"]
    });
    let _: &Running = &watch;
}

/// Copies `file` into `dir` the way a sync tool does: a hidden temporary, then a rename.
fn drop_in(file: &Path, dir: &Path) {
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let temp = dir.join(format!(".{name}.tmp"));
    fs::copy(file, &temp).unwrap();
    fs::rename(&temp, dir.join(name)).unwrap();
}

/// One `sync` reaches the fixpoint: the friend's follow of fof arrives in the session, and fof
/// is asked for and received in the same session.
#[test]
fn one_sync_takes_friends_of_friends_learnt_during_the_session() {
    let world = FriendOfFriend::new();
    let carrier = TestNode::new("carrier");
    carrier.follow(&world.friend);
    let dir = stick();
    world.export(dir.path(), true);
    carrier.import(dir.path());
    assert_eq!(carrier.posts(&world.fof.id()), ["from two hops away"]);
    let (_server, address) = crate::lan::serve(&carrier, &[]);
    let out = world.me.ok(&["sync", &address]);
    assert_eq!(
        world.me.posts(&world.fof.id()),
        ["from two hops away"],
        "{out}"
    );
}

/// In a live session, a follow made by the responder mid-session brings that feed in the
/// same session (no new session is formed).
#[test]
fn a_follow_during_a_live_session_applies_in_that_session() {
    let [a, b, carol] = ["a", "b", "carol"].map(TestNode::new);
    a.ok(&["config", "set", "hops", "1"]);
    a.follow(&b);
    b.follow(&a);
    b.follow(&carol);
    carol.post("carried by b");
    let dir = stick();
    carol.export_to(dir.path());
    b.import(dir.path());
    let (mut server_a, address) = crate::lan::serve(&a, &[]);
    b.ok(&["pub", "add", &address]);
    let (mut server_b, _) = crate::lan::serve(&b, &[]);
    server_a.expect(WAIT, "live with b", |l| l.starts_with("in sync with"));
    server_b.expect(WAIT, "live with a", |l| l.starts_with("in sync with"));
    assert!(a.posts(&carol.id()).is_empty(), "carol is not wanted yet");
    a.follow(&carol);
    eventually(WAIT, "carol's post reaches a in the open session", || {
        a.posts(&carol.id()) == ["carried by b"]
    });
    let seen = server_a.drain(Duration::from_millis(200));
    let sessions = seen
        .iter()
        .filter(|l| l.starts_with("in sync with"))
        .count();
    assert_eq!(sessions, 1, "one session only:\n{}", seen.join("\n"));
}

/// A tiny deterministic generator (xorshift), so a failing case can be replayed by its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn shuffle<T>(&mut self, list: &mut [T]) {
        for i in (1..list.len()).rev() {
            list.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

/// One random world: up to 8 people with follows and blocks, `me` (person 0) with random hops,
/// each person's own bundle and a few carriers' bundles, and `me`'s home before any import.
struct World {
    _dir: tempfile::TempDir,
    me_home: PathBuf,
    files: Vec<PathBuf>,
    /// The store `me` must end with, computed from the rule rather than by the code.
    expected: BTreeMap<FeedId, usize>,
}

fn world(seed: u64, dir: tempfile::TempDir) -> World {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let n = 3 + rng.below(6) as usize;
    let mut people: Vec<Node> = (0..n)
        .map(|i| Node::init(&dir.path().join(format!("p{i}")), None).unwrap())
        .collect();
    let ids: Vec<FeedId> = people.iter().map(Node::id).collect();
    let hops = 1 + rng.below(3) as u32;
    people[0].set_config("hops", &hops.to_string()).unwrap();
    let mut edges = Vec::new();
    for (i, person) in people.iter_mut().enumerate() {
        for (j, other) in ids.iter().enumerate() {
            if i == j {
                continue;
            }
            let change = if rng.chance(12) {
                ContactChange::Block
            } else if rng.chance(40) {
                ContactChange::Follow
            } else {
                continue;
            };
            person.contact(*other, change).unwrap();
            edges.push(Edge {
                from: ids[i],
                to: *other,
                following: change == ContactChange::Follow,
                blocking: change == ContactChange::Block,
            });
        }
        for k in 0..=rng.below(2) {
            person.post(&format!("post {k} of {i}"), None).unwrap();
        }
    }
    let files_dir = dir.path().join("files");
    fs::create_dir(&files_dir).unwrap();
    let mut files = Vec::new();
    for (i, person) in people.iter_mut().enumerate().skip(1) {
        let path = files_dir.join(format!("own-{i}.gvb"));
        person.export(&path, &ExportOptions::default()).unwrap();
        files.push(path);
    }
    // Carriers: people who read some bundles and pass on what they replicate.
    for (c, carrier) in people.iter_mut().enumerate().skip(1) {
        if !rng.chance(30) {
            continue;
        }
        let some: Vec<PathBuf> = files.iter().filter(|_| rng.chance(50)).cloned().collect();
        carrier.import(&some).unwrap();
        let path = files_dir.join(format!("carried-{c}.gvb"));
        let all = ExportOptions {
            all: true,
            ..ExportOptions::default()
        };
        carrier.export(&path, &all).unwrap();
        files.push(path);
    }
    // The rule, from scratch: hold `me`; repeatedly take every feed the set of what is held
    // reaches (all feeds are available in full); stop when nothing changes.
    let lengths: BTreeMap<FeedId, usize> = people
        .iter()
        .map(|p| (p.id(), p.feed(&p.id(), u64::MAX).unwrap().len()))
        .collect();
    let mut held: BTreeSet<FeedId> = BTreeSet::from([ids[0]]);
    loop {
        let graph = Graph::new(edges.iter().copied().filter(|e| held.contains(&e.from)));
        let set = graph.replication_set(ids[0], hops);
        let next: BTreeSet<FeedId> = set.distance.keys().copied().collect();
        if next == held {
            break;
        }
        held = next;
    }
    let expected = held.iter().map(|f| (*f, lengths[f])).collect();
    drop(people);
    World {
        me_home: dir.path().join("p0"),
        files,
        expected,
        _dir: dir,
    }
}

/// A fresh copy of `me`'s home as it was before any import.
fn fresh_me(world: &World, name: &str) -> Node {
    let home = world.me_home.with_file_name(name);
    fs::create_dir(&home).unwrap();
    for entry in fs::read_dir(&world.me_home).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), home.join(entry.file_name())).unwrap();
    }
    Node::open(&home).unwrap()
}

/// 200 random small social graphs, each imported in random orders one file at a time and as a
/// folder: the importer always ends with the same store, the one a single import of the union
/// gives, and that store is exactly what the replication rule computes.
#[test]
fn random_worlds_settle_to_the_same_store_in_every_order() {
    for seed in 1..=200u64 {
        let world = world(seed, tempfile::tempdir().unwrap());
        let mut union = fresh_me(&world, "union");
        union.import(&world.files).unwrap();
        let reference = snapshot(&union);
        let shape: BTreeMap<FeedId, usize> =
            reference.iter().map(|(f, ids)| (*f, ids.len())).collect();
        assert_eq!(shape, world.expected, "seed {seed}: the union import");
        let mut rng = Rng(seed);
        let mut order = world.files.clone();
        rng.shuffle(&mut order);
        let mut one_by_one = fresh_me(&world, "one-by-one");
        for file in &order {
            one_by_one.import(std::slice::from_ref(file)).unwrap();
        }
        assert_eq!(snapshot(&one_by_one), reference, "seed {seed}: {order:?}");
        rng.shuffle(&mut order);
        let folder = world.me_home.with_file_name("folder");
        fs::create_dir(&folder).unwrap();
        for (i, file) in order.iter().enumerate() {
            fs::copy(file, folder.join(format!("{i:02}.gvb"))).unwrap();
        }
        let mut as_folder = fresh_me(&world, "as-folder");
        as_folder.import(&[folder]).unwrap();
        assert_eq!(snapshot(&as_folder), reference, "seed {seed}: {order:?}");
    }
}

/// Messages held beyond a gap travel on, by bundle and by LAN: a node missing message 4 of a
/// feed still passes on 5 and 6, and whoever later gets 4 holds the whole feed.
#[test]
fn messages_beyond_a_gap_travel_on() {
    use crate::damage::{chain, write_bundle};
    let x = grapevine::identity::Identity::from_seed(&[21; 32]);
    let x_id = x.feed_id().to_string();
    let all = chain(&x, 6);
    let dir = stick();
    let gappy = dir.path().join("gappy.gvb");
    let mut without_4 = all.clone();
    without_4.remove(3);
    write_bundle(&gappy, &x, &without_4);
    let only_4 = dir.path().join("only-4.gvb");
    write_bundle(&only_4, &x, &all[3..4]);
    let carrier = TestNode::new("carrier");
    carrier.follow_id(&x_id);
    carrier.import(&gappy);
    assert_eq!(carrier.feed(&x_id).len(), 3, "1..3 linked, 5..6 pending");
    let out = stick();
    let file = out.path().join("from-carrier.gvb");
    let exported = carrier.ok(&["export", path_str(&file)]);
    assert!(exported.contains(": 7 messages of 2 feeds"), "{exported}");
    let by_stick = TestNode::new("by-stick");
    by_stick.follow_id(&x_id);
    by_stick.import(&file);
    by_stick.import(&only_4);
    assert_eq!(
        by_stick.feed(&x_id).len(),
        6,
        "5 and 6 came through the carrier"
    );
    let by_lan = TestNode::new("by-lan");
    by_lan.follow_id(&x_id);
    let (_server, address) = crate::lan::serve(&carrier, &[]);
    by_lan.ok(&["sync", &address]);
    by_lan.import(&only_4);
    assert_eq!(by_lan.feed(&x_id).len(), 6, "5 and 6 came over the network");
}
