//! What a hostile peer or a hostile file system can throw at grapevine (issue 10): each case
//! gets a clear error or a safe display, never a panic or a hang, and what was held stays.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use grapevine::identity::Identity;
use grapevine::message::{ContentKind, Message};

use crate::damage::write_bundle;
use crate::harness::{TestNode, path_str, stick};

/// Waits for a spawned command at most `within`; a hang is a failure, not a stuck suite.
fn finishes(node: &TestNode, args: &[&str], within: Duration) -> (i32, String) {
    let mut child = node
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > within {
            let _ = child.kill();
            panic!(
                "`grapevine {}` still running after {within:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Regression (issue 10, finding 1): validly signed messages with timestamps a peer chose at
/// the extremes import, and the feed still displays, each time with its sign and year.
#[test]
fn any_timestamp_displays() {
    let x = Identity::from_seed(&[31; 32]);
    let stamps = [i64::MAX, 253_402_300_800_000, -1, i64::MIN];
    let mut messages: Vec<Message> = Vec::new();
    for (i, at) in stamps.iter().enumerate() {
        let content = format!(r#"{{"type":"post","text":"at {at}"}}"#).into_bytes();
        let previous = messages.last().map(|m| m.id);
        messages.push(
            Message::create(&x, i as u64 + 1, previous, *at, ContentKind::Json, content).unwrap(),
        );
    }
    let dir = stick();
    let file = dir.path().join("times.gvb");
    write_bundle(&file, &x, &messages);
    let me = TestNode::new("me");
    me.follow_id(&x.feed_id().to_string());
    me.import(&file);
    let shown = me.ok(&["feed", &x.feed_id().to_string()]);
    for expected in [
        "+292278994-08-17T07:12:55Z",
        "+10000-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "-292275055-05-16T16:47:04Z",
    ] {
        assert!(shown.contains(expected), "{expected} in:\n{shown}");
    }
}

/// Regression (finding 4): a post that tries to clear the screen and set the terminal title
/// is shown with its control characters escaped; `--json` keeps the text as it was written.
#[test]
fn control_characters_from_peers_never_reach_the_terminal() {
    let [me, mallory] = ["me", "mallory"].map(TestNode::new);
    let evil = "hi\u{1b}[2J\u{1b}]0;pwned\u{7} there\u{202e}";
    mallory.post(evil);
    mallory.ok(&["name", "mal\u{1b}[31mlory"]);
    me.follow(&mallory);
    let dir = stick();
    mallory.export_to(dir.path());
    me.import(dir.path());
    let shown = me.ok(&["feed", &mallory.id()]);
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
        "{shown:?}"
    );
    assert!(!shown.contains('\u{202e}'), "{shown:?}");
    assert!(
        shown.contains(r"hi\u{1b}[2J\u{1b}]0;pwned\u{7} there\u{202e}"),
        "{shown}"
    );
    assert!(shown.contains(r"mal\u{1b}[31mlory"), "{shown}");
    assert_eq!(me.posts(&mallory.id()), [evil], "--json keeps the text");
}

/// Regression (finding 5): a named pipe or a device given to `import` is refused at once with
/// exit 1, instead of blocking in open or reading forever; nothing held changes.
#[test]
fn import_refuses_pipes_and_devices() {
    let me = TestNode::new("me");
    let before = me.status();
    let dir = stick();
    let fifo = dir.path().join("fifo.gvb");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    for path in [path_str(&fifo), "/dev/zero"] {
        let (code, text) = finishes(&me, &["import", path], Duration::from_secs(20));
        assert_eq!(code, 1, "{text}");
        assert!(
            text.contains(path) && text.contains("not a regular file"),
            "{text}"
        );
    }
    assert_eq!(me.status(), before);
}

/// Regression (finding 6): a key file that is a link to a device is refused without reading
/// it; a key readable by others is refused with the fix to apply, as ssh does.
#[test]
fn a_key_file_must_be_private_and_regular() {
    let me = TestNode::new("me");
    let id = me.id();
    let key = me.home().join("secret.key");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let text = me.fails_with(1, &["whoami"]);
    assert!(
        text.contains("can be read by others") && text.contains("chmod 600"),
        "{text}"
    );
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(me.id(), id);
    let saved = me.home().join("saved.key");
    fs::rename(&key, &saved).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &key).unwrap();
    let (code, text) = finishes(&me, &["whoami"], Duration::from_secs(20));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("not a regular file"), "{text}");
}

/// Keys at rest: `init --passphrase` locks the key (Argon2id, ChaCha20-Poly1305) in a 0600 file
/// inside a 0700 home; the seed is nowhere in the clear; every command needs the passphrase, a
/// wrong one is a clear error, and none at all (no terminal, no variable) says how to give it.
#[test]
fn a_key_locked_with_a_passphrase_needs_it() {
    use std::os::unix::fs::MetadataExt;
    let me = TestNode::uninitialised("locked");
    let phrase = "seven unrelated words make a fine passphrase";
    let out = me
        .command(&["init", "--name", "locked", "--passphrase"])
        .env("GRAPEVINE_PASSPHRASE", phrase)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(fs::metadata(me.home()).unwrap().mode() & 0o777, 0o700);
    let key = me.home().join("secret.key");
    assert_eq!(fs::metadata(&key).unwrap().mode() & 0o777, 0o600);
    let text = fs::read_to_string(&key).unwrap();
    assert!(text.starts_with("grapevine-secret-v1-argon2id:"), "{text}");
    assert!(!text.contains("grapevine-secret-v1:"), "{text}");

    let with = |phrase: &str, args: &[&str]| {
        me.command(args)
            .env("GRAPEVINE_PASSPHRASE", phrase)
            .output()
            .unwrap()
    };
    let posted = with(phrase, &["post", "behind a passphrase"]);
    assert!(posted.status.success(), "{posted:?}");
    let wrong = with("not it", &["whoami"]);
    assert_eq!(wrong.status.code(), Some(1));
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("wrong passphrase"), "{err}");
    let none = me.fails_with(1, &["whoami"]);
    assert!(
        none.contains("locked with a passphrase") && none.contains("GRAPEVINE_PASSPHRASE"),
        "{none}"
    );
    let feed = with(phrase, &["feed", &id, "--json"]);
    assert!(
        String::from_utf8_lossy(&feed.stdout).contains("behind a passphrase"),
        "{feed:?}"
    );
    // `check` needs only the store, never the key.
    me.ok(&["check"]);
}

