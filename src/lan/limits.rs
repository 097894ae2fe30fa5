//! How many connections `serve` holds, so that no one can lock others out.
//!
//! A connection first takes a *handshake* slot (bounded in total and per address, held at most
//! the handshake deadline), then trades it for a *session* slot once the peer has proved who it
//! is. Feeds we do not replicate may fill only part of the session slots, so strangers with
//! fresh keys cannot crowd out the people we follow. Slots are taken on the accepting thread
//! and given back when their guard drops, so counts never race with the accept loop.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Connections still proving who they are, in total and from one address.
pub const MAX_HANDSHAKES: usize = 32;
pub const MAX_HANDSHAKES_PER_ADDRESS: usize = 4;
/// Authenticated sessions in total, from one address, and with feeds we do not replicate.
pub const MAX_SESSIONS: usize = 64;
pub const MAX_SESSIONS_PER_ADDRESS: usize = 16;
pub const MAX_STRANGER_SESSIONS: usize = 32;

#[derive(Default)]
struct Counts {
    handshakes: usize,
    handshakes_from: HashMap<IpAddr, usize>,
    sessions: usize,
    sessions_from: HashMap<IpAddr, usize>,
    strangers: usize,
}

/// Why a connection was turned away.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Handshakes,
    HandshakesFrom,
    Sessions,
    SessionsFrom,
    Strangers,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Handshakes => "too many connections are still handshaking",
            Self::HandshakesFrom => "too many connections from its address are still handshaking",
            Self::Sessions => "all session slots are taken",
            Self::SessionsFrom => "too many sessions from its address",
            Self::Strangers => "all slots for feeds we do not replicate are taken",
        })
    }
}

#[derive(Clone, Default)]
pub struct Limits(Arc<Mutex<Counts>>);

/// Held while a connection handshakes.
pub struct HandshakeSlot {
    limits: Limits,
    from: Option<IpAddr>,
}

/// Held while a session runs.
pub struct SessionSlot {
    limits: Limits,
    from: Option<IpAddr>,
    stranger: bool,
}

fn decrement(map: &mut HashMap<IpAddr, usize>, from: Option<IpAddr>) {
    if let Some(ip) = from
        && let Some(n) = map.get_mut(&ip)
    {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(&ip);
        }
    }
}

impl Limits {
    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        // Counts stay meaningful even if a holder panicked.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A slot for an accepted connection from `from` to handshake in.
    pub fn handshake(&self, from: IpAddr) -> Result<HandshakeSlot, Refusal> {
        let mut c = self.counts();
        if c.handshakes >= MAX_HANDSHAKES {
            return Err(Refusal::Handshakes);
        }
        let mine = c.handshakes_from.entry(from).or_insert(0);
        if *mine >= MAX_HANDSHAKES_PER_ADDRESS {
            return Err(Refusal::HandshakesFrom);
        }
        *mine += 1;
        c.handshakes += 1;
        Ok(HandshakeSlot {
            limits: self.clone(),
            from: Some(from),
        })
    }

    /// A slot for a connection we dial ourselves: it skips the handshake bound.
    pub fn dialled(&self) -> HandshakeSlot {
        self.counts().handshakes += 1;
        HandshakeSlot {
            limits: self.clone(),
            from: None,
        }
    }

    /// (handshakes, sessions) now held.
    pub fn held(&self) -> (usize, usize) {
        let c = self.counts();
        (c.handshakes, c.sessions)
    }
}

impl HandshakeSlot {
    /// Trades this slot for a session slot, once the peer is authenticated; `stranger` when
    /// we do not replicate its feed.
    pub fn into_session(self, stranger: bool) -> Result<SessionSlot, Refusal> {
        let limits = self.limits.clone();
        let from = self.from;
        let mut c = limits.counts();
        if c.sessions >= MAX_SESSIONS {
            return Err(Refusal::Sessions);
        }
        if stranger && c.strangers >= MAX_STRANGER_SESSIONS {
            return Err(Refusal::Strangers);
        }
        if let Some(ip) = from {
            let mine = c.sessions_from.entry(ip).or_insert(0);
            if *mine >= MAX_SESSIONS_PER_ADDRESS {
                return Err(Refusal::SessionsFrom);
            }
            *mine += 1;
        }
        c.sessions += 1;
        if stranger {
            c.strangers += 1;
        }
        drop(c);
        // `self` drops here and gives back its handshake slot.
        Ok(SessionSlot {
            limits,
            from,
            stranger,
        })
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        let mut c = self.limits.counts();
        c.handshakes = c.handshakes.saturating_sub(1);
        decrement(&mut c.handshakes_from, self.from);
    }
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        let mut c = self.limits.counts();
        c.sessions = c.sessions.saturating_sub(1);
        if self.stranger {
            c.strangers = c.strangers.saturating_sub(1);
        }
        decrement(&mut c.sessions_from, self.from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_and_given_back() {
        let limits = Limits::default();
        let one: IpAddr = [10, 0, 0, 1].into();
        let held: Vec<_> = (0..MAX_HANDSHAKES_PER_ADDRESS)
            .map(|_| limits.handshake(one).expect("a slot"))
            .collect();
        assert_eq!(limits.handshake(one).err(), Some(Refusal::HandshakesFrom));
        let other = limits
            .handshake([10, 0, 0, 2].into())
            .expect("another address");
        drop(held);
        assert_eq!(limits.held(), (1, 0));
        let session = other.into_session(true).expect("a session");
        assert_eq!(limits.held(), (0, 1));
        drop(session);
        assert_eq!(limits.held(), (0, 0));
        assert!(limits.handshake(one).is_ok());
    }

    #[test]
    fn strangers_leave_room_for_friends() {
        let limits = Limits::default();
        let mut held = Vec::new();
        for i in 0..MAX_STRANGER_SESSIONS {
            let ip: IpAddr = [10, 0, 1, i as u8].into();
            held.push(limits.handshake(ip).and_then(|h| h.into_session(true)));
        }
        assert!(held.iter().all(Result::is_ok));
        let stranger = limits
            .handshake([10, 0, 2, 1].into())
            .expect("a handshake slot");
        assert_eq!(stranger.into_session(true).err(), Some(Refusal::Strangers));
        let friend = limits
            .handshake([10, 0, 2, 2].into())
            .expect("a handshake slot");
        assert!(friend.into_session(false).is_ok());
        assert_eq!(limits.held(), (0, MAX_STRANGER_SESSIONS));
    }
}
