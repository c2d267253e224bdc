//! Pieces of the output drawn on worker threads and handed back in the order they were handed
//! in (`render::Pieces`): a file's ladder draws connections side by side, JSON Lines its
//! batches of events, the SVG its connections' drawings. The output is byte for byte that of
//! drawing each piece in turn.
//!
//! At most `in_flight` pieces are out at once: past that, handing in waits for the oldest,
//! so memory stays bounded whatever the input.

use crate::render::Pieces;
use std::collections::BTreeMap;
use std::io;
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// How a piece is drawn (it may change the piece: it goes back to the thread that made it, to
/// be dropped there).
pub type DrawPiece<T, R> = dyn Fn(&mut T) -> io::Result<R> + Send + Sync;

/// Worker threads drawing pieces of type `T` into `R`s.
pub struct Pool<T: Send + 'static, R: Send + 'static = Vec<u8>> {
    jobs: Option<SyncSender<(u64, T)>>,
    done: Receiver<(u64, io::Result<R>, T)>,
    workers: Vec<JoinHandle<()>>,
    /// Pieces handed in, and written.
    submitted: u64,
    written: u64,
    /// Drawn pieces waiting for an earlier one.
    ready: BTreeMap<u64, io::Result<R>>,
    in_flight: usize,
    /// A drawing or its taking failed: every later call says so (the pieces after it are not
    /// written, and waiting for them would wait for ever).
    failed: Option<(io::ErrorKind, String)>,
}

impl<T: Send + 'static, R: Send + 'static> Pool<T, R> {
    /// `workers` threads drawing with `draw`, at most `in_flight` pieces out at once.
    pub fn new(draw: Arc<DrawPiece<T, R>>, workers: usize, in_flight: usize) -> Pool<T, R> {
        let (jobs, job_rx) = sync_channel::<(u64, T)>(in_flight);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (done_tx, done) = channel();
        let workers = (0..workers.max(1))
            .map(|_| {
                let job_rx = Arc::clone(&job_rx);
                let (done_tx, draw) = (done_tx.clone(), Arc::clone(&draw));
                let name = "synfin-draw".to_string();
                let worker = std::thread::Builder::new().name(name);
                worker
                    .spawn(move || loop {
                        let job = job_rx.lock().map(|rx| rx.recv());
                        let Ok(Ok((seq, mut item))) = job else { return };
                        // A drawing that panics is an error in its place, not a wait for ever.
                        let drawn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            draw(&mut item)
                        }))
                        .unwrap_or_else(|_| Err(io::Error::other("a drawing thread panicked")));
                        if done_tx.send((seq, drawn, item)).is_err() {
                            return;
                        }
                    })
                    .expect("a thread can be started")
            })
            .collect();
        Pool {
            jobs: Some(jobs),
            done,
            workers,
            submitted: 0,
            written: 0,
            ready: BTreeMap::new(),
            in_flight: in_flight.max(1),
            failed: None,
        }
    }

    /// Hand on what is drawn and next in order; with `wait_for`, wait until that many pieces
    /// at most are still out.
    fn take_ready(
        &mut self,
        take: &mut dyn FnMut(R) -> io::Result<()>,
        wait_for: Option<u64>,
    ) -> io::Result<()> {
        if let Some((kind, text)) = &self.failed {
            return Err(io::Error::new(*kind, text.clone()));
        }
        let r = self.take_ready_once(take, wait_for);
        if let Err(e) = &r {
            self.failed = Some((e.kind(), e.to_string()));
        }
        r
    }

    fn take_ready_once(
        &mut self,
        take: &mut dyn FnMut(R) -> io::Result<()>,
        wait_for: Option<u64>,
    ) -> io::Result<()> {
        loop {
            while let Some(piece) = self.ready.remove(&self.written) {
                self.written += 1;
                take(piece?)?;
            }
            let out_now = self.submitted - self.written;
            let got = match wait_for {
                Some(n) if out_now > n => self.done.recv().ok(),
                _ => self.done.try_recv().ok(),
            };
            match got {
                Some((seq, piece, item)) => {
                    self.ready.insert(seq, piece);
                    // Dropped here, where it was made: an allocator freeing across threads
                    // costs time and keeps memory.
                    drop(item);
                }
                None if wait_for.is_some_and(|n| out_now > n) => {
                    return Err(io::Error::other("a drawing thread stopped"));
                }
                None => return Ok(()),
            }
        }
    }
}

