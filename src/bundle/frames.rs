//! A bundle's zstd frames, compressed on every core and written in the order they were given.
//! Every entry is its own frame (bundle-format/bundle.md), so frames compress independently;
//! the bytes are the same as compressing them one after another on one thread.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use zstd::bulk::Compressor;
use zstd::zstd_safe::CParameter;

/// Frames compressed inline before the workers start: small bundles (a manifest, a segment or
/// two, the trailer) never start a thread.
const INLINE_FRAMES: u64 = 3;

/// The compressor every frame of a bundle is made with.
fn compressor() -> io::Result<Compressor<'static>> {
    let mut compressor = Compressor::new(super::ZSTD_LEVEL)?;
    compressor.set_parameter(CParameter::ChecksumFlag(true))?;
    compressor.set_parameter(CParameter::ContentSizeFlag(true))?;
    compressor.set_parameter(CParameter::WindowLog(21))?;
    Ok(compressor)
}

pub(super) struct Frames<W: Write> {
    out: Out<W>,
    compressor: Compressor<'static>,
    /// Cores to compress on, asked once per bundle (it reads cgroup limits).
    cores: usize,
    submitted: u64,
    pool: Option<Pool>,
}

/// Where frames go, and how many frames and bytes went there.
struct Out<W: Write> {
    to: W,
    frames: u64,
    bytes: u64,
}

impl<W: Write> Out<W> {
    /// Writes the next frame; never more frames than were `submitted`.
    fn write(&mut self, frame: &[u8], submitted: u64) -> io::Result<()> {
        if self.frames >= submitted {
            return Err(io::Error::other("more zstd frames than entries"));
        }
        self.to.write_all(frame)?;
        self.frames += 1;
        self.bytes += frame.len() as u64;
        Ok(())
    }
}

impl<W: Write> Frames<W> {
    pub fn new(out: W) -> io::Result<Self> {
        Ok(Self {
            out: Out {
                to: out,
                frames: 0,
                bytes: 0,
            },
            compressor: compressor()?,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            submitted: 0,
            pool: None,
        })
    }

    /// Compresses `block` as one frame; it is written after every frame pushed before it.
    pub fn push(&mut self, block: Vec<u8>) -> io::Result<()> {
        self.submitted += 1;
        if self.pool.is_none() && pooled(self.submitted, self.cores) {
            self.pool = Some(Pool::start(self.cores));
        }
        let Some(pool) = &mut self.pool else {
            let frame = self.compressor.compress(&block)?;
            return self.out.write(&frame, self.submitted);
        };
        pool.send(block)?;
        while let Some(frame) = pool.next_frame(false)? {
            self.out.write(&frame, self.submitted)?;
        }
        Ok(())
    }

    /// Writes every frame still being compressed; returns the output and the bytes written.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        if let Some(pool) = &mut self.pool {
            while let Some(frame) = pool.next_frame(true)? {
                self.out.write(&frame, self.submitted)?;
            }
        }
        if self.out.frames != self.submitted {
            return Err(io::Error::other("a zstd frame was lost"));
        }
        self.out.to.flush()?;
        Ok((self.out.to, self.out.bytes))
    }
}

/// Whether the `submitted`th frame of a bundle goes to worker threads: not in a small bundle,
/// nor on one core.
fn pooled(submitted: u64, cores: usize) -> bool {
    submitted > INLINE_FRAMES && cores > 1
}

type Done = (u64, io::Result<Vec<u8>>);

/// Worker threads, each with its own compressor, taking blocks from one queue; each ends once
/// `jobs` is dropped with the pool. At most `limit` frames are in flight, so memory stays at a
/// few segments whatever the bundle's size.
struct Pool {
    jobs: Option<Sender<(u64, Vec<u8>)>>,
    results: Receiver<Done>,
    sent: u64,
    next: u64,
    ready: BTreeMap<u64, io::Result<Vec<u8>>>,
    limit: u64,
}

impl Pool {
    fn start(threads: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<(u64, Vec<u8>)>();
        let queue = Arc::new(Mutex::new(queue));
        let (done, results) = mpsc::channel();
        for _ in 0..threads {
            let (queue, done) = (Arc::clone(&queue), done.clone());
            std::thread::spawn(move || work(&queue, &done));
        }
        Self {
            jobs: Some(jobs),
            results,
            sent: 0,
            next: 0,
            ready: BTreeMap::new(),
            limit: 2 * threads as u64,
        }
    }

