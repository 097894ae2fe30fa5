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
