//! A renderer run on a thread of its own, for a whole file read as fast as it goes: the
//! tracking thread hands it its events in batches and writes the bytes it sends back, so that
//! what the renderer does with each event (a summary's grouping by connection, its totals, its
//! rows) is off the thread that bounds the run. The output is byte for byte the renderer's
//! own: it sees the same events in the same order, and its bytes are written in the order made.
//!
//! Not for a live view: events wait for their batch to fill.

use crate::events::{Event, Meta, SpentVerdicts, Summary};
use crate::render::Renderer;
use std::io::{self, Write};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

/// Events a batch handed over (one message; fewer would cost more in handing over).
const BATCH: usize = 256;
/// Batches on their way at most (past that, handing one over waits: memory stays bounded).
const IN_FLIGHT: usize = 4;
/// Bytes the rendering thread collects before sending them to be written.
const CHUNK: usize = 64 * 1024;
/// Verdicts drawn kept for [`Renderer::take_spent`] at most.
const MAX_SPENT: usize = 4096;

/// What the tracking thread sends.
enum ToRender {
    Start(Meta),
    Events(Vec<Event>),
    /// Render what came, then say so (`Back::Settled`).
    Settle,
    Finish(Summary),
}

/// What the rendering thread sends back.
enum Back {
    /// Bytes to write, in order.
    Bytes(Vec<u8>),
    /// A batch emptied, for the next (its room was made on the tracking thread: kept there),
    /// and the verdicts drawn, to be freed there.
    Emptied(Vec<Event>, SpentVerdicts),
    Settled,
    /// The renderer failed (nothing more comes).
    Failed(io::Error),
}

/// Makes the renderer, on its thread.
pub type MakeRenderer = Box<dyn FnOnce() -> Box<dyn Renderer> + Send>;

/// A renderer on its own thread (see the module's note).
pub struct RenderThread {
    batch: Vec<Event>,
    spare: Vec<Vec<Event>>,
    /// Verdicts drawn, back for [`Renderer::take_spent`].
    spent: SpentVerdicts,
    to: Option<SyncSender<ToRender>>,
    back: Receiver<Back>,
    thread: Option<JoinHandle<()>>,
    /// The first failure: every later call says so.
    failed: Option<(io::ErrorKind, String)>,
}

impl RenderThread {
    /// Start the thread; `make` builds the renderer there.
    pub fn spawn(make: MakeRenderer) -> RenderThread {
        let (to, from_main) = sync_channel::<ToRender>(IN_FLIGHT);
        let (back_tx, back) = channel();
        let thread = std::thread::Builder::new()
            .name("synfin-render".into())
            .spawn(move || {
                // A renderer that panics is an error in its place, not a wait for ever.
                let tx = back_tx.clone();
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                    render(make, from_main, &tx)
                }));
                let failed = match run {
                    Ok(Ok(())) => return,
                    Ok(Err(e)) => e,
                    Err(_) => io::Error::other("the rendering thread panicked"),
                };
                let _ = back_tx.send(Back::Failed(failed));
            })
            .expect("a thread can be started");
        RenderThread {
            batch: Vec::with_capacity(BATCH),
            spare: Vec::new(),
            spent: Vec::new(),
            to: Some(to),
            back,
            thread: Some(thread),
            failed: None,
        }
    }

    fn check(&self) -> io::Result<()> {
        match &self.failed {
            Some((kind, text)) => Err(io::Error::new(*kind, text.clone())),
            None => Ok(()),
        }
    }

    /// Send `msg`; the thread having stopped, say why.
    fn send(&mut self, msg: ToRender, out: &mut dyn Write) -> io::Result<()> {
        self.check()?;
        let sent = self.to.as_ref().is_some_and(|to| to.send(msg).is_ok());
        if !sent {
            // It stopped: its reason is on the way back (or it ended without one).
            self.take_back(out, Some(&mut |m| matches!(m, Back::Failed(_))))?;
            return Err(io::Error::other("the rendering thread stopped"));
        }
        Ok(())
    }

    /// Hand the batch over (if anything is in it), and write what came back.
    fn hand_over(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if !self.batch.is_empty() {
            let next = self
                .spare
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(BATCH));
            let full = std::mem::replace(&mut self.batch, next);
            self.send(ToRender::Events(full), out)?;
        }
        self.take_back(out, None)
    }

    /// Write the bytes that came back, keep the emptied batches; with `until`, wait for
    /// messages until `until` says one was the last wanted.
    fn take_back(
        &mut self,
        out: &mut dyn Write,
        mut until: Option<&mut dyn FnMut(&Back) -> bool>,
    ) -> io::Result<()> {
        self.check()?;
        loop {
            let msg = match &mut until {
                Some(_) => match self.back.recv() {
                    Ok(m) => m,
                    Err(_) => return Err(io::Error::other("the rendering thread stopped")),
                },
                None => match self.back.try_recv() {
                    Ok(m) => m,
                    Err(_) => return Ok(()),
                },
            };
            let last = until.as_mut().is_some_and(|f| f(&msg));
            match msg {
                Back::Bytes(b) => out.write_all(&b)?,
                Back::Emptied(v, mut spent) => {
                    self.spare.push(v);
                    // Kept for `take_spent` up to a bound (a consumer that never asks frees
                    // the rest here, where they were made).
                    let room = MAX_SPENT.saturating_sub(self.spent.len());
                    self.spent.extend(spent.drain(..spent.len().min(room)));
                }
                Back::Settled => {}
                Back::Failed(e) => {
                    self.failed = Some((e.kind(), e.to_string()));
                    return Err(e);
                }
            }
            if last {
                return Ok(());
            }
        }
    }
}

