//! `grapevine serve` and `grapevine sync`.

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::limits::{HandshakeSlot, Limits, SessionSlot};
use super::session::{self, SessionConfig, SessionError, SessionReport};
use super::{discovery, network_key};
use crate::events::{Event, Place, Tell, Who};
use crate::ids::FeedId;
use crate::node::{Node, NodeError};

/// How long a new session with a peer waits for its previous one to end: a peer that was killed
/// and reconnects at once may arrive before its old connection's end is noticed.
const DUPLICATE_GRACE: Duration = Duration::from_secs(3);

/// Refused connections are logged at most this often (with a count), so a flood cannot flood
/// the log too.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub discovery: bool,
    pub discovery_port: u16,
    pub announce_every: Duration,
    pub pub_mode: bool,
    pub network: String,
    pub timeout: Duration,
    pub keepalive: Duration,
    /// How often known pubs are visited when not connected.
    pub pub_every: Duration,
    /// The time sessions stamp what they store and hear with.
    pub clock: crate::clock::SharedClock,
}

impl Default for ServeOptions {
    /// `serve` without options: all addresses at the default port, discovery on, the default
    /// network.
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], super::DEFAULT_PORT)),
            discovery: true,
            discovery_port: super::DEFAULT_PORT,
            announce_every: Duration::from_secs(5),
            pub_mode: false,
            network: super::DEFAULT_NETWORK.into(),
            timeout: Duration::from_secs(45),
            keepalive: Duration::from_secs(15),
            pub_every: Duration::from_secs(30),
            clock: crate::clock::system(),
        }
    }
}

struct Shared {
    home: PathBuf,
    config: SessionConfig,
    tell: Tell,
    /// Feeds we are in a session with.
    connected: Mutex<HashSet<FeedId>>,
    /// Signalled whenever a session ends and leaves `connected`.
    session_ended: Condvar,
    /// Addresses we dialled and are connected to (pubs).
    dialled: Mutex<HashSet<String>>,
    limits: Limits,
}

/// Runs until the process is stopped: accepts sessions, announces itself, dials peers it
/// hears and pubs it knows. Tells each event to `tell`.
pub fn serve(home: &Path, opts: &ServeOptions, tell: Tell) -> Result<(), NodeError> {
    let listener = TcpListener::bind(opts.listen).map_err(|e| NodeError::Io {
        path: PathBuf::from(opts.listen.to_string()),
        source: e,
    })?;
    serve_on(home, listener, opts, tell)
}

/// The file a running LAN service holds locked, so that one home has one.
pub const LOCK_FILE: &str = "serve.lock";

/// The setting in which a running LAN service notes its process and address.
const SERVING: &str = "serving";

/// Where a LAN service running on this home listens, and since when: from the note it left,
/// if its process is still alive.
pub fn serving(node: &Node) -> Option<(String, i64)> {
    let note = node.running(SERVING)?;
    Some((
        note.get("address")?.as_str()?.to_owned(),
        note.get("since")?.as_i64()?,
    ))
}

/// Takes the home's LAN lock ([`LOCK_FILE`]): two services on one home would dial the same
/// peers twice and each refuse the other's sessions as duplicates.
fn lock_home(node: &Node) -> Result<std::fs::File, NodeError> {
    crate::node::running::lock(node.home()?, LOCK_FILE)?.ok_or_else(|| {
        NodeError::Usage(format!(
            "the LAN service already runs on this home{} (`grapevine serve`, or a window): \
             one home has one. Stop it first to serve with other settings",
            serving(node).map_or(String::new(), |(at, _)| format!(", listening on {at}"))
        ))
    })
}

