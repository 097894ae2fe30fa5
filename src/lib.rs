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
pub mod clock;
pub mod content;
pub mod demo;
pub mod devices;
pub mod entropy;
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
pub mod text;
pub mod ui;
pub mod view;
pub mod watch;

pub use ids::{FeedId, MessageId};
pub use node::Node;

/// Milliseconds since the Unix epoch, by the system clock: for what a person is shown now
/// (how long ago). The node, the store and the LAN session read the [`clock::Clock`] they
/// were given instead.
pub fn now_ms() -> i64 {
    clock::Clock::now_ms(&clock::SystemClock)
}
