//! Packet sources: where frames come from (a pcap/pcapng file, stdin, a live interface) and
//! where they go to (`-w`). This module and its children are the only capture code that
//! touches the OS; everything after a `Frame` is shared by `replay`, `watch` and `demo`.

pub mod call_trace;
mod compression;
pub mod error;
pub mod live;
mod mapped;
pub mod pcap_reader;
pub mod pcap_writer;
pub mod proc_net;
mod rx_ring;
pub mod tracefs;

pub use error::CaptureError;
