//! The replication core's one decision, shared by both transports: given what we hold, the
//! feeds we replicate, and what each reader is known to hold and want, which runs of which
//! feeds to send (docs/replication.md, "What a bundle carries"). Pure: it reads nothing but
//! what it is handed. The bundle transport works out its readers from folders' manifests and
//! `--for`; a LAN session from the peer's want lists and what it sent so far.

pub mod push;
pub mod session;
pub mod wire;

use std::collections::{HashMap, HashSet};

use crate::ids::FeedId;

/// A run of one feed's messages, `first..=last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Range {
    pub feed: FeedId,
    pub first: u64,
    pub last: u64,
}

/// What we hold of a feed: its contiguous frontier, and verified runs beyond a gap.
pub trait Holdings {
    type Error;
    /// The highest sequence held from 1 without a gap (0: none).
    fn frontier(&self, feed: &FeedId) -> Result<u64, Self::Error>;
    /// Verified runs beyond the frontier, each `(low, high)`, in order.
    fn pending_runs(&self, feed: &FeedId) -> Result<Vec<(u64, u64)>, Self::Error>;
}

impl Holdings for crate::store::Store {
    type Error = crate::store::StoreError;

    fn frontier(&self, feed: &FeedId) -> Result<u64, Self::Error> {
        Ok(crate::store::Store::frontier(self, feed)?.sequence)
    }

    fn pending_runs(&self, feed: &FeedId) -> Result<Vec<(u64, u64)>, Self::Error> {
        crate::store::Store::pending_runs(self, feed)
    }
}

/// One reader of what we send: a bundle's audience member, or a LAN peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reader {
    /// The feeds it wants; `None`: unknown, so any feed may interest it.
    pub wants: Option<HashSet<FeedId>>,
    /// How far it holds each feed, as far as we know.
    pub holds: HashMap<FeedId, u64>,
    /// How far runs beyond a gap were already sent to it (a live session remembers).
    pub sent_beyond: HashMap<FeedId, u64>,
}

impl Reader {
    /// Whether it wants `feed`.
    pub fn wants(&self, feed: &FeedId) -> bool {
        self.wants.as_ref().is_none_or(|set| set.contains(feed))
    }

    /// The first sequence of `feed` it lacks.
    fn first_lacked(&self, feed: &FeedId) -> u64 {
        self.holds.get(feed).copied().unwrap_or(0).saturating_add(1)
    }
}

/// Who a plan is for.
pub enum Audience<'a> {
    /// Everyone: everything of each feed (`export --all`, a folder we never wrote to).
    Everyone,
    /// These readers: for each feed, from the lowest sequence any reader that wants it lacks
    /// (none: nothing is sent).
    Readers(&'a [Reader]),
}

/// What to send of each feed in `feeds` (in that order), so that every reader gets what it
/// wants and lacks; `whole` names a feed sent from its start whatever the readers hold (our own
/// diary, where it introduces us).
pub fn plan<H: Holdings>(
    feeds: impl IntoIterator<Item = FeedId>,
    held: &H,
    audience: &Audience<'_>,
    whole: Option<FeedId>,
) -> Result<Vec<Range>, H::Error> {
    let mut ranges = Vec::new();
    for feed in feeds {
        let (first, sent_beyond) = match audience {
            _ if whole == Some(feed) => (Some(1), 0),
            Audience::Everyone => (Some(1), 0),
            Audience::Readers(readers) => {
                let wanting = || readers.iter().filter(|r| r.wants(&feed));
                (
                    wanting().map(|r| r.first_lacked(&feed)).min(),
                    wanting()
                        .map(|r| r.sent_beyond.get(&feed).copied().unwrap_or(0))
                        .min()
                        .unwrap_or(0),
                )
            }
        };
        if let Some(first) = first {
            feed_ranges(&mut ranges, feed, first, held, sent_beyond)?;
        }
    }
    Ok(ranges)
}