/// `serve` on a listener the caller already bound.
pub fn serve_on(
    home: &Path,
    listener: TcpListener,
    opts: &ServeOptions,
    tell: Tell,
) -> Result<(), NodeError> {
    let mut node = Node::open(home)?.with_clock(opts.clock.clone());
    let _lock = lock_home(&node)?;
    if opts.pub_mode && !node.is_pub()? {
        // Remembered, so that settling, import and export in this home keep the followers.
        node.set_config("pub", "on")?;
    }
    let me = node.id();
    let bound = listener.local_addr().map_err(|e| NodeError::Io {
        path: PathBuf::from(opts.listen.to_string()),
        source: e,
    })?;
    // So that `status` and a window can say where the LAN service of this home listens.
    node.note_running(SERVING, serde_json::json!({ "address": bound }))?;
    let shared = Arc::new(Shared {
        home: home.to_owned(),
        config: SessionConfig {
            network_key: network_key(&opts.network),
            timeout: opts.timeout,
            keepalive: opts.keepalive,
            live: true,
            pub_mode: opts.pub_mode,
            clock: opts.clock.clone(),
        },
        tell: tell.clone(),
        connected: Mutex::default(),
        session_ended: Condvar::new(),
        dialled: Mutex::default(),
        limits: Limits::default(),
    });
    if opts.discovery {
        let shared = shared.clone();
        let opts = opts.clone();
        std::thread::spawn(move || discover(&shared, &opts, me, bound.port()));
    }
    {
        let shared = shared.clone();
        let every = opts.pub_every;
        std::thread::spawn(move || visit_pubs(&shared, every));
    }
    // Said once everything is running, so that whoever waits for it can connect at once.
    tell(Event::Listening {
        address: bound,
        me: Who::named(&node.names()?, &me),
        pub_mode: opts.pub_mode,
        discovery: opts.discovery,
    });
    // The accept loop only counts and hands off: it never waits on a peer, so it cannot be
    // starved, and a slot is taken here, before the next accept, so counts cannot race.
    let mut refused = Refused::default();
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let Ok(from) = stream.peer_addr() else {
            continue;
        };
        match shared.limits.handshake(from.ip()) {
            Ok(slot) => {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    run_session(&shared, stream, false, from.to_string(), None, slot)
                });
            }
            Err(why) => {
                drop(stream);
                refused.note(&from, &why.to_string(), &*tell);
            }
        }
    }
    Ok(())
}

/// Counts refused connections and logs them now and then.
#[derive(Default)]
struct Refused {
    count: u64,
    last_log: Option<Instant>,
}

impl Refused {
    fn note(&mut self, from: &SocketAddr, why: &str, tell: &(dyn Fn(Event) + Send + Sync)) {
        self.count += 1;
        if self
            .last_log
            .is_some_and(|t| t.elapsed() < REFUSAL_LOG_EVERY)
        {
            return;
        }
        tell(Event::Refused {
            from: *from,
            why: why.to_owned(),
            more: self.count - 1,
        });
        self.count = 0;
        self.last_log = Some(Instant::now());
    }
}

