//! `-w FILE`: saves frames exactly as captured to a classic pcap file with nanosecond
//! timestamps and snaplen 262144 (what tcpdump uses), serialized by pcap-parser. Every record
//! is written whole, so the file is valid after any flush (and after Ctrl-C).

use super::{CaptureError, Frame, LinkType};
use pcap_parser::{LegacyPcapBlock, Linktype, PcapHeader, ToVec};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// tcpdump's default snaplen; lo frames (65,549 bytes) fit.
pub const SNAPLEN: u32 = 262_144;

/// Magic of a pcap file with nanosecond timestamps (written little-endian).
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;

/// A pcap file being written.
pub struct PcapWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl PcapWriter {
    /// Create `path` and write the file header for `link`.
    pub fn create(path: &Path, link: LinkType) -> Result<PcapWriter, CaptureError> {
        let err = |source| CaptureError::Write {
            path: path.into(),
            source,
        };
        let file = File::create(path).map_err(err)?;
        let mut w = PcapWriter {
            path: path.into(),
            out: BufWriter::with_capacity(1 << 20, file),
        };
        let header = PcapHeader {
            magic_number: MAGIC_NANOS,
            snaplen: SNAPLEN,
            network: Linktype(link.0 as i32),
            ..PcapHeader::new()
        };
        let bytes = header
            .to_vec_raw()
            .map_err(|e| err(std::io::Error::other(format!("{e:?}"))))?;
        w.out.write_all(&bytes).map_err(err)?;
        Ok(w)
    }

    /// Append one frame.
    pub fn write(&mut self, frame: &Frame<'_>) -> Result<(), CaptureError> {
        let ns = frame.ts.as_nanos();
        let data = &frame.data[..frame.data.len().min(SNAPLEN as usize)];
        let block = LegacyPcapBlock {
            ts_sec: ns.div_euclid(1_000_000_000) as u32,
            ts_usec: ns.rem_euclid(1_000_000_000) as u32,
            caplen: data.len() as u32,
            origlen: frame.orig_len,
            data,
        };
        let bytes = block
            .to_vec_raw()
            .map_err(|e| self.err(std::io::Error::other(format!("{e:?}"))))?;
        self.out.write_all(&bytes).map_err(|e| self.err(e))
    }

    /// Push buffered records to the file.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        self.out.flush().map_err(|e| self.err(e))
    }

    fn err(&self, source: std::io::Error) -> CaptureError {
        CaptureError::Write {
            path: self.path.clone(),
            source,
        }
    }
}

impl Drop for PcapWriter {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}
