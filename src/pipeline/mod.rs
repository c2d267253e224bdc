//! Everything after the source, shared by replay, watch and demo: decode, filter, track,
//! render, save. `output` opens the output and picks the renderer; `config` turns the
//! command line's tracker options into the tracker's settings; `decoded_stream` is replay's
//! reader thread; `pool` draws a file's pieces on worker threads and `render_thread` runs a
//! file's renderer beside the tracking thread.

pub mod config;
pub mod decoded_stream;
pub mod live_calls;
pub mod observed;
pub mod output;
pub mod pool;
pub mod render_thread;

use crate::capture::pcap_writer::CaptureWriter;
use crate::decode::{decode, Skip};
use crate::events::{CallEvent, CallSource, Event, Meta, Summary};
use crate::filter::SegmentFilter;
use crate::frame::Frame;
use crate::render::Renderer;
use crate::tracker::Tracker;
use anyhow::Context;
use std::io::{self, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// A mistake in how synfin was run (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Everything after the source, shared by replay, watch and demo.
pub struct Pipeline {
    /// The tracker.
    pub tracker: Tracker,
    segments: SegmentFilter,
    renderer: Box<dyn Renderer>,
    /// The renderer's `quiet` does something (asked once).
    minds_quiet: bool,
    out: Box<dyn Write>,
    /// Totals so far.
    pub summary: Summary,
    writer: Option<CaptureWriter>,
    /// Extra events (observed calls) to merge by time.
    extra: std::collections::VecDeque<Event>,
    /// Inferred calls that an observed one replaces (dropped from the output).
    replaced: Option<Replaced>,
    /// `watch`'s traced calls, joined to connections as they come.
    live: Option<live_calls::LiveCalls>,
    /// `watch --kernel-check`: endpoints compared and those that disagreed, so far.
    tally: std::rc::Rc<std::cell::Cell<(usize, usize)>>,
    /// Packet comments for the next frame written (`-w x.pcapng`: traced calls).
    comments: Vec<String>,
    /// Events on their way from the tracker to the renderer (kept for its room).
    ready: Vec<Event>,
    /// Verdicts the renderer is done with, on their way back to the tracker.
    spent: crate::events::SpentVerdicts,
}

/// Events handed from the tracker to the renderer at once, at most.
const READY_MAX: usize = 1024;

/// Says whether an inferred call is replaced by an observed one.
pub type Replaced = Box<dyn Fn(&CallEvent) -> bool>;

impl Pipeline {
    /// A pipeline writing to `output`.
    pub fn new(
        tracker: Tracker,
        segments: SegmentFilter,
        renderer: Box<dyn Renderer>,
        out: Box<dyn Write>,
    ) -> Pipeline {
        Pipeline {
            tracker,
            segments,
            minds_quiet: renderer.minds_quiet(),
            renderer,
            out,
            summary: Summary::default(),
            writer: None,
            extra: Default::default(),
            replaced: None,
            live: None,
            tally: Default::default(),
            comments: Vec::new(),
            ready: Vec::new(),
            spent: Vec::new(),
        }
    }

    /// The kernel check's count (endpoints compared, disagreeing), readable after `finish`.
    pub fn kernel_tally(&self) -> std::rc::Rc<std::cell::Cell<(usize, usize)>> {
        std::rc::Rc::clone(&self.tally)
    }

    /// Count compared endpoints and say each disagreement when it happens.
    fn tally_checks(&mut self, checks: Vec<crate::kernel::check::EndpointCheck>) {
        let (mut n, mut bad) = self.tally.get();
        for c in checks {
            n += 1;
            if !c.agrees() {
                bad += 1;
                eprint!(
                    "{}",
                    crate::kernel::check::report(&[c])
                        .lines()
                        .skip(1)
                        .map(|l| format!("kernel check:{l}\n"))
                        .collect::<String>()
                );
            }
        }
        self.tally.set((n, bad));
    }

    /// Join traced calls (and kernel states) to connections as they come.
    pub fn with_live_calls(mut self, live: live_calls::LiveCalls) -> Pipeline {
        self.live = Some(live);
        self
    }

    /// What the call trace told (in time order with the frames): a call, or a kernel state
    /// change.
    pub fn observed(&mut self, o: crate::kernel::socket_calls::Observation) -> io::Result<()> {
        use crate::kernel::socket_calls::Observation;
        match o {
            Observation::Call(n) => self.traced_call(n),
            Observation::State { t, change } => {
                self.kernel_state(t, change);
                Ok(())
            }
        }
    }

    /// A kernel state change (for `--kernel-check`): kept if the filter could be about it.
    fn kernel_state(&mut self, t: crate::timestamp::Timestamp, k: crate::kernel::KernelTransition) {
        let peer = if k.remote.port() == 0 {
            k.local
        } else {
            k.remote
        };
        if let Some(live) = &mut self.live {
            if self.segments.matches_endpoints(k.local, peer) {
                live.kernel_state(t, k);
            }
        }
    }

    /// A traced call (in time order with the frames).
    fn traced_call(&mut self, note: crate::events::CallNote) -> io::Result<()> {
        let Some(live) = &mut self.live else {
            return Ok(());
        };
        // Only calls the filter could be about, by their addresses (a failed bind() has none
        // the trace can read: it is shown).
        let peer = note.peer.unwrap_or(note.local);
        if note.local.port() != 0 && !self.segments.matches_endpoints(note.local, peer) {
            return Ok(());
        }
        if self.writer.is_some() {
            self.comments.push(note.to_comment());
        }
        let mut out = Vec::new();
        let tracker = &self.tracker;
        let bad = live.call(note, |a, b| tracker.conn_between(a, b), &mut out);
        self.tally_checks(bad);
        self.hand_on(out)
    }

    /// Drop the inferred calls `replaced` says an observed call stands for (one line per call:
    /// the inferred one only where nothing was observed).
    pub fn with_replaced_calls(mut self, replaced: Replaced) -> Pipeline {
        self.replaced = Some(replaced);
        self
    }

    /// Also save frames to `w`.
    pub fn with_writer(mut self, w: Option<CaptureWriter>) -> Pipeline {
        self.writer = w;
        self
    }

    /// Events (sorted by time) to merge into the output, e.g. the demo's observed calls.
    pub fn with_extra_events(mut self, mut events: Vec<Event>) -> Pipeline {
        events.sort_by_key(|e| e.t());
        self.extra = events.into();
        self
    }

    /// Write the meta line (or header).
    pub fn start(&mut self, meta: &Meta) -> io::Result<()> {
        self.renderer.start(meta, &mut self.out)
    }

    /// Feed one frame; returns whether it was a TCP segment that passed the filters.
    pub fn frame(&mut self, frame: &Frame<'_>) -> anyhow::Result<bool> {
        self.summary.frames += 1;
        let decoded = decode(frame);
        // `-w` keeps what the filters keep (everything, without filters), like a capture
        // filter would.
        let keep = match &decoded {
            Ok(seg) => self.segments.matches(seg),
            Err(_) => self.segments.is_empty(),
        };
        if let (Some(w), true) = (&mut self.writer, keep) {
            w.write_commented(frame, &self.comments)?;
            self.comments.clear();
        }
        match decoded {
            Ok(seg) => {
                if !keep {
                    return Ok(false);
                }
                self.segment(&seg)?;
                Ok(true)
            }
            Err(
                Skip::NotIp
                | Skip::NotTcp
                | Skip::Fragment
                | Skip::Truncated
                | Skip::UnsupportedLink,
            ) => {
                self.summary.skipped_frames += 1;
                Ok(false)
            }
        }
    }

    /// Time passes with no segment (live capture): settle what waited too long.
    pub fn tick(&mut self, now: crate::timestamp::Timestamp) -> io::Result<()> {
        self.tracker.handle_timeout(now);
        self.drain()?;
        self.release_verdicts(now)
    }

    /// Let out the verdicts the live join held for their last calls, up to `now` (live: the
    /// time up to which the trace has been read).
    pub fn release_verdicts(&mut self, now: crate::timestamp::Timestamp) -> io::Result<()> {
        let Some(live) = &mut self.live else {
            return Ok(());
        };
        let mut out = Vec::new();
        let bad = live.release(now, &mut out);
        self.tally_checks(bad);
        self.hand_on(out)
    }

    /// Feed one decoded segment that passed the filters.
    #[inline]
    pub fn segment(&mut self, seg: &crate::segment::Segment) -> io::Result<()> {
        self.summary.tcp_segments += 1;
        self.tracker.handle_segment(seg);
        // Traced calls that waited for this 4-tuple's connection (a connect() enters before
        // its SYN) go first.
        if let Some(live) = &mut self.live {
            if live.waiting_for(seg.src, seg.dst) {
                if let Some((id, _)) = self.tracker.conn_between(seg.src, seg.dst) {
                    let mut out = Vec::new();
                    live.opened(seg.src, seg.dst, id, &mut out);
                    self.hand_on(out)?;
                }
            }
        }
        self.drain()
    }

    /// Events to the renderer, in order (what the live join or the observed calls let out).
    fn hand_on(&mut self, events: Vec<Event>) -> io::Result<()> {
        for e in events {
            self.renderer.event_owned(e, &mut self.out)?;
        }
        Ok(())
    }

    /// Hand on what the tracker lets out, a run at a time.
    #[inline]
    fn drain(&mut self) -> io::Result<()> {
        // After most segments of a summary nothing may leave: said at once.
        if self.tracker.nothing_ready() {
            if !self.minds_quiet {
                return Ok(());
            }
            return self.renderer.quiet(&mut self.out);
        }
        self.drain_runs()
    }

    fn drain_runs(&mut self) -> io::Result<()> {
        loop {
            self.tracker.poll_events(&mut self.ready, READY_MAX);
            if self.ready.is_empty() {
                return self.renderer.quiet(&mut self.out);
            }
            // Nothing to join or replace (a file without observed calls): the run goes to the
            // renderer as it is.
            if self.live.is_none() && self.replaced.is_none() && self.extra.is_empty() {
                self.renderer.events_owned(&mut self.ready, &mut self.out)?;
            } else {
                let mut run = std::mem::take(&mut self.ready);
                for e in run.drain(..) {
                    self.joined(e)?;
                }
                self.ready = run;
            }
            self.reuse_spent();
        }
    }

    /// The verdicts the renderer is done with, back to the tracker for its next ones.
    fn reuse_spent(&mut self) {
        self.renderer.take_spent(&mut self.spent);
        if !self.spent.is_empty() {
            self.tracker.reuse_verdicts(&mut self.spent);
        }
    }

    /// One event with what joins or replaces it: traced calls (`watch`), observed calls
    /// (a demo's pcapng).
    fn joined(&mut self, e: Event) -> io::Result<()> {
        if let (Event::Call(c), Some(replaced)) = (&e, &self.replaced) {
            if c.source == CallSource::Inferred && replaced(c) {
                return Ok(());
            }
        }
        if let Some(live) = &mut self.live {
            if let Event::Call(c) = &e {
                if live.replaces(c) {
                    return Ok(());
                }
            }
            let mut out = Vec::new();
            let bad = live.event(e, &mut out);
            self.tally_checks(bad);
            return self.hand_on(out);
        }
        while self.extra.front().is_some_and(|x| x.t() <= e.t()) {
            let x = self.extra.pop_front().expect("checked");
            self.renderer.event_owned(x, &mut self.out)?;
        }
        // A connection's observed calls that return after its last segment (a connect()
        // refused by the final RST) still belong to it: before its verdict.
        if let Event::Connection(v) = &e {
            if self.extra.iter().any(|x| x.conn() == v.conn) {
                let (mine, rest) = std::mem::take(&mut self.extra)
                    .into_iter()
                    .partition::<Vec<_>, _>(|x| x.conn() == v.conn);
                self.extra = rest.into();
                self.hand_on(mine)?;
            }
        }
        self.renderer.event_owned(e, &mut self.out)
    }

    /// Flush the writer (e.g. periodically while live).
    pub fn flush(&mut self) -> anyhow::Result<()> {
        if let Some(w) = &mut self.writer {
            w.flush()?;
        }
        self.out.flush()?;
        Ok(())
    }

    /// The input is idle (live): write what is still being drawn (waiting for it), then flush.
    pub fn settle(&mut self) -> anyhow::Result<()> {
        self.renderer.settle(&mut self.out)?;
        self.flush()
    }

    /// End of input: settle the tracker, write the remaining events and the summary.
    pub fn finish(self) -> anyhow::Result<Summary> {
        self.finish_into().map(|(summary, _)| summary)
    }

    /// `finish`, and hand back the output to write more to.
    pub fn finish_into(mut self) -> anyhow::Result<(Summary, Box<dyn Write>)> {
        self.tracker.finish();
        self.drain()?;
        if let Some(live) = &mut self.live {
            let mut out = Vec::new();
            let tracker = &self.tracker;
            live.finish(|a, b| tracker.conn_between(a, b), &mut out);
            self.hand_on(out)?;
        }
        self.release_verdicts(crate::timestamp::Timestamp(i64::MAX))?;
        let extra = std::mem::take(&mut self.extra);
        self.hand_on(extra.into())?;
        self.summary.connections = self.tracker.stats().connections;
        self.renderer.finish(&self.summary, &mut self.out)?;
        if let Some(w) = &mut self.writer {
            w.flush()?;
        }
        self.out.flush()?;
        Ok((self.summary, self.out))
    }
}

/// Ctrl-C and SIGTERM set this flag; live sources poll it.
pub fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("cannot handle signals")?;
    }
    Ok(stop)
}

/// `CLOCK_REALTIME`, the clock of the kernel's capture timestamps.
pub use crate::capture::live::capture_clock as wall_clock;