fn run_session(
    shared: &Shared,
    stream: TcpStream,
    initiator: bool,
    address: String,
    dialled: Option<String>,
    slot: HandshakeSlot,
) {
    let handshake_slot = Mutex::new(Some(slot));
    let session_slot: Mutex<Option<SessionSlot>> = Mutex::new(None);
    let admitted: Mutex<Option<FeedId>> = Mutex::new(None);
    let admit = |peer: FeedId, stranger: bool| -> Result<(), SessionError> {
        let slot = handshake_slot
            .lock()
            .ok()
            .and_then(|mut s| s.take())
            .ok_or_else(|| SessionError::Protocol("admitted twice".into()))?;
        let slot = slot
            .into_session(stranger)
            .map_err(|why| SessionError::Full(peer, why))?;
        let mut connected = shared
            .connected
            .lock()
            .map_err(|_| SessionError::Protocol("lock".into()))?;
        let until = Instant::now() + DUPLICATE_GRACE;
        while connected.contains(&peer) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(SessionError::Duplicate(peer));
            }
            connected = shared
                .session_ended
                .wait_timeout(connected, left)
                .map_err(|_| SessionError::Protocol("lock".into()))?
                .0;
        }
        connected.insert(peer);
        if let Ok(mut a) = admitted.lock() {
            *a = Some(peer);
        }
        if let Ok(mut s) = session_slot.lock() {
            *s = Some(slot);
        }
        (shared.tell)(Event::Session {
            peer: Who::in_home(&shared.home, &peer),
            address: address.clone(),
        });
        Ok(())
    };
    let tell = |event: Event| (shared.tell)(event);
    let result = Node::open(&shared.home)
        .map(|node| node.with_clock(shared.config.clock.clone()))
        .map_err(SessionError::from)
        .and_then(|mut node| {
            session::run(&mut node, stream, initiator, &shared.config, &admit, &tell)
        });
    if let Some(peer) = admitted.lock().ok().and_then(|a| *a) {
        if let Ok(mut c) = shared.connected.lock() {
            c.remove(&peer);
        }
        shared.session_ended.notify_all();
    }
    if let Some(d) = dialled
        && let Ok(mut set) = shared.dialled.lock()
    {
        set.remove(&d);
    }
    drop(handshake_slot);
    drop(session_slot);
    (shared.tell)(match result {
        Ok(report) => Event::SessionEnded {
            peer: report.peer.map(|p| Who::in_home(&shared.home, &p)),
            address,
            new: report.received.new,
            already_held: report.received.already_held,
            not_wanted: report.received.not_wanted,
            sent: report.sent,
            duration: report.duration,
        },
        Err(SessionError::Duplicate(peer)) => Event::Duplicate {
            peer: Who::in_home(&shared.home, &peer),
            address,
        },
        Err(e) => Event::Disconnected {
            address,
            error: e.to_string(),
        },
    });
}

/// A one-line summary of a session.
pub fn summary(report: &SessionReport) -> String {
    format!(
        "received {} ({} already held, {} not wanted), sent {} in {:.2} s",
        crate::text::count(report.received.new, "new message", "new messages"),
        report.received.already_held,
        report.received.not_wanted,
        report.sent,
        report.duration.as_secs_f64()
    )
}

fn dial(shared: &Arc<Shared>, address: SocketAddr, key: Option<String>) {
    match TcpStream::connect_timeout(&address, Duration::from_secs(5)) {
        Ok(stream) => {
            let shared = shared.clone();
            let slot = shared.limits.dialled();
            std::thread::spawn(move || {
                run_session(&shared, stream, true, address.to_string(), key, slot)
            });
        }
        Err(e) => {
            if let Some(k) = &key
                && let Ok(mut set) = shared.dialled.lock()
            {
                set.remove(k);
            }
            (shared.tell)(Event::error(
                Place::Peer(address.to_string()),
                &e,
                format!("could not reach {address}: {e}"),
            ));
        }
    }
}

/// Announces us and dials peers we replicate when we hear them. Of two peers that hear each
/// other, the one with the smaller feed id dials, so they do not race; the other dials only if
/// nothing happened after several announcements.
fn discover(shared: &Arc<Shared>, opts: &ServeOptions, me: FeedId, tcp_port: u16) {
    let socket = match discovery::socket(opts.discovery_port) {
        Ok(s) => s,
        Err(e) => {
            (shared.tell)(Event::error(
                Place::Peer(format!("0.0.0.0:{}", opts.discovery_port)),
                &e,
                format!(
                    "discovery off: cannot use UDP port {}: {e}",
                    opts.discovery_port
                ),
            ));
            return;
        }
    };
    let announcement = discovery::encode(&shared.config.network_key, &me, tcp_port);
    let mut last_announce = Instant::now() - opts.announce_every;
    let mut heard: HashMap<FeedId, u32> = HashMap::new();
    let mut ignored: HashSet<FeedId> = HashSet::new();
    let mut buf = [0u8; 512];
    loop {
        if last_announce.elapsed() >= opts.announce_every {
            if let Err(e) = discovery::broadcast(&socket, &announcement, opts.discovery_port) {
                (shared.tell)(Event::error(
                    Place::Peer(format!("255.255.255.255:{}", opts.discovery_port)),
                    &e,
                    format!("could not announce: {e}"),
                ));
            }
            last_announce = Instant::now();
        }
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let Some((peer, port)) = discovery::decode(&shared.config.network_key, &buf[..n]) else {
            continue;
        };
        if peer == me {
            continue;
        }
        let wanted = Node::open(&shared.home)
            .and_then(|node| node.replication_set_for(opts.pub_mode))
            .is_ok_and(|set| set.contains(&peer));
        if !wanted {
            if ignored.insert(peer) {
                (shared.tell)(Event::Ignoring {
                    peer: Who::in_home(&shared.home, &peer),
                    address: from.ip(),
                });
            }
            continue;
        }
        if shared.connected.lock().is_ok_and(|c| c.contains(&peer)) {
            heard.remove(&peer);
            continue;
        }
        let count = heard.entry(peer).or_insert(0);
        *count += 1;
        if me < peer || *count > 3 {
            *count = 0;
            (shared.tell)(Event::Discovered {
                peer: Who::in_home(&shared.home, &peer),
                address: SocketAddr::new(from.ip(), port),
            });
            dial(shared, SocketAddr::new(from.ip(), port), None);
        }
    }
}

