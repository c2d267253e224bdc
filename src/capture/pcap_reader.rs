//! Replay: a reader of pcap (µs and ns, both byte orders) and pcapng (several interfaces, any
//! timestamp resolution) files or stdin, on pcap-parser. Memory stays constant: one fixed
//! buffer (or, for a classic pcap file, a memory map whose pages are given back as it is read:
//! `mapped`), never the whole file, never an allocation sized by a record's length.

use super::compression::Compression;
use super::mapped::MappedPcap;
use super::CaptureError;
use crate::frame::{Frame, LinkType};
use crate::timestamp::Timestamp;
use pcap_parser::pcapng::Block;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The reader's buffer; also the largest record accepted (4× tcpdump's largest snaplen).
pub const BUFFER_SIZE: usize = 1 << 20;

/// The largest sub-second field of a pcap record with nanosecond timestamps.
const NANOS_MAX: u32 = 999_999_999;
/// The largest sub-second field of a pcap record with microsecond timestamps.
const MICROS_MAX: u32 = 999_999;

/// One pcapng interface: its link type and timestamp units.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: LinkType,
    /// Timestamp units per second (`if_tsresol`), `None` if the block gave a nonsense value.
    units_per_sec: Option<u64>,
    /// `if_tsoffset`, seconds.
    offset_secs: i64,
}

#[derive(Debug, Clone)]
enum Format {
    Pcap { link: LinkType, nanos: bool },
    PcapNg { interfaces: Vec<Interface> },
}

/// A pcap or pcapng stream.
pub struct PcapSource {
    path: PathBuf,
    reader: Box<dyn PcapReaderIterator + Send>,
    format: Format,
    /// Bytes of the last returned block, consumed on the next call.
    pending: usize,
    /// Bytes consumed so far (the offset of the next block).
    offset: u64,
    next_number: u64,
    /// The comments of the last frame (pcapng packet comments).
    comments: Vec<String>,
    /// A record's sub-second field was out of range: said once per file, then kept here
    /// until `take_warning`.
    bad_fraction: FractionWarning,
}

/// Whether a pcap record's sub-second field was out of range yet.
#[derive(Debug)]
enum FractionWarning {
    None,
    Pending(String),
    Given,
}

impl std::fmt::Debug for PcapSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapSource")
            .field("path", &self.path)
            .field("offset", &self.offset)
            .finish()
    }
}

/// What one parsed block means to us, without borrowing the buffer.
enum Step {
    Packet {
        /// Address of the first packet byte inside the reader's buffer.
        ptr: usize,
        len: usize,
        ts: Timestamp,
        link: LinkType,
        orig_len: u32,
        /// The record's sub-second field was out of range (and was clamped).
        bad_fraction: Option<u32>,
    },
    Skip,
}

impl PcapSource {
    /// Open `path` (`-` is stdin). Frame numbers start at `first_number`.
    pub fn open(path: &Path, first_number: u64) -> Result<PcapSource, CaptureError> {
        let input: Box<dyn Read + Send> = if path == Path::new("-") {
            Box::new(io::stdin())
        } else {
            if path.is_dir() {
                return Err(CaptureError::IsDirectory { path: path.into() });
            }
            let f = std::fs::File::open(path).map_err(|source| CaptureError::Open {
                path: path.into(),
                source,
            })?;
            // A classic pcap file is read where it lies (see `mapped`); anything else (pcapng,
            // compressed, a pipe, a device) as a stream.
            if let Some(m) = MappedPcap::open(&f, BUFFER_SIZE) {
                return Self::with_reader(path.into(), Box::new(m), first_number);
            }
            Box::new(f)
        };
        Self::from_reader(path, input, first_number)
    }

    /// A source on a reader that hands out the file header first.
    fn with_reader(
        path: PathBuf,
        reader: Box<dyn PcapReaderIterator + Send>,
        first_number: u64,
    ) -> Result<PcapSource, CaptureError> {
        let mut src = PcapSource {
            path,
            reader,
            format: Format::PcapNg {
                interfaces: Vec::new(),
            },
            pending: 0,
            offset: 0,
            next_number: first_number,
            comments: Vec::new(),
            bad_fraction: FractionWarning::None,
        };
        src.read_file_header()?;
        Ok(src)
    }

