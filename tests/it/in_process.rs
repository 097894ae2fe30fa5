//! The replication core as a library (issue "One replication core"): time handed in, one
//! planner under both transports.

use grapevine::Node;
use grapevine::clock::{Clock, ManualClock, SharedClock};
use grapevine::node::ExportOptions;
use grapevine::store::Filter;

/// A node runs by the clock it is given: what it writes, the bundles it signs and what it
/// notes of peers carry that clock's time, and another node's clock does not move with it.
#[test]
fn a_node_runs_by_the_clock_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let start = 1_900_000_000_000; // in 2030
    let clock = ManualClock::starting_at(start);
    let theirs = ManualClock::starting_at(start);
    let given = |c: &std::sync::Arc<ManualClock>| -> SharedClock { c.clone() };
    let mut alice = Node::init(&dir.path().join("alice"), Some("alice"))
        .unwrap()
        .with_clock(given(&clock));
    let mut bob = Node::init(&dir.path().join("bob"), Some("bob"))
        .unwrap()
        .with_clock(given(&theirs));
    bob.contact(alice.id(), grapevine::content::ContactChange::Follow)
        .unwrap();
    clock.advance(3 * 86_400_000);
    let later = start + 3 * 86_400_000;
    let written = alice.post("three days on", None).unwrap();
    assert_eq!(written.header.timestamp, later);
    assert_eq!(theirs.now_ms(), start, "bob's clock stood still");
    let file = dir.path().join("from-alice.gvb");
    let all = ExportOptions {
        all: true,
        ..Default::default()
    };
    alice.export(&file, &all).unwrap();
    let manifest = grapevine::bundle::read_bundle(
        std::fs::File::open(&file).unwrap(),
        &mut grapevine::bundle::Discard,
    )
    .unwrap()
    .manifest
    .expect("a manifest");
    assert_eq!(manifest.created_at, later);
    bob.import(std::slice::from_ref(&file)).unwrap();
    let heard = bob.store().peers().unwrap();
    let alice_heard = heard.iter().find(|p| p.peer == alice.id()).unwrap();
    assert_eq!(alice_heard.last_heard, Some(start), "heard at bob's time");
    // A post claiming a time after bob's now is shown at bob's now.
    let shown = bob.timeline(&Filter::default()).unwrap();
    let post = shown
        .iter()
        .find(|p| p.post.text == "three days on")
        .unwrap();
    assert_eq!(post.at, start);
}

/// What a node holds: each feed's frontier and its verified runs beyond a gap.
fn holdings(home: &std::path::Path) -> std::collections::BTreeMap<String, (u64, Vec<(u64, u64)>)> {
    let node = Node::open(home).unwrap();
    let store = node.store();
    store
        .frontiers()
        .unwrap()
        .into_iter()
        .map(|(feed, f)| {
            (
                feed.to_string(),
                (f.sequence, store.pending_runs(&feed).unwrap()),
            )
        })
        .collect()
}

