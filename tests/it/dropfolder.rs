//! Drop folders and the watcher: shared folders and sticks merge by themselves.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{TestNode, import_counts, path_str, stick};

const READY: Duration = Duration::from_secs(20);

fn friends(nodes: &[&TestNode]) {
    for a in nodes {
        for b in nodes {
            if a.name != b.name {
                a.follow(b);
            }
        }
    }
}

/// Two homes watch one folder: a post by A is readable on B with no command run on B.
#[test]
fn a_post_travels_through_a_watched_folder() {
    let [a, b] = ["a", "b"].map(TestNode::new);
    friends(&[&a, &b]);
    let shared = stick();
    let dir = path_str(shared.path());
    let mut wa = a.spawn(&["watch", dir, "--settle", "2"]);
    let mut wb = b.spawn(&["watch", dir, "--settle", "2"]);
    wa.expect(READY, "ready", |l| l.starts_with("watching"));
    wb.expect(READY, "ready", |l| l.starts_with("watching"));
    // First a's existing diary (name and follow) reaches b, so the post travels on its own.
    eventually(READY, "b holds a's first two messages", || {
        b.feed(&a.id()).len() == 2
    });
    let posted = Instant::now();
    a.post("hello through the folder");
    wb.expect(Duration::from_secs(5), "merging a's post", |l| {
        l.starts_with("merged") && l.contains("from a") && l.contains(": 1 new message,")
    });
    let latency = posted.elapsed();
    assert_eq!(b.posts(&a.id()), ["hello through the folder"]);
    eprintln!("post on A readable on B after {latency:?}");
    // Each node's files in the folder are its own, one each, once the watchers are done: a
    // node writes its new bundle before it removes the superseded one (so the folder never
    // lacks one), and the merge line above comes before that refresh.
    let names = || -> Vec<String> {
        fs::read_dir(shared.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".gvb"))
            .collect()
    };
    let one_each = || {
        [&a, &b].iter().all(|node| {
            names()
                .iter()
                .filter(|n| n.contains(&node.id()[1..]))
                .count()
                == 1
        })
    };
    let deadline = Instant::now() + READY;
    while !one_each() {
        assert!(
            Instant::now() < deadline,
            "each node keeps exactly one current bundle: {:?}",
            names()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A bundle copied in slowly, in chunks with pauses and under its final name, is imported
/// exactly once, complete, with no error.
#[test]
fn a_slow_copy_is_imported_once_complete() {
    let [a, b] = ["a", "b"].map(TestNode::new);
    b.follow(&a);
    for i in 0..3 {
        a.post(&format!("post {i} {}", "x".repeat(4000)));
    }
    a.post(&"y".repeat(8000));
    let source = stick();
    let bundle = a.export_to(source.path());
    let bytes = fs::read(&bundle).unwrap();
    let shared = stick();
    let mut w = b.spawn(&[
        "watch",
        path_str(shared.path()),
        "--no-export",
        "--settle",
        "5",
    ]);
    w.expect(READY, "ready", |l| l.starts_with("watching"));
    let target = shared.path().join(bundle.file_name().unwrap());
    let mut file = fs::File::create(&target).unwrap();
    for chunk in bytes.chunks(bytes.len() / 6 + 1) {
        file.write_all(chunk).unwrap();
        file.sync_all().unwrap();
        // A slow writer: the pause is the scenario, not a wait for the watcher.
        std::thread::sleep(Duration::from_millis(400));
    }
    drop(file);
    w.expect(Duration::from_secs(10), "the merge", |l| {
        l.starts_with("merged")
    });
    let lines = w.drain(Duration::from_secs(2));
    let merges = lines.iter().filter(|l| l.starts_with("merged")).count();
    assert_eq!(merges, 1, "imported exactly once: {lines:#?}");
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("incomplete") || l.contains("problem") || l.contains("damaged")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains(": 5 new messages")),
        "{lines:#?}"
    );
    assert_eq!(b.posts(&a.id()).len(), 4);
}