/// The rendering thread: render what comes, sending the bytes back a chunk at a time.
fn render(
    make: MakeRenderer,
    from_main: Receiver<ToRender>,
    back: &Sender<Back>,
) -> io::Result<()> {
    let mut r = make();
    let mut buf = Vec::with_capacity(CHUNK);
    let done = render_all(&mut *r, from_main, back, &mut buf);
    if done.is_err() && !buf.is_empty() {
        // What the renderer wrote before it failed is written, as on one thread.
        let _ = back.send(Back::Bytes(buf));
    }
    done
}

/// Render each message into `buf`, sending it back a chunk at a time.
fn render_all(
    r: &mut dyn Renderer,
    from_main: Receiver<ToRender>,
    back: &Sender<Back>,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    let gone = || io::Error::other("the tracking thread stopped");
    for msg in from_main {
        match msg {
            ToRender::Start(meta) => r.start(&meta, buf)?,
            ToRender::Events(mut events) => {
                r.events_owned(&mut events, buf)?;
                let mut spent = Vec::new();
                r.take_spent(&mut spent);
                back.send(Back::Emptied(events, spent))
                    .map_err(|_| gone())?;
            }
            ToRender::Settle => {
                r.settle(buf)?;
                back.send(Back::Bytes(std::mem::take(buf)))
                    .map_err(|_| gone())?;
                back.send(Back::Settled).map_err(|_| gone())?;
            }
            ToRender::Finish(summary) => {
                r.finish(&summary, buf)?;
                back.send(Back::Bytes(std::mem::take(buf)))
                    .map_err(|_| gone())?;
                return Ok(());
            }
        }
        if buf.len() >= CHUNK {
            let b = std::mem::replace(buf, Vec::with_capacity(CHUNK));
            back.send(Back::Bytes(b)).map_err(|_| gone())?;
        }
    }
    Ok(())
}

impl Renderer for RenderThread {
    fn start(&mut self, meta: &Meta, out: &mut dyn Write) -> io::Result<()> {
        self.send(ToRender::Start(meta.clone()), out)
    }

    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        self.event_owned(event.clone(), out)
    }

    fn event_owned(&mut self, event: Event, out: &mut dyn Write) -> io::Result<()> {
        self.batch.push(event);
        if self.batch.len() >= BATCH {
            self.hand_over(out)?;
        }
        Ok(())
    }

    fn events_owned(&mut self, events: &mut Vec<Event>, out: &mut dyn Write) -> io::Result<()> {
        self.batch.append(events);
        if self.batch.len() >= BATCH {
            self.hand_over(out)?;
        }
        Ok(())
    }

    fn minds_quiet(&self) -> bool {
        false
    }

    fn take_spent(&mut self, into: &mut SpentVerdicts) {
        into.append(&mut self.spent);
    }

    fn settle(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.hand_over(out)?;
        self.send(ToRender::Settle, out)?;
        self.take_back(out, Some(&mut |m| matches!(m, Back::Settled)))
    }

    fn finish(&mut self, summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
        self.hand_over(out)?;
        self.send(ToRender::Finish(summary.clone()), out)?;
        // Everything it sends, until it stops.
        self.to = None;
        let done = loop {
            match self.back.recv() {
                Ok(Back::Bytes(b)) => out.write_all(&b)?,
                Ok(Back::Emptied(..) | Back::Settled) => {}
                Ok(Back::Failed(e)) => break Err(e),
                Err(_) => break Ok(()),
            }
        };
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        done
    }
}

