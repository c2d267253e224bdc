//! Renderers: pure functions of the timeline and `RenderOpts`, writing to any `io::Write`.
//! No environment reads, no `is_terminal()`, no clock: colour and width are decided once in
//! `app` and passed in.
//!
//! ```
//! use synfin::render::{jsonl::JsonlRenderer, Renderer};
//! use synfin::events::{Meta, Summary};
//! let mut out = Vec::new();
//! let mut r = JsonlRenderer::default();
//! let meta = Meta { schema: 1, tool: "synfin", version: "0.1.0", source: "replay",
//!                   input: "x.pcap".into(), linktype: "EN10MB".into() };
//! r.start(&meta, &mut out).unwrap();
//! r.finish(&Summary::default(), &mut out).unwrap();
//! assert!(String::from_utf8(out).unwrap().starts_with("{\"type\":\"meta\""));
//! ```

pub mod conn_bits;
pub(crate) mod decimal;
pub(crate) mod escape;
pub mod gathered;
pub mod group;
pub mod json_line;
pub mod jsonl;
mod judged;
pub mod ladder;
pub mod layout;
pub mod mermaid;
pub mod packed;
pub(crate) mod palette;
pub mod report;
pub(crate) mod runs;
pub mod spill;
pub mod stream;
pub mod summary;
pub mod svg;
pub mod timeline;

use crate::events::{Event, Meta, Summary};
use std::fmt::Write as _;
use std::io::{self, Write};

/// Options every renderer reads.
#[derive(Debug, Clone, Copy)]
pub struct RenderOpts {
    /// Paint with ANSI colours.
    pub color: bool,
    /// Line width.
    pub width: usize,
    /// Show payload previews.
    pub payload: bool,
    /// `--max-segments`: show at most this many segments per connection (the first and
    /// last halves); the middle becomes one elision row ([`layout`]).
    pub max_segments: Option<usize>,
    /// Timeline: log-scale the gaps between events, so that a 60 s TIME_WAIT does not
    /// squash a handshake of microseconds.
    pub log_time: bool,
    /// SVG/HTML: how the vertical axis follows time ([`TimeScale`]).
    pub time_scale: TimeScale,
}

/// How a drawing's vertical axis follows time (SVG and HTML; text cannot slope an arrow, so
/// the ladder marks crossed and lost segments instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeScale {
    /// Time-scaled where that keeps the picture readable: each row keeps at least its text's
    /// height, a gap gets room in proportion to its length (the connection's median gap is a
    /// row), and a long wait (an RTO, an idle stretch, the 60 s TIME_WAIT) is a broken axis
    /// with its length written on it. Arrows slope from send to arrival.
    #[default]
    Compressed,
    /// Proportional to time throughout (each row still keeps its text's height), no breaks.
    Linear,
    /// Evenly spaced rows, level arrows: the ladder's layout.
    Rows,
}

impl Default for RenderOpts {
    fn default() -> Self {
        RenderOpts {
            color: false,
            width: 100,
            payload: false,
            max_segments: None,
            log_time: false,
            time_scale: TimeScale::default(),
        }
    }
}

/// `conn 1  a → b  closed · SF · history ShADadFf`: the line over each connection.
pub(crate) fn conn_header(v: &crate::events::ConnectionEvent) -> String {
    let mut s = String::with_capacity(96 + v.history.len());
    push_conn_header(&mut s, v);
    s
}

/// [`conn_header`], appended to `s`.
pub(crate) fn push_conn_header(s: &mut String, v: &crate::events::ConnectionEvent) {
    // Put together piece by piece (as `format!` would: this runs once a connection).
    s.push_str("conn ");
    s.push_str(itoa::Buffer::new().format(v.conn));
    s.push_str("  ");
    v.client.push_to(s);
    s.push_str(" → ");
    v.server.push_to(s);
    s.push_str("  ");
    s.push_str(v.outcome.as_str());
    s.push_str(" · ");
    s.push_str(v.conn_state.as_str());
    s.push_str(" · history ");
    s.push_str(&v.history);
    s.push_str(if v.roles_guessed {
        " (roles guessed)"
    } else if v.simultaneous_open {
        " (simultaneous open)"
    } else {
        ""
    });
}

