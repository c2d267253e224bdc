//! Replay on two cores: a thread reads the capture files and decodes them, handing batches of
//! segments to the thread that tracks and renders. Several files are merged by timestamp as
//! mergecap merges them (a k-way merge holding one frame per file: constant memory; ties in
//! argument order), or concatenated. Frames are numbered 1.. in the merged order. Order is
//! kept (one channel, one reader), so the output is exactly that of doing both on one thread.

use super::observed::CallNote;
use crate::capture::pcap_reader::PcapSource;
use crate::capture::CaptureError;
use crate::decode::{decode, Skip};
use crate::filter::SegmentFilter;
use crate::segment::Segment;
use crate::timestamp::Timestamp;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::thread::{self, JoinHandle};

/// Segments per batch: large enough that the channel costs nothing per segment.
const BATCH: usize = 1024;

/// What the reader sends.
#[derive(Debug)]
pub enum Decoded {
    /// Decoded segments (after the filter) and what the frames they came from counted.
    Batch {
        /// The segments, in input order.
        segments: Vec<Segment>,
        /// Frames read for this batch.
        frames: u64,
        /// Frames that gave no TCP segment.
        skipped: u64,
        /// Observed calls from the frames' comments (a demo's `-w x.pcapng`), in order.
        notes: Vec<CallNote>,
    },
    /// A problem after which reading went on or ended early: `damage` when a file was cut or
    /// damaged (what came before it was read), not for an empty file.
    Warning {
        /// One sentence, with the byte offset for damage.
        text: String,
        /// The capture is damaged or cut.
        damage: bool,
    },
}

/// How several inputs make one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// By timestamp, as mergecap merges (ties in argument order).
    Time,
    /// One file after another, in argument order.
    Concatenate,
}

/// The reader thread: what it ends with.
pub type ReaderThread = JoinHandle<Result<(), CaptureError>>;

/// Start reading `sources` (already open) as one input, in `order`.
/// `eager`: hand each frame on at once instead of in batches (a pipe read as it comes).
/// Batches' vectors, emptied, may be sent back on the returned `Sender` to be filled again
/// (no allocation per batch, none freed on another thread).
pub fn spawn(
    sources: Vec<PcapSource>,
    order: Order,
    filter: SegmentFilter,
    eager: bool,
) -> (Receiver<Decoded>, ReaderThread, Sender<Vec<Segment>>) {
    // Four batches ahead: eight held 1.3 MB more of segments on a long capture, no faster.
    let (tx, rx) = sync_channel(4);
    let (spare_tx, spare) = channel();
    let handle = thread::Builder::new()
        .name("synfin-read".into())
        .spawn(move || {
            let mut r = Reader::new(sources, order, filter, tx);
            r.eager = eager;
            r.spare = Some(spare);
            r.run()
        })
        .expect("a thread can be started");
    (rx, handle, spare_tx)
}

/// One input's next frame, decoded.
struct Head {
    ts: Timestamp,
    decoded: Result<Segment, Skip>,
    /// Observed calls in its comments.
    notes: Vec<CallNote>,
}

/// An open input and what it gave so far.
struct Input {
    source: PcapSource,
    head: Option<Head>,
    frames: u64,
    done: bool,
}

struct Reader {
    inputs: Vec<Input>,
    order: Order,
    filter: SegmentFilter,
    tx: SyncSender<Decoded>,
    /// Frames handed on, numbered 1.. in the merged order.
    number: u64,
    segments: Vec<Segment>,
    frames: u64,
    skipped: u64,
    notes: Vec<CallNote>,
    /// Send each frame at once (a pipe, watched as it comes).
    eager: bool,
    /// Emptied batches, back from the consumer.
    spare: Option<Receiver<Vec<Segment>>>,
}

impl Reader {
    fn new(
        sources: Vec<PcapSource>,
        order: Order,
        filter: SegmentFilter,
        tx: SyncSender<Decoded>,
    ) -> Reader {
        let inputs = sources
            .into_iter()
            .map(|source| Input {
                source,
                head: None,
                frames: 0,
                done: false,
            })
            .collect();
        Reader {
            inputs,
            order,
            filter,
            tx,
            number: 0,
            segments: Vec::with_capacity(BATCH),
            frames: 0,
            skipped: 0,
            notes: Vec::new(),
            eager: false,
            spare: None,
        }
    }

