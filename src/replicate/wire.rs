//! The session's frames (bundle-format/lan-protocol.md, "Frames"): their types, the encoders,
//! and `parse_frame`, a pure decoder of untrusted plaintext (fuzzed). How frames travel (Noise
//! over TCP, or a simulation's memory) is the transport's business.

use crate::bytes::ByteReader;
use crate::ids::FeedId;
use crate::message::{ENVELOPE_LEN, MAX_CONTENT, Message};

pub const WANT: u8 = 1;
pub const MESSAGES: u8 = 2;
pub const DONE: u8 = 3;
pub const PING: u8 = 4;
pub const BYE: u8 = 5;
/// Most feeds a want list may name.
pub const MAX_WANTS: usize = 200_000;
const WANT_ENTRY: usize = 40;
/// Largest plaintext one frame carries: a Noise message (65,535 bytes) less its tag.
pub const MAX_PAYLOAD: usize = 65_535 - 16;

/// A frame that breaks the protocol: the peer is dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation(pub String);

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Packs stored records into `messages` frames, each as full as one payload allows.
pub struct MessageFrames {
    frame: Vec<u8>,
}

impl Default for MessageFrames {
    fn default() -> Self {
        Self {
            frame: vec![MESSAGES],
        }
    }
}

impl MessageFrames {
    /// Adds a record (envelope and content); returns the frame it filled, if it did.
    pub fn push(&mut self, envelope: &[u8], content: &[u8]) -> Option<Vec<u8>> {
        let full = (self.frame.len() + envelope.len() + content.len() > MAX_PAYLOAD)
            .then(|| std::mem::replace(&mut self.frame, vec![MESSAGES]));
        self.frame.extend_from_slice(envelope);
        self.frame.extend_from_slice(content);
        full
    }

    /// The last frame, if it holds a record.
    pub fn finish(self) -> Option<Vec<u8>> {
        (self.frame.len() > 1).then_some(self.frame)
    }
}

/// A want list as frames that each fit one payload; all but the last say another follows.
pub fn want_frames(wants: &[(FeedId, u64)]) -> Vec<Vec<u8>> {
    let per_frame = (MAX_PAYLOAD - 2) / WANT_ENTRY;
    let chunks: Vec<&[(FeedId, u64)]> = if wants.is_empty() {
        vec![&[]]
    } else {
        wants.chunks(per_frame).collect()
    };
    let last = chunks.len() - 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut frame = vec![WANT, u8::from(i < last)];
            for (feed, seq) in chunk {
                frame.extend_from_slice(feed.as_bytes());
                frame.extend_from_slice(&seq.to_be_bytes());
            }
            frame
        })
        .collect()
}

/// Whether a messages frame of `len` bytes ends a burst. A sender fills each frame until the
/// next record does not fit, so a frame that still had room for the largest record was its
/// last for now, and what came is stored before the next frame is read.
pub fn ends_burst(len: usize) -> bool {
    len + ENVELOPE_LEN + MAX_CONTENT <= MAX_PAYLOAD
}

/// A decoded session frame.
#[derive(Debug)]
pub enum Frame {
    /// Part of a want list: (feed, sequence held); `more` when another part follows.
    Want {
        more: bool,
        entries: Vec<(FeedId, u64)>,
    },
    Messages(Vec<Message>),
    Done,
    Ping,
    Bye,
}

