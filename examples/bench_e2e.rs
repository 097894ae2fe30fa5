//! End-to-end bench: 100,000 messages through a bundle and two stores, with the ceilings measured
//! in the same run. `cargo run --release --example bench-e2e [MESSAGES] [--json]`.
//!
//! Ceilings: ed25519 verification (one thread, and batches on every core), zstd decoding of the
//! bundle and compressing it again (on every core, as export does), and SQLite inserts of the
//! same rows with the store's settings. Runs: import into an empty store, re-import, export of
//! everything, an incremental export of 1,000 new messages, import of the export on a second
//! node, and LAN sync of the same messages into a third over loopback TCP (`serve` and `sync`). Reports each as messages/s and as a ratio to its ceiling, the store's bytes per
//! message and where they go (`dbstat`), and peak RSS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

#[path = "common/mod.rs"]
mod common;

use ed25519_dalek::{Signer, SigningKey};
use grapevine::node::Node;
use grapevine::signature;

fn rate(n: u64, secs: f64) -> f64 {
    n as f64 / secs
}

/// Decodes every zstd frame of `path`: the decompression ceiling for reading it.
fn zstd_decode_secs(path: &std::path::Path) -> f64 {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let t = Instant::now();
    let mut decoder = zstd::stream::read::Decoder::with_buffer(file).unwrap();
    std::io::copy(&mut decoder, &mut std::io::sink()).unwrap();
    t.elapsed().as_secs_f64()
}

/// Compresses the bundle's content (decoded) again in 1 MiB blocks, one zstd frame each at the
/// writer's level, on `threads` threads: the ceiling for an export, whose frames are the same.
fn zstd_compress_secs(path: &std::path::Path, threads: usize) -> f64 {
    let raw = zstd::decode_all(std::fs::File::open(path).unwrap()).unwrap();
    let blocks: Vec<&[u8]> = raw.chunks(1 << 20).collect();
    let t = Instant::now();
    std::thread::scope(|scope| {
        for part in 0..threads {
            let blocks = &blocks;
            scope.spawn(move || {
                let mut c = zstd::bulk::Compressor::new(grapevine::bundle::ZSTD_LEVEL).unwrap();
                c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))
                    .unwrap();
                c.set_parameter(zstd::zstd_safe::CParameter::WindowLog(21))
                    .unwrap();
                for block in blocks.iter().skip(part).step_by(threads) {
                    std::hint::black_box(c.compress(block).unwrap());
                }
            });
        }
    });
    t.elapsed().as_secs_f64()
}

/// Inserts `n` rows shaped like stored messages (the lean layout: feed key, sequence, id, 74
/// envelope bytes, content packed to ~64 bytes) into a fresh database with the store's settings
/// (WAL, synchronous FULL, 16 MiB cache) and its two message indexes, in transactions of 8,192
/// with a prepared statement: the SQLite ceiling for an import.
fn sqlite_insert_secs(dir: &std::path::Path, n: u64) -> f64 {
    let conn = rusqlite::Connection::open(dir.join("ceiling.sqlite")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.pragma_update(None, "cache_size", -16384).unwrap();
    conn.execute_batch(
        "CREATE TABLE m (key INTEGER PRIMARY KEY, feed INTEGER, seq INTEGER, id BLOB, \
         envelope BLOB, content BLOB, dict INTEGER); \
         CREATE UNIQUE INDEX m_seq ON m (feed, seq); CREATE UNIQUE INDEX m_id ON m (id);",
    )
    .unwrap();
    let envelope = [7u8; 74];
    let content = [b'x'; 64];
    let t = Instant::now();
    let mut i = 0u64;
    while i < n {
        let tx = conn.unchecked_transaction().unwrap();
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO m VALUES (NULL, ?1, ?2, ?3, ?4, ?5, 1)")
                .unwrap();
            for _ in 0..8192.min(n - i) {
                let id = *blake3::hash(&i.to_le_bytes()).as_bytes();
                stmt.execute(rusqlite::params![
                    (i % 10) as i64,
                    i as i64,
                    &id[..],
                    &envelope[..],
                    &content[..]
                ])
                .unwrap();
                i += 1;
            }
        }
        tx.commit().unwrap();
    }
    t.elapsed().as_secs_f64()
}

