//! How fast the window answers, on a store of 100,000 posts from 100 feeds: each route's
//! latency over loopback HTTP (p50, p95), against the same views built by a direct library
//! call in the same run (the ceiling: what the store and the JSON cost without HTTP).
//! `cargo run --release --example bench-ui [POSTS] [KEEP]`: with KEEP, the store is built in
//! that folder and left there, for the browser's side (tests/e2e/bench-window.mjs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use grapevine::store::Filter;

const ROUNDS: usize = 100;

fn get(port: u16, path: &str, cookie: &str) -> (u16, usize) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let status = String::from_utf8_lossy(&reply[9..12]).parse().unwrap();
    (status, reply.len())
}

/// p50 and p95 of `rounds` runs of `work`, in milliseconds.
fn percentiles(rounds: usize, mut work: impl FnMut()) -> (f64, f64) {
    let mut times: Vec<f64> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            work();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[rounds / 2], times[rounds * 95 / 100])
}

fn main() {
    let posts = common::count_arg(100_000);
    let feeds = 100.min(posts).max(1);
    let dir = tempfile::tempdir().unwrap();
    let home = match std::env::args().nth(2) {
        Some(keep) => std::path::PathBuf::from(keep),
        None => dir.path().join("reader"),
    };
    let mut node = common::follower(&home, &common::sample_feeds(feeds));
    let bundle = dir.path().join("sample.gvb");
    common::sample_bundle(&bundle, feeds, posts / feeds);
    let summary = node.import(std::slice::from_ref(&bundle)).unwrap();
    println!("store: {} posts from {feeds} feeds", summary.total().new);

    // The ceiling: the first timeline page as the window builds it, without HTTP.
    let (c50, c95) = percentiles(ROUNDS, || {
        let names = node.names().unwrap();
        let page = node
            .timeline(&Filter {
                limit: Some(50),
                ..Filter::default()
            })
            .unwrap();
        let json: Vec<_> = page
            .iter()
            .map(|p| grapevine::view::json::post_json(p, &names))
            .collect();
        assert_eq!(json.len(), 50);
    });
    drop(node);

    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let stopper = stop.clone();
    let window_home = home.clone();
    let window = std::thread::spawn(move || {
        let options = grapevine::ui::UiOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            watch: grapevine::watch::WatchOptions {
                folders: vec![],
                media: vec![],
                export: false,
                rescan: Duration::from_secs(60),
                settle: Duration::from_secs(10),
            },
            open: false,
            serve: None,
        };
        grapevine::ui::run(
            window_home,
            options,
            &mut common::Lines(tx, Vec::new()),
            stopper,
        )
        .unwrap();
    });
    let link = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let rest = &link[link.find("127.0.0.1:").unwrap() + 10..];
    let (port, secret) = rest.split_once("/#").unwrap();
    let port: u16 = port.parse().unwrap();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = format!(r#"{{"secret":"{}"}}"#, secret.trim());
    write!(
        stream,
        "POST /api/session HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let cookie = reply
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a session")
        .to_owned();

    println!("| route | p50 | p95 | p95 ÷ ceiling p95 |");
    println!("|---|---:|---:|---:|");
    println!("| ceiling: first timeline page by a library call | {c50:.1} ms | {c95:.1} ms | 1 |");
    for path in [
        "/api/timeline?limit=50",
        "/api/conversations",
        "/api/posts?search=market",
        "/api/posts?tag=village",
        "/api/network",
        "/api/folders",
    ] {
        let (p50, p95) = percentiles(ROUNDS, || {
            let (status, _) = get(port, path, &cookie);
            assert_eq!(status, 200, "{path}");
        });
        println!(
            "| `GET {path}` | {p50:.1} ms | {p95:.1} ms | {:.2} |",
            p95 / c95
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    window.join().unwrap();
}
