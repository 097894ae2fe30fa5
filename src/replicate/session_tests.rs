//! Tests of the session as a value: driven by hand, with holdings made up for each case.
#![cfg(test)]

use super::*;

/// How far we hold each feed, and nothing beyond a gap.
struct Held(HashMap<FeedId, u64>);

impl Holdings for Held {
    type Error = std::convert::Infallible;
    fn frontier(&self, feed: &FeedId) -> Result<u64, Self::Error> {
        Ok(self.0.get(feed).copied().unwrap_or(0))
    }
    fn pending_runs(&self, _: &FeedId) -> Result<Vec<(u64, u64)>, Self::Error> {
        Ok(Vec::new())
    }
}

/// A frontier and runs beyond a gap, for one feed.
struct Gapped {
    feed: FeedId,
    frontier: u64,
    beyond: Vec<(u64, u64)>,
}

impl Holdings for Gapped {
    type Error = std::convert::Infallible;
    fn frontier(&self, feed: &FeedId) -> Result<u64, Self::Error> {
        Ok(if *feed == self.feed { self.frontier } else { 0 })
    }
    fn pending_runs(&self, feed: &FeedId) -> Result<Vec<(u64, u64)>, Self::Error> {
        Ok(if *feed == self.feed {
            self.beyond.clone()
        } else {
            Vec::new()
        })
    }
}

/// The runs of every push among `outputs`, and whether each was live.
fn pushed(outputs: &[Output]) -> Vec<(Range, bool)> {
    outputs
        .iter()
        .flat_map(|o| match o {
            Output::Push { ranges, live } => ranges.iter().map(|r| (*r, *live)).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// A live session pushes what our store gained once told of it, runs beyond a gap
/// included, and never sends a run twice; a one-shot session pushes nothing unasked.
#[test]
fn a_live_session_pushes_news_once() {
    let (a, b) = (FeedId([1; 32]), FeedId([2; 32]));
    let zero = Duration::ZERO;
    let wants = wire::want_frames(&[(b, 0), (a, 0)]);
    for live in [true, false] {
        let settings = Settings { live, ..one_shot() };
        let mut s = Session::new(settings, a, b, set(a, &[b]));
        let first = Gapped {
            feed: a,
            frontier: 2,
            beyond: vec![(5, 6)],
        };
        s.start(&first).expect("starts");
        let answer = s
            .handle(Input::Frame(&wants[0]), zero, &first)
            .expect("answer");
        let run = |first, last| Range {
            feed: a,
            first,
            last,
        };
        assert_eq!(
            pushed(&answer),
            [(run(1, 2), false), (run(5, 6), false)],
            "what it lacks, and the run beyond the gap"
        );
        // Told of a change that brought nothing: the run beyond the gap is not sent again.
        let same = s
            .handle(Input::Stored(set(a, &[b])), zero, &first)
            .expect("the same");
        assert!(pushed(&same).is_empty(), "{same:?}");
        // The gap fills, and a message more arrives: only that is news.
        let later = Gapped {
            feed: a,
            frontier: 7,
            beyond: Vec::new(),
        };
        let news = s
            .handle(Input::Stored(set(a, &[b])), zero, &later)
            .expect("news");
        match live {
            true => assert_eq!(pushed(&news), [(run(3, 7), true)], "{news:?}"),
            false => assert!(pushed(&news).is_empty(), "one-shot: {news:?}"),
        }
        let twice = s
            .handle(Input::Stored(set(a, &[b])), zero, &later)
            .expect("again");
        assert!(pushed(&twice).is_empty(), "{twice:?}");
    }
}

fn set(me: FeedId, others: &[FeedId]) -> ReplicationSet {
    let mut distance = HashMap::from([(me, 0)]);
    distance.extend(others.iter().map(|f| (*f, 1)));
    ReplicationSet {
        root: me,
        distance,
        excluded: HashMap::new(),
    }
}

fn one_shot() -> Settings {
    Settings {
        live: false,
        pub_mode: false,
        timeout: Duration::from_secs(5),
        keepalive: Duration::from_secs(1),
    }
}

/// The frames among `outputs`.
fn sent(outputs: &[Output]) -> Vec<Vec<u8>> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send(frame) => Some(frame.clone()),
            _ => None,
        })
        .collect()
}

