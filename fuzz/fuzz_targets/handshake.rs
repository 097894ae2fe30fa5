//! Any bytes as what the other side sends during the handshake, over a real loopback socket:
//! the first byte picks our role, the rest is the peer's stream. The handshake fails cleanly
//! (or, for bytes no one can forge, never succeeds), and never panics or waits past its end.
#![no_main]

use std::io::Write;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::LazyLock;
use std::time::Duration;

use grapevine::identity::Identity;
use grapevine::lan::{frame::handshake, network_key};
use libfuzzer_sys::fuzz_target;

static LISTENER: LazyLock<TcpListener> =
    LazyLock::new(|| TcpListener::bind("127.0.0.1:0").expect("a loopback port"));
static ME: LazyLock<Identity> = LazyLock::new(|| Identity::from_seed(&[2; 32]));
static KEY: LazyLock<[u8; 32]> = LazyLock::new(|| network_key("grapevine"));

fuzz_target!(|data: &[u8]| {
    let Some((&role, theirs)) = data.split_first() else {
        return;
    };
    let address = LISTENER.local_addr().expect("bound");
    let mut peer = TcpStream::connect(address).expect("loopback connect");
    let (ours, _) = LISTENER.accept().expect("loopback accept");
    // All of the peer's bytes are in flight before we start; then it stops sending.
    peer.write_all(theirs).expect("loopback buffer");
    peer.shutdown(Shutdown::Write).expect("half close");
    let result = handshake(
        ours,
        &ME,
        &KEY,
        role & 1 == 1,
        Duration::from_secs(2),
        Duration::from_secs(2),
    );
    assert!(result.is_err(), "a handshake completed with bytes nobody signed");
});