fn visit_pubs(shared: &Arc<Shared>, every: Duration) {
    loop {
        let pubs = Node::open(&shared.home)
            .and_then(|n| n.pubs())
            .unwrap_or_default();
        for address in pubs {
            let fresh = shared
                .dialled
                .lock()
                .is_ok_and(|mut d| d.insert(address.clone()));
            if !fresh {
                continue;
            }
            match address.to_socket_addrs().ok().and_then(|mut a| a.next()) {
                Some(resolved) => dial(shared, resolved, Some(address)),
                None => {
                    if let Ok(mut d) = shared.dialled.lock() {
                        d.remove(&address);
                    }
                    (shared.tell)(Event::error(
                        Place::Peer(address.clone()),
                        "no such host",
                        format!("cannot resolve pub {address}"),
                    ));
                }
            }
        }
        std::thread::sleep(every);
    }
}

/// The address of `HOST:PORT`, or of `HOST` at serve's default port.
pub fn resolve(address: &str) -> Option<std::net::SocketAddr> {
    address
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .or_else(|| {
            let host = address.trim_start_matches('[').trim_end_matches(']');
            (host, super::DEFAULT_PORT)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
        })
}

/// One session with the peer at `address` (`HOST:PORT`, or `HOST` at the default port), then
/// returns what it did.
pub fn sync(
    home: &Path,
    address: &str,
    network: &str,
    timeout: Duration,
    clock: crate::clock::SharedClock,
) -> Result<SessionReport, SessionError> {
    let resolved = resolve(address).ok_or_else(|| {
        SessionError::Protocol(format!(
            "cannot resolve {address}; give HOST or HOST:PORT (serve listens on port {} unless \
             told otherwise)",
            super::DEFAULT_PORT
        ))
    })?;
    let stream = TcpStream::connect_timeout(&resolved, timeout)
        .map_err(|e| SessionError::Frame(super::frame::FrameError::Io(e)))?;
    let config = SessionConfig {
        network_key: network_key(network),
        timeout,
        keepalive: timeout / 3,
        live: false,
        pub_mode: false,
        clock,
    };
    let mut node = Node::open(home)?.with_clock(config.clock.clone());
    session::run(&mut node, stream, true, &config, &|_, _| Ok(()), &|_| {})
}

#[cfg(test)]
mod tests {
    /// `sync 127.0.0.1` means serve's default port, not a protocol violation (#27).
    #[test]
    fn a_host_alone_means_the_default_port() {
        let at = |a: &str| super::resolve(a).map(|s| s.to_string());
        assert_eq!(at("127.0.0.1").as_deref(), Some("127.0.0.1:8008"));
        assert_eq!(at("127.0.0.1:9").as_deref(), Some("127.0.0.1:9"));
        assert_eq!(at("[::1]").as_deref(), Some("[::1]:8008"));
        assert_eq!(at("[::1]:9").as_deref(), Some("[::1]:9"));
        assert_eq!(at("127.0.0.1:notaport"), None);
    }
}
