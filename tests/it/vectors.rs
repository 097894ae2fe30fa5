//! The format's test vectors (fixtures/vectors): the code reproduces each one byte for byte and
//! reaches each expected outcome. A vector no check exercises fails the test.

use std::collections::BTreeSet;
use std::io::Cursor;
use std::path::Path;

use grapevine::bundle::{self, BundleSink};
use grapevine::bytes::ByteReader;
use grapevine::identity::Identity;
use grapevine::ids::{FeedId, MessageId};
use grapevine::message::{Message, MessageError, verify_all};

#[allow(dead_code)]
#[path = "../../fixtures/build.rs"]
mod build;

use build::{Vector, unhex};

fn vectors_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/vectors")
}

fn load_all() -> Vec<Vector> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(vectors_dir()).expect("fixtures/vectors exists") {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(entry.path()).unwrap();
        out.push(Vector::decode(&name, &bytes).unwrap_or_else(|| panic!("{name}: not a vector")));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn seed(v: &Vector, key: &str) -> [u8; 32] {
    unhex(v.get(key).expect("seed header"))
        .try_into()
        .expect("32-byte seed")
}

/// The generator, run now, writes exactly the committed files: vectors are never hand-edited.
#[test]
fn generator_reproduces_every_vector_byte_for_byte() {
    let committed: Vec<(String, Vec<u8>)> = load_all()
        .into_iter()
        .map(|v| (v.name.clone(), v.encode()))
        .collect();
    let mut generated: Vec<(String, Vec<u8>)> = build::all_vectors()
        .into_iter()
        .map(|v| (v.name.clone(), v.encode()))
        .collect();
    generated.sort();
    let names =
        |list: &[(String, Vec<u8>)]| list.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&committed),
        names(&generated),
        "run `cargo run --example make-fixtures`"
    );
    for ((name, a), (_, b)) in committed.iter().zip(&generated) {
        assert!(a == b, "{name} differs from what the generator writes now");
    }
}

#[test]
fn every_vector_has_its_expected_outcome() {
    let mut exercised = BTreeSet::new();
    for v in load_all() {
        let kind = v.get("kind").unwrap_or_default();
        let expect = v.get("expect").unwrap_or_default();
        match kind {
            "identity" => check_identity(&v),
            "key-file" => check_key_file(&v, expect),
            "message" => check_message(&v, expect),
            "content" => check_content(&v, expect),
            "devices" => check_devices(&v),
            "bundle" => check_bundle(&v, expect),
            "private-box" => check_box(&v, expect),
            "sealed-bundle" => check_sealed(&v, expect),
            other => panic!("{}: unknown vector kind '{other}'", v.name),
        }
        exercised.insert(v.name.clone());
    }
    assert!(
        exercised.len() >= 20,
        "only {} vectors found",
        exercised.len()
    );
}

/// Content types: what our reader makes of the content is what the vector says it means.
fn check_content(v: &Vector, expect: &str) {
    use grapevine::content::Content;
    let content: serde_json::Value = serde_json::from_slice(&v.body).expect("JSON content");
    let meaning: serde_json::Value =
        serde_json::from_str(v.get("meaning").expect("meaning header")).expect("meaning JSON");
    if expect == "about" {
        let author = Identity::from_seed(&seed(v, "author-seed")).feed_id();
        let (name, description) = match Content::parse(author, &content) {
            Content::About { name, description } => (name, description),
            _ => (None, None),
        };
        let read = serde_json::json!({ "name": name, "description": description });
        assert_eq!(read, meaning, "{}", v.name);
        return;
    }
    // Who wrote it matters to `about` only.
    let anyone = FeedId([0; 32]);
    let (found, read) = match Content::parse(anyone, &content) {
        Content::Post { post, .. } => ("post", serde_json::to_value(post).unwrap()),
        Content::Vote(link, like) => ("vote", serde_json::json!({"link": link, "like": like})),
        Content::Device(device) => ("device", serde_json::to_value(device).unwrap()),
        _ => ("none", serde_json::Value::Null),
    };
    assert_eq!(found, expect, "{}", v.name);
    assert_eq!(read, meaning, "{}", v.name);
}

