//! A village without internet, simulated: people post, meet in pairs and plug in each other's
//! stick (in two steps: each writes its frontier only and reads the other's, then writes its
//! bundle with `export --for` the other half the time and a plain `export` the other half, and
//! reads the other's; `--one-step` skips the frontier), and three clusters each share a drop
//! folder. A stranger syncs once in one folder; a member stops coming. Reports
//! what sticks and folders carried against what was new to their readers, the files left on
//! them, and delivery per day against an epidemic exchange along the same meetings.
//! Counts messages and bytes: a stick's space and a folder's traffic are bytes, and a file
//! carries its manifest (frontier, wants) and signature besides its messages.
//! `cargo run --release --example village [DAYS] [SEED] [STALE_DAYS] [MEMBERS] [--one-step]`
//! (defaults: 12 days, seed 7, `folder-stale-days` 3: people who meet daily forget a folder
//! participant after 3 days away; 12 members).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use grapevine::FeedId;
use grapevine::content::ContactChange;
use grapevine::node::{ExportOptions, Node};

const CLUSTERS: usize = 3;
const MEETINGS_PER_DAY: usize = 6;
/// A member (of cluster 2) who stops coming after day `LEAVES_AFTER`.
const LEAVER: usize = 5;
const LEAVES_AFTER: u64 = 5;
/// The stranger's one visit, to cluster 0's folder.
const STRANGER_DAY: u64 = 3;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[derive(Default, Clone, Copy)]
struct Tally {
    carried: u64,
    carried_bytes: u64,
    new: u64,
    /// Bytes of the new messages (envelope and content, as stored records).
    new_bytes: u64,
}

impl Tally {
    fn ratio(&self) -> f64 {
        self.carried as f64 / self.new.max(1) as f64
    }

    fn add(&mut self, (messages, bytes): (u64, u64)) {
        self.new += messages;
        self.new_bytes += bytes;
    }
}

/// Imports `files` into `reader`: (new messages, their bytes). The bytes are the records
/// that joined each feed's contiguous run.
fn import(reader: &mut Node, files: &[PathBuf]) -> (u64, u64) {
    let feeds: Vec<FeedId> = reader
        .replication_set()
        .unwrap()
        .members()
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    let held = |r: &Node| -> Vec<u64> {
        feeds
            .iter()
            .map(|f| r.store().frontier(f).unwrap().sequence)
            .collect()
    };
    let before = held(reader);
    let new = reader.import(files).unwrap().total().new;
    let mut bytes = 0u64;
    for ((feed, from), to) in feeds.iter().zip(before).zip(held(reader)) {
        if to > from {
            reader
                .store()
                .for_each_record_in_range(feed, from + 1, to, |_, e, c| {
                    bytes += (e.len() + c.len()) as u64;
                    Ok(())
                })
                .unwrap();
        }
    }
    (new, bytes)
}

/// Writes `from`'s bundle into `dir` (its own stick); (messages, bytes) if it wrote one.
fn export(from: &mut Node, dir: &Path, options: &ExportOptions) -> Option<(u64, u64)> {
    let report = from.export(dir, options).unwrap();
    report.wrote.map(|w| (w.messages, w.bytes))
}

fn bundles(dir: &Path) -> Vec<PathBuf> {
    grapevine::node::bundles_in(dir)
}