/// Peak resident memory of this process so far, in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// CPU time this process has used on all its threads, user and system, in seconds (Linux
/// `/proc/self/stat`, in clock ticks of 1/100 s).
fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name, which is in parentheses: utime and stime are the
            // 12th and 13th of them.
            let rest = s.get(s.rfind(')')? + 2..)?;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(f64::NAN)
}

/// A memory figure of /proc/self/status, in MiB (0 where there is none).
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Runs `work` and says how far it raised resident memory above where it started, in MiB:
/// the peak is reset first (Linux `clear_refs` 5), so the bench's own data is not counted.
fn rss_growth_mib<T>(work: impl FnOnce() -> T) -> (T, f64) {
    let before = status_mib("VmRSS:");
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let out = work();
    let growth = if reset {
        status_mib("VmHWM:") - before
    } else {
        f64::NAN
    };
    (out, growth)
}

/// The store's size (database and write-ahead log) and its largest tables and indexes.
fn store_bytes(home: &std::path::Path) -> (u64, Vec<(String, u64)>) {
    let db = home.join(grapevine::node::STORE_FILE);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let mut stmt = conn
        .prepare("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 8")
        .unwrap();
    let parts = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (std::fs::metadata(&db).unwrap().len(), parts)
}

fn main() {
    let total: u64 = common::count_arg(100_000);
    let json = std::env::args().any(|a| a == "--json");
    let feeds = 10u64;
    let per_feed = total / feeds;
    let dir = tempfile::tempdir().unwrap();

    // Ceilings: ed25519 verification by grapevine's rule (grapevine::signature), one by one on
    // one thread, and in batches of 256 one-author signatures (as bundle segments group them)
    // on every core.
    let key = SigningKey::from_bytes(&[5; 32]);
    let vk = key.verifying_key().to_bytes();
    let inputs: Vec<Vec<u8>> = (0..40_000u32)
        .map(|i| format!("{i:0>135}").into_bytes())
        .collect();
    let sigs: Vec<[u8; 64]> = inputs.iter().map(|m| key.sign(m).to_bytes()).collect();
    let t = Instant::now();
    for (m, s) in inputs.iter().zip(&sigs).take(10_000) {
        signature::verify(&vk, m, s).unwrap();
    }
    let verify_rate = rate(10_000, t.elapsed().as_secs_f64());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = inputs.len() / threads / 256 * 256;
    let t = Instant::now();
    std::thread::scope(|scope| {
        for part in 0..threads {
            let range = part * per_thread..(part + 1) * per_thread;
            let (inputs, sigs) = (&inputs[range.clone()], &sigs[range]);
            scope.spawn(move || {
                for (m, s) in inputs.chunks(256).zip(sigs.chunks(256)) {
                    let batch = m.iter().zip(s).map(|(m, s)| (&vk, m.as_slice(), s));
                    assert!(signature::verify_batch(batch));
                }
            });
        }
    });
    let batch_rate = rate((per_thread * threads) as u64, t.elapsed().as_secs_f64());

    // Messages: `feeds` feeds of realistic posts, in a bundle written by a carrier.
    let path = dir.path().join("carried.gvb");
    let sign_rate = common::sample_bundle(&path, feeds, per_feed);

    let mut a = common::follower(&dir.path().join("a"), &common::sample_feeds(feeds));
    // The carried bundle holds the feeds' posts only; a's own follow messages are a's feed.
    let t = Instant::now();
    let cpu = cpu_secs();
    let (s, import_rss) = rss_growth_mib(|| a.import(std::slice::from_ref(&path)).unwrap());
    let import_secs = t.elapsed().as_secs_f64();
    let import_cpu_us = (cpu_secs() - cpu) * 1e6 / total as f64;
    // What verification alone costs per message, in CPU time, at the all-cores ceiling.
    let verify_cpu_us = threads as f64 * 1e6 / batch_rate;
    assert!(
        s.is_clean() && s.total().new == total,
        "import: {:?}",
        s.total()
    );

    let t = Instant::now();
    let s = a.import(std::slice::from_ref(&path)).unwrap();
    let reimport_secs = t.elapsed().as_secs_f64();
    assert_eq!(s.total().already_held, total);

    let out = dir.path().join("stick");
    std::fs::create_dir(&out).unwrap();
    let t = Instant::now();
    let all = grapevine::node::ExportOptions {
        all: true,
        ..Default::default()
    };
    let e = a.export(&out, &all).unwrap().wrote.expect("a bundle");
    let export_secs = t.elapsed().as_secs_f64();

    let mut b = Node::init(&dir.path().join("b"), None).unwrap();
    b.contact(a.id(), grapevine::content::ContactChange::Follow)
        .unwrap();
    let t = Instant::now();
    let s = b.import(std::slice::from_ref(&e.path)).unwrap();
    let import2_secs = t.elapsed().as_secs_f64();
    assert!(s.is_clean() && s.total().new == e.messages);

    // LAN sync: an empty node c, following the same feeds, takes them from a over loopback
    // TCP; its ceiling is the import into an empty store above.
    let a_address = common::serve_on_loopback(a.home().expect("on disk"));
    let c = common::follower(&dir.path().join("c"), &common::sample_feeds(feeds));
    let c_home = c.home().expect("on disk").to_owned();
    drop(c);
    let t = Instant::now();
    let synced = common::sync(&c_home, a_address);
    let lan_secs = t.elapsed().as_secs_f64();
    assert_eq!(synced.received.new, total, "{synced:?}");

    // An incremental export: 1,000 new messages of a's own, for b, which holds the rest (a
    // learns that from b's bundle).
    let back = dir.path().join("back");
    std::fs::create_dir(&back).unwrap();
    let from_b = b.export(&back, &all).unwrap().wrote.expect("b's bundle");
    a.import(std::slice::from_ref(&from_b.path)).unwrap();
    let fresh = 1_000.min(total);
    for i in 0..fresh {
        a.post(&format!("new post {i}"), None).unwrap();
    }
    let to_b = dir.path().join("to-b");
    std::fs::create_dir(&to_b).unwrap();
    let for_b = grapevine::node::ExportOptions {
        for_peers: vec![b.id()],
        ..Default::default()
    };
    let t = Instant::now();
    let inc = a
        .export(&to_b, &for_b)
        .unwrap()
        .wrote
        .expect("an incremental bundle");
    let incremental_secs = t.elapsed().as_secs_f64();
    assert_eq!(
        inc.messages, fresh,
        "the incremental bundle carries the new messages only"
    );

    let decode_secs = zstd_decode_secs(&path);
    let compress_secs = zstd_compress_secs(&path, threads);
    let insert_secs = sqlite_insert_secs(dir.path(), total);
    let (store_size, parts) = store_bytes(a.home().expect("on disk"));
    let held = total + fresh + feeds + 1;
    let import = rate(total, import_secs);
    let figures = serde_json::json!({
        "messages": total,
        "feeds": feeds,
        "threads": threads,
        "ceiling_verify_one_thread": verify_rate,
        "ceiling_verify_batch_all_cores": batch_rate,
        "ceiling_zstd_decode": rate(total, decode_secs),
        "ceiling_sqlite_insert": rate(total, insert_secs),
        "ceiling_zstd_compress_all_cores": rate(total, compress_secs),
        "sign": sign_rate,
        "import": import,
        "import_over_verify_batch": import / batch_rate,
        "import_of_export": rate(e.messages, import2_secs),
        "lan_sync": rate(total, lan_secs),
        "lan_sync_over_import": rate(total, lan_secs) / import,
        "reimport": rate(total, reimport_secs),
        "export_all": rate(e.messages, export_secs),
        "export_over_zstd_compress": rate(e.messages, export_secs) / rate(total, compress_secs),
        "incremental_export_ms": incremental_secs * 1000.0,
        "incremental_export_messages": inc.messages,
        "bundle_bytes_per_message": e.bytes as f64 / e.messages as f64,
        "store_bytes_per_message": store_size as f64 / held as f64,
        "store_parts": parts.iter().map(|(n, b)| serde_json::json!({"name": n, "bytes": b})).collect::<Vec<_>>(),
        "peak_rss_mib": peak_rss_mib(),
        "import_rss_growth_mib": import_rss,
        "import_cpu_us_per_message": import_cpu_us,
        "verify_cpu_us_per_message": verify_cpu_us,
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&figures).unwrap());
        return;
    }
    println!("messages                       {total} in {feeds} feeds");
    println!("ceiling: ed25519 verify, 1 thread          {verify_rate:>10.0} /s");
    println!("ceiling: verify_batch(256), {threads} threads    {batch_rate:>10.0} /s");
    println!(
        "ceiling: zstd decode of the bundle         {:>10.0} /s",
        rate(total, decode_secs)
    );
    println!(
        "ceiling: SQLite insert, WAL, FULL          {:>10.0} /s",
        rate(total, insert_secs)
    );
    println!(
        "ceiling: zstd compress, {threads} threads       {:>10.0} /s",
        rate(total, compress_secs)
    );
    println!("sign (Message::create)         {sign_rate:>10.0} /s");
    println!(
        "import into empty store        {import:>10.0} /s  = {:.2} × batch verify, {:.2} × SQLite insert",
        import / batch_rate,
        rate(total, import_secs) / rate(total, insert_secs)
    );
    println!(
        "  CPU per message: {import_cpu_us:.1} µs on all threads, of which verifying is {verify_cpu_us:.1} µs; \
         {threads} cores at that cost: {:.2} × batch verify",
        threads as f64 * 1e6 / import_cpu_us / batch_rate
    );
    println!(
        "import of export, node b       {:>10.0} /s",
        rate(e.messages, import2_secs)
    );
    println!(
        "LAN sync into node c           {:>10.0} /s  = {:.2} × import into empty store",
        rate(total, lan_secs),
        rate(total, lan_secs) / import
    );
    println!(
        "re-import (all already held)   {:>10.0} /s  = {:.2} × batch verify",
        rate(total, reimport_secs),
        rate(total, reimport_secs) / batch_rate
    );
    println!(
        "export from store              {:>10.0} /s  = {:.2} × zstd compress",
        rate(e.messages, export_secs),
        rate(e.messages, export_secs) / rate(total, compress_secs)
    );
    println!(
        "incremental export             {:>10.1} ms for {} new messages among {held}",
        incremental_secs * 1000.0,
        inc.messages
    );
    let on_disk = std::fs::metadata(&e.path).unwrap().len();
    assert_eq!(on_disk, e.bytes);
    println!(
        "bundle size                    {} bytes for {} messages, {:.1} bytes/message",
        e.bytes,
        e.messages,
        e.bytes as f64 / e.messages as f64
    );
    println!(
        "store size                     {store_size} bytes for {held} messages, {:.1} bytes/message",
        store_size as f64 / held as f64
    );
    for (name, bytes) in &parts {
        println!(
            "  {name:<28} {:>8.1} bytes/message",
            *bytes as f64 / held as f64
        );
    }
    println!("peak RSS                       {:.1} MiB", peak_rss_mib());
    println!(
        "import's own peak RSS          {import_rss:.1} MiB above what the bench held before it"
    );
}
