//! One replication session with a peer as a value: frames and ticks go in, and what to send,
//! store and tell comes out (`Session::handle`). It does no I/O and reads no clock: a LAN
//! connection drives it with sockets and threads (src/lan/session.rs), a simulation with
//! memory and a clock of its own.
//!
//! Both sides send a *want list* — their frontier for every feed in their replication set —
//! then, for each wanted feed they replicate themselves, the messages the other lacks (as
//! [`super::plan`] works them out) and a `done`. A one-shot session then says `bye`; a live
//! one stays open and pushes new messages as they are stored.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::wire::{self, BYE, DONE, Frame, MAX_WANTS, PING, Violation};
use super::{Audience, Holdings, Range, Reader, plan};
use crate::content::Content;
use crate::graph::ReplicationSet;
use crate::ids::FeedId;
use crate::message::Message;

/// How a session behaves.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Stay connected and push new messages (under `serve`).
    pub live: bool,
    /// Pub mode: the peer's own feed is taken in once its messages say it follows us.
    pub pub_mode: bool,
    /// Longest wait for the peer's first want list.
    pub timeout: Duration,
    /// A live session pings this often when it has sent nothing.
    pub keepalive: Duration,
}

/// What the session is handed.
pub enum Input<'a> {
    /// A frame's plaintext, as the peer sent it.
    Frame(&'a [u8]),
    /// Our store changed: this is our replication set now.
    Stored(ReplicationSet),
    /// Time passed.
    Tick,
}

/// What the session asks its driver to do, in order.
#[derive(Debug)]
pub enum Output {
    /// Send this frame.
    Send(Vec<u8>),
    /// Send these runs of stored messages, in `messages` frames ([`wire::MessageFrames`]);
    /// `live` when they are news pushed in a live session (worth telling).
    Push { ranges: Vec<Range>, live: bool },
    /// Ingest these messages under this replication set.
    Ingest {
        messages: Vec<Message>,
        set: ReplicationSet,
    },
    /// Store everything handed to ingest so far before reading on.
    Settle,
    /// Once that is stored, hand in our replication set ([`Input::Stored`]): what the peer
    /// sent may have widened it, and the session decides nothing more until it knows.
    Refresh,
    /// The peer's first want list: what it holds (feeds with a message) and replicates.
    Heard {
        holds: Vec<(FeedId, u64)>,
        wants: Vec<FeedId>,
    },
    /// A live session answered our want lists: we are in sync.
    InSync,
    /// Both sides said `bye`: the session is over.
    Finish,
}

/// Why a session ends badly.
#[derive(Debug)]
pub enum Fault<E> {
    /// The peer broke the protocol.
    Violation(Violation),
    /// The peer's first want list did not come within this long.
    Stalled(Duration),
    /// Our holdings could not be read.
    Held(E),
}

impl<E> From<Violation> for Fault<E> {
    fn from(v: Violation) -> Self {
        Self::Violation(v)
    }
}

/// One session's state.
pub struct Session {
    settings: Settings,
    peer: FeedId,
    /// Our replication set, as last handed in.
    mine: ReplicationSet,
    /// What the peer holds, as far as we know, and how far runs beyond a gap went to it.
    theirs: Reader,
    /// Parts of a want list that says more follow.
    wants_so_far: Vec<(FeedId, u64)>,
    /// Every feed the peer asked for (`None` until its first want list).
    their_list: Option<HashSet<FeedId>>,
    /// Feeds we serve the peer: asked for, and ours to replicate.
    serving: Vec<FeedId>,
    /// Want lists we sent, and the `done`s answering them.
    asked: u32,
    answered: u32,
    peer_bye: bool,
    sent_bye: bool,
    announced: bool,
    finished: bool,
    /// Waiting for our replication set after a `done` or `bye` ([`Output::Refresh`]).
    refreshing: bool,
    last_sent: Duration,
    gate: Option<PubGate>,
}

impl Session {
    /// A session of `me` with `peer`, replicating `mine`. Call [`Session::start`] first.
    pub fn new(settings: Settings, me: FeedId, peer: FeedId, mine: ReplicationSet) -> Self {
        Self {
            gate: settings.pub_mode.then_some(PubGate {
                peer,
                me,
                follows: false,
            }),
            settings,
            peer,
            mine,
            theirs: Reader {
                wants: None,
                holds: HashMap::new(),
                sent_beyond: HashMap::new(),
            },
            wants_so_far: Vec::new(),
            their_list: None,
            serving: Vec::new(),
            asked: 0,
            answered: 0,
            peer_bye: false,
            sent_bye: false,
            announced: false,
            finished: false,
            refreshing: false,
            last_sent: Duration::ZERO,
        }
    }

