//! Bundles: the files that carry feeds on sticks and through shared folders
//! (bundle-format/bundle.md).
//!
//! A bundle is a ustar archive in which every entry (header, data and padding) is compressed as
//! its own zstd frame with a checksum. Concatenated frames are one valid zstd stream, so
//! `tar --zstd -tf` lists a bundle, while our reader decodes frame by frame: a bad byte costs
//! only the entry it lands in, and memory stays bounded whatever the bundle's size.

mod claims;
mod frames;
mod frontier;
mod manifest;
mod read;
pub mod rewind;
mod write;

pub use claims::{CarriedRuns, check_manifest_claims};
pub use frontier::{Claims, Frontier, FrontierEntry, MAX_WANTS, Tagged};
pub use manifest::{FeedRange, Manifest, Trailer, TrailerEntry};
pub use read::{
    BundleProblem, BundleReport, BundleSink, SignatureStatus, read_bundle, read_manifest,
};
pub use write::{BundleWriter, write_messages};

/// Name of the first entry.
pub const MANIFEST_NAME: &str = "manifest.json";
/// Name of the last entry.
pub const TRAILER_NAME: &str = "signature.json";
/// Prefix of the entries that hold messages.
pub const SEGMENT_PREFIX: &str = "segments/";
/// File name ending of bundles.
pub const EXTENSION: &str = "gvb";
/// Format identifier in the manifest.
pub const FORMAT: &str = "grapevine-bundle";
/// The manifest version writers write; readers also read version 1 (bundle.md "Frontier").
pub const FORMAT_VERSION: u32 = 2;

/// Largest entry data a reader accepts (manifest, segment or trailer).
pub const MAX_ENTRY: usize = 4 << 20;
/// Segments are cut before they exceed this many bytes of records.
pub const SEGMENT_TARGET: usize = 1 << 20;
/// Most entries a reader accepts in one bundle.
pub const MAX_ENTRIES: usize = 65_536;
/// Readers refuse zstd windows above 2^23 bytes; writers use level 3 (2^21 or less).
pub const WINDOW_LOG_MAX: u32 = 23;
pub const ZSTD_LEVEL: i32 = 3;
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// Name of the `index`th segment (from 1).
pub fn segment_name(index: usize) -> String {
    format!("{SEGMENT_PREFIX}{index:06}.msgs")
}

/// Whether a file looks like a bundle: its first four bytes are the zstd magic.
pub fn has_bundle_magic(first_bytes: &[u8]) -> bool {
    first_bytes.starts_with(&ZSTD_MAGIC)
}

/// The bytes the exporter signs: every entry before the trailer, in archive order.
pub fn signing_input(entries: &[TrailerEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(20 + entries.len() * 64);
    out.extend_from_slice(b"grapevine-bundle");
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    for entry in entries {
        out.extend_from_slice(&(entry.name.len() as u16).to_be_bytes());
        out.extend_from_slice(entry.name.as_bytes());
        out.extend_from_slice(&entry.size.to_be_bytes());
        out.extend_from_slice(&entry.digest);
    }
    out
}

/// A sink that keeps nothing: for checking a bundle (completeness, signature) without storing.
pub struct Discard;

impl BundleSink for Discard {
    type Error = std::io::Error;
    fn manifest(&mut self, _: &Manifest) -> std::io::Result<()> {
        Ok(())
    }
    fn segment(&mut self, _: &str, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
}