    /// Read everything; a consumer that stopped (a closed pipe) stops this quietly.
    fn run(mut self) -> Result<(), CaptureError> {
        for i in 0..self.inputs.len() {
            if self.order == Order::Time && !self.refill(i)? {
                return Ok(());
            }
        }
        let mut current = 0;
        loop {
            let pick = match self.order {
                // The earliest head; the first input wins a tie.
                Order::Time => (0..self.inputs.len())
                    .filter_map(|i| self.inputs[i].head.as_ref().map(|h| (h.ts, i)))
                    .min()
                    .map(|(_, i)| i),
                Order::Concatenate => loop {
                    if current == self.inputs.len() {
                        break None;
                    }
                    if self.inputs[current].head.is_none() && !self.refill(current)? {
                        return Ok(());
                    }
                    if self.inputs[current].head.is_some() {
                        break Some(current);
                    }
                    current += 1;
                },
            };
            let Some(i) = pick else { break };
            let mut head = self.inputs[i].head.take().expect("picked a head");
            self.number += 1;
            self.frames += 1;
            self.notes.append(&mut head.notes);
            match head.decoded {
                Ok(mut seg) => {
                    seg.frame = self.number;
                    if self.filter.matches(&seg) {
                        self.segments.push(seg);
                    }
                }
                Err(_) => self.skipped += 1,
            }
            if (self.eager || self.segments.len() == BATCH) && !self.send_batch() {
                return Ok(());
            }
            if self.order == Order::Time && !self.refill(i)? {
                return Ok(());
            }
        }
        self.send_batch();
        Ok(())
    }

    /// Read input `i`'s next frame into its head (none at its end or at damage, which is
    /// reported). Ok(false) when the consumer has gone.
    fn refill(&mut self, i: usize) -> Result<bool, CaptureError> {
        let any_read = self.inputs.iter().any(|x| x.frames > 0);
        let input = &mut self.inputs[i];
        if input.done {
            return Ok(true);
        }
        let mut damage = false;
        let warning = match input.source.next_frame() {
            Ok(Some(frame)) => {
                input.frames += 1;
                let (ts, decoded) = (frame.ts, decode(&frame));
                let notes = input
                    .source
                    .comments()
                    .iter()
                    .filter_map(|c| CallNote::parse(c))
                    .collect();
                input.head = Some(Head { ts, decoded, notes });
                // A problem the reader noticed without stopping (a bad timestamp field).
                return Ok(match input.source.take_warning() {
                    Some(text) => {
                        self.send_batch()
                            && self
                                .tx
                                .send(Decoded::Warning {
                                    text,
                                    damage: false,
                                })
                                .is_ok()
                    }
                    None => true,
                });
            }
            Ok(None) => (input.frames == 0).then(|| {
                format!(
                    "{}: no packets in this capture",
                    input.source.path().display()
                )
            }),
            // Damage after some frames: keep what was read (of any input).
            Err(e) if e.is_damage() && any_read => {
                damage = true;
                Some(format!(
                    "{}; showing the {} frames read before it",
                    with_cause(&e),
                    input.frames
                ))
            }
            Err(e) => return Err(e),
        };
        input.done = true;
        match warning {
            // What came before the warning goes first, so it is reported in place.
            Some(text) => {
                Ok(self.send_batch() && self.tx.send(Decoded::Warning { text, damage }).is_ok())
            }
            None => Ok(true),
        }
    }

    /// Send what is gathered; false when the consumer has gone.
    fn send_batch(&mut self) -> bool {
        let next = self
            .spare
            .as_ref()
            .and_then(|s| s.try_recv().ok())
            .map(|mut v| {
                v.clear();
                v
            })
            .unwrap_or_else(|| Vec::with_capacity(BATCH));
        let batch = Decoded::Batch {
            segments: std::mem::replace(&mut self.segments, next),
            frames: std::mem::take(&mut self.frames),
            skipped: std::mem::take(&mut self.skipped),
            notes: std::mem::take(&mut self.notes),
        };
        self.tx.send(batch).is_ok()
    }
}

/// The error and its cause on one line (`Display` of the error leaves the cause to the chain).
fn with_cause(e: &CaptureError) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}