fn main() {
    let one_step = std::env::args().any(|a| a == "--one-step");
    let mut args = std::env::args().skip(1).filter(|a| a != "--one-step");
    let days: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(12);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);
    let stale_days: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let members: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(12);
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let root = tempfile::tempdir().unwrap();
    // The village's own time: days pass in seconds, for these nodes only.
    let clock = grapevine::clock::ManualClock::starting_at(grapevine::now_ms());
    let shared: grapevine::clock::SharedClock = clock.clone();
    let mut people: Vec<Node> = (0..members)
        .map(|i| {
            Node::init(&root.path().join(format!("p{i}")), Some(&format!("p{i}")))
                .unwrap()
                .with_clock(shared.clone())
        })
        .collect();
    for p in &mut people {
        p.set_config("folder-stale-days", &stale_days.to_string())
            .unwrap();
    }
    let ids: Vec<FeedId> = people.iter().map(Node::id).collect();
    let cluster = |i: usize| i % CLUSTERS;
    // Everyone follows their cluster and two people elsewhere.
    let mut follows: Vec<HashSet<usize>> = vec![HashSet::new(); members];
    for (i, f) in follows.iter_mut().enumerate() {
        for j in 0..members {
            if j != i && cluster(j) == cluster(i) {
                f.insert(j);
            }
        }
        while f.len() < members / CLUSTERS + 1 {
            let j = rng.below(members);
            if j != i {
                f.insert(j);
            }
        }
    }
    for (i, f) in follows.iter().enumerate() {
        let mut list: Vec<usize> = f.iter().copied().collect();
        list.sort();
        for j in list {
            people[i].contact(ids[j], ContactChange::Follow).unwrap();
        }
    }
    // Who wants whom, two hops, as the nodes will eventually know it: the epidemic reference.
    let wants: Vec<HashSet<usize>> = (0..members)
        .map(|i| {
            let mut set: HashSet<usize> = follows[i].clone();
            for j in &follows[i] {
                set.extend(&follows[*j]);
            }
            set.insert(i);
            set
        })
        .collect();
    let make_dirs = |name: &str, n: usize| -> Vec<PathBuf> {
        (0..n)
            .map(|i| {
                let dir = root.path().join(format!("{name}{i}"));
                std::fs::create_dir(&dir).unwrap();
                dir
            })
            .collect()
    };
    let folders = make_dirs("folder", CLUSTERS);
    let sticks = make_dirs("stick", members);
    let mut stranger = Node::init(&root.path().join("stranger"), Some("stranger"))
        .unwrap()
        .with_clock(shared.clone());
    println!(
        "{members} members in {CLUSTERS} folders, {days} days, seed {seed}, folder-stale-days {stale_days}, meetings in {}",
        if one_step { "one step" } else { "two steps" }
    );
    stranger.contact(ids[0], ContactChange::Follow).unwrap();

    // ideal[i][j]: how far member i holds member j's feed in an epidemic exchange.
    let mut ideal: Vec<HashMap<usize, u64>> = vec![HashMap::new(); members];
    let mut folder_ideal: Vec<HashMap<usize, u64>> = vec![HashMap::new(); CLUSTERS];
    let merge =
        |to: &mut HashMap<usize, u64>, from: &HashMap<usize, u64>, want: &HashSet<usize>| {
            for (feed, seq) in from {
                if want.contains(feed) {
                    let e = to.entry(*feed).or_insert(0);
                    *e = (*e).max(*seq);
                }
            }
        };
    let (mut sticks_tally, mut folders_tally) = (Tally::default(), Tally::default());
    let mut by_mode = [Tally::default(); 2];
    // Frontier-only files written in the first step of meetings: (files, bytes).
    let mut frontier_files = (0u64, 0u64);
    let active = |i: usize, day: u64| i != LEAVER || day <= LEAVES_AFTER;
    println!("day  delivered  epidemic  ratio");
    for day in 1..=days {
        clock.advance(86_400_000);
        for (i, person) in people.iter_mut().enumerate() {
            if !active(i, day) {
                continue;
            }
            for k in 0..1 + rng.below(3) {
                person
                    .post(&format!("day {day}, note {k} from p{i}"), None)
                    .unwrap();
            }
            let own = person.store().frontier(&ids[i]).unwrap().sequence;
            ideal[i].insert(i, own);
        }
        if day == STRANGER_DAY {
            stranger.post("just passing through", None).unwrap();
            let r = stranger.sync_dir(&folders[0], true).unwrap();
            if let Some(w) = &r.wrote {
                folders_tally.carried += w.messages;
                folders_tally.carried_bytes += w.bytes;
            }
            folders_tally.add((r.imported.total().new, 0));
        }
        // Each cluster's folder: every member who comes that day syncs, in random order.
        let mut order: Vec<usize> = (0..members).filter(|i| active(*i, day)).collect();
        for k in (1..order.len()).rev() {
            order.swap(k, rng.below(k + 1));
        }
        for &i in &order {
            // Each visit takes a while: what happens in it is stamped after what came before.
            clock.advance(60_000);
            let c = cluster(i);
            // Read what the others left, then write ours (as `sync-dir` does, in two calls so
            // that the bytes of what was new can be counted).
            let others: Vec<PathBuf> = bundles(&folders[c])
                .into_iter()
                .filter(|p| !people[i].is_own_bundle(p))
                .collect();
            folders_tally.add(import(&mut people[i], &others));
            let r = people[i].sync_dir(&folders[c], true).unwrap();
            if let Some(w) = &r.wrote {
                folders_tally.carried += w.messages;
                folders_tally.carried_bytes += w.bytes;
            }
            folders_tally.add((r.imported.total().new, 0));
            let mine = ideal[i].clone();
            merge(&mut ideal[i], &folder_ideal[c], &wants[i]);
            merge(&mut folder_ideal[c], &mine, &wants[i]);
        }
        // Meetings: two active members plug in each other's stick. In two steps (the default):
        // each first writes only its frontier (`export --frontier-only`) and reads the other's,
        // then writes its bundle (for the other, or plain) and reads the other's. In one step
        // (`--one-step`): each reads what the other last wrote, writes, and reads the fresh one.
        for m in 0..MEETINGS_PER_DAY {
            let a = order[rng.below(order.len())];
            let b = order[rng.below(order.len())];
            if a == b {
                continue;
            }
            let mode = m % 2;
            clock.advance(60_000);
            if !one_step {
                let hello = ExportOptions {
                    frontier_only: true,
                    ..ExportOptions::default()
                };
                for from in [a, b] {
                    if let Some((n, bytes)) = export(&mut people[from], &sticks[from], &hello) {
                        sticks_tally.carried += n;
                        sticks_tally.carried_bytes += bytes;
                        by_mode[mode].carried += n;
                        by_mode[mode].carried_bytes += bytes;
                        frontier_files.0 += 1;
                        frontier_files.1 += bytes;
                    }
                }
            }
            // Handing over the sticks takes a minute: the files read are newer than those written.
            clock.advance(60_000);
            for (from, to) in [(a, b), (b, a)] {
                let got = import(&mut people[to], &bundles(&sticks[from]));
                sticks_tally.add(got);
                by_mode[mode].add(got);
            }
            clock.advance(60_000);
            for (from, to) in [(a, b), (b, a)] {
                let options = ExportOptions {
                    for_peers: if mode == 0 { vec![ids[to]] } else { Vec::new() },
                    ..ExportOptions::default()
                };
                if let Some((n, bytes)) = export(&mut people[from], &sticks[from], &options) {
                    sticks_tally.carried += n;
                    sticks_tally.carried_bytes += bytes;
                    by_mode[mode].carried += n;
                    by_mode[mode].carried_bytes += bytes;
                }
            }
            for (from, to) in [(a, b), (b, a)] {
                let got = import(&mut people[to], &bundles(&sticks[from]));
                sticks_tally.add(got);
                by_mode[mode].add(got);
                let given = ideal[from].clone();
                merge(&mut ideal[to], &given, &wants[to]);
            }
        }
        let mut delivered = 0u64;
        let mut epidemic = 0u64;
        for i in 0..members {
            for j in &wants[i] {
                if *j == i {
                    continue;
                }
                delivered += people[i].store().frontier(&ids[*j]).unwrap().sequence;
                epidemic += ideal[i].get(j).copied().unwrap_or(0);
            }
        }
        println!(
            "{day:>3}  {delivered:>9}  {epidemic:>8}  {:.3}",
            delivered as f64 / epidemic.max(1) as f64
        );
    }
    for (name, t) in [
        ("sticks", sticks_tally),
        ("  --for", by_mode[0]),
        ("  plain", by_mode[1]),
        ("folders", folders_tally),
    ] {
        println!(
            "{name:<8} carried {:>6} messages ({:>8} bytes), {:>5} new to their readers ({:>7} bytes): carried ÷ new = {:.2}; bytes ÷ new bytes = {:.2}; bytes per new message = {:.0}",
            t.carried,
            t.carried_bytes,
            t.new,
            t.new_bytes,
            t.ratio(),
            t.carried_bytes as f64 / t.new_bytes.max(1) as f64,
            t.carried_bytes as f64 / t.new.max(1) as f64,
        );
    }
    if !one_step {
        println!(
            "of which {} frontier-only files ({} bytes, {} each on average, {:.1}% of stick bytes)",
            frontier_files.0,
            frontier_files.1,
            frontier_files.1 / frontier_files.0.max(1),
            100.0 * frontier_files.1 as f64 / sticks_tally.carried_bytes.max(1) as f64
        );
    }
    let files = |dirs: &[PathBuf]| -> (usize, usize) {
        let counts: Vec<usize> = dirs.iter().map(|d| bundles(d).len()).collect();
        (counts.iter().sum(), counts.into_iter().max().unwrap_or(0))
    };
    let (stick_files, stick_max) = files(&sticks);
    let (folder_files, folder_max) = files(&folders);
    println!(
        "files    {stick_files} on {members} sticks (at most {stick_max} on one); {folder_files} in {CLUSTERS} folders (at most {folder_max} in one)"
    );
}
