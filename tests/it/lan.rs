//! Live LAN sync over real TCP sockets on 127.0.0.1 (and, as root, two network namespaces).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use grapevine::identity::Identity;
use grapevine::lan::frame::{FrameWriter, MAX_PAYLOAD, handshake};
use grapevine::lan::limits::{MAX_HANDSHAKES, MAX_HANDSHAKES_PER_ADDRESS};
use grapevine::message::{ContentKind, Message};
use grapevine::replicate::wire::{Frame, parse_frame};

use crate::harness::{Running, TestNode, eventually, import_counts};

const WAIT: Duration = Duration::from_secs(20);

pub fn serve(node: &TestNode, extra: &[&str]) -> (Running, String) {
    let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--no-discovery"];
    args.extend_from_slice(extra);
    let mut running = node.spawn(&args);
    let line = running.expect(WAIT, "listening", |l| l.starts_with("listening on "));
    let address = line["listening on ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    (running, address)
}

fn sync_counts(out: &str) -> (u64, u64) {
    let number_after = |word: &str| -> u64 {
        let at = out
            .find(word)
            .unwrap_or_else(|| panic!("no '{word}' in {out}"));
        out[at + word.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (number_after("received "), number_after("sent "))
}

/// Two nodes: one `sync` brings both up to date in both directions; a second moves nothing.
#[test]
fn sync_brings_both_sides_up_to_date() {
    let [a, b] = ["a", "b"].map(TestNode::new);
    a.follow(&b);
    b.follow(&a);
    a.post("from a");
    b.post("from b");
    let (_server, address) = serve(&b, &[]);
    let first = a.ok(&["sync", &address]);
    assert_eq!(sync_counts(&first), (3, 3), "{first}");
    assert_eq!(a.posts(&b.id()), ["from b"]);
    assert_eq!(b.posts(&a.id()), ["from a"]);
    let second = a.ok(&["sync", &address]);
    assert_eq!(sync_counts(&second), (0, 0), "{second}");
    let peers: serde_json::Value = serde_json::from_str(&a.ok(&["peers", "--json"])).unwrap();
    assert_eq!(peers[0]["peer"]["id"], b.id().as_str());
    assert_eq!(peers[0]["via"], format!("lan {address}"));
}

/// With `serve` on both sides and a session open, a post on A is readable on B. Keepalives
/// are minutes apart, so a push is stored on its own, not when a ping comes.
#[test]
fn live_sessions_push_new_posts() {
    let [a, b] = ["a", "b"].map(TestNode::new);
    a.follow(&b);
    b.follow(&a);
    let (mut server_b, address) = serve(&b, &["--timeout", "600"]);
    a.ok(&["pub", "add", &address]);
    let (mut server_a, _) = serve(&a, &["--timeout", "600"]);
    // Logs name the peer (by the name it published, once its feed arrived).
    server_b.expect(WAIT, "live with a", |l| l.starts_with("in sync with a (@"));
    server_a.expect(WAIT, "live with b", |l| l.starts_with("in sync with b (@"));
    a.post("live from a");
    server_a.expect(WAIT, "a push to b", |l| {
        l.starts_with("pushed 1 new message ")
    });
    eventually(WAIT, "b reads a's live post", || {
        b.posts(&a.id()) == ["live from a"]
    });
    b.post("and back from b");
    server_b.expect(WAIT, "a push to a", |l| {
        l.starts_with("pushed 1 new message ")
    });
    eventually(WAIT, "a reads b's live post", || {
        a.posts(&b.id()) == ["and back from b"]
    });
}

/// A wrong network key, random bytes, an oversized frame and a stalled peer are each dropped
/// with a clear line, and `serve` keeps serving a good peer afterwards.
#[test]
fn misbehaving_peers_are_dropped_and_serve_carries_on() {
    let [a, b] = ["a", "b"].map(TestNode::new);
    a.follow(&b);
    b.follow(&a);
    a.post("still works");
    let (mut server, address) = serve(&b, &["--timeout", "2"]);

    let out = a.fails_with(
        1,
        &[
            "sync",
            &address,
            "--network",
            "another-village",
            "--timeout",
            "5",
        ],
    );
    assert!(
        out.contains("handshake failed") || out.contains("closed"),
        "{out}"
    );
    server.expect(WAIT, "the wrong network dropped", |l| {
        l.starts_with("dropped") && l.contains("handshake failed")
    });

    let mut garbage = TcpStream::connect(&address).unwrap();
    garbage.write_all(&[0, 0, 0, 40]).unwrap();
    garbage.write_all(&[0x5a; 40]).unwrap();
    server.expect(WAIT, "random bytes dropped", |l| {
        l.starts_with("dropped") && l.contains("handshake failed")
    });
    drop(garbage);

    let mut huge = TcpStream::connect(&address).unwrap();
    huge.write_all(&u32::MAX.to_be_bytes()).unwrap();
    server.expect(WAIT, "the oversized frame dropped", |l| {
        l.contains("frame of 4294967295 bytes")
    });
    drop(huge);

    let stalled = TcpStream::connect(&address).unwrap();
    server.expect(WAIT, "the stalled peer dropped", |l| l.contains("stalled"));
    drop(stalled);

    let good = a.ok(&["sync", &address]);
    assert_eq!(sync_counts(&good).1, 3, "{good}");
    assert_eq!(b.posts(&a.id()), ["still works"]);
}

/// `count` messages of `author`'s feed from sequence 1, as full `messages` frames; the
/// signature of message `forged` (if any) has one bit flipped.
fn message_frames(author: &Identity, count: u64, forged: Option<u64>) -> Vec<Vec<u8>> {
    let mut frames = vec![vec![2u8]];
    let mut previous = None;
    for seq in 1..=count {
        let text = format!(r#"{{"type":"post","text":"{seq}"}}"#);
        let mut m = Message::create(
            author,
            seq,
            previous,
            0,
            ContentKind::Json,
            text.into_bytes(),
        )
        .unwrap();
        previous = Some(m.id);
        if Some(seq) == forged {
            m.envelope[150] ^= 1;
        }
        if frames.last().unwrap().len() + m.record_len() > MAX_PAYLOAD {
            frames.push(vec![2u8]);
        }
        m.write_record(frames.last_mut().unwrap());
    }
    frames
}

/// A peer of our own making: it completes the handshake with `address` and sends an empty
/// want list. Returns its frame writer and a handle on the raw connection.
fn rogue_peer(address: &str) -> (FrameWriter, TcpStream) {
    let stream = TcpStream::connect(address).unwrap();
    let raw = stream.try_clone().unwrap();
    let network = grapevine::lan::network_key(grapevine::lan::DEFAULT_NETWORK);
    let rogue = Identity::from_seed(&[9; 32]);
    let (_, _reader, mut writer) =
        handshake(stream, &rogue, &network, true, WAIT, WAIT).expect("handshake");
    writer.write(&[1, 0]).expect("an empty want list");
    (writer, raw)
}

/// A peer that slips one forged message into a long stream is dropped, naming it. Nothing
/// forged is stored; the valid messages before it are kept; serve carries on. The forgery sits
/// mid-stream in full frames, so it is caught by the batched, overlapped ingest, not only at
/// the end of a burst.
#[test]
fn a_peer_that_sends_a_forged_message_is_dropped() {
    let b = TestNode::new("b");
    let carol = Identity::from_seed(&[7; 32]);
    b.follow_id(&carol.feed_id().to_string());
    let (mut server, address) = serve(&b, &[]);

    let forged_at = 5_000u64;
    let frames = message_frames(&carol, 10_000, Some(forged_at));
    let (mut writer, _) = rogue_peer(&address);
    for frame in &frames {
        if writer.write(frame).is_err() {
            break; // dropped already
        }
    }
    let _ = writer.write(&[3]);
    let line = server.expect(WAIT, "the forging peer dropped", |l| {
        l.starts_with("dropped")
    });
    assert!(
        line.contains("an invalid message") && line.contains(&format!("message {forged_at} of")),
        "{line}"
    );

    let held = b.feed(&carol.feed_id().to_string());
    assert_eq!(
        held.len() as u64,
        forged_at - 1,
        "carol's feed up to the forgery, and nothing after a hole"
    );
    assert_eq!(held[0]["sequence"], forged_at - 1, "{}", held[0]);

    let a = TestNode::new("a");
    a.follow(&b);
    b.post("still serving");
    a.ok(&["sync", &address]);
    assert_eq!(a.posts(&b.id()), ["still serving"]);
}

/// A session that breaks off mid-burst (here: bytes that are no frame) still keeps the valid
/// messages that arrived before the break, though no frame ended their burst.
#[test]
fn a_session_cut_short_keeps_what_arrived() {
    let b = TestNode::new("b");
    let carol = Identity::from_seed(&[7; 32]);
    b.follow_id(&carol.feed_id().to_string());
    let (mut server, address) = serve(&b, &[]);

    let frames = message_frames(&carol, 1_000, None);
    let (mut writer, mut raw) = rogue_peer(&address);
    let mut sent = 0;
    for frame in &frames[..2] {
        match parse_frame(frame) {
            Ok(Frame::Messages(messages)) => sent += messages.len(),
            other => panic!("{other:?}"),
        }
        writer.write(frame).unwrap();
    }
    // A frame whose authentication tag cannot hold.
    raw.write_all(&[0, 0, 0, 40]).unwrap();
    raw.write_all(&[0x5a; 40]).unwrap();
    server.expect(WAIT, "the broken session dropped", |l| {
        l.starts_with("dropped")
    });
    let held = b.feed(&carol.feed_id().to_string());
    assert_eq!(held.len(), sent, "the messages of the two frames sent");
    assert_eq!(held[0]["sequence"], sent, "{}", held[0]);
}

/// A want list may name 200,000 feeds (bundle-format/lan-protocol.md); a peer whose list runs
/// past that, across `more` frames, is dropped with the reason.
#[test]
fn want_lists_are_capped_at_two_hundred_thousand_feeds() {
    let b = TestNode::new("b");
    let (mut server, address) = serve(&b, &[]);
    let want_frames = |feeds: u32| -> Vec<Vec<u8>> {
        let per_frame = (MAX_PAYLOAD - 2) / 40;
        let entries: Vec<u32> = (0..feeds).collect();
        let chunks: Vec<&[u32]> = entries.chunks(per_frame).collect();
        chunks
            .iter()
            .enumerate()
            .map(|(i, chunk)| {
                let mut frame = vec![1u8, u8::from(i + 1 < chunks.len())];
                for n in chunk.iter() {
                    let mut feed = [0u8; 32];
                    feed[..4].copy_from_slice(&n.to_be_bytes());
                    frame.extend_from_slice(&feed);
                    frame.extend_from_slice(&0u64.to_be_bytes());
                }
                frame
            })
            .collect()
    };
    let send = |frames: &[Vec<u8>]| {
        let (mut writer, raw) = rogue_peer(&address);
        for frame in frames {
            if writer.write(frame).is_err() {
                break;
            }
        }
        let _ = writer.write(&[3]);
        let _ = writer.write(&[5]);
        (writer, raw)
    };

    let ended = |l: &str| l.contains(" ended: ") || l.starts_with("dropped");
    let at_limit = send(&want_frames(200_000));
    let line = server.expect(WAIT, "the session at the limit", ended);
    assert!(line.contains(" ended: "), "{line}");
    drop(at_limit);

    let over = send(&want_frames(200_001));
    let line = server.expect(WAIT, "the session over the limit", ended);
    assert!(
        line.contains("a want list of more than 200000 feeds"),
        "{line}"
    );
    drop(over);
}

/// A TCP connection to `to` from the loopback address `source` (127.0.0.0/8 is all ours).
fn connect_from(source: [u8; 4], to: &str) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from((source, 0)).into()).unwrap();
    socket
        .connect(&to.parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket.into()
}

fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .count()
}

/// Sends a handshake frame one byte at a time, every 300 ms, until the server closes; returns
/// how long that took.
fn trickle(mut stream: TcpStream, give_up: Duration) -> Duration {
    let start = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    // The largest frame the handshake accepts: the server waits for all of it.
    let mut frame = [0, 0, 0xff, 0xff].into_iter().chain(std::iter::repeat(7u8));
    while start.elapsed() < give_up {
        let next = frame.next().unwrap_or(7);
        if stream.write_all(&[next]).is_err() {
            break;
        }
        match stream.read(&mut byte) {
            Ok(0) => break,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break,
            Ok(_) => {}
        }
    }
    start.elapsed()
}

/// Connections that never finish the handshake, silent or trickling a byte at a time, from
/// one address or from many, never lock a real peer out: each address gets a few handshake
/// slots, all of them together a bounded number, and every handshake ends at its deadline
/// however slowly its bytes come. `serve` spawns no thread for a refused connection.
#[test]
fn floods_of_unfinished_handshakes_lock_no_one_out() {
    let [a, b] = ["a", "b"].map(TestNode::new);
    a.follow(&b);
    b.follow(&a);
    a.post("got through");
    let (mut server, address) = serve(&b, &["--timeout", "3"]);
    let idle_threads = threads(server.pid());

    // 70 connections from one address, each sending Noise message 1 and then nothing.
    let flood: Vec<TcpStream> = (0..70)
        .map(|_| {
            let mut s = connect_from([127, 0, 0, 2], &address);
            let _ = s
                .write_all(&[0, 0, 0, 32])
                .and_then(|()| s.write_all(&[7; 32]));
            s
        })
        .collect();
    server.expect(WAIT, "the flood refused", |l| {
        l.starts_with("refused 127.0.0.2:") && l.contains("still handshaking")
    });
    let during = threads(server.pid());
    assert!(
        during <= idle_threads + MAX_HANDSHAKES_PER_ADDRESS,
        "{during} threads during a one-address flood (idle: {idle_threads})"
    );
    let out = a.ok(&["sync", &address, "--timeout", "5"]);
    assert_eq!(sync_counts(&out).1, 3, "{out}");
    assert_eq!(b.posts(&a.id()), ["got through"]);
    drop(flood);

    // More tricklers than there are handshake slots, each from its own address: every one is
    // cut at the 3 s deadline although it never stops sending.
    let tricklers: Vec<_> = (0..MAX_HANDSHAKES + 8)
        .map(|i| {
            let stream = connect_from([127, 0, 1, i as u8 + 1], &address);
            std::thread::spawn(move || trickle(stream, Duration::from_secs(30)))
        })
        .collect();
    a.post("after the trickle");
    eventually(
        WAIT,
        "a sync gets through while tricklers keep sending",
        || {
            a.run(&["sync", &address, "--timeout", "5"])
                .status
                .success()
        },
    );
    assert_eq!(b.posts(&a.id()), ["got through", "after the trickle"]);
    for t in tricklers {
        let held = t.join().unwrap();
        assert!(
            held < Duration::from_secs(12),
            "a trickling connection was held {held:?}; the handshake deadline is 3 s"
        );
    }
    eventually(WAIT, "serve's threads back to idle", || {
        threads(server.pid()) <= idle_threads
    });
}

/// A blocked feed is refused, even one that was followed before: without the block, b would
/// take a's post in this very session.
#[test]
fn blocked_feeds_are_refused() {
    let [a, b] = ["a", "b"].map(TestNode::new);
    b.follow(&a);
    b.ok(&["block", &a.id(), "--yes"]);
    a.post("unwelcome");
    let (mut server, address) = serve(&b, &[]);
    let out = a.fails_with(1, &["sync", &address, "--timeout", "5"]);
    assert!(
        out.contains("ended the session before it began: it may have blocked you"),
        "{out}"
    );
    assert_eq!(out.matches("blocked you").count(), 1, "said once: {out}");
    server.expect(WAIT, "the refusal", |l| {
        l.contains("is blocked; session refused")
    });
    assert!(b.feed(&a.id()).is_empty());
}

/// A syncs with pub P; later B syncs with P; B holds A's posts without meeting A.
#[test]
fn a_pub_carries_posts_between_people_who_never_meet() {
    let [a, b, p] = ["a", "b", "pub"].map(TestNode::new);
    a.follow(&p);
    b.follow(&p);
    b.follow(&a);
    a.post("left at the pub");
    let (_pub, address) = serve(&p, &["--pub"]);
    let out = a.ok(&["sync", &address]);
    assert!(
        sync_counts(&out).1 >= 3,
        "a sent its feed to the pub: {out}"
    );
    let out = b.ok(&["sync", &address]);
    assert!(sync_counts(&out).0 >= 3, "{out}");
    assert_eq!(b.posts(&a.id()), ["left at the pub"]);
    let imported = b.ok(&["status", "--json"]);
    assert!(imported.contains("\"feeds\": 3"), "{imported}");
    // A stranger who does not follow the pub is not carried by it.
    let stranger = TestNode::new("stranger");
    stranger.post("not a follower");
    stranger.ok(&["sync", &address]);
    assert!(
        p.feed(&stranger.id()).is_empty(),
        "the pub keeps only its followers"
    );
    let _ = import_counts;
}

/// As root: two `serve` processes in two network namespaces on a veth pair find each other by
/// broadcast and sync with no address given.
#[test]
fn discovery_finds_a_peer_on_the_local_network() {
    if !Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
    {
        crate::harness::skip("creating network namespaces needs root (CI runs as root)");
        return;
    }
    let Some(net) = Namespaces::create() else {
        crate::harness::skip("network namespaces or veth pairs are not available here");
        return;
    };
    let [a, b] = ["a", "b"].map(TestNode::new);
    a.follow(&b);
    b.follow(&a);
    a.post("found you");
    let spawn = |node: &TestNode, ns: &str| {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, crate::harness::bin(), "--home"])
            .arg(node.home())
            .args(["serve", "--listen", "0.0.0.0:8008", "--announce", "1"]);
        node.spawn_command(cmd)
    };
    let mut sa = spawn(&a, &net.a);
    let mut sb = spawn(&b, &net.b);
    sa.expect(WAIT, "listening", |l| l.starts_with("listening"));
    sb.expect(WAIT, "listening", |l| l.starts_with("listening"));
    sb.expect(
        Duration::from_secs(30),
        "a session found by discovery",
        |l| l.starts_with("session with"),
    );
    eventually(Duration::from_secs(30), "b reads a's post", || {
        b.posts(&a.id()) == ["found you"]
    });
}