impl Drop for RenderThread {
    fn drop(&mut self) {
        // Unfinished (an error before the end): let the thread see the channel close and stop.
        self.to = None;
        while self.back.try_recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            // It stops once the channel is closed; a send back to a closed receiver stops it too.
            drop(std::mem::replace(&mut self.back, channel().1));
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{AnomalyEvent, AnomalyKind};
    use crate::segment::Segment;
    use crate::timestamp::Timestamp;
    use proptest::prelude::*;

    fn event(n: u64) -> Event {
        Event::Anomaly(AnomalyEvent {
            t: Timestamp(n as i64),
            conn: n,
            frame: None,
            kind: AnomalyKind::Retransmission,
            detail: String::new(),
        })
    }

    /// Writes a line an event; fails (or panics) at event `fail_at`.
    struct Lines {
        fail_at: Option<u64>,
        panic: bool,
    }

    impl Renderer for Lines {
        fn start(&mut self, meta: &Meta, out: &mut dyn Write) -> io::Result<()> {
            writeln!(out, "start {}", meta.input)
        }
        fn event(&mut self, e: &Event, out: &mut dyn Write) -> io::Result<()> {
            if Some(e.conn()) == self.fail_at {
                assert!(!self.panic, "told to panic");
                return Err(io::Error::other(format!("failed at {}", e.conn())));
            }
            // Long lines, so that the bytes come back in many chunks.
            writeln!(out, "{} {}", e.conn(), "x".repeat(e.conn() as usize % 900))
        }
        fn finish(&mut self, s: &Summary, out: &mut dyn Write) -> io::Result<()> {
            writeln!(out, "end {}", s.frames)
        }
    }

    fn meta() -> Meta {
        Meta::synfin("replay", "x.pcap".into(), "EN10MB".into())
    }

    proptest! {
        /// Whatever the runs the events come in, the bytes are the renderer's own, in order.
        #[test]
        fn the_output_is_the_renderers_own(runs in prop::collection::vec(0usize..700, 0..12)) {
            let summary = Summary { frames: 7, ..Summary::default() };
            let mut want = Vec::new();
            let mut here = Lines { fail_at: None, panic: false };
            here.start(&meta(), &mut want).unwrap();
            let mut got = Vec::new();
            let mut there = RenderThread::spawn(Box::new(|| {
                Box::new(Lines { fail_at: None, panic: false })
            }));
            there.start(&meta(), &mut got).unwrap();
            let mut n = 0;
            for len in runs {
                let mut run: Vec<Event> = (n..n + len as u64).map(event).collect();
                n += len as u64;
                here.events_owned(&mut run.clone(), &mut want).unwrap();
                there.events_owned(&mut run, &mut got).unwrap();
                prop_assert!(run.is_empty());
            }
            here.finish(&summary, &mut want).unwrap();
            there.finish(&summary, &mut got).unwrap();
            prop_assert_eq!(String::from_utf8(got).unwrap(), String::from_utf8(want).unwrap());
        }
    }

    /// Feed events until the renderer's failure comes back; then finish.
    fn fail(panic: bool) -> (io::Error, io::Error, Vec<u8>) {
        let mut r = RenderThread::spawn(Box::new(move || {
            Box::new(Lines {
                fail_at: Some(300),
                panic,
            })
        }));
        let mut out = Vec::new();
        r.start(&meta(), &mut out).unwrap();
        let mut first = None;
        for n in 0..100_000 {
            if let Err(e) = r.event_owned(event(n), &mut out) {
                first = Some(e);
                break;
            }
        }
        let first = first.expect("the failure comes back while events are handed over");
        let again = r.finish(&Summary::default(), &mut out).unwrap_err();
        (first, again, out)
    }

    #[test]
    fn a_renderers_error_comes_back_and_stays() {
        let (first, again, out) = fail(false);
        assert_eq!(first.to_string(), "failed at 300");
        assert_eq!(again.to_string(), "failed at 300");
        // What it wrote before failing is written, as on one thread.
        let mut want = Vec::new();
        let mut here = Lines {
            fail_at: Some(300),
            panic: false,
        };
        here.start(&meta(), &mut want).unwrap();
        let mut run: Vec<Event> = (0..1_000).map(event).collect();
        assert!(here.events_owned(&mut run, &mut want).is_err());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            String::from_utf8(want).unwrap()
        );
    }

