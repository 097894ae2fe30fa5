//! Stored messages of planned runs, as the session's `messages` frames: what a LAN session
//! writes to its socket and a meeting in memory hands to the other side.

use super::Range;
use super::wire::MessageFrames;
use crate::store::{Store, StoreError};

/// Reads the records of `ranges` from `store` as they are (the reader verifies each), packs
/// them into frames and hands each full frame to `send`; how many records went.
pub fn send_ranges<E: From<StoreError>>(
    store: &Store,
    ranges: &[Range],
    mut send: impl FnMut(Vec<u8>) -> Result<(), E>,
) -> Result<u64, E> {
    let mut frames = MessageFrames::default();
    let (mut sent, mut failure) = (0u64, None);
    for range in ranges {
        store.for_each_record_in_range(&range.feed, range.first, range.last, |_, e, c| {
            if let Some(frame) = frames.push(e, c)
                && failure.is_none()
                && let Err(error) = send(frame)
            {
                failure = Some(error);
            }
            sent += 1;
            Ok(())
        })?;
        if let Some(error) = failure.take() {
            return Err(error);
        }
    }
    if let Some(frame) = frames.finish() {
        send(frame)?;
    }
    Ok(sent)
}
