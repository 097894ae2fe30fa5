//! What a hostile peer or a hostile file system can throw at grapevine (issue 10): each case
//! gets a clear error or a safe display, never a panic or a hang, and what was held stays.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use grapevine::identity::Identity;
use grapevine::message::{ContentKind, Message};

use crate::damage::write_bundle;
use crate::harness::{Said, TestNode, path_str, stick};

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
    let said = Said::from(child.wait_with_output().unwrap());
    (said.code.unwrap_or(-1), said.all())
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
    let phrase = crate::harness::PASSPHRASE;
    let (me, id) = TestNode::locked("locked");
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
    let wrong = Said::from(with("not it", &["whoami"]));
    assert_eq!(wrong.code, Some(1));
    assert!(wrong.err.contains("wrong passphrase"), "{wrong:?}");
    let none = me.fails_with(1, &["whoami"]);
    assert!(
        none.contains("locked with a passphrase") && none.contains("GRAPEVINE_PASSPHRASE"),
        "{none}"
    );
    let feed = Said::from(with(phrase, &["feed", &id, "--json"]));
    assert!(feed.out.contains("behind a passphrase"), "{feed:?}");
    // `check` needs only the store, never the key.
    me.ok(&["check"]);
}

/// Regression (finding 2): a forged file in a drop folder (exporter = a friend, created far in
/// the future, claiming to hold the victim's feed up to 2^64 − 1 and 2^63 − 1) does not stop
/// the victim's `sync-dir` from writing its posts, and what it writes reads back.
#[test]
fn a_forged_manifest_in_a_drop_folder_cannot_silence_a_node() {
    use grapevine::bundle::{BundleWriter, Frontier, Manifest, Tagged};
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
            frontier: Frontier::Tagged(
                Tagged::pack(&[0xff; 16], &[(victim_id, claim)], false).unwrap(),
            ),
            hops: None,
        };
        let forged = dir
            .path()
            .join(format!("gv-{}-999.gvb", friend_id.base32()));
        let writer =
            BundleWriter::new(fs::File::create(&forged).unwrap(), &attacker, &manifest).unwrap();
        writer.finish().unwrap();
        let text = victim.said(&["sync-dir", path_str(dir.path())]).out;
        assert!(text.contains("wrote"), "the victim wrote a bundle: {text}");
        friend.ok(&["sync-dir", path_str(dir.path())]);
        assert_eq!(
            friend.posts(&victim.id()),
            ["you cannot silence me"],
            "claim {claim}: {text}"
        );
    }
}

/// What `node` holds, row by row: messages (linked or pending, by id and content: a pending
/// message that links later is the same row; a linked row keeps only part of its envelope,
/// which `check` proves against the id), fork evidence and inbox.
fn held_rows(node: &TestNode) -> std::collections::BTreeMap<Vec<u8>, Vec<u8>> {
    let conn = rusqlite::Connection::open_with_flags(
        node.home().join("store.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut rows = std::collections::BTreeMap::new();
    for (table, key, value) in [
        (
            "messages m JOIN feeds f ON f.key = m.feed",
            "'message ' || hex(f.author) || '/' || m.seq",
            "hex(m.id || m.content)",
        ),
        (
            "pending",
            "'message ' || hex(author) || '/' || seq",
            "hex(id || content)",
        ),
        (
            "forks",
            "'fork ' || hex(author) || '/' || seq || '/' || hex(other)",
            "hex(other_envelope || other_content)",
        ),
        ("inbox", "'inbox ' || hex(id)", "content"),
    ] {
        let sql = format!("SELECT {key}, {value} FROM {table}");
        let mut stmt = conn.prepare(&sql).unwrap();
        let found = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, rusqlite::types::Value>(0)?,
                    r.get::<_, rusqlite::types::Value>(1)?,
                ))
            })
            .unwrap();
        for row in found {
            let (k, v) = row.unwrap();
            rows.insert(format!("{k:?}").into_bytes(), format!("{v:?}").into_bytes());
        }
    }
    rows
}

/// One zstd frame per tar entry, as a bundle's container is built, with any name and type.
fn tar_frames(entries: &[(&[u8], tar::EntryType, &[u8])]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (name, kind, data) in entries {
        let mut header = tar::Header::new_ustar();
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(*kind);
        header.set_cksum();
        let mut block = header.as_bytes().to_vec();
        block.extend_from_slice(data);
        block.resize(block.len().div_ceil(512) * 512 + 512, 0);
        bytes.extend(zstd::encode_all(&block[..], 3).unwrap());
    }
    bytes
}

/// A signed bundle by `exporter` whose manifest is `manifest` and whose segment carries
/// `messages`, whatever the manifest claims.
fn bundle_with_manifest(
    path: &std::path::Path,
    exporter: &Identity,
    manifest: &grapevine::bundle::Manifest,
    messages: &[Message],
) {
    let mut writer =
        grapevine::bundle::BundleWriter::new(fs::File::create(path).unwrap(), exporter, manifest)
            .unwrap();
    for m in messages {
        writer.push_message(m).unwrap();
    }
    writer.finish().unwrap();
}

