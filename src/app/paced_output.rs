//! `watch`'s output, written by a thread of its own, so that a slow reader never holds the
//! capture back: while synfin waits in `write(2)` for a terminal, the kernel's capture ring
//! fills and drops frames.
//!
//! The pipeline writes into a buffer; each flush hands the complete lines gathered to the
//! writer thread, which writes them in large pieces. A terminal shows the present: lines that
//! waited longer than [`STALE`] (the terminal fell behind: ~90k segments/s make ~20 MB/s of
//! rows) are not written; a note in their place says how many, and the end says the total.
//! Once the capture has ended, everything left is written. A pipe or a file gets every line: when [`MAX_QUEUED`] bytes wait, the capture waits.

use super::latency::LatencyLog;
use crate::pipeline::wall_clock;
use crate::timestamp::Timestamp;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Lines that waited this long for a terminal are not written.
pub const STALE: Duration = Duration::from_millis(10);
/// A pipe or file: the capture waits while this many bytes wait.
pub const MAX_QUEUED: usize = 64 << 20;
/// At most this much is written at once (a terminal takes ~15-25 MB/s: ~1 ms), so the age of
/// what follows is looked at again soon.
const PIECE: usize = 16 << 10;
/// The buffer is handed on at a line's end once it holds this much, flush or not.
const HAND_ON: usize = 64 << 10;

/// Complete lines and when they were made.
struct Chunk {
    made: Instant,
    bytes: Vec<u8>,
    /// Capture times of the frames whose lines these are (latency log only).
    fed: Vec<Timestamp>,
}

#[derive(Default)]
struct Queue {
    chunks: VecDeque<Chunk>,
    bytes: usize,
    closed: bool,
    /// The capture has ended: nothing is left out any more (what remains is the end).
    ended: bool,
    /// The writer failed (a closed pipe): said to the next write.
    failed: Option<(io::ErrorKind, String)>,
    /// Frames fed since the last hand-on (latency log only).
    fed: Vec<Timestamp>,
    /// Lines not written, in all.
    skipped: u64,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Chunks came (or the end).
    ready: Condvar,
    /// Room was made.
    room: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic on the other side already ends the program; what it left is still usable.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The pipeline's side: a `Write` that never waits for a terminal.
pub struct PacedOutput {
    buf: Vec<u8>,
    shared: Arc<Shared>,
    /// Whether lines may be left out (a terminal) or the capture must wait (a pipe, a file).
    terminal: bool,
}

/// The capture loop's side: frames fed (for the latency log) and the end.
pub struct PacedHandle {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Option<LatencyLog>>>,
    logging: bool,
}

impl PacedOutput {
    /// Write to `out` from a thread of its own; `terminal`: show the present, leave out lines
    /// the terminal could not take in time. `latency`: log each frame's capture-to-written
    /// time.
    pub fn start(
        out: Box<dyn Write + Send>,
        terminal: bool,
        latency: Option<LatencyLog>,
    ) -> (PacedOutput, PacedHandle) {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            room: Condvar::new(),
        });
        let logging = latency.is_some();
        let s = Arc::clone(&shared);
        let thread = std::thread::spawn(move || writer(out, &s, terminal, latency));
        (
            PacedOutput {
                buf: Vec::with_capacity(HAND_ON * 2),
                shared: Arc::clone(&shared),
                terminal,
            },
            PacedHandle {
                shared,
                thread: Some(thread),
                logging,
            },
        )
    }

    /// Hand on `self.buf[..end]`, made at `made`.
    fn hand_on(&mut self, end: usize, made: Instant) -> io::Result<()> {
        let mut q = self.shared.lock();
        if let Some((kind, text)) = &q.failed {
            return Err(io::Error::new(*kind, text.clone()));
        }
        if end == 0 && q.fed.is_empty() {
            return Ok(());
        }
        while !self.terminal && q.bytes > MAX_QUEUED && q.failed.is_none() {
            q = self.shared.room.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        let rest = self.buf.split_off(end);
        let bytes = std::mem::replace(&mut self.buf, rest);
        q.bytes += bytes.len();
        let fed = std::mem::take(&mut q.fed);
        q.chunks.push_back(Chunk { made, bytes, fed });
        self.shared.ready.notify_one();
        Ok(())
    }
}