/// A bundle cut for good (a stick pulled out mid-copy) is reported once as incomplete and left
/// in place; nothing held is lost.
#[test]
fn a_truncated_bundle_is_reported_once_and_left_in_place() {
    // 400 posts of ~8 KB: segments of at most 1 MiB, so a cut at two thirds leaves two whole.
    let author = grapevine::identity::Identity::from_seed(&[12; 32]);
    let mut posts: Vec<grapevine::message::Message> = Vec::new();
    for seq in 1..=400u64 {
        let text = format!(
            r#"{{"type":"post","text":"post {seq} {}"}}"#,
            "z".repeat(7950)
        );
        let previous = posts.last().map(|m| m.id);
        posts.push(
            grapevine::message::Message::create(
                &author,
                seq,
                previous,
                0,
                grapevine::message::ContentKind::Json,
                text.into_bytes(),
            )
            .unwrap(),
        );
    }
    let a_id = author.feed_id().to_string();
    let b = TestNode::new("b");
    b.follow_id(&a_id);
    let source = stick();
    let bundle = source
        .path()
        .join(format!("gv-{}-1.gvb", author.feed_id().base32()));
    crate::damage::write_bundle(&bundle, &author, &posts);
    let bytes = fs::read(&bundle).unwrap();
    let own_before = b.feed(&b.id());
    let shared = stick();
    let target = shared.path().join(bundle.file_name().unwrap());
    fs::write(&target, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let mut w = b.spawn(&[
        "watch",
        path_str(shared.path()),
        "--no-export",
        "--settle",
        "1",
        "--rescan",
        "1",
    ]);
    w.expect(READY, "ready", |l| l.starts_with("watching"));
    w.expect(Duration::from_secs(10), "an incomplete report", |l| {
        l.contains("incomplete")
    });
    let lines = w.drain(Duration::from_secs(3));
    let reports = lines
        .iter()
        .filter(|l| l.contains("incomplete and unchanged"))
        .count();
    assert_eq!(reports, 1, "reported once: {lines:#?}");
    assert_eq!(
        fs::read(&target).unwrap().len(),
        bytes.len() * 2 / 3,
        "left in place"
    );
    assert_eq!(b.feed(&b.id()), own_before, "nothing held is lost");
    let salvaged = b.posts(&a_id).len();
    assert!(
        salvaged > 0 && salvaged < 400,
        "the whole segments before the cut are salvaged: {salvaged} of 400"
    );
}

/// `watch --json` prints one JSON object per event, for scripts.
#[test]
fn watch_json_events_are_machine_readable() {
    let [a, b] = ["a", "b"].map(TestNode::new);
    b.follow(&a);
    a.post("for the dashboard");
    let shared = stick();
    a.export_to(shared.path());
    let mut w = b.spawn(&["watch", path_str(shared.path()), "--json"]);
    let parse = |line: &str| serde_json::from_str::<serde_json::Value>(line).ok();
    let merged = w.expect(READY, "a JSON merge event", |l| {
        parse(l).is_some_and(|v| v["event"] == "merged")
    });
    let event = parse(&merged).unwrap();
    assert_eq!(event["exporter"]["id"], a.id().as_str());
    assert_eq!(event["exporter"]["name"], "a");
    assert_eq!(event["new"], 2, "a's name and post");
    assert!(event["at"].is_i64() && event["file"].as_str().unwrap().ends_with(".gvb"));
    w.expect(READY, "a JSON ready event", |l| {
        parse(l).is_some_and(|v| v["event"] == "ready")
    });
    for line in &w.seen {
        assert!(parse(line).is_some(), "every line is JSON: {line}");
    }
}

/// A watched folder that vanishes (a share unmounted, a stick pulled) causes no crash; when it
/// comes back, bundles in it are merged again.
#[test]
fn a_vanishing_folder_does_not_stop_the_watcher() {
    let [a, b] = ["a", "b"].map(TestNode::new);
    b.follow(&a);
    a.post("after the folder came back");
    let source = stick();
    let bundle = a.export_to(source.path());
    let parent = stick();
    let folder = parent.path().join("share");
    fs::create_dir(&folder).unwrap();
    let mut w = b.spawn(&["watch", path_str(&folder), "--no-export", "--rescan", "1"]);
    w.expect(READY, "ready", |l| l.starts_with("watching"));
    fs::remove_dir_all(&folder).unwrap();
    eventually(READY, "the watcher recreates the folder", || {
        folder.is_dir()
    });
    fs::copy(&bundle, folder.join(bundle.file_name().unwrap())).unwrap();
    w.expect(
        Duration::from_secs(10),
        "the merge after the folder came back",
        |l| l.starts_with("merged"),
    );
    assert_eq!(b.posts(&a.id()), ["after the folder came back"]);
}

/// Three nodes, one folder, `sync-dir` twice each: all hold all three feeds, and each node's
/// files in the folder are its own.
fn three_nodes_share(folder: &Path) {
    let nodes = ["a", "b", "c"].map(TestNode::new);
    let [a, b, c] = &nodes;
    friends(&[a, b, c]);
    for n in &nodes {
        n.post(&format!("{} was here", n.name));
    }
    for _round in 0..2 {
        for n in &nodes {
            n.ok(&["sync-dir", path_str(folder), "--create"]);
        }
    }
    for reader in &nodes {
        for author in &nodes {
            assert_eq!(
                reader.posts(&author.id()),
                [format!("{} was here", author.name)],
                "{} reads {}",
                reader.name,
                author.name
            );
        }
    }
    let names: Vec<String> = fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.len(),
        3,
        "one current bundle per node, no temp files: {names:?}"
    );
    for n in &nodes {
        assert_eq!(
            names.iter().filter(|f| f.contains(&n.id()[1..])).count(),
            1,
            "{names:?}"
        );
    }
    for name in &names {
        assert!(
            name.len() <= 255
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b)),
            "{name}"
        );
    }
    // A third round changes nothing: every bundle there is current.
    for n in &nodes {
        let out = n.ok(&["sync-dir", path_str(folder), "--create"]);
        assert!(out.contains("our bundle there is current"), "{out}");
        assert_eq!(import_counts(&out).0, 0, "{out}");
    }
}

