#![cfg(test)]
use std::io::Cursor;

use super::*;
use crate::identity::Identity;

/// One zstd frame holding one tar entry, as bundles hold them.
fn entry_frame(name: &str, data: &[u8]) -> Vec<u8> {
    let mut header = tar::Header::new_ustar();
    header.set_path(name).expect("path");
    header.set_size(data.len() as u64);
    header.set_cksum();
    let mut block = header.as_bytes().to_vec();
    block.extend_from_slice(data);
    block.resize(block.len().div_ceil(512) * 512, 0);
    zstd::encode_all(&block[..], 3).expect("compress")
}

struct Nothing;

impl BundleSink for Nothing {
    type Error = io::Error;
    fn manifest(&mut self, _: &Manifest) -> io::Result<()> {
        Ok(())
    }
    fn segment(&mut self, _: &str, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

fn truncated(found: &[BundleProblem]) -> bool {
    found
        .iter()
        .any(|p| matches!(p, BundleProblem::Truncated { .. }))
}

fn problems(file: &[u8]) -> Vec<BundleProblem> {
    read_bundle(Cursor::new(file), &mut Nothing)
        .expect("read")
        .problems
}

/// An entry of the largest size reads as one frame; one byte more is a frame too large.
#[test]
fn frames_up_to_the_largest_entry_are_read() {
    let alice = Identity::from_seed(&[1; 32]);
    let manifest = Manifest::describing(alice.feed_id(), &"00".repeat(16), 0, &[]);
    let mut w = crate::bundle::BundleWriter::new(Vec::new(), &alice, &manifest).expect("w");
    w.write_entry("extra", &vec![7; MAX_ENTRY])
        .expect("the largest entry");
    let (file, _) = w.finish().expect("finish");
    assert_eq!(problems(&file), [], "an entry at the limit is no problem");
    let mut over = file.clone();
    let big = entry_frame("extra", &vec![7; MAX_ENTRY + 1025]);
    over.splice(0..0, big);
    assert!(
        matches!(
            problems(&over)[..],
            [BundleProblem::FrameTooLarge { offset: 0 }, ..]
        ),
        "{:?}",
        problems(&over)
    );
}

/// A file cut inside a frame is incomplete (it may still be being copied), not damaged.
#[test]
fn a_frame_cut_short_is_truncated_not_damaged() {
    let alice = Identity::from_seed(&[1; 32]);
    let manifest = Manifest::describing(alice.feed_id(), &"00".repeat(16), 0, &[]);
    let mut w = crate::bundle::BundleWriter::new(Vec::new(), &alice, &manifest).expect("w");
    let noise: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
        .collect();
    w.write_entry("extra", &noise).expect("entry");
    let (file, _) = w.finish().expect("finish");
    let cut = &file[..file.len() / 2];
    let found = problems(cut);
    assert!(truncated(&found), "{found:?}");
    assert!(
        !found
            .iter()
            .any(|p| matches!(p, BundleProblem::FrameDamaged { .. })),
        "{found:?}"
    );
}

/// At most MAX_PROBLEMS are listed; the rest are counted.
#[test]
fn problems_beyond_the_limit_are_counted_not_listed() {
    let alice = Identity::from_seed(&[1; 32]);
    let (mut file, _) = crate::bundle::write_messages(Vec::new(), &alice, &"00".repeat(16), 0, &[])
        .expect("a bundle");
    // Each run of junk before a frame is one more problem, at its own offset.
    for i in 0..MAX_PROBLEMS + 5 {
        file.extend_from_slice(b"junk");
        file.extend_from_slice(&entry_frame(&format!("extra-{i}"), b""));
    }
    let report = read_bundle(Cursor::new(&file), &mut Nothing).expect("read");
    assert_eq!(report.problems.len(), MAX_PROBLEMS);
    assert!(
        report.problems_dropped >= 5,
        "{} dropped",
        report.problems_dropped
    );
}

/// A bundle of exactly MAX_ENTRIES entries is read whole; one entry more is too many.
#[test]
fn entries_up_to_the_limit_are_read() {
    let alice = Identity::from_seed(&[1; 32]);
    let manifest = Manifest::describing(alice.feed_id(), &"00".repeat(16), 0, &[]);
    let json = serde_json::to_vec(&manifest).expect("json");
    let empty = entry_frame("x", b"");
    let build = |entries: usize| {
        let mut file = entry_frame(MANIFEST_NAME, &json);
        for _ in 1..entries {
            file.extend_from_slice(&empty);
        }
        file
    };
    let many = |p: &[BundleProblem]| p.contains(&BundleProblem::TooManyEntries);
    assert!(!many(&problems(&build(MAX_ENTRIES))));
    assert!(many(&problems(&build(MAX_ENTRIES + 1))));
}

#[test]
fn entry_names_have_limits_at_their_edges() {
    let regular = tar::EntryType::Regular;
    assert!(check_entry(&"a".repeat(255), regular).is_ok());
    assert!(check_entry(&"a".repeat(256), regular).is_err());
    assert!(check_entry("", regular).is_err());
    assert!(check_entry("x", tar::EntryType::Symlink).is_err());
    assert!(check_entry("seg/ment-1", regular).is_ok());
    for bad in ["a//b", "a/", "./a", "a/./b", "../a", "a/.."] {
        assert!(check_entry(bad, regular).is_err(), "{bad}");
    }
}

/// What differs between the signed list and what was read: each entry altered, missing
/// or unsigned, named in that order.
#[test]
fn a_mismatch_names_every_entry_that_differs() {
    let entry = |name: &str, digest: u8| TrailerEntry {
        name: name.into(),
        size: 1,
        digest: [digest; 32],
    };
    let trailer = Trailer {
        entries: vec![entry("a", 1), entry("b", 2), entry("c", 3)],
        signature: String::new(),
    };
    let seen = [entry("a", 1), entry("b", 9), entry("d", 4)];
    assert_eq!(
        explain_mismatch(&trailer, &seen),
        [
            BundleProblem::EntryAltered { name: "b".into() },
            BundleProblem::EntryMissing { name: "c".into() },
            BundleProblem::EntryUnsigned { name: "d".into() },
        ]
    );
    assert_eq!(explain_mismatch(&trailer, &trailer.entries), []);
}

/// Segments are counted; a bundle without its trailer says so, and one cut short says only
/// that it was cut.
#[test]
fn segments_are_counted_and_a_missing_trailer_is_named_once() {
    let alice = Identity::from_seed(&[1; 32]);
    let manifest = Manifest::describing(alice.feed_id(), &"00".repeat(16), 0, &[]);
    let mut w = crate::bundle::BundleWriter::new(Vec::new(), &alice, &manifest).expect("w");
    for i in 1..=3 {
        w.write_entry(&crate::bundle::segment_name(i), b"")
            .expect("segment");
    }
    let (file, _) = w.finish().expect("finish");
    let report = read_bundle(Cursor::new(&file), &mut Nothing).expect("read");
    assert_eq!(report.segments, 3);
    assert_eq!(report.problems, []);
    let json = serde_json::to_vec(&manifest).expect("json");
    let no_trailer = entry_frame(MANIFEST_NAME, &json);
    assert_eq!(problems(&no_trailer), [BundleProblem::NoTrailer]);
    // Cut inside the trailer's frame.
    let cut = &file[..file.len() - 60];
    let found = problems(cut);
    assert!(truncated(&found), "{found:?}");
    assert!(!found.contains(&BundleProblem::NoTrailer), "{found:?}");
}

#[test]
fn the_manifest_is_read_from_the_first_entry_only() {
    let alice = Identity::from_seed(&[1; 32]);
    let (file, _) = crate::bundle::write_messages(Vec::new(), &alice, &"ab".repeat(16), 7, &[])
        .expect("a bundle");
    let manifest = read_manifest(Cursor::new(&file))
        .expect("read")
        .expect("a manifest");
    assert_eq!(
        (
            manifest.exporter,
            manifest.bundle_id.as_str(),
            manifest.created_at
        ),
        (alice.feed_id(), "ab".repeat(16).as_str(), 7)
    );
    // The same manifest bytes under another name, first: no manifest.
    let json = serde_json::to_vec(&manifest).expect("json");
    let other = entry_frame("notes.txt", &json);
    assert!(read_manifest(Cursor::new(&other)).expect("read").is_none());
    assert!(
        read_manifest(Cursor::new(entry_frame(MANIFEST_NAME, &json)))
            .expect("read")
            .is_some()
    );
    // Garbage before the first frame: not taken as a manifest either.
    let mut noisy = b"junk".to_vec();
    noisy.extend_from_slice(&file);
    assert!(read_manifest(Cursor::new(&noisy)).expect("read").is_none());
}