/// Sets of `device` messages: the persons they make and whose unlink vouches for which
/// message, through the same claim index `check` holds the store to.
fn check_devices(v: &Vector) {
    use grapevine::content::Content;
    use grapevine::devices::ClaimIndex;
    let messages: Vec<serde_json::Value> = serde_json::from_slice(&v.body).expect("JSON body");
    let meaning: serde_json::Value =
        serde_json::from_str(v.get("meaning").expect("meaning header")).expect("meaning JSON");
    let feed = |value: &serde_json::Value| -> FeedId { value.as_str().unwrap().parse().unwrap() };
    let mut index = ClaimIndex::default();
    for m in &messages {
        if let Content::Device(change) = Content::parse(feed(&m["author"]), &m["content"]) {
            index.note(feed(&m["author"]), m["sequence"].as_u64().unwrap(), &change);
        }
    }
    let devices = index.into_devices();
    let mut persons = devices.persons().to_vec();
    persons.sort();
    assert_eq!(
        serde_json::to_value(&persons).unwrap(),
        meaning["persons"],
        "{}",
        v.name
    );
    for probe in meaning["vouched"].as_array().unwrap() {
        let by = devices.vouched_by(&feed(&probe[0]), probe[1].as_u64().unwrap());
        assert_eq!(
            by.map(|f| f.to_string()).as_deref(),
            probe[2].as_str(),
            "{}: {probe}",
            v.name
        );
    }
}

/// A key file: the plain form loads through the real key-file reader and our writer writes it
/// byte for byte; the locked form opens with its passphrase, our locker given the same salt and
/// nonce writes it byte for byte, and a wrong passphrase fails.
fn check_key_file(v: &Vector, expect: &str) {
    use grapevine::identity::{KeyText, KeyTextError, parse_key_text};
    use grapevine::keylock::{Cost, UnlockError, lock, unlock};
    if expect == "malformed key" {
        let reason = match parse_key_text(&v.body) {
            Err(KeyTextError::TooLarge) => "too large",
            Err(KeyTextError::NotText) => "not text",
            Err(KeyTextError::Prefix) => "prefix",
            Err(KeyTextError::Base32) => "base32",
            Err(KeyTextError::Length) => "length",
            Ok(_) => "none: it parsed",
        };
        assert_eq!(Some(reason), v.get("reason"), "{}", v.name);
        return;
    }
    let seed = seed(v, "seed");
    let text = std::str::from_utf8(&v.body).unwrap();
    let Some(phrase) = v.get("passphrase") else {
        assert_eq!(expect, "success", "{}", v.name);
        if v.get("writer") == Some("none") {
            let Ok(KeyText::Plain(read)) = parse_key_text(&v.body) else {
                panic!("{}: a plain key", v.name);
            };
            assert_eq!(*read, seed, "{}", v.name);
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        Identity::from_seed(&seed).save_new(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), v.body, "{}: writer", v.name);
        let loaded = Identity::load(&path).unwrap();
        assert_eq!(
            loaded.feed_id().to_string(),
            v.get("feed").unwrap(),
            "{}",
            v.name
        );
        return;
    };
    match expect {
        "success" => {
            assert_eq!(
                *unlock(text, phrase.as_bytes()).unwrap(),
                seed,
                "{}",
                v.name
            );
            let mut random = [0u8; 28];
            random[..16].copy_from_slice(&unhex(v.get("salt").unwrap()));
            random[16..].copy_from_slice(&unhex(v.get("nonce").unwrap()));
            let cost = Cost {
                memory_kib: 64,
                passes: 1,
                lanes: 1,
            };
            let line = lock(&seed, phrase.as_bytes(), cost, random).unwrap();
            assert_eq!(format!("{line}\n"), text, "{}: our locker", v.name);
        }
        "key failure" => assert_eq!(
            unlock(text, phrase.as_bytes()).map(|_| ()),
            Err(UnlockError::Wrong),
            "{}",
            v.name
        ),
        other => panic!("{}: unknown outcome '{other}'", v.name),
    }
}