/// [`fit`], borrowing `s` where it fits as it is (nearly always).
pub(crate) fn fit_cow(s: &str, n: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= n || s.chars().count() <= n {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(fit(s, n))
}

/// Cut `s` to `n` characters, marking the cut with `…`.
pub(crate) fn fit(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    if n == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    out
}

/// A call as the ladder writes it: `» connect()`, `~ recv() = 0`, `» connect() → ECONNREFUSED`.
pub fn call_text(c: &crate::events::CallEvent) -> String {
    let mut s = String::with_capacity(32);
    write_call_text(&mut s, c);
    s
}

/// [`call_text`], appended to `out`.
pub fn write_call_text(out: &mut String, c: &crate::events::CallEvent) {
    use crate::events::{CallResult, CallSource, Phase};
    out.push_str(match c.source {
        CallSource::Observed => "» ",
        CallSource::Inferred => "~ ",
    });
    out.push_str(c.call.as_str());
    match (c.phase, c.result) {
        (Phase::Enter, Some(CallResult::RstSent)) => out.push_str("() → RST"),
        (Phase::Enter, Some(CallResult::ShutWrSent)) => out.push_str("(SHUT_WR)"),
        (Phase::Enter, _) => out.push_str("()"),
        (Phase::Return, Some(CallResult::OkShutWr)) => out.push_str("(SHUT_WR) returns"),
        (Phase::Return, Some(CallResult::OkShutRd)) => out.push_str("(SHUT_RD) returns"),
        (Phase::Return, Some(CallResult::OkShutRdWr)) => out.push_str("(SHUT_RDWR) returns"),
        (Phase::Return, Some(CallResult::Ok | CallResult::Listening { .. }) | None) => {
            out.push_str("() returns")
        }
        (Phase::Return, Some(CallResult::Errno(e))) => {
            out.push_str("() → ");
            match e.name() {
                Some(n) => out.push_str(n),
                None => {
                    let _ = write!(out, "{e}");
                }
            }
        }
        (Phase::Return, Some(CallResult::Bytes(n))) => {
            out.push_str("() = ");
            out.push_str(itoa::Buffer::new().format(n));
        }
        (Phase::Return, Some(r)) => {
            out.push_str("() → ");
            out.push_str(&r.as_text());
        }
    }
}

/// Draws independent pieces of the output (a connection's ladder, a batch of JSON lines) and
/// hands the drawings back in the order the pieces were handed in, whatever order they were
/// drawn in. Renderers stay pure functions of the timeline: how the pieces are drawn (here,
/// or on other threads) is the app's choice (`pipeline::pool`). `R`: what a drawing is (the
/// bytes to write, or the SVG's drawing and height).
pub trait Pieces<T, R = Vec<u8>>: Send {
    /// Draw `item` after every earlier piece; drawings finished, in order, go to `take` now.
    fn submit(&mut self, item: T, take: &mut dyn FnMut(R) -> io::Result<()>) -> io::Result<()>;
    /// Every drawing not yet taken, in order, to `take`.
    fn drain(&mut self, take: &mut dyn FnMut(R) -> io::Result<()>) -> io::Result<()>;
    /// The drawings finished and next in order to `take`, without waiting for the others.
    fn ready(&mut self, take: &mut dyn FnMut(R) -> io::Result<()>) -> io::Result<()>;
}

/// Hand `batch` (unless empty) to `pieces` (if any), leaving an empty one with room for
/// `room`; the drawings ready are written to `out`.
pub(crate) fn submit_batch<T>(
    pieces: &mut Option<Box<dyn Pieces<Vec<T>>>>,
    batch: &mut Vec<T>,
    room: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    if let Some(p) = pieces {
        if !batch.is_empty() {
            let full = std::mem::replace(batch, Vec::with_capacity(room));
            p.submit(full, &mut write_to(out))?;
        }
    }
    Ok(())
}

/// A `take` for [`Pieces`] of bytes: write them.
pub fn write_to(out: &mut dyn Write) -> impl FnMut(Vec<u8>) -> io::Result<()> + '_ {
    move |b| out.write_all(&b)
}

/// An output that can be written again where it was written before: a seekable file
/// (`-o x.svg`, stdout sent to a file). The SVG then streams into its output and gives its
/// height, known only at the end, in a header written with room for it, rather than holding
/// every drawing until the end. The app provides it (`pipeline::output`); renderers never
/// open files. It must be the very output the renderer writes to, below any buffer that
/// `flush` empties (not one written from another thread): what a renderer flushes is then in
/// the file at the places `position` tells.
pub trait Rewrite: Send {
    /// Where the next byte written to the output will go (the output flushed first; the null
    /// device says 0 whatever was written).
    fn position(&mut self) -> io::Result<u64>;
    /// Write `bytes` again at `at` (the output flushed first), over what is there.
    fn rewrite(&mut self, at: u64, bytes: &[u8]) -> io::Result<()>;
}

/// A streaming renderer: `start`, then every event in time order, then `finish`.
pub trait Renderer {
    /// Before the first event.
    fn start(&mut self, meta: &Meta, out: &mut dyn Write) -> io::Result<()>;
    /// One event.
    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()>;
    /// Events in order, handed over (`events` is left empty, its room kept).
    fn events_owned(&mut self, events: &mut Vec<Event>, out: &mut dyn Write) -> io::Result<()> {
        for e in events.drain(..) {
            self.event_owned(e, out)?;
        }
        Ok(())
    }
    /// One event, handed over (a renderer that keeps events need not copy it).
    fn event_owned(&mut self, event: Event, out: &mut dyn Write) -> io::Result<()> {
        self.event(&event, out)
    }
    /// After the last event.
    fn finish(&mut self, summary: &Summary, out: &mut dyn Write) -> io::Result<()>;
    /// Verdicts it drew and was asked to keep, into `into` (a renderer on another thread
    /// than the tracker's hands them back to be freed where they were made: freeing across
    /// threads contends for the allocator's lock).
    fn take_spent(&mut self, _into: &mut crate::events::SpentVerdicts) {}
    /// No more events for now (the input went quiet): write what waits (the live view).
    fn quiet(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
    /// Does `quiet` do anything? (Asked once: a file's summary is otherwise told after
    /// every segment, through a call that does nothing.) A renderer whose `quiet` is the
    /// default says no.
    fn minds_quiet(&self) -> bool {
        true
    }
    /// The input is idle (live): write what is being drawn elsewhere, waiting for it (a
    /// drawing takes microseconds; the caller may sleep for seconds next).
    fn settle(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}
