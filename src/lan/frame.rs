//! Length-prefixed Noise frames over TCP, and the authenticated handshake.
//!
//! Every frame is a u32 big-endian length and that many bytes, at most 65,535 (the Noise
//! message limit): a larger length is refused before anything is allocated. Reads time out;
//! the handshake as a whole must finish by a deadline, however the peer paces its bytes.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;
use snow::{Builder, StatelessTransportState};
use thiserror::Error;

use crate::identity::Identity;
use crate::ids::FeedId;

pub const MAX_FRAME: usize = 65_535;
const TAG: usize = 16;
/// Largest plaintext one frame carries.
pub const MAX_PAYLOAD: usize = MAX_FRAME - TAG;
const NOISE_PARAMS: &str = "Noise_XX_25519_ChaChaPoly_BLAKE2s";
const PROLOGUE: &[u8] = b"grapevine-lan-v1";
const HELLO_CONTEXT: &[u8] = b"grapevine-lan-hello";

#[derive(Debug, Error)]
pub enum FrameError {
    #[error("the peer announced a frame of {0} bytes; the limit is {MAX_FRAME}")]
    Oversized(u64),
    #[error("the peer stalled: nothing arrived for {0} s")]
    Stalled(u64),
    #[error("the peer stalled: the handshake did not finish within {0} s")]
    HandshakeDeadline(u64),
    #[error("the peer closed the connection")]
    Closed,
    #[error("network error: {0}")]
    Io(io::Error),
    #[error("handshake failed ({0}): not a grapevine peer, or a different network key")]
    Handshake(String),
    #[error("a frame failed to decrypt: the stream was altered")]
    Decrypt,
    #[error("the peer did not prove its identity: {0}")]
    Identity(String),
}

fn read_error(e: io::Error, timeout_secs: u64) -> FrameError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => FrameError::Stalled(timeout_secs),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => FrameError::Closed,
        _ => FrameError::Io(e),
    }
}

fn read_raw(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    patience: Patience,
) -> Result<(), FrameError> {
    let mut len = [0u8; 4];
    read_exact_by(stream, &mut len, patience)?;
    let len = u32::from_be_bytes(len) as u64;
    if len as usize > MAX_FRAME {
        return Err(FrameError::Oversized(len));
    }
    buf.resize(len as usize, 0);
    read_exact_by(stream, buf, patience)
}

/// Where a frame read stops waiting: after a silence, or at a fixed moment.
#[derive(Clone, Copy)]
enum Patience {
    Silence(u64),
    Until(Instant, u64),
}

/// `read_exact` that, under `Patience::Until`, gives each read only the time left, so a peer
/// trickling one byte at a time cannot stretch the wait.
fn read_exact_by(
    stream: &mut TcpStream,
    buf: &mut [u8],
    patience: Patience,
) -> Result<(), FrameError> {
    let (deadline, secs) = match patience {
        Patience::Silence(secs) => return stream.read_exact(buf).map_err(|e| read_error(e, secs)),
        Patience::Until(deadline, secs) => (deadline, secs),
    };
    let mut filled = 0;
    while filled < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(FrameError::HandshakeDeadline(secs));
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(FrameError::Io)?;
        match stream.read(&mut buf[filled..]) {
            Ok(0) => return Err(FrameError::Closed),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(match read_error(e, secs) {
                    FrameError::Stalled(_) => FrameError::HandshakeDeadline(secs),
                    other => other,
                });
            }
        }
    }
    Ok(())
}

fn write_raw(stream: &mut TcpStream, bytes: &[u8]) -> Result<(), FrameError> {
    let mut out = Vec::with_capacity(4 + bytes.len());
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
    stream.write_all(&out).map_err(FrameError::Io)
}

/// The receiving half of a session.
pub struct FrameReader {
    stream: TcpStream,
    noise: Arc<StatelessTransportState>,
    nonce: u64,
    raw: Vec<u8>,
    timeout_secs: u64,
}

/// The sending half of a session.
pub struct FrameWriter {
    stream: TcpStream,
    noise: Arc<StatelessTransportState>,
    nonce: u64,
}

impl FrameReader {
    /// The next frame's plaintext.
    pub fn read(&mut self) -> Result<Vec<u8>, FrameError> {
        self.read_with(Patience::Silence(self.timeout_secs))
    }

    fn read_with(&mut self, patience: Patience) -> Result<Vec<u8>, FrameError> {
        read_raw(&mut self.stream, &mut self.raw, patience)?;
        let mut plain = vec![0u8; self.raw.len()];
        let n = self
            .noise
            .read_message(self.nonce, &self.raw, &mut plain)
            .map_err(|_| FrameError::Decrypt)?;
        self.nonce += 1;
        plain.truncate(n);
        Ok(plain)
    }
}