impl Write for PacedOutput {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= HAND_ON {
            if let Some(nl) = self.buf.iter().rposition(|&c| c == b'\n') {
                self.hand_on(nl + 1, Instant::now())?;
            }
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.hand_on(self.buf.len(), Instant::now())
    }
}

impl Drop for PacedOutput {
    fn drop(&mut self) {
        let _ = self.flush();
        let mut q = self.shared.lock();
        q.closed = true;
        self.shared.ready.notify_one();
    }
}

impl PacedHandle {
    /// A frame captured at `t` went into the pipeline (latency log only).
    pub fn fed(&self, t: Timestamp) {
        if self.logging {
            self.shared.lock().fed.push(t);
        }
    }

    /// The capture has ended: what comes now (the verdicts of what was seen, the totals) is
    /// written whole, however long the terminal takes.
    pub fn capture_ended(&self) {
        self.shared.lock().ended = true;
    }

    /// Wait until everything is written (the `PacedOutput` must be gone); the number of lines
    /// left out, and the latency log.
    pub fn finish(mut self) -> (u64, Option<LatencyLog>) {
        let log = self.thread.take().and_then(|t| t.join().ok()).flatten();
        (self.shared.lock().skipped, log)
    }
}

/// The writer thread.
fn writer(
    mut out: Box<dyn Write + Send>,
    shared: &Shared,
    terminal: bool,
    mut latency: Option<LatencyLog>,
) -> Option<LatencyLog> {
    let mut piece = Vec::with_capacity(PIECE * 2);
    let mut fed = Vec::new();
    // Lines left out since the last note.
    let mut unsaid = 0u64;
    loop {
        piece.clear();
        fed.clear();
        {
            let mut q = shared.lock();
            while q.chunks.is_empty() && !q.closed {
                q = shared.ready.wait(q).unwrap_or_else(|p| p.into_inner());
            }
            if q.chunks.is_empty() {
                break;
            }
            while piece.len() < PIECE {
                let Some(c) = q.chunks.pop_front() else { break };
                q.bytes -= c.bytes.len();
                if terminal && !q.ended && c.made.elapsed() > STALE {
                    let lines = c.bytes.iter().filter(|&&b| b == b'\n').count() as u64;
                    unsaid += lines;
                    q.skipped += lines;
                    if let Some(l) = &mut latency {
                        l.not_shown(c.fed.len());
                    }
                    continue;
                }
                piece.extend_from_slice(&c.bytes);
                fed.extend_from_slice(&c.fed);
            }
            shared.room.notify_one();
        }
        if piece.is_empty() && fed.is_empty() {
            continue;
        }
        if unsaid > 0 {
            let note = format!(
                "synfin: {unsaid} lines not shown: the terminal fell behind the capture \
                 (watch --tui keeps up; -w FILE keeps every frame)\n"
            );
            unsaid = 0;
            piece.splice(0..0, note.into_bytes());
        }
        if let Err(e) = out.write_all(&piece).and_then(|()| out.flush()) {
            let mut q = shared.lock();
            q.failed = Some((e.kind(), e.to_string()));
            q.chunks.clear();
            shared.room.notify_one();
            return latency;
        }
        if let Some(l) = &mut latency {
            let now = wall_clock();
            for t in &fed {
                l.fed(*t);
            }
            l.shown(now);
        }
    }
    let _ = out.flush();
    latency
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes `delay` per write and keeps what it got.
    struct Slow {
        got: Arc<Mutex<Vec<u8>>>,
        delay: Duration,
    }

    impl Write for Slow {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            std::thread::sleep(self.delay);
            self.got.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A paced output to a `Slow` writer: what it got, the output, its handle.
    fn slow(terminal: bool, delay: Duration) -> (Arc<Mutex<Vec<u8>>>, PacedOutput, PacedHandle) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let w = Slow {
            got: Arc::clone(&got),
            delay,
        };
        let (out, handle) = PacedOutput::start(Box::new(w), terminal, None);
        (got, out, handle)
    }

    fn lines(n: usize, from: usize) -> Vec<u8> {
        (from..from + n)
            .flat_map(|i| format!("row {i}\n").into_bytes())
            .collect()
    }

    #[test]
    fn a_pipe_gets_every_line_in_order() {
        let (got, mut out, handle) = slow(false, Duration::from_millis(2));
        let mut want = Vec::new();
        for i in 0..200 {
            let b = lines(50, i * 50);
            out.write_all(&b).unwrap();
            out.flush().unwrap();
            want.extend_from_slice(&b);
        }
        drop(out);
        let (skipped, _) = handle.finish();
        assert_eq!(skipped, 0);
        assert_eq!(*got.lock().unwrap(), want);
    }

    #[test]
    fn a_terminal_that_fell_behind_gets_whole_lines_a_note_and_the_newest() {
        let (got, mut out, handle) = slow(true, Duration::ZERO);
        // Lines made longer ago than a terminal may lag (as if it had been busy since).
        let long_ago = Instant::now() - STALE * 2;
        for i in 0..19 {
            out.write_all(&lines(10, i * 10)).unwrap();
            out.hand_on(out.buf.len(), long_ago).unwrap();
        }
        out.write_all(&lines(10, 190)).unwrap();
        drop(out);
        let (skipped, _) = handle.finish();
        let text = String::from_utf8(got.lock().unwrap().clone()).unwrap();
        assert_eq!(skipped, 190, "{text}");
        let want = format!(
            "synfin: 190 lines not shown: the terminal fell behind the capture \
             (watch --tui keeps up; -w FILE keeps every frame)\n{}",
            String::from_utf8(lines(10, 190)).unwrap()
        );
        assert_eq!(text, want);
    }

    /// Old lines (made longer ago than a terminal may lag) to a pipe, or to a terminal after
    /// the capture ended: all of them are written.
    fn old_lines_all_written(terminal: bool, capture_ended: bool) {
        let (got, mut out, handle) = slow(terminal, Duration::ZERO);
        if capture_ended {
            handle.capture_ended();
        }
        out.write_all(&lines(10, 0)).unwrap();
        out.hand_on(out.buf.len(), Instant::now() - STALE * 2)
            .unwrap();
        drop(out);
        assert_eq!(handle.finish().0, 0);
        assert_eq!(*got.lock().unwrap(), lines(10, 0));
    }

    #[test]
    fn a_pipe_gets_even_old_lines() {
        old_lines_all_written(false, false);
    }

    #[test]
    fn after_the_capture_a_terminal_gets_everything() {
        old_lines_all_written(true, true);
    }

    #[test]
    fn lines_are_handed_on_whole_before_a_flush() {
        let (got, mut out, handle) = slow(true, Duration::ZERO);
        let big = lines(HAND_ON / 4, 0);
        out.write_all(&big[..big.len() - 3]).unwrap();
        // Handed on up to the last complete line; the cut one waits.
        assert!(
            out.buf.len() < 16 && !out.buf.contains(&b'\n'),
            "{}",
            out.buf.len()
        );
        out.write_all(&big[big.len() - 3..]).unwrap();
        drop(out);
        handle.finish();
        assert_eq!(*got.lock().unwrap(), big);
    }

    #[test]
    fn a_closed_pipe_is_said_to_the_next_write() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let (mut out, handle) = PacedOutput::start(Box::new(Closed), false, None);
        out.write_all(b"one\n").unwrap();
        out.flush().unwrap();
        let mut err = None;
        for _ in 0..1000 {
            std::thread::sleep(Duration::from_millis(1));
            if let Err(e) = out.write_all(&[b'x'; HAND_ON]).and_then(|()| out.flush()) {
                err = Some(e);
                break;
            }
        }
        assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::BrokenPipe));
        drop(out);
        handle.finish();
    }
}
