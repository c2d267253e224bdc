//! Renderers: pure functions of the timeline and `RenderOpts`, writing to any `io::Write`.
//! No environment reads, no `is_terminal()`, no clock: colour and width are decided once in
//! `app` and passed in.
//!
//! ```
//! use synfin::render::{jsonl::JsonlRenderer, Renderer};
//! use synfin::timeline::{Meta, Summary};
//! let mut out = Vec::new();
//! let mut r = JsonlRenderer::default();
//! let meta = Meta { schema: 1, tool: "synfin", version: "0.1.0", source: "replay",
//!                   input: "x.pcap".into(), linktype: "EN10MB".into() };
//! r.start(&meta, &mut out).unwrap();
//! r.finish(&Summary::default(), &mut out).unwrap();
//! assert!(String::from_utf8(out).unwrap().starts_with("{\"type\":\"meta\""));
//! ```

pub mod escape;
pub mod group;
pub mod jsonl;
pub mod ladder;
pub mod mermaid;
pub mod palette;
pub mod summary;
pub mod svg;
pub mod timeline;

use crate::timeline::{Event, Meta, Summary};
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
    /// Elide data segments beyond this many per connection.
    pub max_segments: Option<usize>,
    /// Timeline: log-scale the gaps between events, so that a 60 s TIME_WAIT does not
    /// squash a handshake of microseconds.
    pub log_time: bool,
}

impl Default for RenderOpts {
    fn default() -> Self {
        RenderOpts {
            color: false,
            width: 100,
            payload: false,
            max_segments: None,
            log_time: false,
        }
    }
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
pub(crate) fn call_text(c: &crate::timeline::CallEvent) -> String {
    use crate::timeline::{CallSource, Phase};
    let name = c.call.as_str();
    let mark = match c.source {
        CallSource::Observed => "»",
        CallSource::Inferred => "~",
    };
    let body = match (c.phase, c.result.as_deref()) {
        (Phase::Enter, None) => format!("{name}()"),
        (Phase::Enter, Some(r)) if name == "close" && r.starts_with("RST") => {
            format!("{name}() → RST")
        }
        (Phase::Enter, Some(r)) if r.starts_with("SHUT") => format!("{name}(SHUT_WR)"),
        (Phase::Enter, Some(_)) => format!("{name}()"),
        (Phase::Return, Some("ok")) | (Phase::Return, None) => format!("{name}() returns"),
        (Phase::Return, Some(r)) if r.starts_with('E') => format!("{name}() → {r}"),
        (Phase::Return, Some(r)) => {
            let n = r.split(' ').next().unwrap_or(r);
            format!("{name}() = {n}")
        }
    };
    format!("{mark} {body}")
}

/// A streaming renderer: `start`, then every event in time order, then `finish`.
pub trait Renderer {
    /// Before the first event.
    fn start(&mut self, meta: &Meta, out: &mut dyn Write) -> io::Result<()>;
    /// One event.
    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()>;
    /// After the last event.
    fn finish(&mut self, summary: &Summary, out: &mut dyn Write) -> io::Result<()>;
}
