//! Streaming bundle writer: entries go out one zstd frame each, in a single pass.

use std::io::{self, Write};

use super::frames::Frames;
use super::{MANIFEST_NAME, Manifest, TRAILER_NAME, Trailer, TrailerEntry, signing_input};

/// Writes `messages` (in feed order, each feed contiguous) as a complete bundle signed by
/// `exporter`, with a manifest describing them. For tools, tests and benches.
pub fn write_messages<W: Write>(
    out: W,
    exporter: &Identity,
    bundle_id: &str,
    created_at: i64,
    messages: &[crate::message::Message],
) -> io::Result<(W, u64)> {
    let manifest = Manifest::describing(exporter.feed_id(), bundle_id, created_at, messages);
    let mut writer = BundleWriter::new(out, exporter, &manifest)?;
    for m in messages {
        writer.push_message(m)?;
    }
    writer.finish()
}
use crate::identity::Identity;

pub struct BundleWriter<'a, W: Write> {
    frames: Frames<W>,
    identity: &'a Identity,
    entries: Vec<TrailerEntry>,
    mtime: u64,
    /// The segment being filled by `push_message`, its feed, and how many segments were written.
    segment: Vec<u8>,
    segment_feed: Option<crate::ids::FeedId>,
    segment_last: u64,
    segments: usize,
}

impl<'a, W: Write> BundleWriter<'a, W> {
    /// Starts a bundle by writing its manifest.
    pub fn new(out: W, identity: &'a Identity, manifest: &Manifest) -> io::Result<Self> {
        let mut writer = Self {
            frames: Frames::new(out)?,
            identity,
            entries: Vec::new(),
            mtime: u64::try_from(manifest.created_at / 1000).unwrap_or(0),
            segment: Vec::new(),
            segment_feed: None,
            segment_last: 0,
            segments: 0,
        };
        let json = serde_json::to_vec(manifest).map_err(io::Error::other)?;
        writer.write_entry(MANIFEST_NAME, &json)?;
        Ok(writer)
    }

    /// Adds a message to the current segment; a segment holds one feed and is cut before it
    /// would exceed [`super::SEGMENT_TARGET`] bytes.
    pub fn push_message(&mut self, message: &crate::message::Message) -> io::Result<()> {
        self.push_record(
            message.header.author,
            message.header.sequence,
            &message.envelope,
            &message.content,
        )
    }

    /// [`Self::push_message`] for a message held as its envelope and content bytes (a store
    /// that checked them when it took the message in).
    pub fn push_record(
        &mut self,
        author: crate::ids::FeedId,
        sequence: u64,
        envelope: &[u8],
        content: &[u8],
    ) -> io::Result<()> {
        let full = self.segment.len() + envelope.len() + content.len() > super::SEGMENT_TARGET;
        // A segment holds one feed's contiguous run: a gap (pending messages) starts a new one.
        let next =
            self.segment_feed == Some(author) && self.segment_last.checked_add(1) == Some(sequence);
        if !self.segment.is_empty() && (full || !next) {
            self.flush_segment()?;
        }
        self.segment_feed = Some(author);
        self.segment_last = sequence;
        self.segment.extend_from_slice(envelope);
        self.segment.extend_from_slice(content);
        Ok(())
    }

    fn flush_segment(&mut self) -> io::Result<()> {
        if self.segment.is_empty() {
            return Ok(());
        }
        self.segments += 1;
        let data = std::mem::take(&mut self.segment);
        self.write_entry(&super::segment_name(self.segments), &data)?;
        self.segment = data;
        self.segment.clear();
        Ok(())
    }

    /// Appends one entry as its own zstd frame.
    pub fn write_entry(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        if data.len() > super::MAX_ENTRY {
            return Err(io::Error::other(format!(
                "entry {name} of {} bytes exceeds the {}-byte limit",
                data.len(),
                super::MAX_ENTRY
            )));
        }
        let mut header = tar::Header::new_ustar();
        header.set_path(name)?;
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(self.mtime);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        let padding = (512 - data.len() % 512) % 512;
        let mut block = Vec::with_capacity(512 + data.len() + padding);
        block.extend_from_slice(header.as_bytes());
        block.extend_from_slice(data);
        block.resize(block.len() + padding, 0);
        if name != TRAILER_NAME {
            self.entries.push(TrailerEntry {
                name: name.to_owned(),
                size: data.len() as u64,
                digest: *blake3::hash(data).as_bytes(),
            });
        }
        self.frames.push(block)
    }

