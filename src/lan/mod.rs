//! Live LAN sync: the second transport over the same replication core.
//!
//! Sessions run over TCP, authenticated and encrypted with Noise (XX, with the network key in
//! the prologue so separate networks never talk), each side proving its feed id by signing the
//! handshake hash. Discovery is a UDP broadcast of feed id and port. Blocking I/O with a thread
//! per session keeps SQLite connections on their own threads; LAN peers are few.

pub mod discovery;
mod error;
pub mod frame;
pub mod limits;
pub mod serve;
pub mod session;

pub use error::SessionError;
pub use serve::{ServeOptions, serve, serve_on, sync};
pub use session::{SessionConfig, SessionReport};

/// TCP port `serve` listens on, and UDP port of discovery, by default.
pub const DEFAULT_PORT: u16 = 8008;
/// The network name used when none is configured (a setting of the node's).
pub use crate::node::DEFAULT_NETWORK;

/// The 32-byte key of a named network: only nodes with the same name can talk.
pub fn network_key(name: &str) -> [u8; 32] {
    blake3::derive_key("grapevine lan network key v1", name.as_bytes())
}