fn check_identity(v: &Vector) {
    let identity = Identity::from_seed(&seed(v, "seed"));
    assert_eq!(
        identity.feed_id().to_string(),
        v.get("feed").unwrap(),
        "{}",
        v.name
    );
    assert_eq!(
        identity.feed_id().as_bytes().as_slice(),
        v.body.as_slice(),
        "{}",
        v.name
    );
    assert_eq!(
        v.get("feed").unwrap().parse::<FeedId>().unwrap(),
        identity.feed_id()
    );
}

fn class(error: &MessageError) -> &'static str {
    match error {
        MessageError::ContentHashMismatch | MessageError::BadContent(_) => "content failure",
        MessageError::BadSignature | MessageError::BadAuthorKey => "signature failure",
        _ => "header failure",
    }
}

fn check_message(v: &Vector, expect: &str) {
    let parsed = Message::read_record(&mut ByteReader::new(&v.body));
    let outcome = match &parsed {
        Err(e) => class(e),
        Ok(m) => match m.verify_signature() {
            Err(e) => class(&e),
            Ok(()) => "success",
        },
    };
    assert_eq!(outcome, expect, "{}: {parsed:?}", v.name);
    let Ok(message) = parsed else { return };
    // A batch (here of 600 copies, several batches on every core) reaches the single verdict.
    let single = message.verify_signature();
    let copies = vec![&message; 600];
    for verdict in verify_all(&copies) {
        assert_eq!(
            verdict, single,
            "{}: batch and single verification differ",
            v.name
        );
    }
    if expect != "success" {
        return;
    }
    assert_eq!(message.id.to_string(), v.get("id").unwrap(), "{}", v.name);
    if v.get("signature") == Some("crafted") {
        return; // no RFC 8032 signer makes these bytes
    }
    // Our encoder, given the same fields, writes the same bytes.
    let h = &message.header;
    let again = Message::create(
        &Identity::from_seed(&seed(v, "seed")),
        h.sequence,
        h.previous,
        h.timestamp,
        h.kind,
        message.content.clone(),
    )
    .unwrap();
    let mut bytes = Vec::new();
    again.write_record(&mut bytes);
    assert_eq!(bytes, v.body, "{}: encoder output differs", v.name);
}

#[derive(Default)]
struct Collect {
    ids: Vec<MessageId>,
    carried: bundle::CarriedRuns,
}

impl BundleSink for Collect {
    type Error = std::io::Error;
    fn manifest(&mut self, _: &bundle::Manifest) -> std::io::Result<()> {
        Ok(())
    }
    fn segment(&mut self, _: &str, data: &[u8]) -> std::io::Result<()> {
        let mut r = ByteReader::new(data);
        while let Ok(m) = Message::read_record(&mut r) {
            self.carried.note(m.header.author, m.header.sequence);
            if m.verify_signature().is_ok() {
                self.ids.push(m.id);
            }
        }
        Ok(())
    }
}

/// A bundle's manifest and its segments (name, data), in order.
fn entries(file: &[u8]) -> (Option<bundle::Manifest>, Vec<(String, Vec<u8>)>) {
    struct Entries(Vec<(String, Vec<u8>)>);
    impl BundleSink for Entries {
        type Error = std::io::Error;
        fn manifest(&mut self, _: &bundle::Manifest) -> std::io::Result<()> {
            Ok(())
        }
        fn segment(&mut self, name: &str, data: &[u8]) -> std::io::Result<()> {
            self.0.push((name.to_owned(), data.to_vec()));
            Ok(())
        }
    }
    let mut sink = Entries(Vec::new());
    let report = bundle::read_bundle(Cursor::new(file), &mut sink).unwrap();
    (report.manifest, sink.0)
}

