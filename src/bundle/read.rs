//! Streaming, damage-tolerant bundle reader.
//!
//! The reader walks the file one zstd frame at a time. A frame that fails to decode (bad
//! checksum, bad block, too large) is reported and skipped: the reader seeks to the next zstd
//! magic number after the frame's start and carries on, so one bad byte costs only the entry it
//! lands in. Entries are handed to a [`BundleSink`] as they are decoded; nothing is buffered
//! beyond one frame of at most [`super::MAX_ENTRY`] bytes.

use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

use thiserror::Error;

use super::{
    MANIFEST_NAME, MAX_ENTRIES, MAX_ENTRY, Manifest, SEGMENT_PREFIX, TRAILER_NAME, Trailer,
    TrailerEntry, WINDOW_LOG_MAX, ZSTD_MAGIC, signing_input,
};

/// Receives a bundle's entries as they are read.
pub trait BundleSink {
    type Error: From<io::Error>;
    /// The manifest, when it is the first entry and well-formed (not yet signature-checked).
    fn manifest(&mut self, manifest: &Manifest) -> Result<(), Self::Error>;
    /// One segment's data, in archive order.
    fn segment(&mut self, name: &str, data: &[u8]) -> Result<(), Self::Error>;
}

/// Something wrong with a bundle's container (not with the messages inside it).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleProblem {
    #[error("bytes {offset}..{end} are not part of any zstd frame and were skipped")]
    Garbage { offset: u64, end: u64 },
    #[error("the zstd frame at byte {offset} is damaged ({reason}); the entry in it is lost")]
    FrameDamaged { offset: u64, reason: String },
    #[error(
        "the zstd frame at byte {offset} decompresses to more than {MAX_ENTRY} bytes \
         (a decompression bomb?) and was skipped"
    )]
    FrameTooLarge { offset: u64 },
    #[error(
        "the file ends inside the zstd frame at byte {offset}: it is incomplete \
         (still being copied, or the stick was pulled out too early)"
    )]
    Truncated { offset: u64 },
    #[error("the data at byte {offset} is not a valid tar entry: {reason}")]
    BadTar { offset: u64, reason: String },
    #[error("entry '{name}' is refused: {reason}")]
    ForbiddenEntry { name: String, reason: String },
    #[error("the manifest is invalid: {0}")]
    BadManifest(String),
    #[error("there is no readable manifest as the first entry")]
    NoManifest,
    #[error("there is no signature trailer: the bundle is incomplete")]
    NoTrailer,
    #[error("the signature trailer is invalid: {0}")]
    BadTrailer(String),
    #[error("entry '{name}' differs from what the exporter signed")]
    EntryAltered { name: String },
    #[error("entry '{name}', which the exporter signed, is missing")]
    EntryMissing { name: String },
    #[error("entry '{name}' was not signed by the exporter")]
    EntryUnsigned { name: String },
    #[error("the exporter's signature does not verify: the bundle was altered after export")]
    BadSignature,
    #[error("entries after the signature trailer were ignored")]
    DataAfterTrailer,
    #[error("the bundle has more than {MAX_ENTRIES} entries; the rest were ignored")]
    TooManyEntries,
    #[error(
        "the manifest says the bundle carries {claimed}, but its segments carry {carried}: \
         the exporter's software is faulty or the manifest lies (what verifies was still taken)"
    )]
    ManifestMismatch { claimed: String, carried: String },
}

