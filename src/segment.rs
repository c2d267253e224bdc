//! `Segment`: the decoded facts of one TCP segment, as the tracker sees them.
//!
//! Plain data: no etherparse, no pnet, no I/O. `decode` fills it, the tracker reads it.

use crate::timestamp::Timestamp;
use std::fmt;
use std::net::SocketAddr;

/// How many payload bytes a `Segment` keeps (for previews); the rest are only counted.
pub const PAYLOAD_KEEP: usize = 32;

/// TCP header flags: the bits of byte 13 of the header, and AccECN's AE (the low bit of
/// byte 12, once NS) as bit 8, so the value is the 9 low bits of the header's 16-bit word 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    /// FIN: no more data from sender.
    pub const FIN: u16 = 0x01;
    /// SYN: synchronize sequence numbers.
    pub const SYN: u16 = 0x02;
    /// RST: reset the connection.
    pub const RST: u16 = 0x04;
    /// PSH: push function.
    pub const PSH: u16 = 0x08;
    /// ACK: acknowledgment field is significant.
    pub const ACK: u16 = 0x10;
    /// URG: urgent pointer field is significant.
    pub const URG: u16 = 0x20;
    /// ECE: ECN-Echo.
    pub const ECE: u16 = 0x40;
    /// CWR: congestion window reduced.
    pub const CWR: u16 = 0x80;
    /// AE: Accurate ECN (RFC 9768), the former NS bit (bit 0 of header byte 12).
    pub const AE: u16 = 0x100;

    /// The schema's order: AE, CWR, ECE, URG, ACK, PSH, RST, SYN, FIN (high bit to low).
    pub const ORDER: [(u16, &'static str); 9] = [
        (Self::AE, "AE"),
        (Self::CWR, "CWR"),
        (Self::ECE, "ECE"),
        (Self::URG, "URG"),
        (Self::ACK, "ACK"),
        (Self::PSH, "PSH"),
        (Self::RST, "RST"),
        (Self::SYN, "SYN"),
        (Self::FIN, "FIN"),
    ];

    /// Is every bit of `mask` set?
    pub fn has(self, mask: u16) -> bool {
        self.0 & mask == mask
    }
    /// SYN set.
    pub fn syn(self) -> bool {
        self.has(Self::SYN)
    }
    /// ACK set.
    pub fn ack(self) -> bool {
        self.has(Self::ACK)
    }
    /// FIN set.
    pub fn fin(self) -> bool {
        self.has(Self::FIN)
    }
    /// RST set.
    pub fn rst(self) -> bool {
        self.has(Self::RST)
    }
    /// Header byte 13 (what a `tcp[13]` filter reads): every flag but AE.
    pub fn byte13(self) -> u8 {
        self.0 as u8
    }
    /// Names of the set flags, in the schema's order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::ORDER
            .into_iter()
            .filter(move |(bit, _)| self.0 & bit != 0)
            .map(|(_, name)| name)
    }
}

impl TcpFlags {
    /// The order flags are shown in text: the ones a reader looks for first.
    const SHOW: [(u16, &'static str); 9] = [
        (Self::SYN, "SYN"),
        (Self::FIN, "FIN"),
        (Self::RST, "RST"),
        (Self::PSH, "PSH"),
        (Self::URG, "URG"),
        (Self::ACK, "ACK"),
        (Self::ECE, "ECE"),
        (Self::CWR, "CWR"),
        (Self::AE, "AE"),
    ];

    /// Names of the set flags in the order text shows them (`SYN`, `ACK`).
    pub fn shown(self) -> impl Iterator<Item = &'static str> {
        Self::SHOW
            .into_iter()
            .filter(move |(bit, _)| self.0 & bit != 0)
            .map(|(_, name)| name)
    }
}

impl fmt::Display for TcpFlags {
    /// `SYN,ACK`, `PSH,ACK`, or `none`. Order: the flags a reader looks for first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for name in self.shown() {
            if !first {
                f.write_str(",")?;
            }
            f.write_str(name)?;
            first = false;
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// The TCP options synfin reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Maximum segment size.
    pub mss: Option<u16>,
    /// Window scale shift.
    pub wscale: Option<u8>,
    /// SACK permitted.
    pub sack_perm: bool,
    /// Timestamps (TSval, TSecr).
    pub ts: Option<(u32, u32)>,
}

impl TcpOptions {
    /// True when no option is present.
    pub fn is_empty(&self) -> bool {
        self.mss.is_none() && self.wscale.is_none() && !self.sack_perm && self.ts.is_none()
    }
}

/// The first bytes of a payload, kept inline (no allocation per segment).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct PayloadPrefix {
    len: u8,
    bytes: [u8; PAYLOAD_KEEP],
}

impl PayloadPrefix {
    /// Keep up to `PAYLOAD_KEEP` bytes of `data`.
    pub fn new(data: &[u8]) -> Self {
        let n = data.len().min(PAYLOAD_KEEP);
        let mut bytes = [0; PAYLOAD_KEEP];
        // A whole prefix is a copy of a known length (no call to memcpy).
        match data.first_chunk::<PAYLOAD_KEEP>() {
            Some(whole) => bytes = *whole,
            None => bytes[..n].copy_from_slice(data),
        }
        PayloadPrefix {
            len: n as u8,
            bytes,
        }
    }
    /// The kept bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for PayloadPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_bytes())
    }
}

/// One decoded TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Capture timestamp.
    pub ts: Timestamp,
    /// 1-based frame number in the input.
    pub frame: u64,
    /// Length of the frame on the wire.
    pub orig_len: u32,
    /// Bytes actually captured.
    pub cap_len: u32,
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// Header flags.
    pub flags: TcpFlags,
    /// Raw sequence number.
    pub seq: u32,
    /// Raw acknowledgment number.
    pub ack: u32,
    /// Raw (unscaled) window.
    pub window: u16,
    /// Payload length from the IP header (even when the capture was cut by snaplen).
    pub payload_len: u32,
    /// The first payload bytes that were captured.
    pub payload: PayloadPrefix,
    /// The capture holds fewer payload bytes than `payload_len` (snaplen): the bytes were on
    /// the wire but are not in the file (Zeek counts what is acknowledged as a content gap).
    pub payload_cut: bool,
    /// Decoded options.
    pub options: TcpOptions,
}

impl Segment {
    /// A segment of nothing but its header's addresses, flags and numbers: no payload or
    /// options, window 0, frame 0 at time 0, no bytes captured. For a segment made up rather
    /// than decoded (a filter's question about two endpoints, a test), with the rest set by
    /// struct update (`Segment { frame: 3, ..Segment::header(..) }`).
    pub fn header(
        src: SocketAddr,
        dst: SocketAddr,
        flags: TcpFlags,
        seq: u32,
        ack: u32,
    ) -> Segment {
        Segment {
            ts: Timestamp(0),
            frame: 0,
            orig_len: 0,
            cap_len: 0,
            src,
            dst,
            flags,
            seq,
            ack,
            window: 0,
            payload_len: 0,
            payload: PayloadPrefix::default(),
            payload_cut: false,
            options: TcpOptions::default(),
        }
    }

    /// Sequence space the segment occupies: payload + SYN + FIN.
    pub fn seq_len(&self) -> u32 {
        self.payload_len
            .wrapping_add(u32::from(self.flags.syn()))
            .wrapping_add(u32::from(self.flags.fin()))
    }
}