/// The hostile-bundle catalogue: each case is imported into a node that already holds a
/// feed, a DM and its own posts. Each must end with the stated exit status and a message that
/// names the file and the reason, leave every row held before byte-for-byte as it was, and
/// leave `grapevine check` passing.
#[test]
fn the_hostile_bundle_catalogue() {
    use grapevine::bundle::{FeedRange, Frontier, Manifest, Tagged};
    use tar::EntryType::{Block, Char, Fifo, Link, Regular, Symlink};

    let alice = Identity::from_seed(&[31; 32]);
    let mallory = Identity::from_seed(&[66; 32]);
    let good = crate::damage::chain(&alice, 8);
    let victim = TestNode::new("victim");
    let carol = TestNode::new("carol");
    victim.follow_id(&alice.feed_id().to_string());
    victim.follow(&carol);
    carol.follow(&victim);
    carol.ok(&["dm", "--to", &victim.id(), "held before", "--yes"]);
    victim.post("mine");
    let s = stick();
    let first = s.path().join("first.gvb");
    crate::damage::write_bundle(&first, &alice, &good[..3]);
    victim.import(&first);
    victim.import(&carol.export_to(s.path()));

    let manifest_for = |exporter: &Identity, ranges: Vec<FeedRange>| Manifest {
        format: grapevine::bundle::FORMAT.into(),
        version: grapevine::bundle::FORMAT_VERSION,
        bundle_id: "ab".repeat(16),
        exporter: exporter.feed_id(),
        created_at: 1_700_000_000_000,
        recipient: None,
        feeds: ranges,
        frontier: Frontier::Tagged(Tagged::empty()),
        hops: None,
    };
    let range = |first, last| FeedRange {
        feed: alice.feed_id(),
        first,
        last,
    };
    let other_4 = Message::create(
        &alice,
        4,
        Some(good[2].id),
        1,
        ContentKind::Json,
        br#"{"type":"post","text":"the other 4"}"#.to_vec(),
    )
    .unwrap();
    let mut forged = good[4].clone();
    forged.envelope[130] ^= 1;
    let bad_hash = Message {
        content: br#"{"type":"post","text":"swapped"}"#.to_vec(),
        ..good[5].clone()
    };

    // Header failure: an envelope whose version byte is not 1.
    let mut bad_header = good[6].clone();
    bad_header.envelope[0] = 9;
    // Box failure: alice's message 7 is a box for the victim whose body was altered before
    // alice signed it: it links (its envelope is sound) but must not open.
    let victim_id: grapevine::FeedId = victim.id().parse().unwrap();
    let mut sealed_box = grapevine::private_box::seal(
        &alice.feed_id(),
        &[alice.feed_id(), victim_id],
        br#"{"type":"post","text":"for your eyes"}"#,
        &grapevine::private_box::Randomness::fresh().unwrap(),
    )
    .unwrap();
    let last = sealed_box.len() - 1;
    sealed_box[last] ^= 1;
    let bad_box = Message::create(
        &alice,
        7,
        Some(good[5].id),
        2,
        ContentKind::PrivateBox,
        sealed_box,
    )
    .unwrap();
    // alice's real message 8 follows that box.
    let eight = Message::create(
        &alice,
        8,
        Some(bad_box.id),
        3,
        ContentKind::Json,
        br#"{"type":"post","text":"post 8"}"#.to_vec(),
    )
    .unwrap();
    let mut whole = Vec::new();
    let (bytes, _) =
        grapevine::bundle::write_messages(Vec::new(), &alice, &"cd".repeat(16), 3, &good[..6])
            .unwrap();
    whole.extend_from_slice(&bytes);

    type Make<'a> = Box<dyn Fn(&std::path::Path) + 'a>;
    let cases: Vec<(&str, Make<'_>, i32, &[&str])> = vec![
        (
            "traversal",
            Box::new(|p| {
                fs::write(p, tar_frames(&[(b"../escape.txt", Regular, b"evil")])).unwrap()
            }),
            3,
            &["'../escape.txt' is refused"],
        ),
        (
            "absolute",
            Box::new(|p| {
                fs::write(p, tar_frames(&[(b"/tmp/gv-abs.txt", Regular, b"evil")])).unwrap()
            }),
            3,
            &["absolute path"],
        ),
        (
            "symlink-entry",
            Box::new(|p| fs::write(p, tar_frames(&[(b"segments/0", Symlink, b"")])).unwrap()),
            3,
            &["Symlink entry"],
        ),
        (
            "hardlink-entry",
            Box::new(|p| fs::write(p, tar_frames(&[(b"segments/0", Link, b"")])).unwrap()),
            3,
            &["Link entry"],
        ),
        (
            "device-entries",
            Box::new(|p| {
                fs::write(
                    p,
                    tar_frames(&[(b"a", Char, b""), (b"b", Block, b""), (b"c", Fifo, b"")]),
                )
                .unwrap()
            }),
            3,
            &["Char entry", "Block entry", "Fifo entry"],
        ),
        (
            "bomb",
            Box::new(|p| {
                let zeros = vec![0u8; 256 << 20];
                fs::write(p, zstd::encode_all(&zeros[..], 3).unwrap()).unwrap()
            }),
            3,
            &["decompression bomb"],
        ),
        (
            "noise",
            Box::new(|p| {
                let noise: Vec<u8> = (0..10_000u32)
                    .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                    .collect();
                fs::write(p, noise).unwrap()
            }),
            1,
            &["is not a grapevine bundle"],
        ),
        (
            "empty",
            Box::new(|p| fs::write(p, b"").unwrap()),
            3,
            &["no readable manifest"],
        ),
        (
            "lying-manifest",
            // Claims alice 1..8; carries 4..5. Only what is carried and verifies counts.
            Box::new(|p| {
                bundle_with_manifest(
                    p,
                    &alice,
                    &manifest_for(&alice, vec![range(1, 8)]),
                    &good[3..5],
                )
            }),
            3,
            &["the manifest says the bundle carries", "1..8", "4..5"],
        ),
        (
            "forged-exporter",
            // Says alice exported it; mallory signed it.
            Box::new(|p| {
                let mut m = manifest_for(&mallory, vec![range(6, 6)]);
                m.exporter = alice.feed_id();
                bundle_with_manifest(p, &mallory, &m, &good[5..6])
            }),
            3,
            &["signature does not verify"],
        ),
        (
            "fork",
            Box::new(|p| {
                bundle_with_manifest(
                    p,
                    &alice,
                    &manifest_for(&alice, vec![range(4, 4)]),
                    std::slice::from_ref(&other_4),
                )
            }),
            0,
            &["signed two different messages 4", "forked"],
        ),
        (
            "gap",
            // 8 while 7 is missing: stored pending.
            Box::new(|p| crate::damage::write_bundle(p, &alice, std::slice::from_ref(&eight))),
            0,
            &["1 new message,", "1 of them wait for earlier messages"],
        ),
        (
            "replay",
            Box::new(|p| crate::damage::write_bundle(p, &alice, &good[..3])),
            0,
            &["3 already held"],
        ),
        (
            "signature-failure",
            Box::new(|p| crate::damage::write_bundle(p, &alice, std::slice::from_ref(&forged))),
            3,
            &["signature"],
        ),
        (
            "header-failure",
            Box::new(|p| crate::damage::write_bundle(p, &alice, std::slice::from_ref(&bad_header))),
            3,
            &["message 7", "unsupported message version 9"],
        ),
        (
            "incomplete",
            Box::new(|p| fs::write(p, &whole[..whole.len() * 2 / 3]).unwrap()),
            3,
            &["incomplete"],
        ),
        (
            "not-addressed",
            Box::new(|p| {
                let out = fs::File::create(p).unwrap();
                let mut sealed =
                    grapevine::sealed::SealWriter::new(out, &[mallory.feed_id()]).unwrap();
                std::io::Write::write_all(&mut sealed, &whole).unwrap();
                sealed.finish().unwrap();
            }),
            0,
            &["not addressed to you"],
        ),
        (
            "box-failure",
            Box::new(|p| crate::damage::write_bundle(p, &alice, std::slice::from_ref(&bad_box))),
            3,
            &["failed to open"],
        ),
        (
            "content-failure",
            Box::new(|p| crate::damage::write_bundle(p, &alice, std::slice::from_ref(&bad_hash))),
            3,
            &["content"],
        ),
    ];
    let dir = stick();
    for (name, make, code, says) in cases {
        let file = dir.path().join(format!("{name}.gvb"));
        make(&file);
        let before = held_rows(&victim);
        // Memory is bounded: 96 MiB of heap and mappings in all, where the bomb inflates to
        // 256 MiB. A reader that inflated it would die here instead of reporting it.
        let out = std::process::Command::new("prlimit")
            .arg(format!("--data={}", 96 << 20))
            .arg(crate::harness::bin())
            .args([
                "--home",
                path_str(&victim.home()),
                "import",
                path_str(&file),
            ])
            .output()
            .unwrap();
        let said = Said::from(out);
        let text = said.all();
        assert_eq!(said.code, Some(code), "{name}: {text}");
        if code != 0 {
            assert!(
                text.contains(&format!("{name}.gvb")),
                "{name}: the file is not named: {text}"
            );
        }
        for reason in says {
            assert!(text.contains(reason), "{name}: no '{reason}' in: {text}");
        }
        let after = held_rows(&victim);
        for (key, value) in &before {
            assert_eq!(
                after.get(key),
                Some(value),
                "{name}: a held row changed or went: {}",
                String::from_utf8_lossy(key)
            );
        }
        victim.ok(&["check"]);
        fs::remove_file(&file).unwrap();
    }
    assert_eq!(
        victim.posts(&alice.feed_id().to_string()),
        [
            "post 1", "post 2", "post 3", "post 4", "post 5", "post 6", "post 8"
        ],
        "what verified was taken (6 came in the forged bundle: a message stands on its own \
         signature), nothing else"
    );
}
