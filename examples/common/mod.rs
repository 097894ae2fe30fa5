//! Shared by the benches: a bundle of realistic posts.
#![allow(dead_code)]

use std::path::Path;
use std::time::Instant;

use grapevine::bundle;
use grapevine::identity::Identity;
use grapevine::ids::FeedId;
use grapevine::message::{ContentKind, Message};

/// Text with the word statistics of a short note: compresses about as well as real posts.
fn sentence(rng: &mut u64, words: usize) -> String {
    const VOCABULARY: &[&str] = &[
        "the", "river", "bridge", "market", "seeds", "we", "will", "meet", "at", "library", "on",
        "Saturday", "bring", "water", "school", "road", "is", "open", "closed", "news", "from",
        "hills", "valley", "north", "south", "and", "a", "to", "of", "for", "rain", "harvest",
        "clinic", "doctor", "tomorrow", "morning", "evening", "village", "council", "vote",
    ];
    let mut out = Vec::with_capacity(words);
    for _ in 0..words {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        out.push(VOCABULARY[(*rng % VOCABULARY.len() as u64) as usize]);
    }
    out.join(" ")
}

/// The feeds `sample_bundle` writes.
pub fn sample_feeds(feeds: u64) -> Vec<FeedId> {
    (0..feeds)
        .map(|f| Identity::from_seed(&[f as u8 + 1; 32]).feed_id())
        .collect()
}

/// Writes `feeds` feeds of `per_feed` posts each into a bundle at `path`; returns the signing
/// rate (messages/s).
pub fn sample_bundle(path: &Path, feeds: u64, per_feed: u64) -> f64 {
    // Messages: `feeds` feeds of realistic posts (60 to 260 bytes of text).
    let t = Instant::now();
    let mut all = Vec::with_capacity((feeds * per_feed) as usize);
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    for f in 0..feeds {
        let id = Identity::from_seed(&[f as u8 + 1; 32]);
        let mut previous = None;
        for seq in 1..=per_feed {
            let text = sentence(&mut rng, 10 + (seq % 40) as usize);
            let content =
                serde_json::to_vec(&serde_json::json!({"type": "post", "text": text})).unwrap();
            let m = Message::create(
                &id,
                seq,
                previous,
                1_700_000_000_000 + seq as i64,
                ContentKind::Json,
                content,
            )
            .unwrap();
            previous = Some(m.id);
            all.push(m);
        }
    }
    let sign_rate = (feeds * per_feed) as f64 / t.elapsed().as_secs_f64();

    // One bundle of all of them, written by a carrier.
    let carrier = Identity::from_seed(&[99; 32]);
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    bundle::write_messages(file, &carrier, &"00".repeat(16), 1_700_000_000_000, &all).unwrap();
    drop(all);
    sign_rate
}

/// The message count given as the first argument, or `default`.
pub fn count_arg(default: u64) -> u64 {
    std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

/// Serves `home` on a loopback port, in a thread of this process, for the rest of the run;
/// returns the address to sync with.
pub fn serve_on_loopback(home: &Path) -> std::net::SocketAddr {
    use std::time::Duration;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = listener.local_addr().unwrap();
    let options = grapevine::lan::ServeOptions {
        listen,
        discovery: false,
        discovery_port: 0,
        announce_every: Duration::from_secs(60),
        pub_mode: false,
        network: grapevine::lan::DEFAULT_NETWORK.into(),
        timeout: Duration::from_secs(60),
        keepalive: Duration::from_secs(20),
        pub_every: Duration::from_secs(3600),
        clock: grapevine::clock::system(),
    };
    let home = home.to_owned();
    std::thread::spawn(move || {
        grapevine::lan::serve_on(&home, listener, &options, std::sync::Arc::new(|_| {}))
    });
    listen
}

/// One `grapevine sync` of `home` with `address`, as the command runs it.
pub fn sync(home: &Path, address: std::net::SocketAddr) -> grapevine::lan::SessionReport {
    grapevine::lan::sync(
        home,
        &address.to_string(),
        grapevine::lan::DEFAULT_NETWORK,
        std::time::Duration::from_secs(60),
        grapevine::clock::system(),
    )
    .unwrap()
}

/// A new node at `home` that follows `feeds`.
pub fn follower(home: &Path, feeds: &[FeedId]) -> grapevine::node::Node {
    let mut node = grapevine::node::Node::init(home, None).unwrap();
    for feed in feeds {
        node.contact(*feed, grapevine::content::ContactChange::Follow)
            .unwrap();
    }
    node
}

/// Hands each line a writer gets (a watcher's or a window's output) to a channel, trimmed.
pub struct Lines(pub std::sync::mpsc::Sender<String>, pub Vec<u8>);

impl std::io::Write for Lines {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.1.extend_from_slice(data);
        while let Some(end) = self.1.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.1.drain(..=end).collect();
            let _ = self
                .0
                .send(String::from_utf8_lossy(&line).trim_end().to_owned());
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
