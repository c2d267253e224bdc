//! A pcap file (the classic format, uncompressed) read through a memory map: records are
//! parsed where they lie, with no `read` copying the file into a buffer first (that copy was
//! a third of the reading thread's time on a large capture).
//!
//! It answers as pcap-parser's `LegacyPcapReader` does, error for error: the same parsing
//! functions, a record too long for the streaming reader's buffer refused the same way, a
//! record cut by the end of the file the same `UnexpectedEof`. The pages already read are
//! given back as the reading goes (`MADV_DONTNEED`), so the map does not count a whole file
//! in the process's memory.
//!
//! What the map sees is the file as long as it was when opened: a capture still being written
//! is read up to there (a pipe follows one). A file cut short by another program while it is
//! read (a log rotation that truncates in place) would make the next read of a page past its
//! new end fault: `SIGBUS` is caught then, and synfin exits with a one-line error rather than
//! a crash.

use memmap2::{Advice, Mmap, UncheckedAdvice};
use pcap_parser::nom::{self, Needed, Offset};
use pcap_parser::pcap::{
    parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header,
    LegacyPcapBlock, PcapHeader,
};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError};
use std::fs::File;

/// Bytes read between two give-backs of the pages behind.
const RELEASE_EVERY: usize = 512 << 10;

type ParseFn = fn(&[u8]) -> nom::IResult<&[u8], LegacyPcapBlock<'_>, PcapError<&[u8]>>;

/// A classic pcap file, mapped.
pub struct MappedPcap {
    map: Mmap,
    header: PcapHeader,
    parse: ParseFn,
    /// Bytes consumed (the next record's offset).
    pos: usize,
    /// Pages before this offset were given back.
    released: usize,
    /// The streaming reader's buffer size: a record this long or longer is refused as there.
    limit: usize,
    /// The system's page size (asked once: `sysconf` per record was 7% of reading).
    page: usize,
}

impl MappedPcap {
    /// Map `file` if it is a classic pcap file (by its magic); `None` if it is not or cannot
    /// be mapped (the caller reads it as a stream). `limit` is the streaming reader's buffer.
    pub fn open(file: &File, limit: usize) -> Option<MappedPcap> {
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() < 24 {
            return None;
        }
        cut_short_is_an_error();
        // SAFETY: the map is only read. A file changed on disk while mapped changes what is
        // read (a capture is read once, in order); one cut short faults, as said above.
        let map = unsafe { Mmap::map(file) }.ok()?;
        let header = match parse_pcap_header(&map) {
            Ok((_, h)) => h,
            Err(_) => return None,
        };
        let parse: ParseFn = if header.is_modified_format() {
            parse_pcap_frame_modified
        } else if header.is_bigendian() {
            parse_pcap_frame_be
        } else {
            parse_pcap_frame
        };
        let _ = map.advise(Advice::Sequential);
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        Some(MappedPcap {
            map,
            header,
            parse,
            pos: 0,
            released: 0,
            limit,
            page,
        })
    }

    /// Give back the pages of what was read, a few MiB at a time.
    fn release(&mut self) {
        let upto = self.pos / self.page * self.page;
        if upto < self.released + RELEASE_EVERY {
            return;
        }
        // SAFETY: a read-only map of a file: pages given back are read again from the file if
        // touched (nothing borrows them: the records before `pos` were consumed).
        let _ = unsafe {
            self.map.unchecked_advise_range(
                UncheckedAdvice::DontNeed,
                self.released,
                upto - self.released,
            )
        };
        self.released = upto;
    }
}

/// A `SIGBUS` (a mapped capture cut short under us) ends synfin with a message, not a crash.
fn cut_short_is_an_error() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        extern "C" fn on_sigbus(_: libc::c_int) {
            const MSG: &[u8] = b"synfin: a capture file was cut short by another program while \
                it was read (a log rotation truncating it?): copy it first, or read it through \
                a pipe (cat FILE | synfin replay -)\n";
            // SAFETY: write(2) and _exit(2) are async-signal-safe; MSG is static.
            unsafe {
                libc::write(2, MSG.as_ptr().cast(), MSG.len());
                libc::_exit(1);
            }
        }
        // SAFETY: the handler only calls async-signal-safe functions.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigbus as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
        }
    });
}

impl PcapReaderIterator for MappedPcap {
    fn next(&mut self) -> Result<(usize, PcapBlockOwned<'_>), PcapError<&[u8]>> {
        if self.pos == 0 {
            return Ok((
                self.header.size(),
                PcapBlockOwned::from(self.header.clone()),
            ));
        }
        let data = &self.map[self.pos..];
        if data.is_empty() {
            return Err(PcapError::Eof);
        }
        match (self.parse)(data) {
            Ok((rem, b)) if data.offset(rem) < self.limit => {
                Ok((data.offset(rem), PcapBlockOwned::from(b)))
            }
            // As the streaming reader refuses a record as long as its buffer or longer (it takes
            // one of exactly its length only at the buffer's start: here never).
            Ok(_) => Err(PcapError::BufferTooSmall),
            Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e)) => Err(e),
            Err(nom::Err::Incomplete(n)) => {
                let need = match n {
                    Needed::Size(n) => n.get(),
                    Needed::Unknown => 0,
                };
                if data.len() + need >= self.limit {
                    Err(PcapError::BufferTooSmall)
                } else {
                    Err(PcapError::UnexpectedEof)
                }
            }
        }
    }

    fn consume(&mut self, offset: usize) {
        self.pos = (self.pos + offset).min(self.map.len());
        self.release();
    }

    fn consume_noshift(&mut self, offset: usize) {
        self.consume(offset);
    }

    fn consumed(&self) -> usize {
        self.pos
    }

    fn refill(&mut self) -> Result<(), PcapError<&[u8]>> {
        Ok(())
    }

    fn position(&self) -> usize {
        0
    }

    fn grow(&mut self, _new_size: usize) -> bool {
        false
    }

    fn data(&self) -> &[u8] {
        &self.map[self.pos..]
    }

    fn reader_exhausted(&self) -> bool {
        true
    }
}
