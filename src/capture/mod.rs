//! Packet sources: where frames come from (a pcap/pcapng file, stdin, a live interface) and
//! where they go to (`-w`). This module and its children are the only capture code that
//! touches the OS; everything after a `Frame` is shared by `replay`, `watch` and `demo`.

pub mod decoded_stream;
pub mod error;
pub mod kernel_trace;
pub mod link_type;
pub mod live;
pub mod pcap_reader;
pub mod pcap_writer;

pub use error::CaptureError;
pub use link_type::LinkType;

use crate::timestamp::Timestamp;

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

/// What a source counted beside the frames it handed out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Frames the kernel dropped (live capture only).
    pub kernel_drops: u64,
    /// Non-fatal problems (a damaged record after which reading stopped), one sentence each.
    pub warnings: Vec<String>,
}