impl<T: Send + 'static, R: Send + 'static> Pieces<T, R> for Pool<T, R> {
    fn submit(&mut self, item: T, take: &mut dyn FnMut(R) -> io::Result<()>) -> io::Result<()> {
        self.take_ready(take, Some(self.in_flight as u64 - 1))?;
        let jobs = self.jobs.as_ref().expect("not finished");
        jobs.send((self.submitted, item))
            .map_err(|_| io::Error::other("the drawing threads stopped"))?;
        self.submitted += 1;
        self.take_ready(take, None)
    }

    fn drain(&mut self, take: &mut dyn FnMut(R) -> io::Result<()>) -> io::Result<()> {
        self.take_ready(take, Some(0))
    }

    fn ready(&mut self, take: &mut dyn FnMut(R) -> io::Result<()>) -> io::Result<()> {
        self.take_ready(take, None)
    }
}

impl<T: Send + 'static, R: Send + 'static> Drop for Pool<T, R> {
    fn drop(&mut self) {
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// Worker threads for pieces that cost about what tracking them costs (ladders, timelines,
/// JSON lines): one per core but the tracking thread's, at least one. On 2 cores
/// one worker beat two by 10–15% for the ladder and JSON Lines on large.pcap (interleaved
/// runs): with the reading and tracking threads busy, a second worker only takes turns.
pub fn workers() -> usize {
    cores().saturating_sub(1).max(1)
}

/// Worker threads for pieces that cost far more than tracking them (SVG drawings): one per
/// core, at least two (two beat one by ~8% for the SVG on 2 cores).
pub fn heavy_workers() -> usize {
    cores().max(2)
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::write_to;
    use proptest::prelude::*;
    use std::io::Write;

    proptest! {
        /// Whatever the number of workers, the bound, and how long each piece takes, the
        /// bytes are those of drawing each piece in turn.
        #[test]
        fn pieces_come_out_in_order(
            items in proptest::collection::vec(0u32..2000, 0..300),
            workers in 1usize..4,
            in_flight in 1usize..16,
        ) {
            let draw = |n: &mut u32| -> io::Result<Vec<u8>> {
                let n = &*n;
                // Uneven work: some pieces take far longer than others.
                let mut x = u64::from(*n);
                for _ in 0..(n % 7) * 2000 {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                }
                Ok(format!("{n} {}\n", x % 3).into_bytes())
            };
            let mut want = Vec::new();
            for n in &items {
                want.extend(draw(&mut n.clone()).unwrap());
            }
            let mut pool = Pool::new(Arc::new(draw), workers, in_flight);
            let mut got = Vec::new();
            for n in &items {
                pool.submit(*n, &mut write_to(&mut got)).unwrap();
                prop_assert!(pool.submitted - pool.written <= in_flight as u64);
            }
            pool.drain(&mut write_to(&mut got)).unwrap();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn a_failed_drawing_is_the_error_in_its_place() {
        let draw = |n: &mut u32| -> io::Result<Vec<u8>> {
            if *n == 3 {
                return Err(io::Error::other("three"));
            }
            let mut out = Vec::new();
            writeln!(out, "{n}")?;
            Ok(out)
        };
        let mut pool = Pool::new(Arc::new(draw), 2, 4);
        let mut got = Vec::new();
        let r = (0..6)
            .try_for_each(|n| pool.submit(n, &mut write_to(&mut got)))
            .and_then(|()| pool.drain(&mut write_to(&mut got)));
        assert_eq!(r.unwrap_err().to_string(), "three");
        assert_eq!(got, b"0\n1\n2\n");
        // Later calls say so again instead of waiting for pieces that never come.
        let again = pool.drain(&mut write_to(&mut got));
        assert_eq!(again.unwrap_err().to_string(), "three");
        let again = pool.submit(7, &mut write_to(&mut got));
        assert_eq!(again.unwrap_err().to_string(), "three");
    }
}