/// Decodes one frame's plaintext. Any malformed frame, or any message in it that fails its
/// checks (signatures are checked at ingest), is a protocol violation that drops the peer.
pub fn parse_frame(frame: &[u8]) -> Result<Frame, Violation> {
    let bad = |why: &str| Violation(why.to_owned());
    let (&kind, body) = frame.split_first().ok_or_else(|| bad("an empty frame"))?;
    match kind {
        WANT => {
            let (&more, list) = body
                .split_first()
                .ok_or_else(|| bad("an empty want frame"))?;
            if list.len() % WANT_ENTRY != 0 {
                return Err(bad("a want list entry is cut short"));
            }
            let mut entries = Vec::with_capacity(list.len() / WANT_ENTRY);
            for entry in list.chunks(WANT_ENTRY) {
                let feed = FeedId::from_slice(&entry[..32]).ok_or_else(|| bad("bad feed id"))?;
                let mut seq = [0u8; 8];
                seq.copy_from_slice(&entry[32..]);
                entries.push((feed, u64::from_be_bytes(seq)));
            }
            Ok(Frame::Want {
                more: more != 0,
                entries,
            })
        }
        MESSAGES => {
            let mut records = ByteReader::new(body);
            let mut messages = Vec::new();
            while !records.is_empty() {
                let message = Message::read_record(&mut records)
                    .map_err(|e| Violation(format!("an invalid message: {e}")))?;
                messages.push(message);
            }
            Ok(Frame::Messages(messages))
        }
        DONE if body.is_empty() => Ok(Frame::Done),
        PING if body.is_empty() => Ok(Frame::Ping),
        BYE if body.is_empty() => Ok(Frame::Bye),
        other => Err(Violation(format!(
            "unknown frame type {other} of {} bytes",
            frame.len()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame ends a burst exactly when the largest record would still have fit in it.
    #[test]
    fn a_frame_with_room_for_any_record_ends_a_burst() {
        let room_for_largest = MAX_PAYLOAD - ENVELOPE_LEN - MAX_CONTENT;
        assert!(ends_burst(1), "a frame of one small message");
        assert!(ends_burst(room_for_largest));
        assert!(!ends_burst(room_for_largest + 1));
        assert!(!ends_burst(MAX_PAYLOAD));
    }

    #[test]
    fn frames_decode_or_are_refused() {
        assert!(matches!(parse_frame(&[DONE]), Ok(Frame::Done)));
        assert!(matches!(parse_frame(&[PING]), Ok(Frame::Ping)));
        assert!(matches!(parse_frame(&[BYE]), Ok(Frame::Bye)));
        assert!(parse_frame(&[]).is_err());
        for kind in [DONE, PING, BYE] {
            assert!(parse_frame(&[kind, 0]).is_err(), "{kind} with a body");
        }
        assert!(parse_frame(&[99]).is_err());
        let mut want = vec![WANT, 0];
        want.extend_from_slice(&[7; 32]);
        want.extend_from_slice(&5u64.to_be_bytes());
        match parse_frame(&want) {
            Ok(Frame::Want {
                more: false,
                entries,
            }) => assert_eq!(entries, vec![(FeedId([7; 32]), 5)]),
            other => panic!("{other:?}"),
        }
        assert!(parse_frame(&want[..want.len() - 1]).is_err());
        assert!(parse_frame(&[MESSAGES, 1, 2, 3]).is_err());
        // Pseudo-random frames never panic.
        let mut x = 0x1234_5678_9abc_def0u64;
        for len in 0..2000 {
            let bytes: Vec<u8> = (0..len % 300)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = parse_frame(&bytes);
        }
    }

    /// Records are packed into frames that each fit one payload, in order, none lost; only a
    /// frame's last record may leave room for the largest (it ends the burst).
    #[test]
    fn records_fill_frames_in_order() {
        let mut frames = MessageFrames::default();
        let mut out = Vec::new();
        let envelope = [1u8; ENVELOPE_LEN];
        for i in 0..40u16 {
            let content = vec![(i % 251) as u8; 3_000 + usize::from(i) * 7];
            out.extend(frames.push(&envelope, &content));
        }
        out.extend(frames.finish());
        assert!(out.len() > 1, "40 records of 3 KB need several frames");
        let mut bytes = 0;
        for (i, frame) in out.iter().enumerate() {
            assert!(frame.len() <= MAX_PAYLOAD);
            assert_eq!(frame[0], MESSAGES);
            assert_eq!(ends_burst(frame.len()), i + 1 == out.len(), "frame {i}");
            bytes += frame.len() - 1;
        }
        let expected: usize = (0..40).map(|i| ENVELOPE_LEN + 3_000 + i * 7).sum();
        assert_eq!(bytes, expected);
        assert!(MessageFrames::default().finish().is_none());
    }

    /// A long want list is cut into frames that each fit one payload, flagged so the reader
    /// knows when the list ends, and reads back entry for entry.
    #[test]
    fn long_want_lists_span_frames() {
        let wants: Vec<(FeedId, u64)> = (0..5_000u32)
            .map(|i| {
                let mut id = [0u8; 32];
                id[..4].copy_from_slice(&i.to_be_bytes());
                (FeedId(id), u64::from(i) * 3)
            })
            .collect();
        let frames = want_frames(&wants);
        assert_eq!(frames.len(), 4, "1,637 entries fit a frame");
        let mut read = Vec::new();
        for (i, frame) in frames.iter().enumerate() {
            assert!(frame.len() <= MAX_PAYLOAD);
            match parse_frame(frame) {
                Ok(Frame::Want { more, entries }) => {
                    assert_eq!(more, i + 1 < frames.len());
                    read.extend(entries);
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(read, wants);
        assert!(matches!(
            parse_frame(&want_frames(&[])[0]),
            Ok(Frame::Want { more: false, entries }) if entries.is_empty()
        ));
    }
}