impl FrameWriter {
    pub fn write(&mut self, payload: &[u8]) -> Result<(), FrameError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(FrameError::Oversized(payload.len() as u64));
        }
        let mut sealed = vec![0u8; payload.len() + TAG];
        let n = self
            .noise
            .write_message(self.nonce, payload, &mut sealed)
            .map_err(|e| FrameError::Io(io::Error::other(e.to_string())))?;
        self.nonce += 1;
        write_raw(&mut self.stream, &sealed[..n])
    }

    pub fn shutdown(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// Runs the Noise XX handshake with the network key in the prologue, then proves both feed
/// ids: each side signs the handshake hash with its ed25519 key, and its Noise static key must
/// be the X25519 form of that feed key. The responder proves itself first; the initiator
/// checks it before revealing its own identity. Returns the verified peer and both halves.
///
/// All of it must finish within `deadline`; afterwards reads time out after `timeout` of
/// silence.
pub fn handshake(
    mut stream: TcpStream,
    identity: &Identity,
    network_key: &[u8; 32],
    initiator: bool,
    deadline: Duration,
    timeout: Duration,
) -> Result<(FeedId, FrameReader, FrameWriter), FrameError> {
    let timeout_secs = timeout.as_secs();
    let until = Patience::Until(Instant::now() + deadline, deadline.as_secs());
    let secret = identity.x25519_secret();
    let mut prologue = PROLOGUE.to_vec();
    prologue.extend_from_slice(network_key);
    let params = NOISE_PARAMS
        .parse()
        .map_err(|_| FrameError::Handshake("bad noise parameters".into()))?;
    let builder = Builder::new(params)
        .local_private_key(&secret[..])
        .and_then(|b| b.prologue(&prologue))
        .map_err(|e| FrameError::Handshake(e.to_string()))?;
    let mut hs = if initiator {
        builder.build_initiator()
    } else {
        builder.build_responder()
    }
    .map_err(|e| FrameError::Handshake(e.to_string()))?;
    let mut buf = vec![0u8; MAX_FRAME];
    let mut raw = Vec::new();
    let fail = |e: snow::Error| FrameError::Handshake(e.to_string());
    // XX: -> e; <- e, ee, s, es; -> s, se
    for step in 0..3 {
        let ours = (step % 2 == 0) == initiator;
        let hung_up = |e: FrameError| match e {
            FrameError::Closed | FrameError::Io(_) => {
                FrameError::Handshake("the peer hung up mid-handshake".into())
            }
            other => other,
        };
        if ours {
            let n = hs.write_message(&[], &mut buf).map_err(fail)?;
            write_raw(&mut stream, &buf[..n]).map_err(hung_up)?;
        } else {
            read_raw(&mut stream, &mut raw, until).map_err(hung_up)?;
            // Our handshake messages carry no payload: anything else is not a grapevine peer.
            if hs.read_message(&raw, &mut buf).map_err(fail)? != 0 {
                return Err(FrameError::Handshake(
                    "unexpected bytes in a handshake message".into(),
                ));
            }
        }
    }
    let remote_static: [u8; 32] = hs
        .get_remote_static()
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| FrameError::Handshake("no remote static key".into()))?;
    let hash = hs.get_handshake_hash().to_vec();
    let noise = Arc::new(hs.into_stateless_transport_mode().map_err(fail)?);
    let read_half = stream.try_clone().map_err(FrameError::Io)?;
    let mut reader = FrameReader {
        stream: read_half,
        noise: noise.clone(),
        nonce: 0,
        raw: Vec::new(),
        timeout_secs,
    };
    let mut writer = FrameWriter {
        stream,
        noise,
        nonce: 0,
    };
    let hello = |w: &mut FrameWriter| {
        let mut signed = HELLO_CONTEXT.to_vec();
        signed.extend_from_slice(&hash);
        let mut payload = identity.feed_id().0.to_vec();
        payload.extend_from_slice(&identity.sign(&signed));
        w.write(&payload)
    };
    let peer = if initiator {
        let peer = verify_hello(&reader.read_with(until)?, &hash, &remote_static)?;
        hello(&mut writer)?;
        peer
    } else {
        hello(&mut writer)?;
        verify_hello(&reader.read_with(until)?, &hash, &remote_static)?
    };
    // The clones share one socket: from here on, silence is measured per read again.
    writer
        .stream
        .set_read_timeout(Some(timeout))
        .map_err(FrameError::Io)?;
    Ok((peer, reader, writer))
}

