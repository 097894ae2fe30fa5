//! One replication session with a peer, over the same plan/ingest core as bundles.
//!
//! Both sides send a *want list* — their frontier for every feed in their replication set —
//! then stream, for each wanted feed they replicate themselves, the messages the other lacks,
//! and a `Done`. A one-shot session (`grapevine sync`) then says `Bye`; a live session (under
//! `serve`) stays open and pushes new messages as they are posted or imported.
//! A reader thread receives and ingests while the session thread sends, so neither side can
//! block the other.

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::frame::{FrameError, FrameReader, FrameWriter, MAX_PAYLOAD, handshake};
use super::wire::{BYE, DONE, MAX_WANTS, MESSAGES, PING, ends_burst, send_wants};
pub use super::wire::{Frame, parse_frame};
use crate::events::{self, Who};
use crate::graph::ReplicationSet;
use crate::ids::FeedId;
use crate::ingest::{IngestReport, Ingester};
use crate::message::Message;
use crate::node::{Node, NodeError};
use crate::replicate::{self, Audience, Reader};

pub use super::error::SessionError;

#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub network_key: [u8; 32],
    /// Longest silence before a peer counts as stalled.
    pub timeout: Duration,
    /// A live session pings this often when idle.
    pub keepalive: Duration,
    /// Stay connected and push new messages (under `serve`).
    pub live: bool,
    /// Pub mode: also replicate every feed that follows us, and whoever connects.
    pub pub_mode: bool,
    /// The time the session stamps what it stores and hears with.
    pub clock: crate::clock::SharedClock,
}

/// What a session did.
#[derive(Debug, Default)]
pub struct SessionReport {
    pub peer: Option<FeedId>,
    pub received: IngestReport,
    pub sent: u64,
    pub duration: Duration,
}

/// Called once the peer is authenticated, with whether it is a stranger (a feed we do not
/// replicate); may refuse it (a duplicate session, no free slot).
pub type Admit<'a> = &'a (dyn Fn(FeedId, bool) -> Result<(), SessionError> + Sync);

