//! Crash safety: `grapevine` killed with SIGKILL at random moments during `import`, `export`,
//! `sync-dir`, `watch` and a LAN session. After every kill the store passes `grapevine check`
//! (SQLite's integrity check included), no partial bundle sits under a final name, and a re-run
//! completes. Each loop also proves its kills landed mid-write (a partly imported diary, a
//! temporary file left behind), so a loop whose kills all miss fails instead of passing idly.
//!
//! `GRAPEVINE_CRASH_ROUNDS` sets the kills per operation (CI's system run: 100; default 4);
//! `GRAPEVINE_CRASH_SEED` replays a run (the seed is printed).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use grapevine::bundle;
use grapevine::identity::Identity;
use grapevine::message::{ContentKind, Message};
use tempfile::TempDir;

use crate::damage::copy_dir;
use crate::harness::{Running, TestNode, path_str, stick};

/// Three import batches of 8,192: most of an import lies past its first commit.
const DIARY: u64 = 24_000;
const WAIT: Duration = Duration::from_secs(60);

fn rounds() -> u32 {
    std::env::var("GRAPEVINE_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(4)
}

/// splitmix64: small, seedable, good enough to spread kill moments.
struct Rng(u64);

impl Rng {
    fn new(what: &str) -> Self {
        let seed = std::env::var("GRAPEVINE_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("{what}: GRAPEVINE_CRASH_SEED={seed}");
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A moment in the `round`th of `rounds` equal slices of `span`: stratified, so that kills
    /// cover the whole operation however few the rounds.
    fn moment(&mut self, span: Duration, round: u32, rounds: u32) -> Duration {
        let slice = span.as_nanos().max(1) as u64 / u64::from(rounds.max(1));
        Duration::from_nanos(slice * u64::from(round) + self.next() % slice.max(1))
    }
}

/// Kill moments for one operation: stratified over the whole run; then, if none landed
/// mid-work (start-up, or commits late in a pipelined run, can leave that window narrow on a
/// busy machine), up to 8 more, each halfway between the latest kill that came too early and
/// the earliest that came too late.
struct Moments {
    rng: Rng,
    span: Duration,
    rounds: u32,
    round: u32,
    early: Duration,
    late: Duration,
    mid_work: u32,
}

impl Moments {
    fn new(what: &str, span: Duration) -> Self {
        Self {
            rng: Rng::new(what),
            span,
            rounds: rounds(),
            round: 0,
            early: Duration::ZERO,
            late: span,
            mid_work: 0,
        }
    }

    /// The next round and the moment of its kill, while more are due.
    fn next(&mut self) -> Option<(u32, Duration)> {
        let round = self.round;
        let stratified = round < self.rounds;
        if !stratified && (self.mid_work > 0 || round >= self.rounds + 8) {
            return None;
        }
        self.round += 1;
        Some(if stratified {
            (round, self.rng.moment(self.span, round, self.rounds))
        } else {
            (round, self.early + (self.late - self.early) / 2)
        })
    }

    /// Where the kill at `delay` landed: mid-work, or else before anything was done or after.
    fn landed(&mut self, delay: Duration, mid_work: bool, nothing_done: bool) {
        if mid_work {
            self.mid_work += 1;
        } else if nothing_done {
            self.early = self.early.max(delay);
        } else {
            self.late = self.late.min(delay);
        }
    }

    fn check(&self, what: &str) {
        assert!(
            self.mid_work > 0 || self.rounds < 4,
            "no kill landed {what} ({} rounds of {:?})",
            self.round,
            self.span
        );
    }
}

/// One author's long diary, written once as a bundle named as that author's drop-folder file.
struct Diary {
    author: Identity,
    _dir: TempDir,
    bundle: PathBuf,
}

fn diary() -> &'static Diary {
    static DIARY_BUNDLE: OnceLock<Diary> = OnceLock::new();
    DIARY_BUNDLE.get_or_init(|| {
        let author = Identity::from_seed(&[42; 32]);
        let mut messages: Vec<Message> = Vec::new();
        for seq in 1..=DIARY {
            let content =
                format!(r#"{{"type":"post","text":"message {seq} of a long diary"}}"#).into_bytes();
            let previous = messages.last().map(|m| m.id);
            let m = Message::create(&author, seq, previous, 0, ContentKind::Json, content);
            messages.push(m.unwrap());
        }
        let dir = stick();
        let bundle = dir
            .path()
            .join(format!("gv-{}-1.gvb", author.feed_id().base32()));
        let (bytes, _) =
            bundle::write_messages(Vec::new(), &author, &"ee".repeat(16), 0, &messages).unwrap();
        fs::write(&bundle, bytes).unwrap();
        Diary {
            author,
            _dir: dir,
            bundle,
        }
    })
}

/// A node that follows the diary's author and holds nothing of it; `full` also holds it all.
fn template(full: bool) -> TestNode {
    let d = diary();
    let node = TestNode::new(if full { "holder" } else { "reader" });
    node.follow_id(&d.author.feed_id().to_string());
    if full {
        node.ok(&["import", path_str(&d.bundle)]);
    }
    node
}

/// Puts `from`'s home in `to`'s place, so that every round starts from the same state.
fn reset(to: &TestNode, from: &TestNode) {
    let home = to.home();
    if home.exists() {
        fs::remove_dir_all(&home).unwrap();
    }
    copy_dir(&from.home(), &home);
}

/// How much of the diary `node` holds (its chain is contiguous from 1), once `grapevine check`
/// has passed. Signatures are re-verified when the node is dropped, not every round.
fn held(node: &TestNode) -> u64 {
    let out = node.run(&["check", "--no-signatures"]);
    assert!(
        out.status.success(),
        "the store is inconsistent after a kill:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let author = diary().author.feed_id().to_string();
    let latest: serde_json::Value =
        serde_json::from_str(&node.ok(&["feed", &author, "--limit", "1", "--json"])).unwrap();
    latest[0]["sequence"].as_u64().unwrap_or(0)
}

/// Runs `grapevine args` and kills it after `delay`; whether it was still running then.
fn kill_after(node: &TestNode, args: &[&str], delay: Duration) -> bool {
    let mut child = node
        .command(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The pause is the random moment of the kill, not a wait for anything.
    std::thread::sleep(delay);
    let running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    running
}

/// How long `args` takes when left alone, from `fresh`'s state, so kills spread over it.
fn calibrate(node: &TestNode, fresh: &TestNode, args: &[&str]) -> Duration {
    reset(node, fresh);
    let start = Instant::now();
    node.ok(args);
    let took = start.elapsed();
    reset(node, fresh);
    took
}

/// Every bundle under a final name in `dir` is complete and verifies; returns how many
/// temporary files (hidden `.tmp`) were there.
fn final_names_complete(dir: &Path) -> usize {
    let mut temps = 0;
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') {
            temps += usize::from(name.ends_with(".tmp"));
            continue;
        }
        let report =
            bundle::read_bundle(fs::File::open(&path).unwrap(), &mut bundle::Discard).unwrap();
        assert!(
            report.is_verified(),
            "{name} is under a final name but is not a complete bundle: {report:?}"
        );
    }
    temps
}

/// Kill rounds against `import`: partly imported diaries are consistent, and importing again
/// completes them.
#[test]
fn kills_during_import() {
    let d = diary();
    let (fresh, node) = (template(false), TestNode::new("victim"));
    let args = ["import", path_str(&d.bundle)];
    let span = calibrate(&node, &fresh, &args);
    let mut moments = Moments::new("import", span);
    while let Some((round, delay)) = moments.next() {
        reset(&node, &fresh);
        let landed = kill_after(&node, &args, delay);
        let after_kill = held(&node);
        let mid_work = landed && after_kill > 0 && after_kill < DIARY;
        moments.landed(delay, mid_work, after_kill == 0);
        node.ok(&args);
        assert_eq!(
            held(&node),
            DIARY,
            "round {round}: importing again completes"
        );
        eprintln!("import round {round}: killed at {delay:?} with {after_kill} held");
    }
    moments.check("between import commits");
}

/// Kill rounds against `export` into a folder: only complete bundles under final names, and
/// the next export clears the temporary file a killed one left.
#[test]
fn kills_during_export() {
    let (fresh, node) = (template(true), TestNode::new("victim"));
    reset(&node, &fresh);
    let out = stick();
    let args = ["export", path_str(out.path()), "--all"];
    let span = calibrate(&node, &fresh, &args);
    let mut moments = Moments::new("export", span);
    while let Some((round, delay)) = moments.next() {
        let landed = kill_after(&node, &args, delay);
        assert_eq!(held(&node), DIARY);
        let temps = final_names_complete(out.path());
        let finished = fs::read_dir(out.path()).unwrap().count() > temps;
        moments.landed(delay, landed && temps > 0, temps == 0 && !finished);
        node.ok(&args);
        assert_eq!(
            final_names_complete(out.path()),
            0,
            "round {round}: the export after a kill removes the temporary file it left"
        );
        for entry in fs::read_dir(out.path()).unwrap() {
            fs::remove_file(entry.unwrap().path()).unwrap();
        }
        eprintln!("export round {round}: killed at {delay:?}, {temps} temporary files left");
    }
    moments.check("while a bundle was being written");
}

/// Kill rounds against `sync-dir` on a folder holding the diary: it imports and writes its own
/// bundle, and either may be cut.
#[test]
fn kills_during_sync_dir() {
    let d = diary();
    let (fresh, node) = (template(false), TestNode::new("victim"));
    let folder = stick();
    fs::copy(&d.bundle, folder.path().join(d.bundle.file_name().unwrap())).unwrap();
    let args = ["sync-dir", path_str(folder.path())];
    let span = calibrate(&node, &fresh, &args);
    let mut moments = Moments::new("sync-dir", span);
    while let Some((round, delay)) = moments.next() {
        reset(&node, &fresh);
        remove_own(&node, folder.path());
        let landed = kill_after(&node, &args, delay);
        let after_kill = held(&node);
        let temps = final_names_complete(folder.path());
        let mid_work = landed && ((after_kill > 0 && after_kill < DIARY) || temps > 0);
        moments.landed(delay, mid_work, after_kill == 0 && temps == 0);
        node.ok(&args);
        assert_eq!(
            held(&node),
            DIARY,
            "round {round}: sync-dir again completes"
        );
        assert_eq!(final_names_complete(folder.path()), 0);
        eprintln!("sync-dir round {round}: killed at {delay:?} with {after_kill} held");
    }
    moments.check("mid-import or mid-write");
}

/// Removes `node`'s own files (and temporaries) from a drop folder, for a fresh round.
fn remove_own(node: &TestNode, folder: &Path) {
    let me = &node.id()[1..];
    for entry in fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().contains(me) {
            fs::remove_file(path).unwrap();
        }
    }
}

/// Kill rounds against `watch` on a drop folder: the watcher imports the diary and writes its
/// own bundle; a kill anywhere in that leaves a consistent store and a re-run finishes.
#[test]
fn kills_during_watch() {
    let d = diary();
    let (fresh, node) = (template(false), TestNode::new("victim"));
    let folder = stick();
    fs::copy(&d.bundle, folder.path().join(d.bundle.file_name().unwrap())).unwrap();
    let watch = ["watch", path_str(folder.path()), "--settle", "0"];
    // Calibrate: from start until the watcher has written its own bundle.
    reset(&node, &fresh);
    let start = Instant::now();
    let mut running = node.spawn(&watch);
    running.expect(WAIT, "the watcher's own bundle", |l| {
        l.starts_with("wrote ")
    });
    let span = start.elapsed();
    drop(running);
    let mut moments = Moments::new("watch", span);
    while let Some((round, delay)) = moments.next() {
        reset(&node, &fresh);
        remove_own(&node, folder.path());
        let landed = kill_after(&node, &watch, delay);
        let after_kill = held(&node);
        let temps = final_names_complete(folder.path());
        let mid_work = landed && ((after_kill > 0 && after_kill < DIARY) || temps > 0);
        moments.landed(delay, mid_work, after_kill == 0 && temps == 0);
        // The re-run is ready once its first pass over the folder is done: the diary held, and
        // our own bundle there (written now, or by the killed run if it got that far).
        let mut again: Running = node.spawn(&watch);
        again.expect(WAIT, "the re-run ready", |l| l.starts_with("watching "));
        drop(again);
        assert_eq!(
            held(&node),
            DIARY,
            "round {round}: watching again completes"
        );
        assert_eq!(final_names_complete(folder.path()), 0);
        let me = &node.id()[1..];
        let own = fs::read_dir(folder.path())
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                let name = name.to_string_lossy();
                name.contains(me) && !name.starts_with('.')
            })
            .count();
        assert_eq!(own, 1, "round {round}: one own bundle in the folder");
        eprintln!("watch round {round}: killed at {delay:?} with {after_kill} held");
    }
    moments.check("mid-import or mid-write");
}

