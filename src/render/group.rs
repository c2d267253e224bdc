//! Groups a time-ordered event stream by connection, so that renderers that draw one
//! connection at a time (the ladder, Mermaid) and verdict filters (`--state`, `--outcome`)
//! get a whole connection once its verdict is known. Connections are handed on in start
//! order (their ids): one that ends before an earlier one waits for it. Memory: the events
//! of open connections, and of at most `MAX_HELD` ended ones waiting for an earlier one (past
//! that the oldest waiting is drawn at once, out of order, so memory stays bounded).

use super::Renderer;
use crate::events::{ConnId, ConnectionEvent, Event, Meta, Summary};
use crate::filter::ConnFilter;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
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
    /// Does `late_event` do anything? (If not, drawn connections need not be remembered.)
    fn wants_late_events(&self) -> bool {
        false
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
    /// The lowest connection id whose verdict has not come yet.
    next: ConnId,
    /// Judged connections waiting for an earlier one: the group (None when the filter hid
    /// it) and its late events.
    held: BTreeMap<ConnId, (Option<ConnGroup>, Vec<Event>)>,
    /// Ids above `next` already handed on early (the bound on `held` was reached).
    early: BTreeSet<ConnId>,
}

/// How many judged connections may wait for an earlier one before the oldest is drawn.
pub const MAX_HELD: usize = 1024;

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
            next: 1,
            held: BTreeMap::new(),
            early: BTreeSet::new(),
        }
    }

    /// Hand on a judged connection (or note that the filter hid it), with its late events.
    fn emit(
        &mut self,
        group: Option<ConnGroup>,
        late: Vec<Event>,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        if let Some(g) = group {
            if self.inner.wants_late_events() {
                self.shown.insert(g.verdict.conn);
                self.shown_order.push_back(g.verdict.conn);
                if self.shown_order.len() > SHOWN_KEPT {
                    if let Some(old) = self.shown_order.pop_front() {
                        self.shown.remove(&old);
                    }
                }
            }
            self.inner.connection(&g, out)?;
            for e in &late {
                self.inner.late_event(e, out)?;
            }
        }
        Ok(())
    }

    /// Move `next` past what is judged, handing on what waited.
    fn advance(&mut self, out: &mut dyn Write) -> io::Result<()> {
        loop {
            if self.early.remove(&self.next) {
                self.next += 1;
            } else if let Some((g, late)) = self.held.remove(&self.next) {
                self.next += 1;
                self.emit(g, late, out)?;
            } else {
                return Ok(());
            }
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
                let group = self.filter.matches(v).then(|| ConnGroup {
                    events,
                    verdict: v.clone(),
                });
                if v.conn < self.next || self.early.contains(&v.conn) {
                    // Already past (ids not from this tracker, or a repeat): draw it now.
                    return self.emit(group, Vec::new(), out);
                }
                self.held.insert(v.conn, (group, Vec::new()));
                self.advance(out)?;
                // Bounded: the oldest waiting connection goes out of order.
                while self.held.len() > MAX_HELD {
                    let (id, (g, late)) = self.held.pop_first().expect("not empty");
                    self.early.insert(id);
                    self.emit(g, late, out)?;
                }
                Ok(())
            }
            e if e.conn() <= self.max_seen && !self.open.contains_key(&e.conn()) => {
                if let Some((g, late)) = self.held.get_mut(&e.conn()) {
                    if g.is_some() {
                        late.push(e.clone());
                    }
                    Ok(())
                } else if self.shown.contains(&e.conn()) {
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
        // Whatever still waits (ids that never got a verdict), in id order.
        while let Some((_, (g, late))) = self.held.pop_first() {
            self.emit(g, late, out)?;
        }
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
    fn wants_late_events(&self) -> bool {
        true
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
