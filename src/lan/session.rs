//! A LAN session: drives the replication core's session ([`crate::replicate::session`]) over
//! an authenticated Noise connection.
//!
//! Two threads: one reads frames, hands them to the session and ingests what it says to on a
//! store connection of its own, so that it never waits for the other; the other sends what the
//! session says to send, tells the session when our store changed (every 200 ms it looks), and
//! ticks its timers. Neither side can block the other: each always reads.

use std::net::TcpStream;
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use super::frame::{FrameError, FrameReader, FrameWriter, handshake};
use crate::events::{self, Who};
use crate::ids::FeedId;
use crate::ingest::{IngestReport, Ingester};
use crate::node::Node;
use crate::replicate::session::{Fault, Input, Output, Session, Settings};
use crate::store::{Store, StoreError};

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

/// How often the sending side looks at the store for news, and ticks the session.
const TICK: Duration = Duration::from_millis(200);

impl From<Fault<StoreError>> for SessionError {
    fn from(fault: Fault<StoreError>) -> Self {
        match fault {
            Fault::Violation(v) => Self::Protocol(v.0),
            Fault::Stalled(after) => FrameError::Stalled(after.as_secs()).into(),
            Fault::Held(e) => e.into(),
        }
    }
}

/// Runs a session for `node` on `stream`.
pub fn run(
    node: &mut Node,
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
    let (peer, reader, mut writer) = handshake(
        stream,
        node.identity(),
        &config.network_key,
        initiator,
        HANDSHAKE_DEADLINE.min(config.timeout),
        config.timeout,
    )?;
    let mine = node.replication_set_for(config.pub_mode)?;
    if mine.is_blocked(&peer) {
        writer.shutdown();
        return Err(SessionError::Blocked(peer));
    }
    admit(peer, !mine.contains(&peer))?;
    let settings = Settings {
        live: config.live,
        pub_mode: config.pub_mode,
        timeout: config.timeout,
        keepalive: config.keepalive,
    };
    let mut session = Session::new(settings, node.id(), peer, mine);
    let mut sender = Sender {
        writer: &mut writer,
        peer,
        via: format!("lan {}", address.map(|a| a.to_string()).unwrap_or_default()),
        tell,
        sent: 0,
        version: node.store().data_version().unwrap_or(0),
    };
    let start = session.start(node.store())?;
    let session = Mutex::new(session);
    let intake = node.store().reopen()?;
    let (outputs, from_reader) = mpsc::channel();
    let (sending, received) = std::thread::scope(|s| {
        let (opener, clock) = (
            crate::private_box::Opener::of(node.identity()),
            node.clock.clone(),
        );
        let session = &session;
        let receiving =
            s.spawn(move || receive(reader, intake, &opener, &*clock, session, started, &outputs));
        let sending = sender.run(node, session, start, &from_reader, config.pub_mode, started);
        sender.writer.shutdown();
        let received = receiving
            .join()
            .unwrap_or_else(|_| Err(SessionError::Protocol("the receiving thread failed".into())));
        (sending, received)
    });
    // What arrived may have widened the set (files that hold newly wanted feeds are read
    // again) or narrowed it (a pub keeps a connecting peer's feed only if it follows the pub).
    node.settle()?;
    let heard = session.lock().map(|s| s.heard_wants()).unwrap_or(false);
    // When the sending side failed only because the receiving side had ended, the receiving
    // side's error is the one that says what happened.
    let received = match (sending, received) {
        // Closed before its want list arrived: the peer refused the session.
        (Err(SessionError::Frame(FrameError::Closed)) | Ok(()), Ok(_)) if !heard => {
            return Err(SessionError::EndedEarly(peer));
        }
        (Ok(()), Ok(received)) => received,
        (Err(SessionError::Frame(FrameError::Closed)), Err(why)) => return Err(why),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    Ok(SessionReport {
        peer: Some(peer),
        received,
        sent: sender.sent,
        duration: started.elapsed(),
    })
}

/// What the sending half works with.
struct Turn<'a> {
    node: &'a mut Node,
    session: &'a Mutex<Session>,
    pub_mode: bool,
    started: Instant,
}

/// The sending half: does what the session says, and tells it of time and news.
struct Sender<'a> {
    writer: &'a mut FrameWriter,
    peer: FeedId,
    via: String,
    tell: &'a (dyn Fn(events::Event) + Sync),
    /// Messages sent.
    sent: u64,
    /// The store's data version when last looked at.
    version: i64,
}

