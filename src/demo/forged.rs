//! A forged RST for the `rst-challenge` scenario: a raw socket in the private namespace reads
//! the client's sequence numbers off the segments the server receives, and sends the server
//! an RST in its window but not at RCV.NXT, as an off-path attacker guessing would (RFC 5961
//! §3). IPv4 only. OS code: raw sockets need CAP_NET_RAW.

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::mem::MaybeUninit;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::Duration;

/// A raw TCP socket that sees a copy of every TCP segment this namespace receives.
pub struct RawTcp {
    sock: Socket,
}

/// What the raw socket saw of one direction of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    /// The sender's next sequence number (the end of its last segment).
    pub next_seq: u32,
}

impl RawTcp {
    /// Open it (before the connection starts, so that it sees every segment).
    pub fn open() -> io::Result<RawTcp> {
        let sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::TCP))?;
        sock.set_read_timeout(Some(Duration::from_millis(50)))?;
        Ok(RawTcp { sock })
    }

    /// Read what has arrived so far; the furthest sequence end of the segments `from` → `to`.
    pub fn seen(&self, from: SocketAddrV4, to: SocketAddrV4) -> io::Result<Option<Seen>> {
        let mut best: Option<u32> = None;
        let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
        loop {
            let n = match self.sock.recv(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                Err(e) => return Err(e),
            };
            // SAFETY: recv initialised the first `n` bytes.
            let b: Vec<u8> = buf[..n]
                .iter()
                .map(|x| unsafe { x.assume_init() })
                .collect();
            if let Some((src, dst, end)) = segment_end(&b) {
                if src == from && dst == to && best.is_none_or(|e| end.wrapping_sub(e) as i32 > 0) {
                    best = Some(end);
                }
            }
        }
        Ok(best.map(|next_seq| Seen { next_seq }))
    }

    /// Send `to` an RST that claims to come from `from`, with sequence number `seq`.
    pub fn send_rst(&self, from: SocketAddrV4, to: SocketAddrV4, seq: u32) -> io::Result<()> {
        let mut h = [0u8; 20];
        h[0..2].copy_from_slice(&from.port().to_be_bytes());
        h[2..4].copy_from_slice(&to.port().to_be_bytes());
        h[4..8].copy_from_slice(&seq.to_be_bytes());
        h[12] = 5 << 4; // data offset: 5 words
        h[13] = 0x04; // RST
        let sum = checksum(from, to, &h);
        h[16..18].copy_from_slice(&sum.to_be_bytes());
        let dst = SockAddr::from(SocketAddr::V4(SocketAddrV4::new(*to.ip(), 0)));
        self.sock.send_to(&h, &dst)?;
        Ok(())
    }
}

/// (source, destination, sequence end) of an IPv4 TCP segment.
fn segment_end(b: &[u8]) -> Option<(SocketAddrV4, SocketAddrV4, u32)> {
    let ihl = usize::from(b.first()? & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*b.get(2)?, *b.get(3)?]));
    let src = std::net::Ipv4Addr::new(*b.get(12)?, b[13], b[14], b[15]);
    let dst = std::net::Ipv4Addr::new(*b.get(16)?, b[17], b[18], b[19]);
    let t = b.get(ihl..)?;
    let port = |i: usize| Some(u16::from_be_bytes([*t.get(i)?, *t.get(i + 1)?]));
    let seq = u32::from_be_bytes(t.get(4..8)?.try_into().ok()?);
    let doff = usize::from(t.get(12)? >> 4) * 4;
    let flags = *t.get(13)?;
    let len = total.checked_sub(ihl + doff)? as u32;
    let end = seq
        .wrapping_add(len)
        .wrapping_add(u32::from(flags & 0x03 != 0)); // SYN or FIN
    Some((
        SocketAddrV4::new(src, port(0)?),
        SocketAddrV4::new(dst, port(2)?),
        end,
    ))
}

/// The TCP checksum over the IPv4 pseudo-header and `tcp` (checksum field zero).
fn checksum(from: SocketAddrV4, to: SocketAddrV4, tcp: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for c in bytes.chunks(2) {
            let w = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
            sum += u32::from(w);
        }
    };
    add(&from.ip().octets());
    add(&to.ip().octets());
    add(&[0, 6]);
    add(&(tcp.len() as u16).to_be_bytes());
    add(tcp);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sequence_end_and_checksums_like_the_kernel() {
        // A FIN,ACK with 5 bytes, seq 1000: its sequence ends at 1006.
        let mut p = vec![
            0x45, 0, 0, 45, 0, 0, 0, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 9,
        ];
        let mut t = [0u8; 20];
        t[0..2].copy_from_slice(&40000u16.to_be_bytes());
        t[2..4].copy_from_slice(&8888u16.to_be_bytes());
        t[4..8].copy_from_slice(&1000u32.to_be_bytes());
        t[12] = 5 << 4;
        t[13] = 0x11;
        p.extend_from_slice(&t);
        p.extend_from_slice(b"hello");
        let (s, d, end) = segment_end(&p).unwrap();
        assert_eq!((s.port(), d.port(), end), (40000, 8888, 1006));
        // Summing a header with its own checksum in gives 0xffff (RFC 1071).
        let (a, b) = (s, d);
        let mut h = [0u8; 20];
        h[4..8].copy_from_slice(&7u32.to_be_bytes());
        h[13] = 0x04;
        let c = checksum(a, b, &h);
        h[16..18].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(a, b, &h), 0);
    }
}
