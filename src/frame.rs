//! One captured frame and its link-layer type: what capture hands to decode. Plain data, no
//! I/O; below both `capture` and `decode`.

use crate::timestamp::Timestamp;
use std::fmt;

/// One captured frame, borrowed from the source's buffer until the next call.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based frame number in the input (record index; live: capture order).
    pub number: u64,
    /// Capture timestamp.
    pub ts: Timestamp,
    /// Link-layer header type of `data`.
    pub link: LinkType,
    /// Length of the frame on the wire.
    pub orig_len: u32,
    /// The captured bytes (possibly cut by snaplen).
    pub data: &'a [u8],
}

/// A frame that owns its bytes: kept (the full-screen view's per-connection frames), or
/// handed to another thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedFrame {
    /// Its number in the input.
    pub number: u64,
    /// Capture time.
    pub ts: Timestamp,
    /// Link type.
    pub link: LinkType,
    /// Length on the wire.
    pub orig_len: u32,
    /// The captured bytes (perhaps only the first of them).
    pub data: Vec<u8>,
}

impl OwnedFrame {
    /// Copy `f`, at most its first `keep` bytes (its wire length kept).
    pub fn of(f: &Frame<'_>, keep: usize) -> OwnedFrame {
        OwnedFrame {
            number: f.number,
            ts: f.ts,
            link: f.link,
            orig_len: f.orig_len,
            data: f.data[..f.data.len().min(keep)].to_vec(),
        }
    }

    /// Borrow it as a `Frame` again.
    pub fn frame(&self) -> Frame<'_> {
        Frame {
            number: self.number,
            ts: self.ts,
            link: self.link,
            orig_len: self.orig_len,
            data: &self.data,
        }
    }
}

/// A pcap/pcapng LINKTYPE value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: 4-byte address family in the writer's byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet (with 802.1Q / QinQ tags).
    pub const EN10MB: LinkType = LinkType(1);
    /// Raw IP, version from the first nibble.
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: 4-byte address family.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1 (`tcpdump -i any`, older).
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux netfilter log (`tcpdump -i nflog:N`): a 4-byte header, then TLVs.
    pub const NFLOG: LinkType = LinkType(239);
    /// IP over InfiniBand: a 2-byte ether type and 2 reserved bytes.
    pub const IPOIB: LinkType = LinkType(242);
    /// Linux cooked capture v2 (`tcpdump -i any`).
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// Every link type synfin decodes.
    pub const SUPPORTED: [LinkType; 10] = [
        Self::NULL,
        Self::EN10MB,
        Self::RAW,
        Self::LOOP,
        Self::LINUX_SLL,
        Self::IPV4,
        Self::IPV6,
        Self::NFLOG,
        Self::IPOIB,
        Self::LINUX_SLL2,
    ];

    /// Is this a link type synfin can decode?
    pub fn is_supported(self) -> bool {
        Self::SUPPORTED.contains(&self)
    }

    /// The LINKTYPE name, as the schema's `meta.linktype` prints it.
    pub fn name(self) -> String {
        match self {
            Self::NULL => "NULL".into(),
            Self::EN10MB => "EN10MB".into(),
            Self::RAW => "RAW".into(),
            Self::LOOP => "LOOP".into(),
            Self::LINUX_SLL => "LINUX_SLL".into(),
            Self::IPV4 => "IPV4".into(),
            Self::IPV6 => "IPV6".into(),
            Self::NFLOG => "NFLOG".into(),
            Self::IPOIB => "IPOIB".into(),
            Self::LINUX_SLL2 => "LINUX_SLL2".into(),
            LinkType(n) => format!("LINKTYPE_{n}"),
        }
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}
