//! Groups a time-ordered event stream by connection, so that renderers that draw one
//! connection at a time (the ladder, Mermaid) and verdict filters (`--state`, `--outcome`)
//! get a whole connection once its verdict is known. Memory: the events of open connections.

use super::Renderer;
use crate::events::{ConnId, ConnectionEvent, Event, Meta, Summary};
use crate::filter::ConnFilter;
use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

/// One connection's events, its verdict last.
#[derive(Debug, Clone)]
pub struct ConnGroup {
    /// Events in time order (segments, states, calls, anomalies).
    pub events: Vec<Event>,
    /// The verdict.
    pub verdict: ConnectionEvent,
}

/// Something that renders whole connections.
pub trait GroupRenderer {
    /// Before the first connection.
    fn start(&mut self, meta: &Meta, out: &mut dyn Write) -> io::Result<()>;
    /// One whole connection.
    fn connection(&mut self, group: &ConnGroup, out: &mut dyn Write) -> io::Result<()>;
    /// An event that arrived after its connection's verdict (e.g. TIME_WAIT→CLOSED).
    fn late_event(&mut self, _event: &Event, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
    /// After the last connection.
    fn finish(&mut self, summary: &Summary, out: &mut dyn Write) -> io::Result<()>;
}

/// Adapts a `GroupRenderer` (with a connection filter) to the streaming `Renderer`.
pub struct Grouped<G> {
    inner: G,
    filter: ConnFilter,
    open: HashMap<ConnId, Vec<Event>>,
    /// Connections drawn, for their late events (TIME_WAIT's end); the oldest are forgotten
    /// past `SHOWN_KEPT`, so memory stays bounded however long the input.
    shown: HashSet<ConnId>,
    shown_order: std::collections::VecDeque<ConnId>,
    /// The highest connection id seen: an event of a lower id with no open group belongs to
    /// a connection already judged (a late event), not to a new one.
    max_seen: ConnId,
}

/// How many drawn connections are remembered for their late events.
const SHOWN_KEPT: usize = 1 << 20;

impl<G: GroupRenderer> Grouped<G> {
    /// Group for `inner`, showing only connections that pass `filter`.
    pub fn new(inner: G, filter: ConnFilter) -> Self {
        Grouped {
            inner,
            filter,
            open: HashMap::new(),
            shown: HashSet::new(),
            shown_order: Default::default(),
            max_seen: 0,
        }
    }
}

impl<G: GroupRenderer> Renderer for Grouped<G> {
    fn start(&mut self, meta: &Meta, out: &mut dyn Write) -> io::Result<()> {
        self.inner.start(meta, out)
    }

    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        match event {
            Event::Connection(v) => {
                let events = self.open.remove(&v.conn).unwrap_or_default();
                if self.filter.matches(v) {
                    self.shown.insert(v.conn);
                    self.shown_order.push_back(v.conn);
                    if self.shown_order.len() > SHOWN_KEPT {
                        if let Some(old) = self.shown_order.pop_front() {
                            self.shown.remove(&old);
                        }
                    }
                    let group = ConnGroup {
                        events,
                        verdict: v.clone(),
                    };
                    self.inner.connection(&group, out)?;
                }
                Ok(())
            }
            e if e.conn() <= self.max_seen && !self.open.contains_key(&e.conn()) => {
                if self.shown.contains(&e.conn()) {
                    self.inner.late_event(e, out)
                } else {
                    Ok(()) // a late event of a connection the filter hid
                }
            }
            e => {
                self.max_seen = self.max_seen.max(e.conn());
                self.open.entry(e.conn()).or_default().push(e.clone());
                Ok(())
            }
        }
    }

    fn finish(&mut self, summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
        self.inner.finish(summary, out)
    }
}

/// JSON Lines, but only for connections that pass a verdict filter (grouped by connection).
pub struct FilteredJsonl;

impl GroupRenderer for FilteredJsonl {
    fn start(&mut self, meta: &Meta, out: &mut dyn Write) -> io::Result<()> {
        super::jsonl::JsonlRenderer::default().start(meta, out)
    }
    fn connection(&mut self, g: &ConnGroup, out: &mut dyn Write) -> io::Result<()> {
        let mut j = super::jsonl::JsonlRenderer::default();
        for e in &g.events {
            j.event(e, out)?;
        }
        j.event(&Event::Connection(g.verdict.clone()), out)
    }
    fn late_event(&mut self, e: &Event, out: &mut dyn Write) -> io::Result<()> {
        super::jsonl::JsonlRenderer::default().event(e, out)
    }
    fn finish(&mut self, summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
        super::jsonl::JsonlRenderer::default().finish(summary, out)
    }
}

/// Draws one connection after another with `draw`, a blank line between them; says so when
/// there were none. The ladder and the timeline are this with their own `draw`.
pub struct Stacked {
    opts: super::RenderOpts,
    count: u64,
    draw: DrawFn,
}

/// Draws one whole connection.
pub type DrawFn = fn(&ConnGroup, &super::RenderOpts, &mut dyn Write) -> io::Result<()>;

impl Stacked {
    /// Stack the drawings of `draw` with `opts`.
    pub fn new(opts: super::RenderOpts, draw: DrawFn) -> Self {
        Stacked {
            opts,
            count: 0,
            draw,
        }
    }
}

impl GroupRenderer for Stacked {
    fn start(&mut self, _meta: &Meta, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    fn connection(&mut self, g: &ConnGroup, out: &mut dyn Write) -> io::Result<()> {
        if self.count > 0 {
            writeln!(out)?;
        }
        self.count += 1;
        (self.draw)(g, &self.opts, out)
    }

    fn finish(&mut self, summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
        if self.count == 0 {
            writeln!(out, "no TCP connections ({} frames read)", summary.frames)?;
        }
        Ok(())
    }
}
