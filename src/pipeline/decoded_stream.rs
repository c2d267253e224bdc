//! Replay on two cores: a thread reads the capture files and decodes them, handing batches of
//! segments to the thread that tracks and renders. Order is kept (one channel, one reader),
//! so the output is exactly that of doing both on one thread.

use crate::capture::pcap_reader::PcapSource;
use crate::capture::CaptureError;
use crate::decode::decode;
use crate::filter::SegmentFilter;
use crate::segment::Segment;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::{self, JoinHandle};

/// Segments per batch: large enough that the channel costs nothing per segment.
const BATCH: usize = 2048;

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
    },
    /// A non-fatal problem (damage after some frames, an empty file).
    Warning(String),
}

/// Start reading `first` (already open) and then the rest of `files` in order.
pub fn spawn(
    first: PcapSource,
    rest: Vec<PathBuf>,
    filter: SegmentFilter,
) -> (Receiver<Decoded>, JoinHandle<Result<(), CaptureError>>) {
    let (tx, rx) = sync_channel(8);
    let handle = thread::spawn(move || read_all(first, rest, filter, tx));
    (rx, handle)
}

fn read_all(
    first: PcapSource,
    rest: Vec<PathBuf>,
    filter: SegmentFilter,
    tx: SyncSender<Decoded>,
) -> Result<(), CaptureError> {
    let mut total_frames = 0u64;
    let mut next_number = first.next_number();
    let mut source = Some(first);
    let mut rest = rest.into_iter();
    loop {
        let mut src = match source.take() {
            Some(s) => s,
            None => match rest.next() {
                Some(path) => PcapSource::open(&path, next_number)?,
                None => return Ok(()),
            },
        };
        let name = src.path().display().to_string();
        let before = total_frames;
        let mut segments = Vec::with_capacity(BATCH);
        let (mut frames, mut skipped) = (0u64, 0u64);
        let mut warning = None;
        loop {
            match src.next_frame() {
                Ok(Some(frame)) => {
                    frames += 1;
                    match decode(&frame) {
                        Ok(seg) if filter.matches(&seg) => segments.push(seg),
                        Ok(_) => {}
                        Err(_) => skipped += 1,
                    }
                    if segments.len() == BATCH {
                        let batch = Decoded::Batch {
                            segments: std::mem::replace(&mut segments, Vec::with_capacity(BATCH)),
                            frames,
                            skipped,
                        };
                        total_frames += frames;
                        (frames, skipped) = (0, 0);
                        if tx.send(batch).is_err() {
                            return Ok(()); // the consumer stopped (e.g. a closed pipe)
                        }
                    }
                }
                Ok(None) => break,
                Err(e) if e.is_damage() && total_frames + frames > 0 => {
                    warning = Some(format!(
                        "{}; showing the {} frames read before it",
                        with_cause(&e),
                        total_frames + frames
                    ));
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        total_frames += frames;
        let batch = Decoded::Batch {
            segments,
            frames,
            skipped,
        };
        if tx.send(batch).is_err() {
            return Ok(());
        }
        if total_frames == before {
            warning.get_or_insert(format!("{name}: no packets in this capture"));
        }
        if let Some(w) = warning {
            if tx.send(Decoded::Warning(w)).is_err() {
                return Ok(());
            }
        }
        next_number = src.next_number();
    }
}

/// The error and its cause on one line (`Display` of the error leaves the cause to the chain).
fn with_cause(e: &CaptureError) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}
