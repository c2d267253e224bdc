//! Packet sources: where frames come from (a pcap/pcapng file, stdin, a live interface) and
//! where they go to (`-w`). This module and its children are the only capture code that
//! touches the OS; everything after a `Frame` is shared by `replay`, `watch` and `demo`.

pub mod error;
pub mod live;
pub mod pcap_reader;
pub mod pcap_writer;

pub use error::CaptureError;

/// What a source counted beside the frames it handed out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Frames the kernel dropped (live capture only).
    pub kernel_drops: u64,
    /// Non-fatal problems (a damaged record after which reading stopped), one sentence each.
    pub warnings: Vec<String>,
}