    /// Read a capture from any byte stream; `path` names it in messages.
    pub fn from_reader(
        path: &Path,
        mut input: Box<dyn Read + Send>,
        first_number: u64,
    ) -> Result<PcapSource, CaptureError> {
        let path: PathBuf = path.into();
        // Read the whole file header ourselves (exact messages), then hand every byte to the
        // parser: its first read() must hold the whole header, which a pipe need not give.
        let head = read_head(&path, &mut input)?;
        // A compressed capture (as tshark reads gzip): decompress as it is read.
        if let Some(kind) = Compression::of(&head) {
            let rest = io::Cursor::new(head).chain(input);
            let inner: Box<dyn Read + Send> = match kind {
                Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(rest)),
                Compression::Zstd => {
                    Box::new(zstd::stream::read::Decoder::new(rest).map_err(|source| {
                        CaptureError::Read {
                            path: path.clone(),
                            offset: 0,
                            source,
                        }
                    })?)
                }
                Compression::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(rest)),
            };
            return Self::from_uncompressed(path, inner, first_number, Some(kind));
        }
        Self::from_uncompressed(
            path,
            Box::new(io::Cursor::new(head).chain(input)),
            first_number,
            None,
        )
    }

    /// `from_reader` of bytes already decompressed (`compressed` says from what).
    fn from_uncompressed(
        path: PathBuf,
        mut input: Box<dyn Read + Send>,
        first_number: u64,
        compressed: Option<Compression>,
    ) -> Result<PcapSource, CaptureError> {
        let mut head = read_head(&path, &mut input)?;
        if compressed.is_some() && Compression::of(&head).is_some() {
            return Err(CaptureError::Damaged {
                path,
                offset: 0,
                what: "compressed twice: decompress it once by hand first".into(),
            });
        }
        let word = |b: &[u8], at: usize, be: bool| -> Option<u32> {
            let w: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
            Some(if be {
                u32::from_be_bytes(w)
            } else {
                u32::from_le_bytes(w)
            })
        };
        let magic = word(&head, 0, false);
        let cut = |path: PathBuf| CaptureError::Damaged {
            path,
            offset: 0,
            what: "the file header is cut short".into(),
        };
        let ng = magic == Some(0x0a0d0d0a);
        let header_len = if ng {
            // Section header block: its length follows; the byte-order magic says in which order.
            let be = match word(&head, 8, false) {
                Some(0x1a2b3c4d) => false,
                Some(0x4d3c2b1a) => true,
                Some(_) => {
                    return Err(CaptureError::Damaged {
                        path,
                        offset: 8,
                        what: "the pcapng byte-order magic is damaged".into(),
                    })
                }
                None => return Err(cut(path)),
            };
            let len = word(&head, 4, be).ok_or_else(|| cut(path.clone()))? as usize;
            if !(28..=BUFFER_SIZE / 2).contains(&len) {
                return Err(CaptureError::Damaged {
                    path,
                    offset: 4,
                    what: format!("the section header claims {len} bytes"),
                });
            }
            len
        } else if matches!(
            magic,
            Some(0xa1b2c3d4 | 0xd4c3b2a1 | 0xa1b23c4d | 0x4d3cb2a1 | 0xa1b2cd34 | 0x34cdb2a1)
        ) {
            24
        } else {
            let hex: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
            return Err(CaptureError::NotPcap {
                path,
                head: hex.join(" "),
            });
        };
        (&mut input)
            .take(header_len.saturating_sub(head.len()) as u64)
            .read_to_end(&mut head)
            .map_err(|source| CaptureError::Read {
                path: path.clone(),
                offset: 0,
                source,
            })?;
        if head.len() < header_len {
            return Err(cut(path));
        }
        let stream = io::Cursor::new(head).chain(input);
        let made: Result<Box<dyn PcapReaderIterator + Send>, _> = if ng {
            PcapNGReader::new(BUFFER_SIZE, stream).map(|r| Box::new(r) as _)
        } else {
            LegacyPcapReader::new(BUFFER_SIZE, stream).map(|r| Box::new(r) as _)
        };
        let reader = made.map_err(|e| CaptureError::Damaged {
            path: path.clone(),
            offset: 0,
            what: format!("the file header is damaged ({})", describe(&e)),
        })?;
        Self::with_reader(path, reader, first_number)
    }

    /// The link type of a pcap file, or of the first pcapng interface.
    pub fn link_type(&self) -> Option<LinkType> {
        match &self.format {
            Format::Pcap { link, .. } => Some(*link),
            Format::PcapNg { interfaces } => interfaces.first().map(|i| i.link),
        }
    }

    /// The file's name (`-` for stdin).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The number the next frame will get.
    pub fn next_number(&self) -> u64 {
        self.next_number
    }

    /// Byte offset of the next record.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// A problem with the frames read so far that did not stop reading (today: a pcap record
    /// whose microsecond or nanosecond field is out of range, reported once per file).
    pub fn take_warning(&mut self) -> Option<String> {
        if !matches!(self.bad_fraction, FractionWarning::Pending(_)) {
            return None;
        }
        match std::mem::replace(&mut self.bad_fraction, FractionWarning::Given) {
            FractionWarning::Pending(w) => Some(w),
            _ => None,
        }
    }

    /// A pcap file's header is handed out as the first block; read it so the link type is
    /// known before the first packet. For pcapng, read up to the first interface.
    fn read_file_header(&mut self) -> Result<(), CaptureError> {
        if let Ok((off, PcapBlockOwned::LegacyHeader(h))) = self.reader.next() {
            let link = LinkType(h.network.0 as u32);
            let nanos = h.is_nanosecond_precision();
            self.reader.consume(off);
            self.offset += off as u64;
            if !link.is_supported() {
                return Err(CaptureError::UnsupportedLink {
                    path: self.path.clone(),
                    link: link.0,
                });
            }
            self.format = Format::Pcap { link, nanos };
        }
        Ok(())
    }

    /// The warning for frame `number`, whose sub-second field holds `frac`.
    fn fraction_warning(&self, number: u64, frac: u32) -> String {
        let (unit, max) = match self.format {
            Format::Pcap { nanos: true, .. } => ("nanosecond", NANOS_MAX),
            _ => ("microsecond", MICROS_MAX),
        };
        format!(
            "{}: frame {number} (record at byte offset {}) has a {unit} field of {frac}, a \
             second or more; its time is taken as {max} {unit}s past its second, not \
             carried into the seconds (later such records are not reported)",
            self.path.display(),
            self.offset,
        )
    }

    fn damaged(&self, what: impl Into<String>) -> CaptureError {
        damaged(&self.path, self.offset, what)
    }

    /// The comments (pcapng `opt_comment`) of the frame `next_frame` returned last.
    pub fn comments(&self) -> &[String] {
        &self.comments
    }

    /// The next frame, `None` at the end; an `Err` ends the stream (frames before it stay valid).
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        if self.pending > 0 {
            self.reader.consume(self.pending);
            self.offset += self.pending as u64;
            self.pending = 0;
        }
        loop {
            let step = match self.reader.next() {
                Ok((off, block)) => {
                    self.comments.clear();
                    let step = interpret(
                        &mut self.format,
                        &self.path,
                        self.offset,
                        block,
                        &mut self.comments,
                    )?;
                    (off, step)
                }
                Err(PcapError::Eof) => return Ok(None),
                Err(PcapError::Incomplete(_)) => {
                    self.reader.refill().map_err(|_| CaptureError::Read {
                        path: self.path.clone(),
                        offset: self.offset,
                        source: io::Error::other("read failed"),
                    })?;
                    continue;
                }
                Err(PcapError::UnexpectedEof) => {
                    return Err(self.damaged("the file ends inside a record (truncated capture)"))
                }
                Err(PcapError::BufferTooSmall) => {
                    return Err(self.damaged(format!(
                        "a record claims more than {} bytes (absurd length: damaged file)",
                        BUFFER_SIZE
                    )))
                }
                Err(PcapError::ReadError) => {
                    return Err(CaptureError::Read {
                        path: self.path.clone(),
                        offset: self.offset,
                        source: io::Error::other("read failed"),
                    })
                }
                Err(e) => {
                    let what = format!("unreadable record ({})", describe(&e));
                    return Err(damaged(&self.path, self.offset, what));
                }
            };
            match step {
                (off, Step::Skip) => {
                    self.reader.consume(off);
                    self.offset += off as u64;
                }
                (
                    off,
                    Step::Packet {
                        ptr,
                        len,
                        ts,
                        link,
                        orig_len,
                        bad_fraction,
                    },
                ) => {
                    self.pending = off;
                    let number = self.next_number;
                    self.next_number += 1;
                    if let (Some(frac), FractionWarning::None) = (bad_fraction, &self.bad_fraction)
                    {
                        self.bad_fraction =
                            FractionWarning::Pending(self.fraction_warning(number, frac));
                    }
                    // The block borrowed the reader's buffer; nothing has moved it since.
                    let buf = self.reader.data();
                    let start = ptr.wrapping_sub(buf.as_ptr() as usize);
                    let data = buf
                        .get(start..start.saturating_add(len))
                        .expect("packet bytes lie inside the block just parsed");
                    return Ok(Some(Frame {
                        number,
                        ts,
                        link,
                        orig_len,
                        data,
                    }));
                }
            }
        }
    }
}

