//! `CaptureError`: everything that can go wrong reading or writing captures, one sentence each.

use std::io;
use std::path::PathBuf;

/// An error at the capture boundary (files, stdin, live interfaces).
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened.
    #[error("cannot open {}", .path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A directory was named.
    #[error("{} is a directory, not a capture file", .path.display())]
    IsDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// Zero bytes.
    #[error("{} is empty (0 bytes): not a pcap or pcapng file", .path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The magic number is not pcap's or pcapng's.
    #[error("{} is not a pcap or pcapng file (byte offset 0 holds {head})", .path.display())]
    NotPcap {
        /// The file.
        path: PathBuf,
        /// The first bytes, as hex.
        head: String,
    },
    /// A link type synfin does not decode.
    #[error("{}: unsupported link type {link} (synfin decodes EN10MB 1, NULL 0, RAW 101, LOOP 108, LINUX_SLL 113, IPV4 228, IPV6 229, NFLOG 239, IPOIB 242, LINUX_SLL2 276)", .path.display())]
    UnsupportedLink {
        /// The file.
        path: PathBuf,
        /// The LINKTYPE number.
        link: u32,
    },
    /// A damaged or cut record; what came before it was read.
    #[error("{}: {what} at byte offset {offset}", .path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// Byte offset of the damaged record or block.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// The operating system refused a read.
    #[error("{}: read error at byte offset {offset}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Where.
        offset: u64,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// No privilege to open a packet socket.
    #[error("capturing on {iface} needs root or CAP_NET_RAW")]
    PermissionDenied {
        /// The interface.
        iface: String,
    },
    /// The interface does not exist.
    #[error("no interface named {iface} (interfaces here: {available})")]
    NoSuchInterface {
        /// The name given.
        iface: String,
        /// The names that exist.
        available: String,
    },
    /// Another failure of live capture.
    #[error("capture on {iface} failed: {what}")]
    Live {
        /// The interface.
        iface: String,
        /// The step that failed.
        what: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Writing `-w FILE` failed.
    #[error("cannot write {}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

impl CaptureError {
    /// Errors after which the frames already read are still worth showing.
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            CaptureError::Damaged { .. } | CaptureError::Read { .. }
        )
    }
}
