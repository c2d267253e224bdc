//! `-w FILE`: saves frames exactly as captured to a classic pcap file with nanosecond
//! timestamps and snaplen 262144 (what tcpdump uses), serialized by pcap-parser. Every record
//! is written whole, so the file is valid after any flush (and after Ctrl-C).

use super::CaptureError;
use crate::frame::{Frame, LinkType};
use pcap_parser::{LegacyPcapBlock, Linktype, PcapHeader, ToVec};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// tcpdump's default snaplen; lo frames (65,549 bytes) fit.
pub const SNAPLEN: u32 = 262_144;

/// Magic of a pcap file with nanosecond timestamps (written little-endian).
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;

/// A capture file being written, block by block (both formats share it).
struct BlockFile {
    path: PathBuf,
    out: BufWriter<File>,
}

impl BlockFile {
    fn create(path: &Path) -> Result<BlockFile, CaptureError> {
        let file = File::create(path).map_err(|source| CaptureError::Write {
            path: path.into(),
            source,
        })?;
        Ok(BlockFile {
            path: path.into(),
            out: BufWriter::with_capacity(1 << 20, file),
        })
    }

    /// Append one serialized block (or say why it could not be serialized).
    fn put<E: std::fmt::Debug>(&mut self, block: Result<Vec<u8>, E>) -> Result<(), CaptureError> {
        let bytes = block.map_err(|e| self.err(std::io::Error::other(format!("{e:?}"))))?;
        self.out.write_all(&bytes).map_err(|e| self.err(e))
    }

    fn flush(&mut self) -> Result<(), CaptureError> {
        self.out.flush().map_err(|e| self.err(e))
    }

    fn err(&self, source: std::io::Error) -> CaptureError {
        CaptureError::Write {
            path: self.path.clone(),
            source,
        }
    }
}

impl Drop for BlockFile {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

/// A pcap file being written.
pub struct PcapWriter(BlockFile);

impl PcapWriter {
    /// Create `path` and write the file header for `link`.
    pub fn create(path: &Path, link: LinkType) -> Result<PcapWriter, CaptureError> {
        let mut w = PcapWriter(BlockFile::create(path)?);
        let header = PcapHeader {
            magic_number: MAGIC_NANOS,
            snaplen: SNAPLEN,
            network: Linktype(link.0 as i32),
            ..PcapHeader::new()
        };
        w.0.put(header.to_vec_raw())?;
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
        self.0.put(block.to_vec_raw())
    }

    /// Push buffered records to the file.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        self.0.flush()
    }
}

/// A pcapng file being written: one interface (nanosecond timestamps, snaplen 262144), and
/// packets that may carry comments (the demo's observed calls).
pub struct PcapNgWriter(BlockFile);

impl PcapNgWriter {
    /// Create `path` with a section header and one interface of link type `link`.
    pub fn create(path: &Path, link: LinkType) -> Result<PcapNgWriter, CaptureError> {
        use pcap_parser::pcapng::{InterfaceDescriptionBlock, SectionHeaderBlock};
        let mut w = PcapNgWriter(BlockFile::create(path)?);
        let mut shb = SectionHeaderBlock {
            block_type: 0,
            block_len1: 0,
            bom: 0x1a2b_3c4d,
            major_version: 1,
            minor_version: 0,
            section_len: -1,
            options: Vec::new(),
            block_len2: 0,
        };
        let mut idb = InterfaceDescriptionBlock {
            block_type: 0,
            block_len1: 0,
            linktype: Linktype(link.0 as i32),
            reserved: 0,
            snaplen: SNAPLEN,
            options: Vec::new(),
            block_len2: 0,
            if_tsresol: 9,
            if_tsoffset: 0,
        };
        w.0.put(shb.to_vec())?;
        w.0.put(idb.to_vec())?;
        Ok(w)
    }

    /// Append one frame with `comments` (one `opt_comment` each).
    pub fn write(&mut self, frame: &Frame<'_>, comments: &[String]) -> Result<(), CaptureError> {
        use pcap_parser::pcapng::{EnhancedPacketBlock, OptionCode, PcapNGOption};
        let ns = frame.ts.as_nanos().max(0) as u64;
        let data = &frame.data[..frame.data.len().min(SNAPLEN as usize)];
        let options = comments
            .iter()
            .map(|c| PcapNGOption {
                code: OptionCode::Comment,
                len: c.len().min(u16::MAX as usize) as u16,
                value: std::borrow::Cow::Borrowed(c.as_bytes()),
            })
            .collect();
        let mut epb = EnhancedPacketBlock {
            block_type: 0,
            block_len1: 0,
            if_id: 0,
            ts_high: (ns >> 32) as u32,
            ts_low: ns as u32,
            caplen: data.len() as u32,
            origlen: frame.orig_len,
            data,
            options,
            block_len2: 0,
        };
        self.0.put(epb.to_vec())
    }

    /// Push buffered blocks to the file.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        self.0.flush()
    }
}

/// `-w FILE`: pcapng when the name ends in `.pcapng`, else classic pcap.
pub enum CaptureWriter {
    /// Classic pcap (nanosecond timestamps).
    Pcap(PcapWriter),
    /// pcapng (one interface, nanosecond timestamps).
    PcapNg(PcapNgWriter),
}

impl CaptureWriter {
    /// Create `path` in the format its extension names.
    pub fn create(path: &Path, link: LinkType) -> Result<CaptureWriter, CaptureError> {
        let ng = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("pcapng"));
        Ok(if ng {
            CaptureWriter::PcapNg(PcapNgWriter::create(path, link)?)
        } else {
            CaptureWriter::Pcap(PcapWriter::create(path, link)?)
        })
    }

    /// Append one frame.
    pub fn write(&mut self, frame: &Frame<'_>) -> Result<(), CaptureError> {
        self.write_commented(frame, &[])
    }

    /// Append one frame with packet comments (pcapng keeps them; classic pcap has no place
    /// for them).
    pub fn write_commented(
        &mut self,
        frame: &Frame<'_>,
        comments: &[String],
    ) -> Result<(), CaptureError> {
        match self {
            CaptureWriter::Pcap(w) => w.write(frame),
            CaptureWriter::PcapNg(w) => w.write(frame, comments),
        }
    }

    /// Push buffered records to the file.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        match self {
            CaptureWriter::Pcap(w) => w.flush(),
            CaptureWriter::PcapNg(w) => w.flush(),
        }
    }
}