    /// Our want list: every feed we replicate with what we hold of it; a pub also asks for
    /// the peer's own feed, to learn whether it follows the pub.
    pub fn start<H: Holdings>(&mut self, held: &H) -> Result<Vec<Output>, Fault<H::Error>> {
        let mut feeds: Vec<FeedId> = self.mine.members().into_iter().map(|(f, _)| f).collect();
        if self.settings.pub_mode && !self.mine.contains(&self.peer) {
            feeds.push(self.peer);
        }
        let mut out = Vec::new();
        self.ask(&feeds, held, &mut out)?;
        Ok(out)
    }

    /// Whether the peer's first want list came.
    pub fn heard_wants(&self) -> bool {
        self.their_list.is_some()
    }

    /// Whether both sides said `bye`.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The replication set the session works with now.
    pub fn replicating(&self) -> &ReplicationSet {
        &self.mine
    }

    /// Handles one input at `now` (time since the session began), with `held` what we hold.
    pub fn handle<H: Holdings>(
        &mut self,
        input: Input<'_>,
        now: Duration,
        held: &H,
    ) -> Result<Vec<Output>, Fault<H::Error>> {
        let mut out = Vec::new();
        match input {
            Input::Frame(frame) => self.receive(frame, held, &mut out)?,
            Input::Stored(set) => self.widen(set, held, &mut out)?,
            Input::Tick => {
                if !self.heard_wants() && now >= self.settings.timeout {
                    return Err(Fault::Stalled(self.settings.timeout));
                }
            }
        }
        self.progress(now, &mut out);
        Ok(out)
    }

    fn receive<H: Holdings>(
        &mut self,
        frame: &[u8],
        held: &H,
        out: &mut Vec<Output>,
    ) -> Result<(), Fault<H::Error>> {
        match wire::parse_frame(frame)? {
            Frame::Want { more, entries } => {
                self.wants_so_far.extend(entries);
                if self.wants_so_far.len() > MAX_WANTS {
                    return Err(
                        Violation(format!("a want list of more than {MAX_WANTS} feeds")).into(),
                    );
                }
                if !more {
                    let wants = std::mem::take(&mut self.wants_so_far);
                    self.answer(wants, held, out)?;
                }
            }
            Frame::Messages(messages) => {
                self.note_held(&messages);
                let mut set = self.mine.clone();
                if let Some(gate) = &mut self.gate {
                    gate.admit(&messages, &mut set);
                }
                out.push(Output::Ingest { messages, set });
                // A burst's last frame is stored before the next is read, so latency stays low.
                if wire::ends_burst(frame.len()) {
                    out.push(Output::Settle);
                }
            }
            Frame::Done => {
                self.answered += 1;
                self.refresh(out);
            }
            Frame::Ping => out.push(Output::Settle),
            // The peer asks for nothing more, but still answers us until we say bye too.
            Frame::Bye => {
                self.peer_bye = true;
                self.refresh(out);
            }
        }
        Ok(())
    }

    /// What came before a `done` or `bye` is stored, and may have widened our set: whether
    /// to ask for more or say `bye` waits for the set as it is then.
    fn refresh(&mut self, out: &mut Vec<Output>) {
        out.push(Output::Settle);
        out.push(Output::Refresh);
        self.refreshing = true;
    }

    /// Answers a complete want list: the first says what the peer replicates; later ones add
    /// feeds its set grew by.
    fn answer<H: Holdings>(
        &mut self,
        wants: Vec<(FeedId, u64)>,
        held: &H,
        out: &mut Vec<Output>,
    ) -> Result<(), Fault<H::Error>> {
        for (feed, seq) in &wants {
            let known = self.theirs.holds.entry(*feed).or_insert(0);
            *known = (*known).max(*seq);
        }
        // In the peer's order (a set would give another order each run, and a simulation
        // must repeat); a set remembers the list, as one may name 200,000 feeds.
        let first = self.their_list.is_none();
        let list = self.their_list.get_or_insert_with(HashSet::new);
        let added: Vec<FeedId> = wants
            .iter()
            .map(|(f, _)| *f)
            .filter(|f| list.insert(*f))
            .collect();
        if first {
            out.push(Output::Heard {
                holds: wants.iter().filter(|(_, s)| *s > 0).copied().collect(),
                wants: wants.iter().map(|(f, _)| *f).collect(),
            });
        }
        let servable: Vec<FeedId> = added
            .into_iter()
            .filter(|f| self.mine.contains(f))
            .collect();
        self.serving.extend(&servable);
        self.push(&servable, false, held, out)?;
        out.push(Output::Send(vec![DONE]));
        Ok(())
    }