fn verify_hello(
    payload: &[u8],
    hash: &[u8],
    remote_static: &[u8; 32],
) -> Result<FeedId, FrameError> {
    let bad = |why: &str| FrameError::Identity(why.to_owned());
    if payload.len() != 96 {
        return Err(bad("malformed hello"));
    }
    let feed = FeedId::from_slice(&payload[..32]).ok_or_else(|| bad("malformed feed id"))?;
    let key = VerifyingKey::from_bytes(feed.as_bytes()).map_err(|_| bad("invalid feed key"))?;
    if key.to_montgomery().to_bytes() != *remote_static {
        return Err(bad(
            "its Noise key is not the X25519 form of the feed it claims",
        ));
    }
    let mut signed = HELLO_CONTEXT.to_vec();
    signed.extend_from_slice(hash);
    let signature: [u8; 64] = payload[32..]
        .try_into()
        .map_err(|_| bad("malformed signature"))?;
    crate::signature::verify(feed.as_bytes(), &signed, &signature)
        .map_err(|_| bad("its signature over the handshake does not verify"))?;
    Ok(feed)
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    fn connected() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        (client, server)
    }

    /// Two ends of a finished handshake.
    fn session() -> ((FrameReader, FrameWriter), (FrameReader, FrameWriter)) {
        let (client, server) = connected();
        let key = [7u8; 32];
        let limit = Duration::from_secs(10);
        let other = std::thread::spawn(move || {
            handshake(
                server,
                &Identity::from_seed(&[2; 32]),
                &key,
                false,
                limit,
                limit,
            )
        });
        let (_, r1, w1) = handshake(
            client,
            &Identity::from_seed(&[1; 32]),
            &key,
            true,
            limit,
            limit,
        )
        .expect("handshake");
        let (_, r2, w2) = other.join().expect("thread").expect("handshake");
        ((r1, w1), (r2, w2))
    }

    #[test]
    fn payloads_up_to_the_limit_travel_and_larger_ones_are_refused() {
        assert_eq!(MAX_PAYLOAD, 65_519, "the largest frame less the tag");
        let ((_, mut writer), (mut reader, _)) = session();
        // The largest payload makes a frame of exactly MAX_FRAME bytes, which must be read.
        let largest: Vec<u8> = (0..MAX_PAYLOAD).map(|i| i as u8).collect();
        writer
            .write(&largest)
            .expect("the largest payload is written");
        assert_eq!(reader.read().expect("and read"), largest);
        for too_big in [MAX_PAYLOAD + 1, MAX_PAYLOAD + 2, MAX_FRAME + 1] {
            assert!(
                matches!(writer.write(&vec![0; too_big]), Err(FrameError::Oversized(n)) if n == too_big as u64),
                "{too_big} bytes"
            );
        }
        writer.write(b"after").expect("the session carries on");
        assert_eq!(reader.read().expect("read"), b"after");
    }

    #[test]
    fn an_announced_length_over_the_limit_is_refused_before_reading() {
        let (mut ours, mut theirs) = connected();
        theirs
            .write_all(&(MAX_FRAME as u32).to_be_bytes())
            .expect("write");
        theirs.write_all(&vec![9; MAX_FRAME]).expect("write");
        let mut buf = Vec::new();
        read_raw(&mut ours, &mut buf, Patience::Silence(5)).expect("a frame at the limit");
        assert_eq!(buf.len(), MAX_FRAME);
        theirs
            .write_all(&(MAX_FRAME as u32 + 1).to_be_bytes())
            .expect("write");
        assert!(matches!(
            read_raw(&mut ours, &mut buf, Patience::Silence(5)),
            Err(FrameError::Oversized(n)) if n == MAX_FRAME as u64 + 1
        ));
    }

    /// A peer that resets the connection mid-handshake ends the wait at once, as a closed
    /// connection; only a real silence runs into the deadline.
    #[test]
    fn a_reset_during_the_handshake_ends_it_at_once() {
        let (mut ours, theirs) = connected();
        socket2::SockRef::from(&theirs)
            .set_linger(Some(Duration::ZERO))
            .expect("linger");
        let mut theirs = theirs;
        theirs.write_all(&[1, 2]).expect("write");
        drop(theirs); // with linger 0: a reset
        let started = Instant::now();
        let mut buf = [0u8; 8];
        let result = read_exact_by(
            &mut ours,
            &mut buf,
            Patience::Until(Instant::now() + Duration::from_secs(20), 20),
        );
        assert!(
            matches!(result, Err(FrameError::Closed)),
            "a reset reads as closed: {result:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "it did not wait for the deadline"
        );
        let (mut ours, _silent) = connected();
        let result = read_exact_by(
            &mut ours,
            &mut buf,
            Patience::Until(Instant::now() + Duration::from_millis(300), 0),
        );
        assert!(
            matches!(result, Err(FrameError::HandshakeDeadline(0))),
            "{result:?}"
        );
    }
}