/// A one-shot session: each side sends its want list, answers the other's with what it
/// lacks and `done`, decides nothing after a `done` until it knows its set again, then
/// says `bye`; both finish once both did.
#[test]
fn a_one_shot_session_asks_answers_and_says_bye() {
    let (a, b, c) = (FeedId([1; 32]), FeedId([2; 32]), FeedId([3; 32]));
    let held_a = Held(HashMap::from([(a, 3), (c, 2)]));
    let held_b = Held(HashMap::from([(b, 1)]));
    let zero = Duration::ZERO;
    let mut sa = Session::new(one_shot(), a, b, set(a, &[b, c]));
    let mut sb = Session::new(one_shot(), b, a, set(b, &[a]));
    let to_b = sent(&sa.start(&held_a).expect("starts"));
    let to_a = sent(&sb.start(&held_b).expect("starts"));
    assert_eq!(to_b.len(), 1, "one want list frame");

    let answer = sa
        .handle(Input::Frame(&to_a[0]), zero, &held_a)
        .expect("a answers");
    assert!(matches!(&answer[0], Output::Heard { holds, wants }
        if holds == &[(b, 1)] && wants == &[b, a]));
    assert!(
        matches!(&answer[1], Output::Push { ranges, live: false }
            if ranges == &[Range { feed: a, first: 1, last: 3 }]),
        "a sends b what b wants and lacks (its own diary), not c: {answer:?}"
    );
    assert_eq!(sent(&answer), [vec![DONE]]);
    let answer = sb
        .handle(Input::Frame(&to_b[0]), zero, &held_b)
        .expect("b answers");
    assert!(
        answer
            .iter()
            .any(|o| matches!(o, Output::Push { ranges, .. }
        if ranges == &[Range { feed: b, first: 1, last: 1 }]))
    );

    // `done` is stored, then the session waits for the set before it says `bye`.
    let done = sa
        .handle(Input::Frame(&[DONE]), zero, &held_a)
        .expect("done");
    assert!(
        matches!(done[..], [Output::Settle, Output::Refresh]),
        "{done:?}"
    );
    let bye = sa
        .handle(Input::Stored(set(a, &[b, c])), zero, &held_a)
        .expect("the set");
    assert_eq!(sent(&bye), [vec![BYE]]);
    assert!(!sa.is_finished());
    sb.handle(Input::Frame(&[DONE]), zero, &held_b)
        .expect("done");
    // The set grew meanwhile: b asks for the new feed before it leaves.
    let more = sb
        .handle(Input::Stored(set(b, &[a, c])), zero, &held_b)
        .expect("the set");
    assert_eq!(sent(&more).len(), 1, "a want list, no bye: {more:?}");
    let answer = sa
        .handle(Input::Frame(&sent(&more)[0]), zero, &held_a)
        .expect("more");
    assert!(
        answer
            .iter()
            .any(|o| matches!(o, Output::Push { ranges, .. }
        if ranges == &[Range { feed: c, first: 1, last: 2 }]))
    );
    sb.handle(Input::Frame(&[DONE]), zero, &held_b)
        .expect("done");
    let bye_b = sb
        .handle(Input::Stored(set(b, &[a, c])), zero, &held_b)
        .expect("the set");
    assert_eq!(sent(&bye_b), [vec![BYE]]);
    let end = sa.handle(Input::Frame(&[BYE]), zero, &held_a).expect("bye");
    assert!(matches!(end[..], [Output::Settle, Output::Refresh]));
    let end = sa
        .handle(Input::Stored(set(a, &[b, c])), zero, &held_a)
        .expect("the set");
    assert!(matches!(end[..], [Output::Finish]), "{end:?}");
    assert!(sa.is_finished());
}

/// A live session pings when it has sent nothing for a while, and a peer that never sends
/// its want list is given up on after the timeout.
#[test]
fn a_live_session_pings_and_a_silent_peer_stalls() {
    let (a, b) = (FeedId([1; 32]), FeedId([2; 32]));
    let held = Held(HashMap::new());
    let live = Settings {
        live: true,
        ..one_shot()
    };
    let mut s = Session::new(live, a, b, set(a, &[b]));
    s.start(&held).expect("starts");
    assert!(s.handle(Input::Tick, Duration::from_secs(1), &held).is_ok());
    assert!(matches!(
        s.handle(Input::Tick, Duration::from_secs(5), &held),
        Err(Fault::Stalled(_))
    ));
    let mut s = Session::new(live, a, b, set(a, &[b]));
    s.start(&held).expect("starts");
    let wants = wire::want_frames(&[(a, 0)]);
    s.handle(Input::Frame(&wants[0]), Duration::ZERO, &held)
        .expect("wants");
    let quiet = s
        .handle(Input::Tick, Duration::from_millis(500), &held)
        .expect("a tick");
    assert!(sent(&quiet).is_empty(), "{quiet:?}");
    let ping = s
        .handle(Input::Tick, Duration::from_secs(2), &held)
        .expect("a tick");
    assert_eq!(sent(&ping), [vec![PING]]);
    // Our want list answered: in sync, said once.
    let in_sync = |outputs: &[Output]| {
        outputs
            .iter()
            .filter(|o| matches!(o, Output::InSync))
            .count()
    };
    s.handle(Input::Frame(&[DONE]), Duration::from_secs(2), &held)
        .expect("done");
    let told = s
        .handle(Input::Stored(set(a, &[b])), Duration::from_secs(2), &held)
        .expect("the set");
    assert_eq!(in_sync(&told), 1, "{told:?}");
    let later = s
        .handle(Input::Tick, Duration::from_secs(3), &held)
        .expect("a tick");
    assert_eq!(in_sync(&later), 0, "{later:?}");
}

