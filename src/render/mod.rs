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
}

impl Default for RenderOpts {
    fn default() -> Self {
        RenderOpts {
            color: false,
            width: 100,
            payload: false,
            max_segments: None,
        }
    }
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