impl BundleProblem {
    /// Whether this problem means the file is not complete yet (or never will be).
    pub fn is_incompleteness(&self) -> bool {
        matches!(self, Self::Truncated { .. } | Self::NoTrailer)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureStatus {
    /// The exporter signed exactly the entries we read.
    Valid,
    /// The signature does not cover what we read.
    Invalid,
    /// No manifest or no trailer, so there was nothing to check.
    NotChecked,
}

#[derive(Debug)]
pub struct BundleReport {
    pub manifest: Option<Manifest>,
    pub signature: SignatureStatus,
    pub problems: Vec<BundleProblem>,
    /// Problems beyond the first hundred are counted, not kept.
    pub problems_dropped: usize,
    pub segments: usize,
}

impl BundleReport {
    /// A bundle whose reading was stopped on purpose: nothing checked, nothing wrong.
    pub fn stopped() -> Self {
        Self {
            manifest: None,
            signature: SignatureStatus::NotChecked,
            problems: Vec::new(),
            problems_dropped: 0,
            segments: 0,
        }
    }

    /// Signed by its exporter and read without any problem.
    pub fn is_verified(&self) -> bool {
        self.signature == SignatureStatus::Valid && self.problems.is_empty()
    }

    /// Cut short: the file may still be being written, or was cut for good.
    pub fn is_incomplete(&self) -> bool {
        self.problems.iter().any(BundleProblem::is_incompleteness)
    }
}

const MAX_PROBLEMS: usize = 100;

/// Reads only the manifest (the first frame), without checking the signature: enough to learn
/// what another participant of a shared folder says it holds.
pub fn read_manifest<R: Read + Seek>(input: R) -> io::Result<Option<Manifest>> {
    let mut frames = FrameReader {
        input: BufReader::with_capacity(1 << 16, input),
    };
    let Some(Frame::Data { bytes, .. }) = frames.next_frame()? else {
        return Ok(None);
    };
    let mut archive = tar::Archive::new(&bytes[..]);
    let Some(Ok(mut entry)) = archive.entries()?.next() else {
        return Ok(None);
    };
    if entry.path_bytes().as_ref() != MANIFEST_NAME.as_bytes() {
        return Ok(None);
    }
    let mut data = Vec::new();
    entry.read_to_end(&mut data)?;
    Ok(Manifest::parse(&data).ok())
}

/// Reads a bundle, handing entries to `sink` as they come. Returns what was wrong with the
/// container; errors from reading the file or from the sink abort the read.
pub fn read_bundle<R: Read + Seek, S: BundleSink>(
    input: R,
    sink: &mut S,
) -> Result<BundleReport, S::Error> {
    let mut frames = FrameReader {
        input: BufReader::with_capacity(1 << 16, input),
    };
    let mut state = State::default();
    while let Some(frame) = frames.next_frame()? {
        match frame {
            Frame::Data { offset, bytes } => state.on_frame(offset, &bytes, sink)?,
            Frame::Problem(problem) => state.problem(problem),
        }
    }
    Ok(state.finish())
}

enum Frame {
    Data { offset: u64, bytes: Vec<u8> },
    Problem(BundleProblem),
}

struct FrameReader<R> {
    input: BufReader<R>,
}

impl<R: Read + Seek> FrameReader<R> {
    fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        let offset = self.input.stream_position()?;
        let found = self.scan_to_magic()?;
        let at = self.input.stream_position()?;
        if at > offset {
            return Ok(Some(Frame::Problem(BundleProblem::Garbage {
                offset,
                end: at,
            })));
        }
        if !found {
            return Ok(None);
        }
        // A frame holds one tar entry: its data, a 512-byte header and padding.
        let limit = (MAX_ENTRY + 1024) as u64;
        let mut bytes = Vec::new();
        let decoded = (|| {
            let mut decoder =
                zstd::stream::read::Decoder::with_buffer(&mut self.input)?.single_frame();
            decoder.window_log_max(WINDOW_LOG_MAX)?;
            decoder.take(limit + 1).read_to_end(&mut bytes)
        })();
        let problem = match decoded {
            Ok(_) if bytes.len() as u64 <= limit => {
                return Ok(Some(Frame::Data { offset, bytes }));
            }
            Ok(_) => BundleProblem::FrameTooLarge { offset },
            Err(_) if self.input.fill_buf()?.is_empty() => {
                return Ok(Some(Frame::Problem(BundleProblem::Truncated { offset })));
            }
            Err(e) => BundleProblem::FrameDamaged {
                offset,
                reason: e.to_string(),
            },
        };
        // Resynchronise: look for the next frame from just after this one's start.
        self.input.seek(SeekFrom::Start(offset + 1))?;
        Ok(Some(Frame::Problem(problem)))
    }

    /// Advances to the next zstd magic number (left unread) or to the end of the file.
    fn scan_to_magic(&mut self) -> io::Result<bool> {
        let mut matched = 0;
        loop {
            let buffer = self.input.fill_buf()?;
            if buffer.is_empty() {
                // Up to three bytes of a partial magic at the very end are garbage too.
                return Ok(false);
            }
            let mut end = None;
            for (i, &byte) in buffer.iter().enumerate() {
                if byte == ZSTD_MAGIC[matched] {
                    matched += 1;
                } else {
                    matched = usize::from(byte == ZSTD_MAGIC[0]);
                }
                if matched == ZSTD_MAGIC.len() {
                    end = Some(i + 1);
                    break;
                }
            }
            match end {
                Some(n) => {
                    self.input.consume(n);
                    self.input.seek_relative(-(ZSTD_MAGIC.len() as i64))?;
                    return Ok(true);
                }
                None => {
                    let n = buffer.len();
                    self.input.consume(n);
                }
            }
        }
    }
}

#[derive(Default)]
struct State {
    manifest: Option<Manifest>,
    trailer: Option<Trailer>,
    seen: Vec<TrailerEntry>,
    entries: usize,
    segments: usize,
    problems: Vec<BundleProblem>,
    problems_dropped: usize,
    ignoring: bool,
}

impl State {
    fn problem(&mut self, problem: BundleProblem) {
        if self.problems.len() < MAX_PROBLEMS {
            if !self.problems.contains(&problem) {
                self.problems.push(problem);
            }
        } else {
            self.problems_dropped += 1;
        }
    }

