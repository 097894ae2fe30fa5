#![cfg(test)]
//! Simulation builds: a world made with a seeded generator and a manual clock repeats byte for
//! byte. The seeded generator exists only here (the library's tests) and with the
//! `simulation` feature, never in a release build.

use crate::Node;
use crate::clock::{ManualClock, SharedClock};
use crate::node::ExportOptions;

/// Everything one seeded world made: the people's ids, the bundles written (bytes), and each
/// person's messages (ids, every feed held).
fn seeded_world(seed: u64) -> (Vec<String>, Vec<Vec<u8>>, Vec<Vec<String>>) {
    use crate::content::ContactChange;
    let dir = tempfile::tempdir().expect("dir");
    let clock = ManualClock::starting_at(1_900_000_000_000);
    let shared: SharedClock = clock.clone();
    let entropy = crate::entropy::Seeded::from_seed(seed);
    let mut people: Vec<Node> = (0..3)
        .map(|i| {
            let home = dir.path().join(format!("p{i}"));
            Node::init_in(
                &home,
                Some(&format!("p{i}")),
                shared.clone(),
                entropy.clone(),
            )
            .expect("works")
        })
        .collect();
    let ids: Vec<_> = people.iter().map(Node::id).collect();
    for (i, person) in people.iter_mut().enumerate() {
        for (j, other) in ids.iter().enumerate() {
            if i != j {
                person
                    .contact(*other, ContactChange::Follow)
                    .expect("works");
            }
        }
        clock.advance(60_000);
        person
            .post(&format!("p{i} on day one"), None)
            .expect("works");
    }
    people[0].dm(&[ids[1]], "for p1 only").expect("works");
    clock.advance(86_400_000);
    let mut bundles = Vec::new();
    for i in 0..3 {
        for (j, sealed) in [((i + 1) % 3, false), ((i + 2) % 3, true)] {
            let file = dir.path().join(format!("{i}-for-{j}.gvb"));
            let options = ExportOptions {
                for_peers: vec![ids[j]],
                seal: sealed,
                anyway: true,
                ..Default::default()
            };
            people[i].export(&file, &options).expect("works");
            people[j]
                .import(std::slice::from_ref(&file))
                .expect("works");
            bundles.push(std::fs::read(&file).expect("works"));
        }
    }
    let held = people
        .iter()
        .map(|p| {
            ids.iter()
                .flat_map(|f| p.feed(f, 1_000).expect("works"))
                .map(|m| m.id.to_string())
                .collect()
        })
        .collect();
    (ids.iter().map(ToString::to_string).collect(), bundles, held)
}

/// With a seeded generator and a manual clock, a world repeats byte for byte: the same keys,
/// the same messages and private boxes, the same bundles (sealed ones too); another seed makes
/// another world. (The seeded generator exists only with the `simulation` feature, which no
/// release build turns on.)
#[test]
fn the_same_seed_makes_the_same_world() {
    let (ids, bundles, held) = seeded_world(5);
    let again = seeded_world(5);
    assert_eq!(ids, again.0, "the same keys");
    assert_eq!(held, again.2, "the same messages, private ones included");
    assert_eq!(bundles.len(), 6);
    assert!(bundles == again.1, "the same bundles, byte for byte");
    assert!(
        held.iter().all(|h| h.len() >= 3 * 4),
        "everyone holds everyone: {held:?}"
    );
    let other = seeded_world(6);
    assert!(
        ids.iter().all(|id| !other.0.contains(id)),
        "another seed, other keys"
    );
}

