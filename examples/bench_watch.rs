//! Latency from a bundle appearing in a watched folder to its messages being readable
//! (median of 20). `cargo run --release --example bench-watch`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::mpsc;
use std::time::{Duration, Instant};

use grapevine::node::{ExportOptions, Node};
use grapevine::watch::{WatchOptions, run};

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("shared");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let mut a = Node::init(&dir.path().join("a"), Some("a")).unwrap();
    let mut b = Node::init(&dir.path().join("b"), Some("b")).unwrap();
    b.contact(a.id(), grapevine::content::ContactChange::Follow)
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let opts = WatchOptions {
        folders: vec![folder.clone()],
        media: vec![],
        export: false,
        rescan: Duration::from_secs(60),
        settle: Duration::from_secs(10),
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopper = stop.clone();
    let watcher = std::thread::spawn(move || {
        let mut tell = |event: grapevine::events::Event| {
            let _ = tx.send(event.says());
        };
        run(&mut b, opts, &mut tell, &stopper).unwrap();
    });
    let wait = |what: &str| loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no {what}"));
        if line.contains(what) {
            return;
        }
    };
    wait("watching");
    let mut latencies = Vec::new();
    for i in 0..20 {
        a.post(&format!("post {i}"), None).unwrap();
        let all = ExportOptions {
            all: true,
            ..Default::default()
        };
        let e = a
            .export(&outside.join(format!("{i}.gvb")), &all)
            .unwrap()
            .wrote
            .expect("a bundle");
        let target = folder.join(format!("gv-bench-{i}.gvb"));
        let start = Instant::now();
        std::fs::rename(&e.path, &target).unwrap();
        wait("merged");
        latencies.push(start.elapsed());
    }
    latencies.sort();
    println!(
        "bundle appears → messages readable: median {:.0} ms, min {:.0} ms, max {:.0} ms (20 bundles; debounce 200 ms)",
        latencies[10].as_secs_f64() * 1000.0,
        latencies[0].as_secs_f64() * 1000.0,
        latencies[19].as_secs_f64() * 1000.0
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    watcher.join().unwrap();
}