    fn send(&mut self, block: Vec<u8>) -> io::Result<()> {
        let stopped = || io::Error::other("the compression threads stopped");
        let jobs = self.jobs.as_ref().ok_or_else(stopped)?;
        jobs.send((self.sent, block)).map_err(|_| stopped())?;
        self.sent += 1;
        Ok(())
    }

    /// The next frame in order: when it is ready, or, with `wait` or too many in flight, once
    /// it is. `None` when there is nothing to write yet (or, with `wait`, nothing left).
    fn next_frame(&mut self, wait: bool) -> io::Result<Option<Vec<u8>>> {
        loop {
            while let Ok((index, frame)) = self.results.try_recv() {
                self.ready.insert(index, frame);
            }
            if let Some(frame) = self.ready.remove(&self.next) {
                self.next += 1;
                return frame.map(Some);
            }
            let in_flight = self.sent - self.next;
            if in_flight == 0 || (!wait && in_flight < self.limit) {
                return Ok(None);
            }
            let (index, frame) = self
                .results
                .recv()
                .map_err(|_| io::Error::other("the compression threads stopped"))?;
            self.ready.insert(index, frame);
        }
    }
}

fn work(queue: &Mutex<mpsc::Receiver<(u64, Vec<u8>)>>, done: &Sender<Done>) {
    let mut compressor = compressor();
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok((index, block)) = job else {
            return;
        };
        // A failure (or a panic) in one frame becomes that frame's error, so the writer never
        // waits for a frame that will not come.
        let frame = match &mut compressor {
            Ok(c) => catch_unwind(AssertUnwindSafe(|| c.compress(&block)))
                .unwrap_or_else(|_| Err(io::Error::other("zstd compression panicked"))),
            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
        };
        if done.send((index, frame)).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames come out in the order given and equal to one-thread compression, whether the
    /// workers run or not.
    #[test]
    fn frames_keep_their_order_and_bytes() {
        let blocks: Vec<Vec<u8>> = (0..40u32)
            .map(|i| {
                let size = 512 * (1 + (i as usize * 7919) % 300);
                (0..size).map(|b| (b as u32 * i % 251) as u8).collect()
            })
            .collect();
        let mut one = compressor().expect("zstd");
        let expected: Vec<u8> = blocks
            .iter()
            .flat_map(|b| one.compress(b).expect("compress"))
            .collect();
        let mut frames = Frames::new(Vec::new()).expect("zstd");
        for (i, block) in blocks.iter().enumerate() {
            frames.push(block.clone()).expect("push");
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let limit = frames.pool.as_ref().map(|p| p.limit);
            let expected = (i as u64 >= INLINE_FRAMES && cores > 1).then_some(2 * cores as u64);
            assert_eq!(limit, expected, "after frame {}", i + 1);
            if let Some(pool) = &frames.pool {
                assert!(
                    pool.sent - pool.next < pool.limit,
                    "at most limit − 1 left in flight"
                );
            }
        }
        let (out, written) = frames.finish().expect("finish");
        assert_eq!(written, out.len() as u64);
        assert!(out == expected, "the same bytes in the same order");
    }

    /// `push` hands a frame to the workers and returns without waiting for it: with large
    /// frames (tens of milliseconds each) some are still in flight when it returns.
    #[test]
    fn push_does_not_wait_for_compression() {
        if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
            return;
        }
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut random = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    rng as u8
                })
                .collect()
        };
        let mut frames = Frames::new(Vec::new()).expect("zstd");
        let mut in_flight_after_push = 0;
        for i in 0..INLINE_FRAMES + 4 {
            frames
                .push(random(if i < INLINE_FRAMES { 512 } else { 4 << 20 }))
                .expect("push");
            if let Some(pool) = &frames.pool {
                in_flight_after_push += pool.sent - pool.next;
            }
        }
        assert!(in_flight_after_push > 0, "push waited for every frame");
        let (out, _) = frames.finish().expect("finish");
        assert!(out.len() > 16 << 20, "every frame written");
    }

    /// A small bundle starts no thread, nor does one core; otherwise a worker per core, with
    /// two frames each in flight at most (memory stays a few segments).
    #[test]
    fn threads_start_only_for_larger_bundles_on_several_cores() {
        assert!(!pooled(INLINE_FRAMES, 2));
        assert!(pooled(INLINE_FRAMES + 1, 2));
        assert!(pooled(1_000, 8));
        assert!(!pooled(1_000, 1));
        assert_eq!(Pool::start(3).limit, 6);
    }
}