impl Sender<'_> {
    fn run(
        &mut self,
        node: &mut Node,
        session: &Mutex<Session>,
        start: Vec<Output>,
        from_reader: &mpsc::Receiver<Output>,
        pub_mode: bool,
        started: Instant,
    ) -> Result<(), SessionError> {
        let mut turn = Turn {
            node,
            session,
            pub_mode,
            started,
        };
        for output in start {
            self.perform(&mut turn, output)?;
        }
        let mut next_look = Instant::now() + TICK;
        loop {
            let wait = next_look.saturating_duration_since(Instant::now());
            match from_reader.recv_timeout(wait) {
                Ok(output) => {
                    if self.perform(&mut turn, output)? {
                        return Ok(());
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // The receiving side ended: its result says how.
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            }
            if Instant::now() < next_look {
                continue;
            }
            next_look = Instant::now() + TICK;
            let version = turn.node.store().data_version().unwrap_or(self.version);
            if version != self.version {
                // What arrived, or a follow in another process, may have changed our set.
                let set = turn.node.replication_set_for(pub_mode)?;
                if self.feed(&mut turn, Input::Stored(set))? {
                    return Ok(());
                }
            }
            if self.feed(&mut turn, Input::Tick)? {
                return Ok(());
            }
        }
    }

    /// Hands the session an input and does what it says; true once the session is over.
    fn feed(&mut self, turn: &mut Turn<'_>, input: Input<'_>) -> Result<bool, SessionError> {
        if matches!(input, Input::Stored(_)) {
            self.version = turn.node.store().data_version().unwrap_or(self.version);
        }
        let now = turn.started.elapsed();
        let outputs = lock(turn.session)?.handle(input, now, turn.node.store())?;
        for output in outputs {
            if self.perform(turn, output)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Does one thing the session said; true once the session is over.
    fn perform(&mut self, turn: &mut Turn<'_>, output: Output) -> Result<bool, SessionError> {
        let node = &mut *turn.node;
        match output {
            Output::Send(frame) => self.writer.write(&frame)?,
            Output::Push { ranges, live } => {
                let writer = &mut *self.writer;
                let n = crate::replicate::push::send_ranges(node.store(), &ranges, |frame| {
                    writer.write(&frame).map_err(SessionError::from)
                })?;
                self.sent += n;
                if live && n > 0 {
                    (self.tell)(events::Event::Pushed {
                        peer: Who::in_store(node.store(), &self.peer),
                        messages: n,
                    });
                }
            }
            Output::Heard { holds, wants } => {
                // Their first want list is their replication set: what a bundle to them
                // should carry.
                let now = node.now();
                node.store.note_heard(
                    &self.peer,
                    &holds,
                    Some((&wants, None)),
                    now,
                    &self.via,
                    now,
                )?;
            }
            Output::Refresh => {
                let set = node.replication_set_for(turn.pub_mode)?;
                return self.feed(turn, Input::Stored(set));
            }
            Output::InSync => (self.tell)(events::Event::InSync {
                peer: Who::in_store(node.store(), &self.peer),
            }),
            Output::Finish => return Ok(true),
            // Only frames received make these, and the receiving side does them.
            Output::Ingest { .. } | Output::Settle => {}
        }
        Ok(false)
    }
}

/// The receiving half: reads frames until the peer closes the connection, hands each to the
/// session, ingests what it says to, and passes the rest to the sending half.
fn receive(
    mut reader: FrameReader,
    mut store: Store,
    opener: &crate::private_box::Opener,
    clock: &dyn crate::clock::Clock,
    session: &Mutex<Session>,
    started: Instant,
    outputs: &mpsc::Sender<Output>,
) -> Result<IngestReport, SessionError> {
    // One ingester for the session: while a batch is written, the next is verified.
    let mut ingester = Ingester::new(&mut store, opener, clock);
    let ended = (|| loop {
        let frame = match reader.read() {
            Ok(frame) => frame,
            Err(FrameError::Closed) => return Ok(()),
            Err(e) => return Err(SessionError::from(e)),
        };
        let said =
            lock(session)?.handle(Input::Frame(&frame), started.elapsed(), ingester.store())?;
        for output in said {
            match output {
                Output::Ingest { messages, set } => {
                    ingester.want(set);
                    for m in messages {
                        ingester.push(m, "network")?;
                    }
                    refuse_invalid(&ingester)?;
                }
                Output::Settle => {
                    ingester.settle()?;
                    refuse_invalid(&ingester)?;
                }
                other => {
                    let _ = outputs.send(other);
                }
            }
        }
    })();
    // However the session ended, what arrived and checks out is kept.
    let settled = ingester
        .settle()
        .map_err(SessionError::from)
        .and_then(|()| refuse_invalid(&ingester));
    ended.and(settled)?;
    Ok(ingester.finish()?)
}

/// A peer that sent an invalid message is refused as soon as its batch is checked.
fn refuse_invalid(ingester: &Ingester<'_>) -> Result<(), SessionError> {
    let report = &ingester.report;
    if report.rejected > 0 {
        let why = report.rejections.iter().find(|r| r.place == "network");
        let why = why.map(|r| r.to_string()).unwrap_or_default();
        return Err(SessionError::Protocol(format!("an invalid message: {why}")));
    }
    Ok(())
}

fn lock(session: &Mutex<Session>) -> Result<std::sync::MutexGuard<'_, Session>, SessionError> {
    session
        .lock()
        .map_err(|_| SessionError::Protocol("the session's state was poisoned".into()))
}