struct Namespaces {
    a: String,
    b: String,
}

impl Namespaces {
    fn create() -> Option<Self> {
        let tag = std::process::id();
        let (a, b) = (format!("gva{tag}"), format!("gvb{tag}"));
        let ip = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        let net = Namespaces {
            a: a.clone(),
            b: b.clone(),
        };
        let ok = ip(&["netns", "add", &a])
            && ip(&["netns", "add", &b])
            && ip(&[
                "link",
                "add",
                &format!("va{tag}"),
                "type",
                "veth",
                "peer",
                "name",
                &format!("vb{tag}"),
            ])
            && ip(&["link", "set", &format!("va{tag}"), "netns", &a])
            && ip(&["link", "set", &format!("vb{tag}"), "netns", &b])
            && ip(&[
                "-n",
                &a,
                "addr",
                "add",
                "10.231.7.1/24",
                "dev",
                &format!("va{tag}"),
            ])
            && ip(&[
                "-n",
                &b,
                "addr",
                "add",
                "10.231.7.2/24",
                "dev",
                &format!("vb{tag}"),
            ])
            && ip(&["-n", &a, "link", "set", &format!("va{tag}"), "up"])
            && ip(&["-n", &b, "link", "set", &format!("vb{tag}"), "up"])
            && ip(&["-n", &a, "link", "set", "lo", "up"])
            && ip(&["-n", &b, "link", "set", "lo", "up"])
            && ip(&[
                "-n",
                &a,
                "route",
                "add",
                "255.255.255.255/32",
                "dev",
                &format!("va{tag}"),
            ])
            && ip(&[
                "-n",
                &b,
                "route",
                "add",
                "255.255.255.255/32",
                "dev",
                &format!("vb{tag}"),
            ]);
        ok.then_some(net)
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}