/// Regression (finding 2): a forged file in a drop folder (exporter = a friend, created far in
/// the future, claiming to hold the victim's feed up to 2^64 − 1 and 2^63 − 1) does not stop
/// the victim's `sync-dir` from writing its posts, and what it writes reads back.
#[test]
fn a_forged_manifest_in_a_drop_folder_cannot_silence_a_node() {
    use grapevine::bundle::{BundleWriter, FrontierEntry, Manifest};
    for claim in [u64::MAX, i64::MAX as u64] {
        let [victim, friend] = ["victim", "friend"].map(TestNode::new);
        victim.follow(&friend);
        friend.follow(&victim);
        let dir = stick();
        friend.ok(&["sync-dir", path_str(dir.path())]);
        victim.ok(&["sync-dir", path_str(dir.path())]);
        friend.ok(&["sync-dir", path_str(dir.path())]);
        victim.post("you cannot silence me");
        let attacker = Identity::from_seed(&[66; 32]);
        let friend_id: grapevine::FeedId = friend.id().parse().unwrap();
        let victim_id: grapevine::FeedId = victim.id().parse().unwrap();
        let manifest = Manifest {
            format: grapevine::bundle::FORMAT.into(),
            version: grapevine::bundle::FORMAT_VERSION,
            bundle_id: "ff".repeat(16),
            exporter: friend_id,
            created_at: i64::MAX,
            recipient: None,
            feeds: Vec::new(),
            frontier: vec![FrontierEntry {
                feed: victim_id,
                sequence: claim,
                id: grapevine::MessageId([7; 32]),
            }],
        };
        let forged = dir
            .path()
            .join(format!("gv-{}-999.gvb", friend_id.base32()));
        let writer =
            BundleWriter::new(fs::File::create(&forged).unwrap(), &attacker, &manifest).unwrap();
        writer.finish().unwrap();
        let out = victim.run(&["sync-dir", path_str(dir.path())]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("wrote"), "the victim wrote a bundle: {text}");
        friend.ok(&["sync-dir", path_str(dir.path())]);
        assert_eq!(
            friend.posts(&victim.id()),
            ["you cannot silence me"],
            "claim {claim}: {text}"
        );
    }
}