fn copy_home(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// One LAN session between two homes over loopback, as `sync` and `serve` run it.
fn lan_session(a: &std::path::Path, b: &std::path::Path) {
    let config = grapevine::lan::SessionConfig {
        network_key: grapevine::lan::network_key(grapevine::lan::DEFAULT_NETWORK),
        timeout: std::time::Duration::from_secs(20),
        keepalive: std::time::Duration::from_secs(7),
        live: false,
        pub_mode: false,
        clock: grapevine::clock::system(),
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let at = listener.local_addr().unwrap();
    let (mut na, mut nb) = (Node::open(a).unwrap(), Node::open(b).unwrap());
    std::thread::scope(|s| {
        let serving = s.spawn(|| {
            let (stream, _) = listener.accept().unwrap();
            grapevine::lan::session::run(&mut na, stream, false, &config, &|_, _| Ok(()), &|_| {})
        });
        let stream = std::net::TcpStream::connect(at).unwrap();
        grapevine::lan::session::run(&mut nb, stream, true, &config, &|_, _| Ok(()), &|_| {})
            .unwrap();
        serving.join().unwrap().unwrap();
    });
}

/// The same exchange by bundles: each side first leaves what it holds and wants (a
/// frontier-only bundle, as a two-step meeting does), then a bundle `--for` the other.
fn bundle_exchange(a: &std::path::Path, b: &std::path::Path, files: &std::path::Path) {
    let (mut na, mut nb) = (Node::open(a).unwrap(), Node::open(b).unwrap());
    let (ia, ib) = (na.id(), nb.id());
    let write = |node: &mut Node, name: &str, reader, frontier_only| {
        let file = files.join(name);
        let options = ExportOptions {
            for_peers: vec![reader],
            frontier_only,
            anyway: true,
            ..Default::default()
        };
        node.export(&file, &options).unwrap();
        file
    };
    let fa = write(&mut na, "a-frontier.gvb", ib, true);
    let fb = write(&mut nb, "b-frontier.gvb", ia, true);
    nb.import(&[fa]).unwrap();
    na.import(&[fb]).unwrap();
    let to_b = write(&mut na, "a-for-b.gvb", ib, false);
    let to_a = write(&mut nb, "b-for-a.gvb", ia, false);
    nb.import(&[to_b]).unwrap();
    na.import(&[to_a]).unwrap();
}

/// The transports agree: in seeded worlds of 3–8 people with follows, blocks, hops, linked
/// devices and partial holdings, a LAN session between two of them leaves both holding
/// exactly what the same exchange by bundles `--for` each other leaves them holding, and what
/// the same session driven in memory (`Node::meet`, a simulation's transport) leaves.
#[test]
fn the_transports_agree() {
    use grapevine::content::ContactChange;
    let worlds = std::env::var("GRAPEVINE_WORLDS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(100);
    let mut tried = 0;
    let mut seed = 0u64;
    while tried < worlds {
        seed += 1;
        let mut rng = crate::harness::xorshift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut below = |n: u64| rng() % n;
        let dir = tempfile::tempdir().unwrap();
        let n = 3 + below(6) as usize;
        let homes: Vec<_> = (0..n).map(|i| dir.path().join(format!("p{i}"))).collect();
        let mut people: Vec<Node> = homes
            .iter()
            .enumerate()
            .map(|(i, h)| Node::init(h, Some(&format!("p{i}"))).unwrap())
            .collect();
        let ids: Vec<_> = people.iter().map(Node::id).collect();
        for (i, person) in people.iter_mut().enumerate() {
            person
                .set_config("hops", &(1 + below(3)).to_string())
                .unwrap();
            for (j, other) in ids.iter().enumerate() {
                let roll = below(100);
                if i != j && roll < 45 {
                    person.contact(*other, ContactChange::Follow).unwrap();
                } else if i != j && roll < 52 {
                    person.contact(*other, ContactChange::Block).unwrap();
                }
            }
            for k in 0..1 + below(4) {
                person.post(&format!("p{i} says {k}"), None).unwrap();
            }
        }
        if below(3) == 0 {
            // p0 and p1 are one person's two devices.
            people[0].link_device(ids[1]).unwrap();
            people[1].link_device(ids[0]).unwrap();
        }
        let files = dir.path().join("files");
        std::fs::create_dir_all(&files).unwrap();
        for round in 0..2 + below(6) {
            let (i, j) = (below(n as u64) as usize, below(n as u64) as usize);
            if i == j {
                continue;
            }
            let file = files.join(format!("round-{round}.gvb"));
            let options = ExportOptions {
                for_peers: vec![ids[j]],
                ..Default::default()
            };
            if people[i].export(&file, &options).unwrap().wrote.is_some() {
                people[j].import(&[file]).unwrap();
            }
        }
        let (a, b) = (below(n as u64) as usize, below(n as u64) as usize);
        let blocked = |x: usize, y: usize| people[x].replication_set().unwrap().is_blocked(&ids[y]);
        if a == b || blocked(a, b) || blocked(b, a) {
            continue;
        }
        tried += 1;
        drop(people);
        let (lan, bundles) = (dir.path().join("lan"), dir.path().join("bundles"));
        let memory = dir.path().join("memory");
        for (side, home) in [("a", &homes[a]), ("b", &homes[b])] {
            copy_home(home, &lan.join(side));
            copy_home(home, &bundles.join(side));
            copy_home(home, &memory.join(side));
        }
        if std::env::var("GRAPEVINE_WORLD_DEBUG").is_ok_and(|d| d == seed.to_string()) {
            for (i, id) in ids.iter().enumerate() {
                eprintln!("p{i} = {id}");
            }
            for (side, home) in [("a", &homes[a]), ("b", &homes[b])] {
                let node = Node::open(home).unwrap();
                eprintln!(
                    "{side} hops {} set {:?}",
                    node.hops().unwrap(),
                    node.replication_set().unwrap().members()
                );
                eprintln!("{side} holds {:?}", holdings(home));
                for (i, id) in ids.iter().enumerate() {
                    eprintln!(
                        "  {side} knows p{i} follows {:?}",
                        node.who(id).unwrap().follows
                    );
                }
            }
        }
        lan_session(&lan.join("a"), &lan.join("b"));
        bundle_exchange(&bundles.join("a"), &bundles.join("b"), &files);
        let (mut ma, mut mb) = (
            Node::open(&memory.join("a")).unwrap(),
            Node::open(&memory.join("b")).unwrap(),
        );
        ma.meet(&mut mb).unwrap();
        drop((ma, mb));
        for side in ["a", "b"] {
            assert_eq!(
                holdings(&lan.join(side)),
                holdings(&bundles.join(side)),
                "seed {seed}: {n} people, p{a} and p{b}: side {side} holds something else after a \
                 LAN session than after bundles"
            );
            assert_eq!(
                holdings(&lan.join(side)),
                holdings(&memory.join(side)),
                "seed {seed}: {n} people, p{a} and p{b}: side {side} holds something else after a \
                 LAN session than after meeting in memory"
            );
        }
    }
}