fn check_bundle(v: &Vector, expect: &str) {
    let spec = build::BundleSpec {
        exporter: seed(v, "exporter-seed"),
        created_at: v.get("created-at").unwrap().parse().unwrap(),
        bundle_id: v.get("bundle-id").unwrap().into(),
        feeds: v
            .get("feeds")
            .unwrap()
            .split(' ')
            .map(|f| {
                let (s, n) = f.split_once(':').unwrap();
                (unhex(s).try_into().unwrap(), n.parse().unwrap())
            })
            .collect(),
        missing: v
            .get("missing")
            .map(|list| {
                list.split(' ')
                    .map(|f| {
                        let (s, n) = f.split_once(':').unwrap();
                        (unhex(s).try_into().unwrap(), n.parse().unwrap())
                    })
                    .collect()
            })
            .unwrap_or_default(),
        wants: v.get("wants").map(|list| {
            list.split(' ')
                .map(|s| unhex(s).try_into().unwrap())
                .collect()
        }),
        hops: v.get("hops").map(|h| h.parse().unwrap()),
        frontier_only: v.get("carries") == Some("nothing"),
        version: v
            .get("version")
            .map_or(bundle::FORMAT_VERSION, |n| n.parse().unwrap()),
    };
    let mut sink = Collect::default();
    let mut report = bundle::read_bundle(Cursor::new(&v.body), &mut sink).unwrap();
    bundle::check_manifest_claims(&mut report, &sink.carried);
    let ids: Vec<String> = sink.ids.iter().map(ToString::to_string).collect();
    let expected_ids: Vec<&str> = v.get("message-ids").unwrap().split_whitespace().collect();
    assert_eq!(ids, expected_ids, "{}: salvaged messages", v.name);
    match expect {
        "success" => {
            assert!(report.is_verified(), "{}: {:?}", v.name, report.problems);
            if v.get("writer") == Some("none") {
                return;
            }
            let mut written = build::build_bundle(&spec);
            if v.get("trailer-member") == Some("blake3") {
                written = build::with_blake3_trailer_members(&written);
            }
            if v.get("trailer-checksum") == Some("absent") {
                written = build::without_trailer_checksum(&written);
            }
            // The contract (bundle-format/README.md, Conformance): the same manifest and entries.
            assert_eq!(
                entries(&written),
                entries(&v.body),
                "{}: entries differ",
                v.name
            );
            // Our own guard: with this zstd, the same bytes too.
            assert_eq!(written, v.body, "{}: writer output differs", v.name);
            let manifest = report.manifest.unwrap();
            assert_eq!(manifest.bundle_id, spec.bundle_id);
            assert_eq!(
                manifest.exporter,
                Identity::from_seed(&spec.exporter).feed_id()
            );
            let feed = |seed: &[u8; 32]| Identity::from_seed(seed).feed_id();
            let wants = spec.wants.as_ref().map(|seeds| {
                let mut feeds: Vec<_> = seeds.iter().map(feed).collect();
                feeds.sort();
                feeds
            });
            // What the frontier says, read against every feed the vector names.
            let known: Vec<_> = spec
                .feeds
                .iter()
                .map(|(s, _)| feed(s))
                .chain(wants.iter().flatten().copied())
                .collect();
            let claims = manifest.claims(&known);
            assert_eq!(claims.wants, wants, "{}: wants", v.name);
            let mut holds = claims.holds;
            holds.sort();
            let mut held: Vec<_> = spec
                .feeds
                .iter()
                .map(|(s, n)| {
                    let gap = spec
                        .missing
                        .iter()
                        .filter(|(m, _)| m == s)
                        .map(|(_, q)| q - 1);
                    (feed(s), gap.min().unwrap_or(*n))
                })
                .filter(|(f, n)| *n > 0 && wants.as_ref().is_none_or(|w| w.contains(f)))
                .collect();
            held.sort();
            assert_eq!(holds, held, "{}: frontier", v.name);
            assert_eq!(manifest.hops, spec.hops, "{}: hops", v.name);
            if spec.frontier_only {
                assert!(manifest.feeds.is_empty(), "{}: carries nothing", v.name);
            }
        }
        "container failure" => {
            assert!(
                !report.is_verified() && !report.is_incomplete() && !report.problems.is_empty(),
                "{}: {:?}",
                v.name,
                report.problems
            );
        }
        "incomplete" => assert!(report.is_incomplete(), "{}: {:?}", v.name, report.problems),
        other => panic!("{}: unknown outcome '{other}'", v.name),
    }
}

