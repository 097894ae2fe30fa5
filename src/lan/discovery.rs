//! Discovery: every few seconds a `serve` broadcasts a 76-byte announcement on UDP:
//! `"grapevine-announce-1"` (20) ‖ network id (16) ‖ feed id (32) ‖ TCP port (u16) ‖ 6 zero
//! bytes. The network id is a hash of the network key, so the key itself is never sent.
//! Announcements are only hints: whoever is dialled must still pass the authenticated handshake.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use crate::ids::FeedId;

const MAGIC: &[u8; 20] = b"grapevine-announce-1";
pub const ANNOUNCE_LEN: usize = 76;

pub fn network_id(network_key: &[u8; 32]) -> [u8; 16] {
    let hash = blake3::derive_key("grapevine lan network id v1", network_key);
    let mut id = [0u8; 16];
    id.copy_from_slice(&hash[..16]);
    id
}

pub fn encode(network_key: &[u8; 32], feed: &FeedId, port: u16) -> [u8; ANNOUNCE_LEN] {
    let mut out = [0u8; ANNOUNCE_LEN];
    out[..20].copy_from_slice(MAGIC);
    out[20..36].copy_from_slice(&network_id(network_key));
    out[36..68].copy_from_slice(feed.as_bytes());
    out[68..70].copy_from_slice(&port.to_be_bytes());
    out
}

/// The feed and TCP port an announcement gives, if it is one of our network's.
pub fn decode(network_key: &[u8; 32], bytes: &[u8]) -> Option<(FeedId, u16)> {
    if bytes.len() != ANNOUNCE_LEN
        || &bytes[..20] != MAGIC
        || bytes[20..36] != network_id(network_key)
    {
        return None;
    }
    let feed = FeedId::from_slice(&bytes[36..68])?;
    let port = u16::from_be_bytes([bytes[68], bytes[69]]);
    (port != 0).then_some((feed, port))
}

/// A socket that hears announcements on `port` and can broadcast them.
pub fn socket(port: u16) -> std::io::Result<UdpSocket> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port))?;
    socket.set_broadcast(true)?;
    socket.set_read_timeout(Some(Duration::from_millis(500)))?;
    Ok(socket)
}

pub fn broadcast(socket: &UdpSocket, announcement: &[u8], port: u16) -> std::io::Result<()> {
    socket.send_to(announcement, SocketAddr::from((Ipv4Addr::BROADCAST, port)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_round_trip_only_within_a_network() {
        let key = crate::lan::network_key("village");
        let other = crate::lan::network_key("elsewhere");
        let feed = FeedId([5; 32]);
        let a = encode(&key, &feed, 8008);
        assert_eq!(decode(&key, &a), Some((feed, 8008)));
        assert_eq!(decode(&other, &a), None);
        assert_eq!(decode(&key, &a[..40]), None);
    }
}