    /// Our set is `now`: ask the peer for feeds that joined it (and serve them, if it wants
    /// them); in a live session, push what is new.
    fn widen<H: Holdings>(
        &mut self,
        now: ReplicationSet,
        held: &H,
        out: &mut Vec<Output>,
    ) -> Result<(), Fault<H::Error>> {
        let added: Vec<FeedId> = now
            .members()
            .into_iter()
            .map(|(f, _)| f)
            .filter(|f| !self.mine.contains(f))
            .collect();
        self.mine = now;
        self.refreshing = false;
        if !added.is_empty() {
            self.ask(&added, held, out)?;
            let servable: Vec<FeedId> = match &self.their_list {
                Some(list) => added.into_iter().filter(|f| list.contains(f)).collect(),
                None => Vec::new(),
            };
            self.serving.extend(&servable);
            self.push(&servable, false, held, out)?;
        }
        if self.settings.live && self.heard_wants() {
            let serving = self.serving.clone();
            self.push(&serving, true, held, out)?;
        }
        Ok(())
    }

    /// Sends a want list for `feeds`.
    fn ask<H: Holdings>(
        &mut self,
        feeds: &[FeedId],
        held: &H,
        out: &mut Vec<Output>,
    ) -> Result<(), Fault<H::Error>> {
        let mut list = Vec::with_capacity(feeds.len());
        for feed in feeds {
            list.push((*feed, held.frontier(feed).map_err(Fault::Held)?));
        }
        out.extend(wire::want_frames(&list).into_iter().map(Output::Send));
        self.asked += 1;
        Ok(())
    }

    /// Pushes what the peer lacks of `feeds`, as the one planner works it out, and counts it
    /// as held by the peer from then on.
    fn push<H: Holdings>(
        &mut self,
        feeds: &[FeedId],
        live: bool,
        held: &H,
        out: &mut Vec<Output>,
    ) -> Result<(), Fault<H::Error>> {
        let ranges = plan(
            feeds.iter().copied(),
            held,
            &Audience::Readers(std::slice::from_ref(&self.theirs)),
            None,
        )
        .map_err(Fault::Held)?;
        if ranges.is_empty() {
            return Ok(());
        }
        // What the peer will hold, as a contiguous frontier, and how far runs beyond went.
        for range in &ranges {
            let have = held.frontier(&range.feed).map_err(Fault::Held)?;
            let known = self.theirs.holds.entry(range.feed).or_insert(0);
            *known = (*known).max(have.min(range.last));
            if range.last > have {
                let went = self.theirs.sent_beyond.entry(range.feed).or_insert(0);
                *went = (*went).max(range.last);
            }
        }
        out.push(Output::Push { ranges, live });
        Ok(())
    }

    /// After each input: say `bye` once leaving and answered, finish once both did, and in a
    /// live session tell when in sync and ping when quiet.
    fn progress(&mut self, now: Duration, out: &mut Vec<Output>) {
        if self.finished || self.refreshing || !self.heard_wants() {
            return;
        }
        let leaving = !self.settings.live || self.peer_bye;
        if leaving && self.answered >= self.asked && !self.sent_bye {
            out.push(Output::Send(vec![BYE]));
            self.sent_bye = true;
        }
        if self.sent_bye && self.peer_bye {
            self.finished = true;
            out.push(Output::Finish);
            return;
        }
        if !self.settings.live {
            return;
        }
        if self.answered >= 1 && !self.announced {
            self.announced = true;
            out.push(Output::InSync);
        }
        if out
            .iter()
            .any(|o| matches!(o, Output::Push { live: true, .. }))
        {
            self.last_sent = now;
        } else if now.saturating_sub(self.last_sent) >= self.settings.keepalive {
            out.push(Output::Send(vec![PING]));
            self.last_sent = now;
        }
    }

    /// The peer holds what it sends us: never send it back. Only a contiguous run from what we
    /// knew counts (messages beyond a gap say nothing of the gap).
    fn note_held(&mut self, messages: &[Message]) {
        for m in messages {
            let known = self.theirs.holds.entry(m.header.author).or_insert(0);
            if m.header.sequence == known.saturating_add(1) {
                *known = m.header.sequence;
            }
        }
    }
}

/// In pub mode, the connecting peer's feed is taken in only once its own messages say it
/// follows the pub: a pub never stores what it does not want, not even for a moment.
struct PubGate {
    peer: FeedId,
    me: FeedId,
    follows: bool,
}

impl PubGate {
    /// Reads the peer's contact messages about us in `batch` (in feed order) and widens `set`
    /// by the peer while it follows us. Signatures are checked at ingest, as for every message.
    fn admit(&mut self, batch: &[Message], set: &mut ReplicationSet) {
        for m in batch.iter().filter(|m| m.header.author == self.peer) {
            if let Content::Contact(feed, change) = Content::of(m)
                && feed == self.me
            {
                use crate::content::ContactChange::*;
                match change {
                    Follow => self.follows = true,
                    Unfollow | Block => self.follows = false,
                    Unblock => {}
                }
            }
        }
        if self.follows && !set.is_blocked(&self.peer) {
            set.distance.entry(self.peer).or_insert(1);
        }
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