fn check_box(v: &Vector, expect: &str) {
    use grapevine::private_box::{BoxError, Randomness, seal};
    let author = Identity::from_seed(&seed(v, "author-seed")).feed_id();
    let reader = Identity::from_seed(&seed(v, "reader-seed"));
    let opened = grapevine::private_box::Opener::of(&reader).open(&author, &v.body);
    let plaintext = v.get("plaintext").unwrap().as_bytes();
    match expect {
        "success" => {
            assert_eq!(
                opened.unwrap().as_deref().map(Vec::as_slice),
                Some(plaintext),
                "{}",
                v.name
            );
            // The plaintext is read by the rules of JSON content (private-box.md).
            let readable =
                grapevine::message::check_content(grapevine::message::ContentKind::Json, plaintext)
                    .is_ok();
            assert_eq!(readable, v.get("content") != Some("none"), "{}", v.name);
            // Our sealer, given the same randomness, writes the same bytes.
            let recipients: Vec<FeedId> = v
                .get("recipient-seeds")
                .unwrap()
                .split(' ')
                .map(|s| Identity::from_seed(&unhex(s).try_into().unwrap()).feed_id())
                .collect();
            let random = Randomness {
                ephemeral: zeroize::Zeroizing::new(
                    unhex(v.get("ephemeral").unwrap()).try_into().unwrap(),
                ),
                body_key: zeroize::Zeroizing::new(
                    unhex(v.get("body-key").unwrap()).try_into().unwrap(),
                ),
                filler: (0..16 * 48).map(|i| (i * 7 % 251) as u8).collect(),
            };
            assert_eq!(
                seal(&author, &recipients, plaintext, &random).unwrap(),
                v.body,
                "{}",
                v.name
            );
        }
        "not addressed" => assert_eq!(opened, Ok(None), "{}", v.name),
        "box failure" => assert_eq!(opened, Err(BoxError::BodyAuthentication), "{}", v.name),
        other => panic!("{}: unknown outcome '{other}'", v.name),
    }
}

fn check_sealed(v: &Vector, expect: &str) {
    use grapevine::sealed::{UnsealError, Unsealed, unseal};
    let reader = Identity::from_seed(&seed(v, "reader-seed"));
    let mut plain = Vec::new();
    let result = unseal(
        &v.body[..],
        &grapevine::private_box::Opener::of(&reader),
        &mut plain,
    );
    let described = v.get("payload").unwrap();
    let payload = match described.split_once(" bytes, byte i = i mod 251") {
        Some((n, _)) => build::boundary_payload(n.parse().unwrap()),
        None => build::build_bundle(&build::sample_bundle_spec()),
    };
    match expect {
        "success" => {
            use std::io::Write as _;
            assert!(matches!(result, Ok(Unsealed::Opened)), "{}", v.name);
            assert_eq!(plain, payload, "{}: payload", v.name);
            // Our sealer, given the same randomness, writes the same bytes.
            let random = grapevine::private_box::Randomness {
                ephemeral: zeroize::Zeroizing::new(seed(v, "ephemeral")),
                body_key: zeroize::Zeroizing::new(seed(v, "file-key")),
                filler: (0..16 * 48).map(|i| (i * 13 % 251) as u8).collect(),
            };
            let to = [Identity::from_seed(&seed(v, "recipient-seeds")).feed_id()];
            let mut writer =
                grapevine::sealed::SealWriter::with_randomness(Vec::new(), &to, &random).unwrap();
            writer.write_all(&payload).unwrap();
            assert_eq!(writer.finish().unwrap(), v.body, "{}: our sealer", v.name);
        }
        "not addressed" => assert!(matches!(result, Ok(Unsealed::NotForUs)), "{}", v.name),
        "incomplete" => assert!(matches!(result, Err(UnsealError::Damaged(_))), "{}", v.name),
        other => panic!("{}: unknown outcome '{other}'", v.name),
    }
}
