//! `watch`'s output, written by a thread of its own, so that a slow reader never holds the
//! capture back: while synfin waits in `write(2)` for a terminal, the kernel's capture ring
//! fills and drops frames.
//!
//! The pipeline writes into a buffer; each flush hands the complete lines gathered to the
//! writer thread, which writes them in large pieces. A terminal shows the present: when more
//! than [`KEEP`] bytes wait, lines that waited longer than [`STALE`] (the terminal fell behind:
//! ~90k segments/s make ~20 MB/s of rows) are not written; a note in their place says how many,
//! and the end says the total. (A terminal that stops reading, Ctrl-S, thus costs no memory.)
//! Once the capture has ended, everything left is written. A pipe or a file gets every line: when [`MAX_QUEUED`] bytes wait, the capture waits.

use super::latency::LatencyLog;
use crate::pipeline::wall_clock;
use crate::timestamp::Timestamp;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Lines that waited this long for a terminal are not written (when more than [`KEEP`] bytes
/// wait).
pub const STALE: Duration = Duration::from_millis(5);
/// A terminal's lines are never left out while at most this much waits (~2 ms of the live
/// load's rows): a moment's pause of a terminal that keeps up costs nothing.
pub const KEEP: usize = 32 << 10;
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

/// An error of the writer thread, to be told again on the pipeline's side.
struct Failure {
    kind: io::ErrorKind,
    text: String,
    os: Option<i32>,
}

impl Failure {
    fn of(e: &io::Error) -> Failure {
        Failure {
            kind: e.kind(),
            text: e.to_string(),
            os: e.raw_os_error(),
        }
    }

    fn error(&self) -> io::Error {
        match self.os {
            Some(code) => io::Error::from_raw_os_error(code),
            None => io::Error::new(self.kind, self.text.clone()),
        }
    }
}

#[derive(Default)]
struct Queue {
    chunks: VecDeque<Chunk>,
    bytes: usize,
    closed: bool,
    /// The capture has ended: nothing is left out any more (what remains is the end).
    ended: bool,
    /// The writer failed (a closed pipe, a full disk): said to the next write and at the end.
    failed: Option<Failure>,
    /// Frames fed since the last hand-on (latency log only).
    fed: Vec<Timestamp>,
    /// Lines not written, in all.
    skipped: u64,
    /// Lines not written since the last note.
    unsaid: u64,
    /// Frames whose lines were not written (latency log only).
    not_shown: usize,
    /// How long a terminal's lines may wait ([`STALE`]).
    stale: Duration,
    /// Emptied buffers, back from the writer to be filled again (a buffer begun anew grew by
    /// doubling, copying itself, at every hand-on).
    spare: Vec<Vec<u8>>,
}

/// Emptied buffers kept for reuse.
const SPARE: usize = 4;

impl Queue {
    /// A terminal that fell behind: leave out the waiting lines that are too old (while the
    /// capture lasts, and more than [`KEEP`] bytes wait).
    fn drop_stale(&mut self) {
        while !self.ended && self.bytes > KEEP {
            let Some(c) = self.chunks.front() else { break };
            if c.made.elapsed() <= self.stale {
                break;
            }
            let c = self.chunks.pop_front().expect("a front");
            self.bytes -= c.bytes.len();
            let lines = c.bytes.iter().filter(|&&b| b == b'\n').count() as u64;
            self.unsaid += lines;
            self.skipped += lines;
            self.not_shown += c.fed.len();
        }
    }
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
        Self::start_with(out, terminal, latency, STALE)
    }

    /// `start`, with lines older than `stale` left out of a terminal that fell behind.
    fn start_with(
        out: Box<dyn Write + Send>,
        terminal: bool,
        latency: Option<LatencyLog>,
        stale: Duration,
    ) -> (PacedOutput, PacedHandle) {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                stale,
                ..Queue::default()
            }),
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
        if let Some(f) = &q.failed {
            return Err(f.error());
        }
        if end == 0 && q.fed.is_empty() {
            return Ok(());
        }
        while !self.terminal && q.bytes > MAX_QUEUED && q.failed.is_none() {
            q = self.shared.room.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        let mut next = q
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(HAND_ON * 2));
        next.extend_from_slice(&self.buf[end..]);
        self.buf.truncate(end);
        let bytes = std::mem::replace(&mut self.buf, next);
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
    /// left out and the latency log, or the error writing met (a full disk, a closed pipe).
    pub fn finish(mut self) -> io::Result<(u64, Option<LatencyLog>)> {
        let log = self.join();
        let q = self.shared.lock();
        match &q.failed {
            Some(f) => Err(f.error()),
            None => Ok((q.skipped, log)),
        }
    }

    /// Close the queue and wait for the writer to write what it holds.
    fn join(&mut self) -> Option<LatencyLog> {
        {
            let mut q = self.shared.lock();
            q.closed = true;
            self.shared.ready.notify_one();
        }
        self.thread.take().and_then(|t| t.join().ok()).flatten()
    }
}