/// A world of `n` people in memory, run by one manual clock and one seeded generator: each
/// follows the next two around a ring (so news also travels through friends of friends), each
/// posts, and the second writes privately to the first. Then, round after round, every pair
/// meets, until a round brings no one anything new. Returns each store's image, and the rounds.
fn world_in_memory(seed: u64, n: usize) -> (Vec<Vec<u8>>, usize) {
    use crate::content::ContactChange;
    let clock = ManualClock::starting_at(1_900_000_000_000);
    let shared: SharedClock = clock.clone();
    let entropy = crate::entropy::Seeded::from_seed(seed);
    let mut people: Vec<Node> = (0..n)
        .map(|i| {
            Node::in_memory(Some(&format!("p{i}")), shared.clone(), entropy.clone())
                .expect("a person in memory")
        })
        .collect();
    assert!(people.iter().all(|p| p.home().is_err()), "no home folders");
    let ids: Vec<_> = people.iter().map(Node::id).collect();
    for (i, person) in people.iter_mut().enumerate() {
        for step in 1..=2.min(n - 1) {
            let next = ids[(i + step) % n];
            person
                .contact(next, ContactChange::Follow)
                .expect("follows");
        }
        clock.advance(60_000);
        person
            .post(&format!("p{i} says hello"), None)
            .expect("posts");
    }
    people[1]
        .dm(&[ids[0]], "for p0 only")
        .expect("writes privately");
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds <= n + 2, "no fixpoint after {n} + 2 rounds");
        clock.advance(3_600_000);
        let mut new = 0;
        for i in 0..n {
            for j in i + 1..n {
                let (left, right) = people.split_at_mut(j);
                let met = left[i].meet(&mut right[0]).expect("they meet");
                new += met[0].received + met[1].received;
            }
        }
        if new == 0 {
            break;
        }
    }
    // The fixpoint: everyone holds all of every feed they replicate.
    for person in &people {
        for (feed, _) in person.replication_set().expect("a set").members() {
            let author = people.iter().find(|p| p.id() == feed).expect("one of us");
            assert_eq!(
                person.store().frontier(&feed).expect("frontier"),
                author.store().frontier(&feed).expect("frontier"),
                "{} lacks some of {feed}",
                person.id()
            );
        }
    }
    let opened = people[0]
        .inbox(100)
        .expect("p0's inbox")
        .iter()
        .any(|(_, content)| content["text"] == "for p0 only");
    assert!(opened, "p0 reads what p1 wrote to it");
    let images = people
        .iter_mut()
        .map(|p| p.store.image().expect("an image"))
        .collect();
    (images, rounds)
}

/// Set in the child process that runs the worlds in memory, watched from outside.
const IN_MEMORY_CHILD: &str = "GRAPEVINE_IN_MEMORY_CHILD";

/// Two, then ten people replicate to the fixpoint entirely in memory: the worlds run in a
/// child process whose temporary folder and working folder are watched (inotify), and not one
/// file is made in either (as SQLite, tempfile and grapevine's own writers would). The same seed gives byte-identical stores; another does not.
#[test]
fn people_in_memory_meet_until_nothing_is_new() {
    if std::env::var_os(IN_MEMORY_CHILD).is_some() {
        let (two, rounds) = world_in_memory(11, 2);
        assert_eq!(rounds, 2, "one round brings everything, the next nothing");
        let (ten, rounds) = world_in_memory(12, 10);
        assert!(rounds >= 2, "{rounds}");
        let (again, _) = world_in_memory(12, 10);
        assert!(ten == again, "the same seed, byte-identical stores");
        let (other, _) = world_in_memory(13, 10);
        assert!(ten != other, "another seed, other stores");
        assert_eq!(two.len(), 2);
        return;
    }
    use notify::Watcher;
    let dir = tempfile::tempdir().expect("dir");
    let (tmp, cwd) = (dir.path().join("tmp"), dir.path().join("cwd"));
    std::fs::create_dir(&tmp).expect("tmp");
    std::fs::create_dir(&cwd).expect("cwd");
    let (tx, rx) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(tx).expect("a watcher");
    watcher
        .watch(dir.path(), notify::RecursiveMode::Recursive)
        .expect("watched");
    let name = "node::simulation_tests::people_in_memory_meet_until_nothing_is_new";
    let child = std::process::Command::new(std::env::current_exe().expect("this test"))
        .args(["--exact", name, "--test-threads=1"])
        .env(IN_MEMORY_CHILD, "1")
        .env("TMPDIR", &tmp)
        .env("SQLITE_TMPDIR", &tmp)
        .current_dir(&cwd)
        .output()
        .expect("the child runs");
    assert!(
        child.status.success(),
        "{}{}",
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
    assert!(
        String::from_utf8_lossy(&child.stdout).contains("1 passed"),
        "the child ran the worlds"
    );
    // Events come in order: once the marker's is in, every earlier one is too.
    let marker = dir.path().join("marker");
    std::fs::write(&marker, b"").expect("marker");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut writes = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let event = rx
            .recv_timeout(left)
            .expect("the marker's event, within 20 s");
        let event = event.expect("a folder event");
        if event.paths.contains(&marker) {
            break;
        }
        // Opening the folders themselves (the working folder, a look at TMPDIR) writes nothing.
        if !matches!(event.kind, notify::EventKind::Access(_)) {
            writes.push(event);
        }
    }
    drop(watcher);
    assert!(writes.is_empty(), "files were made or changed: {writes:?}");
    for folder in [&tmp, &cwd] {
        let left: Vec<_> = std::fs::read_dir(folder).expect("listing").collect();
        assert!(left.is_empty(), "{}: {left:?}", folder.display());
    }
}