/// The runs of `feed` from `first` on: up to our frontier, then each verified run beyond a
/// gap (those above `sent_beyond` only: the rest went already).
fn feed_ranges<H: Holdings>(
    ranges: &mut Vec<Range>,
    feed: FeedId,
    first: u64,
    held: &H,
    sent_beyond: u64,
) -> Result<(), H::Error> {
    let frontier = held.frontier(&feed)?;
    if first <= frontier {
        ranges.push(Range {
            feed,
            first,
            last: frontier,
        });
    }
    let beyond_from = first.max(sent_beyond.saturating_add(1));
    for (low, high) in held.pending_runs(&feed)? {
        debug_assert!(
            frontier < low && low <= high,
            "{feed}: a run beyond a gap is {low}..={high}, with the frontier at {frontier}"
        );
        if high >= beyond_from {
            ranges.push(Range {
                feed,
                first: low.max(beyond_from),
                last: high,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Held(HashMap<FeedId, (u64, Vec<(u64, u64)>)>);

    impl Holdings for Held {
        type Error = std::convert::Infallible;
        fn frontier(&self, feed: &FeedId) -> Result<u64, Self::Error> {
            Ok(self.0.get(feed).map_or(0, |h| h.0))
        }
        fn pending_runs(&self, feed: &FeedId) -> Result<Vec<(u64, u64)>, Self::Error> {
            Ok(self.0.get(feed).map_or(Vec::new(), |h| h.1.clone()))
        }
    }

    fn planned(
        feeds: impl IntoIterator<Item = FeedId>,
        audience: &Audience<'_>,
        whole: Option<FeedId>,
    ) -> Vec<Range> {
        let Ok(ranges) = plan(feeds, &held(), audience, whole);
        ranges
    }

    fn feed(n: u8) -> FeedId {
        FeedId([n; 32])
    }

    fn range(n: u8, first: u64, last: u64) -> Range {
        Range {
            feed: feed(n),
            first,
            last,
        }
    }

    fn reader(wants: Option<&[u8]>, holds: &[(u8, u64)]) -> Reader {
        Reader {
            wants: wants.map(|w| w.iter().map(|n| feed(*n)).collect()),
            holds: holds.iter().map(|(n, s)| (feed(*n), *s)).collect(),
            sent_beyond: HashMap::new(),
        }
    }

    fn held() -> Held {
        Held(HashMap::from([
            (feed(1), (5, vec![])),
            (feed(2), (3, vec![(6, 7), (9, 9)])),
            (feed(3), (0, vec![])),
        ]))
    }

    #[test]
    fn everyone_gets_everything_held() {
        let got = planned([feed(1), feed(2), feed(3)], &Audience::Everyone, None);
        assert_eq!(
            got,
            [
                range(1, 1, 5),
                range(2, 1, 3),
                range(2, 6, 7),
                range(2, 9, 9)
            ]
        );
    }

    #[test]
    fn the_reader_that_lacks_most_decides_and_only_wanted_feeds_go() {
        let readers = [
            reader(Some(&[1]), &[(1, 4)]),
            reader(Some(&[1, 2]), &[(1, 2), (2, 3)]),
            reader(Some(&[]), &[]),
        ];
        let got = planned(
            [feed(1), feed(2), feed(3)],
            &Audience::Readers(&readers),
            None,
        );
        // feed 1 from 3 (the second reader holds 2); feed 2: only its runs beyond the gap.
        assert_eq!(got, [range(1, 3, 5), range(2, 6, 7), range(2, 9, 9)]);
    }

    #[test]
    fn a_reader_of_unknown_wants_wants_all_and_a_whole_feed_goes_from_one() {
        let readers = [reader(None, &[(1, 5), (2, 9)])];
        let got = planned(
            [feed(1), feed(2)],
            &Audience::Readers(&readers),
            Some(feed(1)),
        );
        assert_eq!(got, [range(1, 1, 5)]);
    }

    #[test]
    fn no_readers_want_nothing() {
        assert!(planned([feed(1), feed(2)], &Audience::Readers(&[]), None).is_empty());
        assert_eq!(
            planned([feed(1)], &Audience::Readers(&[]), Some(feed(1))),
            [range(1, 1, 5)]
        );
    }

    #[test]
    fn runs_beyond_a_gap_already_sent_are_not_sent_again() {
        let mut live = reader(None, &[(2, 3)]);
        live.sent_beyond.insert(feed(2), 7);
        let got = planned([feed(2)], &Audience::Readers(&[live]), None);
        assert_eq!(got, [range(2, 9, 9)]);
        let mut caught_up = reader(None, &[(2, 9)]);
        caught_up.sent_beyond.insert(feed(2), 9);
        assert!(planned([feed(2)], &Audience::Readers(&[caught_up]), None).is_empty());
    }
}