/// In pub mode the connecting peer's feed is taken in only while its own messages say it
/// follows us, and never when we block it.
#[test]
fn the_pub_gate_takes_in_only_a_peer_that_follows() {
    use crate::content::{ContactChange, contact, post};
    use crate::graph::Exclusion;
    let me = FeedId([1; 32]);
    let peer = crate::identity::Identity::from_seed(&[5; 32]);
    let them = peer.feed_id();
    let says = |seq: u64, content: serde_json::Value| {
        let bytes = serde_json::to_vec(&content).expect("JSON");
        // The gate reads content only: any previous id will do.
        let previous = (seq > 1).then_some(crate::ids::MessageId([7; 32]));
        Message::create(
            &peer,
            seq,
            previous,
            0,
            crate::message::ContentKind::Json,
            bytes,
        )
        .expect("a message")
    };
    let admitted = |batches: &[Vec<Message>], blocked: bool| {
        let mut gate = PubGate {
            peer: them,
            me,
            follows: false,
        };
        let mut last = false;
        for batch in batches {
            let mut mine = set(me, &[]);
            if blocked {
                mine.excluded.insert(them, Exclusion::BlockedByMe);
            }
            gate.admit(batch, &mut mine);
            last = mine.contains(&them);
        }
        last
    };
    let follow = says(2, contact(me, ContactChange::Follow));
    let unfollow = says(3, contact(me, ContactChange::Unfollow));
    let elsewhere = says(2, contact(FeedId([9; 32]), ContactChange::Follow));
    let hello = says(1, post("hello", None, &[]));
    assert!(
        !admitted(&[vec![hello.clone()]], false),
        "a post is no follow"
    );
    assert!(
        !admitted(&[vec![elsewhere]], false),
        "following someone else"
    );
    assert!(admitted(&[vec![hello.clone(), follow.clone()]], false));
    assert!(
        admitted(&[vec![follow.clone()], vec![hello]], false),
        "still follows"
    );
    assert!(
        !admitted(&[vec![follow.clone(), unfollow]], false),
        "unfollowed"
    );
    assert!(!admitted(&[vec![follow]], true), "blocked");
}

/// Pseudo-random frames are handled or refused, never a panic; a want list longer than
/// the limit is refused.
#[test]
fn any_frames_are_handled_or_refused() {
    let (a, b) = (FeedId([1; 32]), FeedId([2; 32]));
    let held = Held(HashMap::new());
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..200u64 {
        let mut s = Session::new(one_shot(), a, b, set(a, &[b]));
        s.start(&held).expect("starts");
        for len in 0..20 {
            let frame: Vec<u8> = (0..(len * 13 + round) % 200)
                .map(|i| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if i == 0 { (x % 6) as u8 } else { x as u8 }
                })
                .collect();
            if s.handle(Input::Frame(&frame), Duration::ZERO, &held)
                .is_err()
            {
                break;
            }
        }
    }
    let mut s = Session::new(one_shot(), a, b, set(a, &[b]));
    let entry = |i: u32| {
        let mut id = [0u8; 32];
        id[..4].copy_from_slice(&i.to_be_bytes());
        (FeedId(id), 0)
    };
    let many: Vec<(FeedId, u64)> = (0..=MAX_WANTS as u32).map(entry).collect();
    let frames = wire::want_frames(&many);
    let refused = frames
        .iter()
        .map(|f| s.handle(Input::Frame(f), Duration::ZERO, &held))
        .find_map(Result::err);
    assert!(matches!(refused, Some(Fault::Violation(_))));
}