    #[test]
    fn a_renderer_that_panics_is_an_error_not_a_wait() {
        let (first, again, _) = fail(true);
        assert_eq!(first.to_string(), "the rendering thread panicked");
        assert_eq!(again.to_string(), "the rendering thread panicked");
    }

    /// Says when it is dropped.
    struct Gone(std::sync::Arc<std::sync::atomic::AtomicBool>);

    impl Renderer for Gone {
        fn start(&mut self, _: &Meta, _: &mut dyn Write) -> io::Result<()> {
            Ok(())
        }
        fn event(&mut self, _: &Event, _: &mut dyn Write) -> io::Result<()> {
            Ok(())
        }
        fn finish(&mut self, _: &Summary, _: &mut dyn Write) -> io::Result<()> {
            Ok(())
        }
    }

    impl Drop for Gone {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn dropped_unfinished_it_stops_before_it_is_gone() {
        let gone = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&gone);
        let mut r = RenderThread::spawn(Box::new(move || Box::new(Gone(flag))));
        let mut out = Vec::new();
        r.start(&meta(), &mut out).unwrap();
        for n in 0..2_000 {
            r.event_owned(event(n), &mut out).unwrap();
        }
        // Dropping it waits for the thread, whose renderer is dropped as it stops (a hang
        // here is a failure too).
        drop(r);
        assert!(gone.load(std::sync::atomic::Ordering::SeqCst));
    }

    /// A segment of connection `i` (client port 20000 + i) at time `n` ms.
    fn seg(n: &mut u64, i: u32, client_sends: bool, flags: u16, seq: u32, ack: u32) -> Segment {
        *n += 1;
        let c: std::net::SocketAddr = ([10, 0, 0, 1], 20_000 + i as u16).into();
        let s: std::net::SocketAddr = ([10, 0, 0, 2], 80).into();
        let (src, dst) = if client_sends { (c, s) } else { (s, c) };
        Segment {
            ts: Timestamp(1_000_000 * *n as i64),
            frame: *n,
            orig_len: 60,
            cap_len: 60,
            window: 1000,
            ..Segment::header(src, dst, crate::segment::TcpFlags(flags), seq, ack)
        }
    }

    #[test]
    fn a_files_summary_hands_its_verdicts_back_to_the_tracker() {
        use crate::filter::{ConnFilter, SegmentFilter};
        use crate::pipeline::Pipeline;
        use crate::render::group::Grouped;
        use crate::render::summary::SummaryRenderer;
        use crate::segment::TcpFlags;
        use crate::tracker::{Tracker, TrackerConfig};
        const SYN: u16 = TcpFlags::SYN;
        const ACK: u16 = TcpFlags::ACK;
        const FIN: u16 = TcpFlags::FIN;
        let renderer = RenderThread::spawn(Box::new(|| {
            Box::new(Grouped::new(
                SummaryRenderer::new(100).handing_back(),
                ConnFilter::default(),
            ))
        }));
        let mut p = Pipeline::new(
            Tracker::new(TrackerConfig::default()),
            SegmentFilter::default(),
            Box::new(renderer),
            Box::new(io::sink()),
        );
        // Connections opened and closed one after another, far more than a batch's worth.
        let (c, s) = (1000, 5000);
        let mut n = 0;
        for i in 0..3_000 {
            for seg in [
                seg(&mut n, i, true, SYN, c, 0),
                seg(&mut n, i, false, SYN | ACK, s, c + 1),
                seg(&mut n, i, true, ACK, c + 1, s + 1),
                seg(&mut n, i, true, FIN | ACK, c + 1, s + 1),
                seg(&mut n, i, false, FIN | ACK, s + 1, c + 2),
                seg(&mut n, i, true, ACK, c + 2, s + 2),
            ] {
                p.segment(&seg).unwrap();
            }
        }
        assert!(
            p.tracker.spare_verdicts() > 0,
            "verdicts drawn on the rendering thread come back to be reused"
        );
        let summary = p.finish().unwrap();
        assert_eq!(summary.connections, 3_000);
    }
}