    fn on_frame<S: BundleSink>(
        &mut self,
        offset: u64,
        bytes: &[u8],
        sink: &mut S,
    ) -> Result<(), S::Error> {
        let mut archive = tar::Archive::new(bytes);
        let entries = match archive.entries() {
            Ok(entries) => entries,
            Err(e) => {
                self.problem(BundleProblem::BadTar {
                    offset,
                    reason: e.to_string(),
                });
                return Ok(());
            }
        };
        for entry in entries {
            let mut entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    self.problem(BundleProblem::BadTar {
                        offset,
                        reason: e.to_string(),
                    });
                    return Ok(());
                }
            };
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            if let Err(reason) = check_entry(&name, entry.header().entry_type()) {
                self.problem(BundleProblem::ForbiddenEntry { name, reason });
                continue;
            }
            let mut data = Vec::new();
            if let Err(e) = entry.read_to_end(&mut data) {
                self.problem(BundleProblem::BadTar {
                    offset,
                    reason: format!("entry '{name}': {e}"),
                });
                return Ok(());
            }
            self.on_entry(name, &data, sink)?;
        }
        Ok(())
    }

    fn on_entry<S: BundleSink>(
        &mut self,
        name: String,
        data: &[u8],
        sink: &mut S,
    ) -> Result<(), S::Error> {
        if self.ignoring {
            return Ok(());
        }
        self.entries += 1;
        if self.entries > MAX_ENTRIES {
            self.problem(BundleProblem::TooManyEntries);
            self.ignoring = true;
            return Ok(());
        }
        if self.trailer.is_some() {
            self.problem(BundleProblem::DataAfterTrailer);
            return Ok(());
        }
        if name == TRAILER_NAME {
            match Trailer::parse(data) {
                Ok(trailer) => self.trailer = Some(trailer),
                Err(e) => self.problem(BundleProblem::BadTrailer(e)),
            }
            return Ok(());
        }
        let first = self.seen.is_empty();
        self.seen.push(TrailerEntry {
            name: name.clone(),
            size: data.len() as u64,
            digest: *blake3::hash(data).as_bytes(),
        });
        if name == MANIFEST_NAME {
            if !first {
                self.problem(BundleProblem::BadManifest(
                    "it is not the first entry".into(),
                ));
                return Ok(());
            }
            match Manifest::parse(data) {
                Ok(manifest) => {
                    sink.manifest(&manifest)?;
                    self.manifest = Some(manifest);
                }
                Err(reason) => self.problem(BundleProblem::BadManifest(reason)),
            }
        } else if name.starts_with(SEGMENT_PREFIX) {
            self.segments += 1;
            sink.segment(&name, data)?;
        }
        // Other names are reserved for later versions: signed and carried, not interpreted.
        Ok(())
    }

    fn finish(mut self) -> BundleReport {
        if self.manifest.is_none()
            && !self
                .problems
                .iter()
                .any(|p| matches!(p, BundleProblem::BadManifest(_)))
        {
            self.problem(BundleProblem::NoManifest);
        }
        if self.trailer.is_none()
            && !self.problems.iter().any(|p| {
                matches!(
                    p,
                    BundleProblem::Truncated { .. } | BundleProblem::BadTrailer(_)
                )
            })
        {
            self.problem(BundleProblem::NoTrailer);
        }
        let signature = match (&self.manifest, self.trailer.take()) {
            (Some(manifest), Some(trailer)) => {
                let status = check_signature(manifest, &trailer, &self.seen);
                if status == SignatureStatus::Invalid {
                    for problem in explain_mismatch(&trailer, &self.seen) {
                        self.problem(problem);
                    }
                    self.problem(BundleProblem::BadSignature);
                }
                status
            }
            _ => SignatureStatus::NotChecked,
        };
        BundleReport {
            manifest: self.manifest,
            signature,
            problems: self.problems,
            problems_dropped: self.problems_dropped,
            segments: self.segments,
        }
    }
}

