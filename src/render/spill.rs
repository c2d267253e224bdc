//! [`Spill`]: an append-only byte buffer that stays in memory up to a limit and past it moves
//! to an unnamed temporary file.
//!
//! Why: the SVG document is one root `<svg>` whose `height` attribute (first in the output)
//! is the sum of every connection's height, known only after the last connection is drawn,
//! and a connection's height comes out of drawing it (text, wrapping, time-scaled gaps), so
//! it cannot be known in a cheap first pass. Into a file, the document streams and its height
//! is written in at the end (`super::Rewrite`); into a pipe, the drawings must wait somewhere
//! until then; held as strings they cost memory in proportion to the capture (3 GiB for a
//! 250,000 connection capture). A `Spill` keeps small documents in memory (no file at all) and
//! bounds the memory of large ones: past `limit` bytes, everything goes to a file in
//! [`std::env::temp_dir`] that is unlinked as soon as it is created (nothing is left behind,
//! even on a crash), and [`Spill::copy_to`] copies it out at the end. Should no temporary
//! file be possible (a read-only or missing temp dir), it stays in memory: the output is the
//! same either way, only the memory differs.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes kept in memory before spilling to a file.
pub const DEFAULT_LIMIT: usize = 8 << 20;

/// An append-only buffer: memory up to a limit, then an unnamed temporary file.
#[derive(Debug)]
pub struct Spill {
    mem: Vec<u8>,
    file: Option<BufWriter<File>>,
    limit: usize,
    /// No temporary file could be made: stay in memory.
    no_file: bool,
}

impl Default for Spill {
    fn default() -> Self {
        Spill::new(DEFAULT_LIMIT)
    }
}

impl Spill {
    /// Empty, keeping up to `limit` bytes in memory.
    pub fn new(limit: usize) -> Self {
        Spill {
            mem: Vec::new(),
            file: None,
            limit,
            no_file: false,
        }
    }

    /// Nothing written yet.
    pub fn is_empty(&self) -> bool {
        self.mem.is_empty() && self.file.is_none()
    }

    /// Has it moved to a file?
    pub fn spilled(&self) -> bool {
        self.file.is_some()
    }

    /// Append `bytes`.
    pub fn push(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(f) = &mut self.file {
            return f.write_all(bytes);
        }
        if self.mem.len() + bytes.len() > self.limit && !self.no_file {
            match unnamed_temp_file() {
                Ok(f) => {
                    let mut f = BufWriter::with_capacity(1 << 16, f);
                    f.write_all(&self.mem)?;
                    f.write_all(bytes)?;
                    self.mem = Vec::new();
                    self.file = Some(f);
                    return Ok(());
                }
                Err(_) => self.no_file = true,
            }
        }
        self.mem.extend_from_slice(bytes);
        Ok(())
    }

    /// Write everything appended to `out`, and empty the buffer.
    pub fn copy_to(&mut self, out: &mut dyn Write) -> io::Result<()> {
        match self.file.take() {
            None => {
                out.write_all(&self.mem)?;
                self.mem = Vec::new();
            }
            Some(f) => {
                let mut f = f.into_inner().map_err(io::IntoInnerError::into_error)?;
                // Written out from a map of the file: no copy into a buffer of ours first (the
                // SVG of a large capture is gigabytes). The file is ours alone (unlinked).
                // SAFETY: nothing else can reach the file to change or cut it.
                if let Ok(map) = unsafe { memmap2::Mmap::map(&f) } {
                    let _ = map.advise(memmap2::Advice::Sequential);
                    // A part's pages count in the process's memory until given back: 2 MiB
                    // (16 MiB parts were the largest thing in memory at a long capture's end).
                    const PART: usize = 1 << 21;
                    for at in (0..map.len()).step_by(PART) {
                        let len = PART.min(map.len() - at);
                        out.write_all(&map[at..at + len])?;
                        // SAFETY: a read-only map of a file: pages given back are read again
                        // from it if touched; this part is not touched again.
                        let _ = unsafe {
                            map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, at, len)
                        };
                    }
                    return Ok(());
                }
                f.seek(SeekFrom::Start(0))?;
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    let n = f.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    out.write_all(&buf[..n])?;
                }
            }
        }
        Ok(())
    }
}

/// A new file in the temp dir, opened for reading and writing and already unlinked.
fn unnamed_temp_file() -> io::Result<File> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir();
    for _ in 0..100 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("synfin-spill-{}-{n}", std::process::id()));
        match File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => {
                std::fs::remove_file(&path)?;
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free name for a temporary file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_stays_in_memory() {
        let mut s = Spill::new(16);
        assert!(s.is_empty());
        s.push(b"hello ").unwrap();
        s.push(b"world").unwrap();
        assert!(!s.spilled());
        let mut out = Vec::new();
        s.copy_to(&mut out).unwrap();
        assert_eq!(out, b"hello world");
    }

    #[test]
    fn large_moves_to_a_file_and_comes_back_whole() {
        let mut s = Spill::new(100);
        let mut want = Vec::new();
        for i in 0..10_000u32 {
            let line = format!("line {i}\n");
            s.push(line.as_bytes()).unwrap();
            want.extend_from_slice(line.as_bytes());
        }
        assert!(s.spilled());
        let mut out = Vec::new();
        s.copy_to(&mut out).unwrap();
        assert_eq!(out, want);
    }
}