impl Drop for PacedHandle {
    /// Leaving early (an error): what was handed on is still written before the process ends.
    fn drop(&mut self) {
        self.join();
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
    loop {
        piece.clear();
        fed.clear();
        let unsaid;
        {
            let mut q = shared.lock();
            while q.chunks.is_empty() && !q.closed {
                q = shared.ready.wait(q).unwrap_or_else(|p| p.into_inner());
            }
            if q.chunks.is_empty() {
                break;
            }
            if terminal {
                q.drop_stale();
            }
            while piece.len() < PIECE {
                let Some(c) = q.chunks.pop_front() else { break };
                q.bytes -= c.bytes.len();
                piece.extend_from_slice(&c.bytes);
                fed.extend_from_slice(&c.fed);
                let mut b = c.bytes;
                if q.spare.len() < SPARE && (HAND_ON..=HAND_ON * 4).contains(&b.capacity()) {
                    b.clear();
                    q.spare.push(b);
                }
            }
            unsaid = std::mem::take(&mut q.unsaid);
            if let Some(l) = &mut latency {
                l.not_shown(std::mem::take(&mut q.not_shown));
            }
            shared.room.notify_one();
        }
        if piece.is_empty() && fed.is_empty() && unsaid == 0 {
            continue;
        }
        if unsaid > 0 {
            let note = format!(
                "synfin: {unsaid} lines not shown: the terminal fell behind the capture \
                 (watch --tui keeps up; -w FILE keeps every frame)\n"
            );
            piece.splice(0..0, note.into_bytes());
        }
        if let Err(e) = out.write_all(&piece).and_then(|()| out.flush()) {
            let mut q = shared.lock();
            q.failed = Some(Failure::of(&e));
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
    use std::sync::mpsc::{channel, Receiver, Sender};

    /// A writer that keeps what it got; its first write waits for `gate` (after saying so on
    /// `entered`), so that a test can fill the queue while the writer is busy.
    struct Gated {
        got: Arc<Mutex<Vec<u8>>>,
        gate: Option<(Sender<()>, Receiver<()>)>,
    }

    impl Write for Gated {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if let Some((entered, gate)) = self.gate.take() {
                entered.send(()).unwrap();
                gate.recv().unwrap();
            }
            self.got.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A paced output whose writer is stuck in its first write of `first` (a fresh line):
    /// what it got, the output, its handle, and the gate to open.
    fn stuck(terminal: bool) -> (Arc<Mutex<Vec<u8>>>, PacedOutput, PacedHandle, Sender<()>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let (entered_tx, entered) = channel();
        let (open, gate) = channel();
        let w = Gated {
            got: Arc::clone(&got),
            gate: Some((entered_tx, gate)),
        };
        // Lines are "old" past an hour: only those made so (below) ever are.
        let (mut out, handle) =
            PacedOutput::start_with(Box::new(w), terminal, None, Duration::from_secs(3600));
        out.write_all(b"first\n").unwrap();
        out.flush().unwrap();
        entered.recv().unwrap();
        (got, out, handle, open)
    }

    fn lines(n: usize, from: usize) -> Vec<u8> {
        (from..from + n)
            .flat_map(|i| format!("row {i:07}\n").into_bytes())
            .collect()
    }

    /// Hand on 40 chunks of 1,000 lines (12 bytes each: 480,000 bytes, more than `KEEP`),
    /// made two hours ago.
    fn old_chunks(out: &mut PacedOutput) -> Vec<u8> {
        let two_hours_ago = Instant::now() - Duration::from_secs(7200);
        let mut all = Vec::new();
        for i in 0..40 {
            let b = lines(1000, i * 1000);
            out.write_all(&b).unwrap();
            out.hand_on(out.buf.len(), two_hours_ago).unwrap();
            all.extend(b);
        }
        all
    }

    #[test]
    fn a_pipe_gets_every_line_in_order() {
        let (got, mut out, handle, open) = stuck(false);
        let old = old_chunks(&mut out);
        open.send(()).unwrap();
        out.write_all(b"the end\n").unwrap();
        drop(out);
        assert_eq!(handle.finish().unwrap().0, 0);
        let want = [&b"first\n"[..], &old, b"the end\n"].concat();
        assert!(*got.lock().unwrap() == want);
    }

    #[test]
    fn a_terminal_that_fell_behind_gets_whole_lines_a_note_and_the_newest() {
        let (got, mut out, handle, open) = stuck(true);
        old_chunks(&mut out);
        out.write_all(b"the end\n").unwrap();
        out.flush().unwrap();
        open.send(()).unwrap();
        drop(out);
        let (skipped, _) = handle.finish().unwrap();
        let text = String::from_utf8(got.lock().unwrap().clone()).unwrap();
        // The oldest go until no more than KEEP bytes wait (chunks of 12,000 bytes).
        let kept = KEEP / 12_000;
        let dropped = (40 - kept) * 1000;
        assert_eq!(skipped, dropped as u64, "{}", &text[..200]);
        let want = format!(
            "first\nsynfin: {dropped} lines not shown: the terminal fell behind the capture \
             (watch --tui keeps up; -w FILE keeps every frame)\n{}the end\n",
            String::from_utf8(lines(kept * 1000, dropped)).unwrap()
        );
        assert!(text == want, "{}", &text[..300]);
    }

    #[test]
    fn after_the_capture_a_terminal_gets_everything() {
        let (got, mut out, handle, open) = stuck(true);
        handle.capture_ended();
        let old = old_chunks(&mut out);
        open.send(()).unwrap();
        drop(out);
        assert_eq!(handle.finish().unwrap().0, 0);
        assert!(*got.lock().unwrap() == [&b"first\n"[..], &old].concat());
    }

    #[test]
    fn lines_are_handed_on_whole_before_a_flush() {
        let (got, mut out, handle, open) = stuck(true);
        open.send(()).unwrap();
        let big = lines(HAND_ON / 8, 0);
        out.write_all(&big[..big.len() - 3]).unwrap();
        // Handed on up to the last complete line; the cut one waits.
        assert!(
            out.buf.len() < 12 && !out.buf.contains(&b'\n'),
            "{}",
            out.buf.len()
        );
        out.write_all(&big[big.len() - 3..]).unwrap();
        drop(out);
        handle.finish().unwrap();
        assert!(*got.lock().unwrap() == [&b"first\n"[..], &big].concat());
    }

    #[test]
    fn a_closed_pipe_is_the_next_write_s_error_and_the_end_s() {
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
        // The writer fails in its own time: the next hand-on after that says so.
        let err = loop {
            if let Err(e) = out.write_all(&[b'x'; HAND_ON]).and_then(|()| out.flush()) {
                break e;
            }
            std::thread::yield_now();
        };
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        drop(out);
        let end = handle.finish().map(|_| ()).unwrap_err();
        assert_eq!(end.kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn the_last_lines_failing_is_the_end_s_error() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from_raw_os_error(libc::ENOSPC))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let (mut out, handle) = PacedOutput::start(Box::new(Full), false, None);
        out.write_all(b"the only line\n").unwrap();
        drop(out);
        let end = handle.finish().map(|_| ()).unwrap_err();
        assert_eq!(end.raw_os_error(), Some(libc::ENOSPC));
    }
}