/// The longest a handshake may take in all, so that silent or trickling connections free
/// their slot soon; `timeout` shortens it.
pub const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// Runs a session on `stream` for the node in `home`.
pub fn run(
    home: &Path,
    stream: TcpStream,
    initiator: bool,
    config: &SessionConfig,
    admit: Admit<'_>,
    tell: &(dyn Fn(events::Event) + Sync),
) -> Result<SessionReport, SessionError> {
    let started = Instant::now();
    let address = stream.peer_addr().ok();
    stream
        .set_read_timeout(Some(config.timeout))
        .map_err(FrameError::Io)?;
    stream
        .set_write_timeout(Some(config.timeout))
        .map_err(FrameError::Io)?;
    stream.set_nodelay(true).map_err(FrameError::Io)?;
    let mut writer_node = Node::open(home)?.with_clock(config.clock.clone());
    let identity = crate::identity::Identity::load(&home.join(crate::node::KEY_FILE))
        .map_err(NodeError::from)?;
    let (peer, reader, mut writer) = handshake(
        stream,
        &identity,
        &config.network_key,
        initiator,
        HANDSHAKE_DEADLINE.min(config.timeout),
        config.timeout,
    )?;
    let mine = writer_node.replication_set_for(config.pub_mode)?;
    if mine.is_blocked(&peer) {
        writer.shutdown();
        return Err(SessionError::Blocked(peer));
    }
    admit(peer, !mine.contains(&peer))?;
    // Our want list: every feed we replicate, with what we hold; a pub also asks for the
    // peer's own feed, to learn whether it follows the pub.
    let mut members: Vec<FeedId> = mine.members().into_iter().map(|(f, _)| f).collect();
    if config.pub_mode && !mine.contains(&peer) {
        members.push(peer);
    }
    send_wants(&mut writer, &holding(&writer_node, &members)?)?;
    let gate = config.pub_mode.then(|| PubGate {
        peer,
        me: writer_node.id(),
        follows: false,
    });

    let theirs: Arc<Mutex<HashMap<FeedId, u64>>> = Arc::default();
    let (events_tx, events) = mpsc::channel();
    let reader_home = home.to_owned();
    let reader_theirs = theirs.clone();
    let shared_wanted = Arc::new(RwLock::new(mine.clone()));
    let reader_wanted = shared_wanted.clone();
    let reader_clock = config.clock.clone();
    let reader = std::thread::spawn(move || {
        receive(
            &reader_home,
            reader_clock,
            reader,
            &reader_wanted,
            gate,
            &reader_theirs,
            &events_tx,
        )
    });

    let result = send_side(
        &mut writer_node,
        &mut writer,
        mine,
        &shared_wanted,
        peer,
        address,
        &theirs,
        &events,
        config,
        tell,
    );
    writer.shutdown();
    let received = reader
        .join()
        .unwrap_or_else(|_| Err(SessionError::Protocol("the receiving thread failed".into())));
    // What arrived may have widened the set (files that hold newly wanted feeds are read
    // again) or narrowed it (a pub keeps a connecting peer's feed only if it follows the pub).
    writer_node.settle()?;
    // When the sending side failed only because the receiving side had ended, the receiving
    // side's error is the one that says what happened.
    let (sent, received) = match (result, received) {
        (Ok(sent), Ok(received)) => (sent, received),
        (Err(SessionError::Frame(FrameError::Closed)), Err(why)) => return Err(why),
        // Closed before its want list arrived: the peer refused the session.
        (Err(SessionError::Frame(FrameError::Closed)), Ok(_))
            if theirs.lock().map(|t| t.is_empty()).unwrap_or(false) =>
        {
            return Err(SessionError::EndedEarly(peer));
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    Ok(SessionReport {
        peer: Some(peer),
        received,
        sent,
        duration: started.elapsed(),
    })
}

enum Event {
    /// A complete want list of the peer: the first, or feeds it wants in addition.
    Wants(Vec<(FeedId, u64)>),
    /// The peer finished answering a want list of ours.
    PeerDone,
    /// The peer is satisfied and will ask for nothing more (one-shot sessions).
    PeerBye,
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
            let change = m
                .json()
                .and_then(|json| crate::content::contact_change(&json));
            if let Some((_, change)) = change.filter(|(feed, _)| *feed == self.me) {
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

/// Each feed with the highest sequence we hold of it (0 if none): a want list.
fn holding(node: &Node, feeds: &[FeedId]) -> Result<Vec<(FeedId, u64)>, SessionError> {
    let mut out = Vec::with_capacity(feeds.len());
    for feed in feeds {
        out.push((*feed, node.store().frontier(feed)?.sequence));
    }
    Ok(out)
}

/// The sending half, and the session's bookkeeping: answers the peer's want lists, asks for
/// feeds that join our set during the session, pushes live, and decides when a one-shot
/// session is over (both sides answered and satisfied: each has sent and received `bye`).
#[allow(clippy::too_many_arguments)]
fn send_side(
    node: &mut Node,
    writer: &mut FrameWriter,
    mut mine: ReplicationSet,
    receiving: &RwLock<ReplicationSet>,
    peer: FeedId,
    address: Option<SocketAddr>,
    theirs: &Mutex<HashMap<FeedId, u64>>,
    events: &mpsc::Receiver<Event>,
    config: &SessionConfig,
    tell: &(dyn Fn(events::Event) + Sync),
) -> Result<u64, SessionError> {
    let deadline = Instant::now() + config.timeout;
    let mut peer_bye = false;
    let first_wants = loop {
        match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Event::Wants(w)) => break w,
            Ok(Event::PeerBye) => peer_bye = true,
            Ok(_) => continue,
            // The receiving side ended first: its error says why.
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(FrameError::Closed.into()),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(FrameError::Stalled(config.timeout.as_secs()).into());
            }
        }
    };
    note_wants(theirs, &first_wants)?;
    let frontier: Vec<(FeedId, u64)> = first_wants
        .iter()
        .filter(|(_, s)| *s > 0)
        .copied()
        .collect();
    let via = format!("lan {}", address.map(|a| a.to_string()).unwrap_or_default());
    // Their first want list is their replication set: what a bundle to them should carry.
    let their_wants: Vec<FeedId> = first_wants.iter().map(|(f, _)| *f).collect();
    node.store.note_heard(
        &peer,
        &frontier,
        Some((&their_wants, None)),
        node.now(),
        &via,
        node.now(),
    )?;
    // A set: later want lists are checked against it, and a list may name 200,000 feeds.
    let mut their_list: HashSet<FeedId> = their_wants.iter().copied().collect();
    let mut wanted: Vec<FeedId> = their_list
        .iter()
        .copied()
        .filter(|f| mine.contains(f))
        .collect();
    let mut beyond: HashMap<FeedId, u64> = HashMap::new();
    // Read before the first push: anything committed from here on is pushed live.
    let mut last_version = node.store().data_version().unwrap_or(0);
    let mut sent = push_new(node, writer, &wanted, theirs, &mut beyond)?;
    writer.write(&[DONE])?;
    // Want lists we sent (the first, and one per widening) and the `done`s answering them.
    let (mut asked, mut answered) = (1u32, 0u32);
    let mut sent_bye = false;
    let mut announced = false;
    let mut last_sent = Instant::now();
    loop {
        match events.recv_timeout(Duration::from_millis(200)) {
            Ok(Event::PeerDone) => answered += 1,
            Ok(Event::PeerBye) => peer_bye = true,
            Ok(Event::Wants(more)) => {
                // The peer's set grew: answer the new feeds like the first list.
                note_wants(theirs, &more)?;
                let added: Vec<FeedId> = more
                    .iter()
                    .map(|(f, _)| *f)
                    .filter(|f| their_list.insert(*f))
                    .collect();
                let servable: Vec<FeedId> =
                    added.into_iter().filter(|f| mine.contains(f)).collect();
                wanted.extend(&servable);
                sent += push_new(node, writer, &servable, theirs, &mut beyond)?;
                writer.write(&[DONE])?;
            }
            // Every 200 ms, the store is looked at for what changed (what the peer sent us, too).
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(sent),
        }
        let version = node.store().data_version().unwrap_or(last_version);
        let changed = version != last_version;
        if changed {
            last_version = version;
            // What arrived, or a follow in another process, may have widened our set: ask the
            // peer for the new feeds in this session, and serve what it wants of them.
            let now = node.replication_set_for(config.pub_mode)?;
            let added: Vec<FeedId> = now
                .members()
                .into_iter()
                .map(|(f, _)| f)
                .filter(|f| !mine.contains(f))
                .collect();
            if !added.is_empty() {
                if let Ok(mut set) = receiving.write() {
                    *set = now.clone();
                }
                send_wants(writer, &holding(node, &added)?)?;
                asked += 1;
                let servable: Vec<FeedId> = added
                    .into_iter()
                    .filter(|f| their_list.contains(f))
                    .collect();
                wanted.extend(&servable);
                sent += push_new(node, writer, &servable, theirs, &mut beyond)?;
            }
            mine = now;
        }
        // A one-shot side leaves once its want lists are answered; a live side stays until the
        // peer leaves. Either way the session ends when both have said `bye`.
        let leaving = !config.live || peer_bye;
        if leaving && answered >= asked && !sent_bye {
            writer.write(&[BYE])?;
            sent_bye = true;
        }
        if sent_bye && peer_bye {
            return Ok(sent);
        }
        if !config.live {
            continue;
        }
        if answered >= 1 && !announced {
            announced = true;
            tell(events::Event::InSync {
                peer: Who::in_home(node.home(), &peer),
            });
        }
        // Live: push whatever is new in our store (posts, imports, other sessions).
        if changed {
            let n = push_new(node, writer, &wanted, theirs, &mut beyond)?;
            if n > 0 {
                sent += n;
                last_sent = Instant::now();
                tell(events::Event::Pushed {
                    peer: Who::in_home(node.home(), &peer),
                    messages: n,
                });
            }
        }
        if last_sent.elapsed() >= config.keepalive {
            writer.write(&[PING])?;
            last_sent = Instant::now();
        }
    }
}

/// Records what a want list says the peer holds.
fn note_wants(
    theirs: &Mutex<HashMap<FeedId, u64>>,
    wants: &[(FeedId, u64)],
) -> Result<(), SessionError> {
    let mut map = theirs
        .lock()
        .map_err(|_| SessionError::Protocol("lock".into()))?;
    for (feed, seq) in wants {
        let known = map.entry(*feed).or_insert(0);
        *known = (*known).max(*seq);
    }
    Ok(())
}

/// Sends, for every wanted feed, what the peer lacks as the one planner
/// ([`crate::replicate::plan`]) works it out: linked messages beyond what it is known to hold,
/// and verified ones beyond a gap not sent yet (`beyond` remembers how far those went).
fn push_new(
    node: &Node,
    writer: &mut FrameWriter,
    wanted: &[FeedId],
    theirs: &Mutex<HashMap<FeedId, u64>>,
    beyond: &mut HashMap<FeedId, u64>,
) -> Result<u64, SessionError> {
    let reader = Reader {
        wants: None,
        holds: theirs
            .lock()
            .map_err(|_| SessionError::Protocol("lock".into()))?
            .clone(),
        sent_beyond: beyond.clone(),
    };
    let ranges = replicate::plan(
        wanted.iter().copied(),
        node.store(),
        &Audience::Readers(std::slice::from_ref(&reader)),
        None,
    )?;
    let mut sent = 0u64;
    let mut frame = vec![MESSAGES];
    let mut failure = None;
    for range in &ranges {
        node.store().for_each_record_in_range(
            &range.feed,
            range.first,
            range.last,
            |_, envelope, content| {
                // Stored records go out as they are: the peer verifies each.
                if frame.len() + envelope.len() + content.len() > MAX_PAYLOAD {
                    if let Err(e) = writer.write(&frame) {
                        failure.get_or_insert(e);
                    }
                    frame.truncate(1);
                }
                frame.extend_from_slice(envelope);
                frame.extend_from_slice(content);
                sent += 1;
                Ok(())
            },
        )?;
        if let Some(e) = failure.take() {
            return Err(e.into());
        }
    }
    if frame.len() > 1 {
        writer.write(&frame)?;
    }
    // What the peer now holds, as a contiguous frontier, and how far runs beyond went.
    let mut known = theirs
        .lock()
        .map_err(|_| SessionError::Protocol("lock".into()))?;
    for range in ranges {
        let have = node.store().frontier(&range.feed)?.sequence;
        let held = known.entry(range.feed).or_insert(0);
        *held = (*held).max(have.min(range.last));
        if range.last > have {
            let went = beyond.entry(range.feed).or_insert(0);
            *went = (*went).max(range.last);
        }
    }
    Ok(sent)
}

/// The receiving half: parses frames, ingests messages of wanted feeds, and tells the sender.
fn receive(
    home: &Path,
    clock: crate::clock::SharedClock,
    reader: FrameReader,
    wanted: &RwLock<ReplicationSet>,
    gate: Option<PubGate>,
    theirs: &Mutex<HashMap<FeedId, u64>>,
    events: &mpsc::Sender<Event>,
) -> Result<IngestReport, SessionError> {
    let mut node = Node::open(home)?.with_clock(clock);
    // One ingester for the session: while a batch is written, the next is verified. A burst's
    // last frame (or a single live message) is stored before the next frame is read, so
    // latency stays low.
    let mut intake = Intake {
        ingester: Ingester::new(&mut node.store, &node.opener, &*node.clock),
        wanted,
        gate,
    };
    let ended = read_frames(reader, &mut intake, theirs, events);
    // However the session ended, what arrived and checks out is kept.
    let settled = intake.settle();
    ended.and(settled)?;
    Ok(intake.ingester.finish()?)
}

/// Reads frames until the peer closes the connection.
fn read_frames(
    mut reader: FrameReader,
    intake: &mut Intake<'_>,
    theirs: &Mutex<HashMap<FeedId, u64>>,
    events: &mpsc::Sender<Event>,
) -> Result<(), SessionError> {
    let mut wants = Vec::new();
    loop {
        let frame = match reader.read() {
            Ok(frame) => frame,
            Err(FrameError::Closed) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        match parse_frame(&frame)? {
            Frame::Want { more, entries } => {
                wants.extend(entries);
                if wants.len() > MAX_WANTS {
                    return Err(SessionError::Protocol(format!(
                        "a want list of more than {MAX_WANTS} feeds"
                    )));
                }
                if !more {
                    let _ = events.send(Event::Wants(std::mem::take(&mut wants)));
                }
            }
            Frame::Messages(messages) => {
                note_held(theirs, &messages);
                intake.take(messages)?;
                if ends_burst(frame.len()) {
                    intake.settle()?;
                }
            }
            Frame::Done => {
                intake.settle()?;
                let _ = events.send(Event::PeerDone);
            }
            Frame::Ping => intake.settle()?,
            Frame::Bye => {
                // The peer asks for nothing more, but still answers us until we say bye too.
                intake.settle()?;
                let _ = events.send(Event::PeerBye);
            }
        }
    }
}

/// The session's ingester, and what it needs to judge what arrives.
struct Intake<'a> {
    ingester: Ingester<'a>,
    wanted: &'a RwLock<ReplicationSet>,
    gate: Option<PubGate>,
}

impl Intake<'_> {
    /// Hands a frame's messages to the ingester under the replication set as it is now. The
    /// ingester judges a batch by the set it was given last before the batch filled.
    fn take(&mut self, messages: Vec<Message>) -> Result<(), SessionError> {
        let mut set = self
            .wanted
            .read()
            .map_err(|_| SessionError::Protocol("lock".into()))?
            .clone();
        if let Some(gate) = &mut self.gate {
            gate.admit(&messages, &mut set);
        }
        self.ingester.want(set);
        for m in messages {
            self.ingester.push(m, "network")?;
        }
        self.check()
    }

    /// Waits until everything received is stored.
    fn settle(&mut self) -> Result<(), SessionError> {
        self.ingester.settle()?;
        self.check()
    }

    /// A peer that sent an invalid message is refused as soon as its batch is checked.
    fn check(&self) -> Result<(), SessionError> {
        let report = &self.ingester.report;
        if report.rejected > 0 {
            let why = report.rejections.iter().find(|r| r.place == "network");
            let why = why.map(|r| r.to_string()).unwrap_or_default();
            return Err(SessionError::Protocol(format!("an invalid message: {why}")));
        }
        Ok(())
    }
}

/// The peer holds what it sends us: never send it back. Only a contiguous run from what we
/// knew counts (messages beyond a gap say nothing of the gap).
fn note_held(theirs: &Mutex<HashMap<FeedId, u64>>, messages: &[Message]) {
    if let Ok(mut map) = theirs.lock() {
        for m in messages {
            let known = map.entry(m.header.author).or_insert(0);
            if m.header.sequence == known.saturating_add(1) {
                *known = m.header.sequence;
            }
        }
    }
}