#[test]
fn three_nodes_share_one_folder() {
    let shared = stick();
    three_nodes_share(shared.path());
}

/// The same on a real FAT-family file system. This kernel may lack vfat; then exFAT through
/// FUSE stands in (case-insensitive, FAT naming rules); without either, the test says so.
#[test]
fn three_nodes_share_a_fat_stick() {
    let Some(mount) = FatStick::mount() else {
        return;
    };
    three_nodes_share(&mount.dir.path().join("mnt").join("grapevine"));
}

struct FatStick {
    dir: tempfile::TempDir,
    loop_dev: Option<String>,
}

impl FatStick {
    fn mount() -> Option<FatStick> {
        if !is_root() {
            crate::harness::skip("mounting a FAT image needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("stick.img");
        let mnt = dir.path().join("mnt");
        fs::create_dir(&mnt).unwrap();
        let run = |cmd: &str, args: &[&str]| {
            Command::new(cmd)
                .args(args)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        fs::File::create(&image).unwrap().set_len(64 << 20).unwrap();
        if run("mkfs.vfat", &["-F", "32", path_str(&image)])
            && run("mount", &["-o", "loop", path_str(&image), path_str(&mnt)])
        {
            eprintln!("using a real FAT32 image");
            return Some(FatStick {
                dir,
                loop_dev: None,
            });
        }
        let loop_dev = Command::new("losetup")
            .args(["-f", "--show", path_str(&image)])
            .output()
            .ok()?;
        let loop_dev = String::from_utf8_lossy(&loop_dev.stdout).trim().to_owned();
        if !loop_dev.is_empty()
            && run("mkfs.exfat", &[&loop_dev])
            && run("mount.exfat-fuse", &[&loop_dev, path_str(&mnt)])
        {
            eprintln!("no vfat in this kernel: using exFAT through FUSE on {loop_dev}");
            return Some(FatStick {
                dir,
                loop_dev: Some(loop_dev),
            });
        }
        if !loop_dev.is_empty() {
            run("losetup", &["-d", &loop_dev]);
        }
        crate::harness::skip(
            "neither vfat (mkfs.vfat + loop mount) nor exFAT (mkfs.exfat + mount.exfat-fuse) is available",
        );
        None
    }
}

impl Drop for FatStick {
    fn drop(&mut self) {
        let mnt = self.dir.path().join("mnt");
        let _ = Command::new("umount").arg(&mnt).output();
        if let Some(dev) = &self.loop_dev {
            let _ = Command::new("losetup").args(["-d", dev]).output();
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// A stick mounted under a watched mount root is synced in its `grapevine/` folder, the
/// watcher says when it is safe to unplug, and keeps it current while it stays plugged in.
/// Uses a tmpfs mount (root only).
#[test]
fn a_mounted_stick_is_synced_and_declared_safe_to_unplug() {
    if !is_root() {
        crate::harness::skip("mounting a stand-in stick needs root");
        return;
    }
    let [a, b] = ["a", "b"].map(TestNode::new);
    friends(&[&a, &b]);
    b.post("on b's stick");
    let media = tempfile::tempdir().unwrap();
    let mut w = a.spawn(&["watch", "--media", path_str(media.path()), "--settle", "1"]);
    w.expect(READY, "ready", |l| l.starts_with("watching"));
    // b wrote its bundle to the stick elsewhere; now the stick is plugged into a's machine.
    let stick_dir = media.path().join("STICK");
    fs::create_dir(&stick_dir).unwrap();
    let mounted = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=16m",
            "stick",
            path_str(&stick_dir),
        ])
        .status()
        .unwrap();
    assert!(mounted.success());
    let _unmount = Unmount(stick_dir.clone());
    b.ok(&[
        "sync-dir",
        path_str(&stick_dir.join("grapevine")),
        "--create",
    ]);
    // (b wrote after mounting only because tmpfs starts empty; the watcher saw the mount first
    // or after — either way it must sync and say when it is done.)
    w.expect(Duration::from_secs(10), "safe to unplug", |l| {
        l.contains("safe to unplug")
    });
    eventually(
        Duration::from_secs(10),
        "a imports b's post from the stick",
        || a.posts(&b.id()) == ["on b's stick"],
    );
    assert_eq!(
        a.own_bundles_in(&stick_dir.join("grapevine")),
        1,
        "a wrote its bundle onto the stick"
    );
    // Left plugged in, the stick is kept current: what a posts now is on it when b takes it.
    a.post("posted while the stick was in");
    eventually(
        Duration::from_secs(10),
        "b reads a's new post from the stick",
        || {
            b.ok(&["import", path_str(&stick_dir.join("grapevine"))]);
            b.posts(&a.id()) == ["posted while the stick was in"]
        },
    );
    w.expect(
        Duration::from_secs(10),
        "safe to unplug after the rewrite",
        |l| l.contains("safe to unplug"),
    );
    assert_eq!(a.own_bundles_in(&stick_dir.join("grapevine")), 1);
}

use crate::harness::eventually;

struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
    }
}

/// Ctrl-C (SIGINT) or SIGTERM stops `watch` and `serve` cleanly: a last line, exit 0.
#[test]
fn watch_and_serve_stop_cleanly_on_a_signal() {
    let a = TestNode::new("a");
    let shared = stick();
    for signal in ["INT", "TERM"] {
        let mut w = a.spawn(&["watch", path_str(shared.path())]);
        w.expect(READY, "the watcher ready", |l| l.starts_with("watching"));
        let status = a.ok(&["status"]);
        assert!(
            status.contains(&format!("watching {}", shared.path().display())),
            "status names the watched folder: {status}"
        );
        let status = w.stop_with(signal, std::time::Duration::from_secs(10));
        assert_eq!(status.code(), Some(0), "watch after SIG{signal}");
        w.expect(READY, "a last line", |l| l == "stopped watching");
        assert!(a.ok(&["status"]).contains("watching nothing"));
        let mut s = a.spawn(&["serve", "--listen", "127.0.0.1:0", "--no-discovery"]);
        s.expect(READY, "serve listening", |l| l.starts_with("listening on"));
        let status = s.stop_with(signal, std::time::Duration::from_secs(10));
        assert_eq!(status.code(), Some(0), "serve after SIG{signal}");
        s.expect(READY, "a last line", |l| l == "stopped serving");
    }
}

/// A bundle that carries no messages is written only when it stops someone from sending us
/// again what we now hold; a frontier that moved for feeds no one there carries is no reason.
#[test]
fn no_bundle_without_news_for_someone() {
    let [a, b, c] = ["a", "b", "c"].map(TestNode::new);
    a.ok(&["config", "set", "hops", "1"]);
    a.follow(&b);
    b.follow(&a);
    b.follow(&c);
    let folder = stick();
    let dir = path_str(folder.path());
    for n in [&a, &b, &a, &b] {
        n.ok(&["sync-dir", dir]);
    }
    let files = || {
        let mut names: Vec<String> = fs::read_dir(folder.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    // B learns more of C elsewhere: nothing in the folder carries C, and A does not want it.
    c.post("far away");
    let s = stick();
    b.import(&c.export_to(s.path()));
    let before = files();
    let out = b.ok(&["sync-dir", dir]);
    assert!(out.contains("our bundle there is current"), "{out}");
    assert_eq!(files(), before, "no file written");
    // A posts; B takes it from A's file: B's next file says so, with no messages in it.
    a.post("news from a");
    a.ok(&["sync-dir", dir]);
    let out = b.ok(&["sync-dir", dir]);
    assert!(
        out.contains("no messages: it tells the others there what you hold now"),
        "{out}"
    );
    let out = b.ok(&["sync-dir", dir]);
    assert!(out.contains("our bundle there is current"), "{out}");
}