/// Entry names are relative ASCII paths of plain files: no absolute paths, no `..`, no links,
/// no devices, so a bundle can never name anything outside itself.
fn check_entry(name: &str, kind: tar::EntryType) -> Result<(), String> {
    if !(kind.is_file()) {
        return Err(format!(
            "it is a {kind:?} entry; only regular files are allowed"
        ));
    }
    if name.is_empty() || name.len() > 255 {
        return Err("its name is empty or longer than 255 bytes".into());
    }
    if name.starts_with('/') {
        return Err("it is an absolute path".into());
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
    {
        return Err(
            "its name has characters other than ASCII letters, digits, '.', '_', '-', '/'".into(),
        );
    }
    if name
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err("its path has an empty, '.' or '..' component".into());
    }
    Ok(())
}

fn check_signature(
    manifest: &Manifest,
    trailer: &Trailer,
    seen: &[TrailerEntry],
) -> SignatureStatus {
    let signature = data_encoding::HEXLOWER_PERMISSIVE
        .decode(trailer.signature.as_bytes())
        .ok()
        .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok());
    match signature {
        Some(signature)
            if crate::signature::verify(
                manifest.exporter.as_bytes(),
                &signing_input(seen),
                &signature,
            )
            .is_ok() =>
        {
            SignatureStatus::Valid
        }
        _ => SignatureStatus::Invalid,
    }
}

fn explain_mismatch(trailer: &Trailer, seen: &[TrailerEntry]) -> Vec<BundleProblem> {
    let mut problems = Vec::new();
    for signed in &trailer.entries {
        match seen.iter().find(|s| s.name == signed.name) {
            None => problems.push(BundleProblem::EntryMissing {
                name: signed.name.clone(),
            }),
            Some(s) if s != signed => problems.push(BundleProblem::EntryAltered {
                name: signed.name.clone(),
            }),
            Some(_) => {}
        }
    }
    for s in seen {
        if !trailer.entries.iter().any(|signed| signed.name == s.name) {
            problems.push(BundleProblem::EntryUnsigned {
                name: s.name.clone(),
            });
        }
    }
    problems
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
