//! Two nodes of this process meet: one replication session each, driven in memory, with no
//! socket and no file of its own. It is the session a LAN connection drives
//! ([`crate::replicate::session`]), so what two people exchange here is what they would
//! exchange there; a simulation of many people is built on it. Nodes in memory
//! ([`Node::in_memory`]) meet without touching a disk.

use std::collections::VecDeque;
use std::time::Duration;

use super::{Node, NodeError, Result};
use crate::ids::FeedId;
use crate::ingest::Ingester;
use crate::replicate::push::send_ranges;
use crate::replicate::session::{Fault, Input, Output, Session, Settings};

/// What one side of a meeting did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Met {
    /// Messages it stored for the first time.
    pub received: u64,
    /// Messages it sent.
    pub sent: u64,
    /// Frames it sent, and their bytes.
    pub frames: u64,
    pub bytes: u64,
}

/// Most frames a meeting may exchange before it is called stuck (a bug, never a peer's doing:
/// both sides are ours).
const MOST_FRAMES: u64 = 10_000_000;

impl Node {
    /// Meets `other`: both send what the other wants and lacks, until both said `bye`, then
    /// settle. Refused, as on the LAN, when either blocks the other.
    pub fn meet(&mut self, other: &mut Node) -> Result<[Met; 2]> {
        let mut meeting = Meeting::new([self, other])?;
        meeting.run()?;
        for node in meeting.nodes {
            node.settle()?;
        }
        Ok(meeting.met)
    }
}

struct Meeting<'a> {
    nodes: [&'a mut Node; 2],
    sessions: [Session; 2],
    /// Frames on their way to each side.
    inboxes: [VecDeque<Vec<u8>>; 2],
    met: [Met; 2],
}

impl<'a> Meeting<'a> {
    fn new(nodes: [&'a mut Node; 2]) -> Result<Self> {
        let ids = [nodes[0].id(), nodes[1].id()];
        let settings = Settings {
            live: false,
            pub_mode: false,
            timeout: Duration::MAX,
            keepalive: Duration::MAX,
        };
        let session = |i: usize| -> Result<Session> {
            let set = nodes[i].replication_set()?;
            let peer = ids[1 - i];
            if set.is_blocked(&peer) {
                return Err(NodeError::Usage(format!("{} blocks {peer}", ids[i])));
            }
            Ok(Session::new(settings, ids[i], peer, set))
        };
        let sessions = [session(0)?, session(1)?];
        Ok(Self {
            nodes,
            sessions,
            inboxes: Default::default(),
            met: [Met::default(); 2],
        })
    }

    fn run(&mut self) -> Result<()> {
        for side in 0..2 {
            let start = self.sessions[side]
                .start(self.nodes[side].store())
                .map_err(fault)?;
            self.perform(side, start)?;
        }
        let mut handled = 0u64;
        while !self.sessions.iter().all(Session::is_finished) {
            let Some(side) = (0..2).find(|&s| !self.inboxes[s].is_empty()) else {
                return Err(NodeError::Usage(
                    "the meeting stopped before both sides said bye".into(),
                ));
            };
            handled += 1;
            if handled > MOST_FRAMES {
                return Err(NodeError::Usage("the meeting did not end".into()));
            }
            let frame = self.inboxes[side].pop_front().unwrap_or_default();
            self.feed(side, Input::Frame(&frame))?;
        }
        Ok(())
    }

    fn feed(&mut self, side: usize, input: Input<'_>) -> Result<()> {
        let outputs = self.sessions[side]
            .handle(input, Duration::ZERO, self.nodes[side].store())
            .map_err(fault)?;
        self.perform(side, outputs)
    }

    fn perform(&mut self, side: usize, outputs: Vec<Output>) -> Result<()> {
        let peer: FeedId = self.nodes[1 - side].id();
        for output in outputs {
            match output {
                Output::Send(frame) => self.send(side, frame),
                Output::Push { ranges, .. } => {
                    let mut frames = Vec::new();
                    let sent = send_ranges(self.nodes[side].store(), &ranges, |frame| {
                        frames.push(frame);
                        Ok::<_, NodeError>(())
                    })?;
                    self.met[side].sent += sent;
                    for frame in frames {
                        self.send(side, frame);
                    }
                }
                Output::Ingest { messages, set } => {
                    let node = &mut *self.nodes[side];
                    let mut ingester = Ingester::new(&mut node.store, &node.opener, &*node.clock);
                    ingester.want(set);
                    for message in messages {
                        ingester.push(message, "memory")?;
                    }
                    let report = ingester.finish()?;
                    if let Some(why) = report.rejections.first().filter(|_| report.rejected > 0) {
                        return Err(NodeError::Usage(format!(
                            "{peer} sent an invalid message: {why}"
                        )));
                    }
                    self.met[side].received += report.new;
                    if report.new > 0 {
                        // What arrived may have widened our set: the session asks for more.
                        let set = self.nodes[side].replication_set()?;
                        self.feed(side, Input::Stored(set))?;
                    }
                }
                Output::Refresh => {
                    let set = self.nodes[side].replication_set()?;
                    self.feed(side, Input::Stored(set))?;
                }
                Output::Heard { holds, wants } => {
                    let node = &mut *self.nodes[side];
                    let now = node.now();
                    node.store.note_heard(
                        &peer,
                        &holds,
                        Some((&wants, None)),
                        now,
                        "memory",
                        now,
                    )?;
                }
                // Everything is stored as it is handed over; nothing here is live.
                Output::Settle | Output::InSync | Output::Finish => {}
            }
        }
        Ok(())
    }

    fn send(&mut self, side: usize, frame: Vec<u8>) {
        self.met[side].frames += 1;
        self.met[side].bytes += frame.len() as u64;
        self.inboxes[1 - side].push_back(frame);
    }
}

fn fault(fault: Fault<crate::store::StoreError>) -> NodeError {
    match fault {
        Fault::Violation(v) => NodeError::Usage(format!("protocol violation: {v}")),
        Fault::Stalled(_) => NodeError::Usage("the meeting stalled".into()),
        Fault::Held(e) => e.into(),
    }
}
