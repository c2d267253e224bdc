//! Parts of made-up segments, for the property tests that hold a steady way equal to the
//! whole way (Zeek's model, a connection): mostly ACKs and data at the numbers expected, the
//! rest any control segment at any number.

use crate::segment::{Segment, TcpFlags};
use proptest::prelude::*;

/// One segment of a made-up conversation: sender (the server?), flags, how far its sequence
/// number is from what the sender sent last, how far its ACK is from what the peer sent
/// last, payload length, zero window, cut by the snaplen.
pub(crate) type Parts = (bool, u16, i32, i32, u32, bool, bool);

/// A segment's parts, mostly of a steady conversation.
pub(crate) fn parts() -> impl Strategy<Value = Parts> {
    (
        any::<bool>(),
        flags(),
        offset(),
        offset(),
        payload(),
        rarely(),
        rarely(),
    )
}

/// Flags: an ACK or data most often, else a SYN, SYN,ACK, FIN, RST (with or without ACK),
/// FIN with RST, or none.
fn flags() -> impl Strategy<Value = u16> {
    prop_oneof![
        12 => Just(TcpFlags::ACK),
        3 => Just(TcpFlags::ACK | TcpFlags::PSH),
        1 => Just(TcpFlags::SYN),
        1 => Just(TcpFlags::SYN | TcpFlags::ACK),
        2 => Just(TcpFlags::FIN | TcpFlags::ACK),
        1 => Just(TcpFlags::RST),
        1 => Just(TcpFlags::RST | TcpFlags::ACK),
        1 => Just(TcpFlags::FIN | TcpFlags::RST),
        1 => Just(0u16),
    ]
}

/// How far a sequence or ACK number is from the one expected: most often not at all, else
/// a little either way or anywhere.
fn offset() -> impl Strategy<Value = i32> {
    prop_oneof![8 => Just(0i32), 1 => -300i32..300, 1 => any::<i32>()]
}

/// A payload length: none, or up to 200 bytes.
fn payload() -> impl Strategy<Value = u32> {
    prop_oneof![2 => Just(0u32), 3 => 1u32..200]
}

/// Once in twenty.
pub(crate) fn rarely() -> impl Strategy<Value = bool> {
    prop::bool::weighted(0.05)
}

/// A segment between 10.0.0.1:40000 (the client) and 10.0.0.2:80, a window of 1000, its
/// 100 bytes all captured.
pub(crate) fn plain(from_client: bool, flags: u16, seq: u32, ack: u32, len: u32) -> Segment {
    let c: std::net::SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let s: std::net::SocketAddr = "10.0.0.2:80".parse().unwrap();
    let (src, dst) = if from_client { (c, s) } else { (s, c) };
    Segment {
        window: 1000,
        payload_len: len,
        orig_len: 100,
        cap_len: 100,
        ..Segment::header(src, dst, TcpFlags(flags), seq, ack)
    }
}