/// Kill rounds against a LAN session, on either side: the receiving `sync` client, or the
/// receiving `serve`.
#[test]
fn kills_during_lan_sessions() {
    let (fresh, holder_template) = (template(false), template(true));
    let (receiver, holder) = (TestNode::new("receiver"), TestNode::new("holder"));
    reset(&holder, &holder_template);
    let (mut holder_serve, holder_address) = crate::lan::serve(&holder, &[]);
    let pull = ["sync", holder_address.as_str()];
    let span = calibrate(&receiver, &fresh, &pull);
    let mut moments = Moments::new("lan", span);
    while let Some((round, delay)) = moments.next() {
        reset(&receiver, &fresh);
        let landed = if round % 2 == 0 {
            // The receiving client dies.
            kill_after(&receiver, &pull, delay)
        } else {
            // The receiving server dies while the holder pushes to it.
            let (serving, address) = crate::lan::serve(&receiver, &[]);
            let mut push = holder
                .command(&["sync", &address])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(delay);
            let running = push.try_wait().unwrap().is_none();
            drop(serving);
            let _ = push.wait();
            running
        };
        let after_kill = held(&receiver);
        let mid_work = landed && after_kill > 0 && after_kill < DIARY;
        moments.landed(delay, mid_work, after_kill == 0);
        let again = receiver.run(&pull);
        assert!(
            again.status.success(),
            "round {round}: syncing again failed: {}\nthe holder's server said:\n{}",
            String::from_utf8_lossy(&again.stderr),
            holder_serve.drain(Duration::from_millis(200)).join("\n")
        );
        assert_eq!(
            held(&receiver),
            DIARY,
            "round {round}: syncing again completes"
        );
        eprintln!("lan round {round}: killed at {delay:?} with {after_kill} held");
    }
    holder_serve.drain(Duration::from_millis(10));
    moments.check("mid-session");
}