    /// Signs every entry written so far, writes the trailer and the end-of-archive blocks.
    /// Returns the output and the bundle's size in bytes.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        self.flush_segment()?;
        let signature = self.identity.sign(&signing_input(&self.entries));
        let trailer = Trailer {
            entries: std::mem::take(&mut self.entries),
            signature: data_encoding::HEXLOWER.encode(&signature),
        };
        let json = serde_json::to_vec(&trailer).map_err(io::Error::other)?;
        self.write_entry(TRAILER_NAME, &json)?;
        self.frames.push(vec![0u8; 1024])?;
        self.frames.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{ContentKind, ENVELOPE_LEN, MAX_CONTENT, Message};

    fn message(identity: &Identity, sequence: u64, size: usize) -> Message {
        let previous = (sequence > 1).then_some(crate::ids::MessageId([9; 32]));
        Message::create(
            identity,
            sequence,
            previous,
            0,
            ContentKind::Other(7),
            vec![1; size],
        )
        .expect("a message")
    }

    fn writer<'a>(identity: &'a Identity) -> BundleWriter<'a, Vec<u8>> {
        let manifest = Manifest::describing(identity.feed_id(), &"00".repeat(16), 0, &[]);
        BundleWriter::new(Vec::new(), identity, &manifest).expect("a writer")
    }

    /// Records that add up to exactly the segment target stay in one segment; one more byte
    /// starts the next.
    #[test]
    fn a_segment_is_cut_only_beyond_its_target() {
        let alice = Identity::from_seed(&[1; 32]);
        let largest = ENVELOPE_LEN + MAX_CONTENT;
        let mut sizes = Vec::new();
        let mut left = super::super::SEGMENT_TARGET;
        while left > 2 * largest {
            sizes.push(largest);
            left -= largest;
        }
        sizes.extend([left / 2, left - left / 2]);
        let mut w = writer(&alice);
        for (i, record) in sizes.iter().enumerate() {
            w.push_message(&message(&alice, i as u64 + 1, record - ENVELOPE_LEN))
                .expect("push");
        }
        assert_eq!(w.segment.len(), super::super::SEGMENT_TARGET);
        assert_eq!(w.segments, 0, "a segment of exactly the target is not cut");
        w.push_message(&message(&alice, sizes.len() as u64 + 1, 0))
            .expect("push");
        assert_eq!(w.segments, 1);
        assert_eq!(w.segment.len(), ENVELOPE_LEN);
    }

    /// A segment holds one feed's contiguous run: another feed, or a gap, starts a new one,
    /// even where the sequence numbers happen to follow on.
    #[test]
    fn a_segment_holds_one_feeds_contiguous_run() {
        let (alice, bob) = (Identity::from_seed(&[1; 32]), Identity::from_seed(&[2; 32]));
        let mut w = writer(&alice);
        w.push_message(&message(&alice, 1, 10)).expect("push");
        w.push_message(&message(&alice, 2, 10)).expect("push");
        assert_eq!(w.segments, 0, "a contiguous run stays together");
        w.push_message(&message(&bob, 3, 10)).expect("push");
        assert_eq!(
            w.segments, 1,
            "another feed, though its sequence follows on"
        );
        w.push_message(&message(&bob, 5, 10)).expect("push");
        assert_eq!(w.segments, 2, "a gap in the same feed");
    }

    #[test]
    fn entries_up_to_the_limit_are_written_and_the_size_is_the_files() {
        let alice = Identity::from_seed(&[1; 32]);
        let mut w = writer(&alice);
        let limit = super::super::MAX_ENTRY;
        w.write_entry("largest", &vec![0; limit])
            .expect("an entry at the limit");
        for over in [limit + 1, limit + 2] {
            assert!(
                w.write_entry("over", &vec![0; over]).is_err(),
                "{over} bytes"
            );
        }
        w.push_message(&message(&alice, 1, 100)).expect("push");
        let (file, size) = w.finish().expect("finish");
        assert_eq!(size, file.len() as u64, "the size reported is the file's");
    }
}
