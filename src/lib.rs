//! grapevine: gossip securely with no internet.
//!
//! Each person keeps a diary, an append-only feed of messages signed with an ed25519 key.
//! Feeds travel as bundle files on USB sticks and through shared folders; anyone can carry
//! anyone's messages, and no one can forge, alter or reorder them.
//!
//! Pure formats and crypto: [`ids`], [`identity`], [`message`], [`bundle`].
//! Logic: [`store`], [`ingest`]. The [`node`] ties them to a home folder; the binary is thin.

#![forbid(unsafe_code)]

pub mod backup;
pub mod bundle;
pub mod bytes;
pub mod content;
pub mod demo;
pub mod devices;
pub mod events;
pub mod fsutil;
pub mod graph;
pub mod graph_view;
pub mod identity;
pub mod ids;
pub mod ingest;
pub mod keylock;
pub mod lan;
pub mod message;
pub mod node;
pub mod people;
pub mod private_box;
pub mod replicate;
pub mod sealed;
pub mod signature;
pub mod store;
pub mod ui;
pub mod view;
pub mod watch;

pub use ids::{FeedId, MessageId};
pub use node::Node;

/// Milliseconds since the Unix epoch (0 if the clock is before 1970), plus any offset a
/// simulation set with [`advance_clock`].
pub fn now_ms() -> i64 {
    let real = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    real.saturating_add(CLOCK_OFFSET.load(std::sync::atomic::Ordering::Relaxed))
}

static CLOCK_OFFSET: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Moves this process's clock forward by `ms`, for simulations that run days in seconds
/// (examples/village.rs). Nothing in grapevine itself calls it.
pub fn advance_clock(ms: i64) {
    CLOCK_OFFSET.fetch_add(ms, std::sync::atomic::Ordering::Relaxed);
}