/// The first 12 bytes of a capture (fewer if it is shorter; none is an error).
fn read_head(path: &Path, input: &mut Box<dyn Read + Send>) -> Result<Vec<u8>, CaptureError> {
    let mut head = Vec::with_capacity(64);
    input
        .take(12)
        .read_to_end(&mut head)
        .map_err(|source| CaptureError::Read {
            path: path.into(),
            offset: 0,
            source,
        })?;
    if head.is_empty() {
        return Err(CaptureError::Empty { path: path.into() });
    }
    Ok(head)
}

fn damaged(path: &Path, offset: u64, what: impl Into<String>) -> CaptureError {
    CaptureError::Damaged {
        path: path.into(),
        offset,
        what: what.into(),
    }
}

/// What a block means, updating the interface table; packet bytes are returned by address so
/// the block's borrow of the buffer can end before the frame is handed out.
fn interpret(
    format: &mut Format,
    path: &Path,
    offset: u64,
    block: PcapBlockOwned<'_>,
    comments: &mut Vec<String>,
) -> Result<Step, CaptureError> {
    let ptr_of = |d: &[u8]| d.as_ptr() as usize;
    Ok(match block {
        PcapBlockOwned::Legacy(b) => {
            let Format::Pcap { link, nanos } = *format else {
                return Ok(Step::Skip);
            };
            // A fraction of a second or more is damage: clamped, never carried into seconds.
            let max = if nanos { NANOS_MAX } else { MICROS_MAX };
            let bad_fraction = (b.ts_usec > max).then_some(b.ts_usec);
            let frac = i64::from(b.ts_usec.min(max));
            let ts = Timestamp::from_secs_nanos(
                i64::from(b.ts_sec),
                if nanos { frac } else { frac * 1_000 },
            );
            let len = (b.caplen as usize).min(b.data.len());
            Step::Packet {
                ptr: ptr_of(b.data),
                len,
                ts,
                link,
                orig_len: b.origlen,
                bad_fraction,
            }
        }
        PcapBlockOwned::LegacyHeader(_) => Step::Skip,
        PcapBlockOwned::NG(Block::SectionHeader(_)) => {
            // A new section starts with no interfaces.
            *format = Format::PcapNg {
                interfaces: Vec::new(),
            };
            Step::Skip
        }
        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
            // An interface of a link type synfin does not decode is kept: its packets are
            // skipped (and counted) when they come, so the file's other interfaces still work.
            let link = LinkType(idb.linktype.0 as u32);
            match format {
                Format::PcapNg { interfaces } if interfaces.len() < 65_536 => {
                    interfaces.push(Interface {
                        link,
                        units_per_sec: ts_units(idb.if_tsresol),
                        offset_secs: idb.if_tsoffset,
                    })
                }
                _ => return Err(damaged(path, offset, "an interface block out of place")),
            }
            Step::Skip
        }
        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
            let iface = interface(format, path, offset, epb.if_id)?;
            let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
            // opt_comment (1): the packet's comments (the demo's observed calls).
            for o in &epb.options {
                if o.code.0 == 1 {
                    if let Ok(text) = std::str::from_utf8(o.as_bytes().unwrap_or(&[])) {
                        comments.push(text.to_string());
                    }
                }
            }
            let data = epb.packet_data();
            Step::Packet {
                ptr: ptr_of(data),
                len: data.len(),
                ts: ng_timestamp(raw, iface),
                link: iface.link,
                orig_len: epb.origlen,
                bad_fraction: None,
            }
        }
        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
            let iface = interface(format, path, offset, 0)?;
            let data = spb.packet_data();
            Step::Packet {
                ptr: ptr_of(data),
                len: data.len(),
                ts: Timestamp(0),
                link: iface.link,
                orig_len: spb.origlen,
                bad_fraction: None,
            }
        }
        PcapBlockOwned::NG(_) => Step::Skip,
    })
}

fn interface(
    format: &Format,
    path: &Path,
    offset: u64,
    id: u32,
) -> Result<Interface, CaptureError> {
    match format {
        Format::PcapNg { interfaces } => interfaces.get(id as usize).copied().ok_or_else(|| {
            damaged(
                path,
                offset,
                format!("a packet names interface {id}, which was never described"),
            )
        }),
        Format::Pcap { .. } => Err(damaged(path, offset, "a pcapng block inside a pcap file")),
    }
}

/// `if_tsresol`: units per second, 10^n, or 2^n when the top bit is set (pcapng §4.2). Our
/// own decoding: pcap-parser 0.17 rejects every power-of-two resolution.
fn ts_units(tsresol: u8) -> Option<u64> {
    let n = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 != 0 {
        1u64.checked_shl(n)
    } else {
        10u64.checked_pow(n)
    }
}

fn ng_timestamp(raw: u64, iface: Interface) -> Timestamp {
    let units = iface.units_per_sec.unwrap_or(1_000_000).max(1);
    let ns = u128::from(raw) * 1_000_000_000 / u128::from(units);
    let ns = i64::try_from(ns).unwrap_or(i64::MAX);
    Timestamp(ns).plus_nanos(iface.offset_secs.saturating_mul(1_000_000_000))
}

fn describe(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::HeaderNotRecognized => "header not recognized".into(),
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("malformed block: {kind:?}")
        }
        other => format!("{other:?}"),
    }
}
