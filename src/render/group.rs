//! Groups a time-ordered event stream by connection, so that renderers that draw one
//! connection at a time (the ladder, Mermaid) and verdict filters (`--state`, `--outcome`)
//! get a whole connection once its verdict is known. Connections are handed on in start
//! order (their ids): one that ends before an earlier one waits for it. Memory: the events
//! of open connections, and of at most `MAX_HELD` ended ones waiting for an earlier one (past
//! that the oldest waiting is drawn at once, out of order, so memory stays bounded).

use super::conn_bits::ConnBits;
pub use super::gathered::Gathered;
use super::judged::Judged;
use super::packed::PackedEvents;
use super::Renderer;
use crate::events::{ConnId, ConnectionEvent, Event, Meta, SpentVerdicts, Summary};
use crate::filter::ConnFilter;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::io::{self, Write};

/// One connection's events, its verdict last.
#[derive(Debug, Clone)]
pub struct ConnGroup {
    /// Events in time order (segments, states, calls, anomalies).
    pub events: Vec<Event>,
    /// The verdict (boxed as it comes from the tracker: a group moves on without copying it).
    pub verdict: Box<ConnectionEvent>,
}

/// Something that renders whole connections.
pub trait GroupRenderer {
    /// Before the first connection.
    fn start(&mut self, meta: &Meta, out: &mut dyn Write) -> io::Result<()>;
    /// One whole connection.
    fn connection(&mut self, group: &ConnGroup, out: &mut dyn Write) -> io::Result<()>;
    /// One whole connection, handed over.
    fn connection_owned(&mut self, group: ConnGroup, out: &mut dyn Write) -> io::Result<()> {
        self.connection(&group, out)
    }
    /// One whole connection as it was gathered (a renderer that draws elsewhere puts its
    /// events together there).
    fn connection_gathered(&mut self, g: Gathered, out: &mut dyn Write) -> io::Result<()> {
        self.connection_owned(g.into_group(), out)
    }
    /// An event that arrived after its connection's verdict (e.g. TIME_WAIT→CLOSED).
    fn late_event(&mut self, _event: &Event, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
    /// Does `late_event` do anything? (If not, drawn connections need not be remembered.)
    fn wants_late_events(&self) -> bool {
        false
    }
    /// Does it read a connection's events, or only its verdict? (If only the verdict, the
    /// events are not kept while the connection is open.)
    fn wants_events(&self) -> bool {
        true
    }
    /// No more events for now (live): write what is drawn.
    fn quiet(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
    /// The input is idle (live): write what is being drawn, waiting for it.
    fn settle(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
    /// Verdicts drawn that it kept to hand back (see [`Renderer::take_spent`]).
    fn take_spent(&mut self, _into: &mut SpentVerdicts) {}
    /// After the last connection.
    fn finish(&mut self, summary: &Summary, out: &mut dyn Write) -> io::Result<()>;
}

/// Adapts a `GroupRenderer` (with a connection filter) to the streaming `Renderer`.
pub struct Grouped<G> {
    inner: G,
    filter: ConnFilter,
    /// (Boxed: the table keeps room for more entries than it holds, and a group's working
    /// state is ~150 bytes.)
    open: FxHashMap<ConnId, Box<PackedEvents>>,
    /// Connections drawn, for their late events (TIME_WAIT's end); ids far below the newest
    /// are forgotten, so memory stays bounded however long the input.
    shown: ConnBits,
    /// The lowest connection id whose verdict has not come yet.
    next: ConnId,
    /// Judged connections waiting for an earlier one, by id (in place: most come in order,
    /// at the back, and leave at the front).
    held: VecDeque<(ConnId, Waiting)>,
    /// Ids above `next` judged: waiting in `held`, or handed on early (the bound on `held`
    /// was reached).
    judged: Judged,
    /// Events other than verdicts are read at all ([`GroupRenderer::wants_events`], or late
    /// events wanted); if not, they go no further.
    reads_events: bool,
}

/// A judged connection waiting for an earlier one: its group (None when the filter hid it)
/// and its late events.
type Waiting = (Option<Gathered>, Vec<Event>);

/// Where an event goes that is neither a verdict nor one of an open connection.
enum Route {
    /// Nowhere: no connection, or a late one of a connection the filter hid.
    Drop,
    /// To its connection's late events, waiting with it for an earlier one.
    Held,
    /// To the renderer as a late event of a connection it drew.
    Late,
    /// Into a new group.
    New,
}

/// How many judged connections may wait for an earlier one before the oldest is drawn.
pub const MAX_HELD: usize = 1024;

impl<G: GroupRenderer> Grouped<G> {
    /// Group for `inner`, showing only connections that pass `filter`.
    pub fn new(inner: G, filter: ConnFilter) -> Self {
        Grouped {
            reads_events: inner.wants_events() || inner.wants_late_events(),
            inner,
            filter,
            open: FxHashMap::default(),
            shown: ConnBits::default(),
            next: 1,
            held: VecDeque::new(),
            judged: Judged::default(),
        }
    }

    /// Hand on a judged connection (or note that the filter hid it), with its late events.
    fn emit(
        &mut self,
        group: Option<Gathered>,
        late: Vec<Event>,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        if let Some(g) = group {
            if self.inner.wants_late_events() {
                self.shown.insert(g.verdict().conn);
            }
            self.inner.connection_gathered(g, out)?;
            for e in &late {
                self.inner.late_event(e, out)?;
            }
        }
        Ok(())
    }

    /// What [`Renderer::event_owned`] does with `e`, done by reference where it can be (an
    /// event packed into its group, or one shown or dropped as late); false if `e` must be
    /// handed over (a verdict, a late event that waits, one kept whole), nothing done then.
    fn by_ref(&mut self, e: &Event, out: &mut dyn Write) -> io::Result<bool> {
        if matches!(e, Event::Connection(_)) {
            return Ok(false);
        }
        if !self.reads_events {
            return Ok(true);
        }
        let conn = e.conn();
        if let Some(v) = self.open.get_mut(&conn) {
            return Ok(v.pack(e));
        }
        match self.route(conn) {
            Route::Drop => Ok(true),
            Route::Held => Ok(false),
            Route::Late => self.inner.late_event(e, out).map(|()| true),
            Route::New => Ok(self.open.entry(conn).or_default().pack(e)),
        }
    }

    /// Where an event of connection `conn` goes, other than a verdict and one of an open
    /// connection.
    fn route(&self, conn: ConnId) -> Route {
        if conn == 0 {
            // Calls on no connection (listen()) belong to no drawing.
            Route::Drop
        } else if self.judged(conn) {
            // A late event (ids are judged once each), such as TIME_WAIT's end.
            if self.held_at(conn).is_ok() {
                Route::Held
            } else if self.shown.contains(conn) {
                Route::Late
            } else {
                Route::Drop // of a connection the filter hid
            }
        } else {
            // It starts its group, whatever order the ids come in (an observed connect() can
            // precede an earlier SYN).
            Route::New
        }
    }

    /// Has connection `id`'s verdict come?
    fn judged(&self, id: ConnId) -> bool {
        id < self.next || self.judged.contains(id)
    }

    /// Where connection `id` waits in `held` (or would).
    fn held_at(&self, id: ConnId) -> Result<usize, usize> {
        self.held.binary_search_by_key(&id, |h| h.0)
    }

    /// Connection `id`'s group waits for an earlier one (replacing one that waited already:
    /// a repeated verdict).
    fn hold(&mut self, id: ConnId, w: Waiting) {
        self.judged.insert(id);
        if self.held.back().is_none_or(|h| h.0 < id) {
            self.held.push_back((id, w));
            return;
        }
        match self.held_at(id) {
            Ok(i) => self.held[i].1 = w,
            Err(i) => self.held.insert(i, (id, w)),
        }
    }

    /// Move `next` past what is judged, handing on what waited.
    fn advance(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let done = loop {
            if !self.judged.contains(self.next) {
                break Ok(());
            }
            let id = self.next;
            self.next += 1;
            // Waiting (the lowest held), or handed on early.
            if self.held.front().is_some_and(|h| h.0 == id) {
                let (_, w) = self.held.pop_front().expect("not empty");
                let (g, late) = w;
                if let Err(e) = self.emit(g, late, out) {
                    break Err(e);
                }
            }
        };
        self.judged.forget_below(self.next);
        done
    }
}

/// What is left in a run's place of an event taken out of it: a state change with nothing in
/// it (cheap to write; the run is emptied after, so it is never read).
const TAKEN: Event = {
    use crate::events::{Endpoint, Role, StateEvent, StateSource, TcpState};
    Event::State(StateEvent {
        t: crate::timestamp::Timestamp(0),
        conn: 0,
        endpoint: Endpoint::new(std::net::SocketAddr::V4(std::net::SocketAddrV4::new(
            std::net::Ipv4Addr::UNSPECIFIED,
            0,
        ))),
        role: Role::Client,
        from: TcpState::Closed,
        to: TcpState::Closed,
        frame: None,
        projected: false,
        source: StateSource::Inferred,
    })
};

/// Take `e` out of a run that is emptied after.
fn take_out(e: &mut Event) -> Event {
    std::mem::replace(e, TAKEN)
}

impl<G: GroupRenderer> Renderer for Grouped<G> {
    fn start(&mut self, meta: &Meta, out: &mut dyn Write) -> io::Result<()> {
        self.inner.start(meta, out)
    }

    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        self.event_owned(event.clone(), out)
    }

    fn events_owned(&mut self, events: &mut Vec<Event>, out: &mut dyn Write) -> io::Result<()> {
        // Most events are packed where they lie in the run (an event is ~170 bytes: moving
        // each out and on was a tenth of the tracking thread's time); the others are taken.
        let mut done = Ok(());
        for e in events.iter_mut() {
            done = match self.by_ref(e, out) {
                Ok(true) => Ok(()),
                Ok(false) => self.event_owned(take_out(e), out),
                Err(err) => Err(err),
            };
            if done.is_err() {
                break;
            }
        }
        events.clear();
        done
    }

    fn event_owned(&mut self, event: Event, out: &mut dyn Write) -> io::Result<()> {
        // The common case first: an event of a connection already open (never judged: its
        // group leaves `open` with its verdict; id 0, no connection, is never open).
        if !matches!(event, Event::Connection(_)) {
            if !self.reads_events {
                return Ok(());
            }
            if let Some(v) = self.open.get_mut(&event.conn()) {
                v.push(event);
                return Ok(());
            }
        }
        match event {
            Event::Connection(v) => {
                let mut events = self
                    .open
                    .remove(&v.conn)
                    .map_or_else(Default::default, |b| *b);
                let conn = v.conn;
                let group = self.filter.matches(&v).then(|| {
                    if events.is_sorted() {
                        return Gathered::new(events, v);
                    }
                    // In time order: a live source's traced calls can come a little after the
                    // segments around them (stable: a segment's own changes stay after it).
                    let mut all = events.unpack();
                    all.sort_by_key(Event::t);
                    Gathered::from(ConnGroup {
                        events: all,
                        verdict: v,
                    })
                });
                if conn < self.next || (self.judged.contains(conn) && self.held_at(conn).is_err()) {
                    // Already past (ids not from this tracker, or a repeat): draw it now.
                    return self.emit(group, Vec::new(), out);
                }
                if conn == self.next {
                    // The next in order (as most are): handed on at once.
                    self.next += 1;
                    self.emit(group, Vec::new(), out)?;
                } else {
                    self.hold(conn, (group, Vec::new()));
                }
                self.advance(out)?;
                // Bounded: the oldest waiting connection goes out of order.
                while self.held.len() > MAX_HELD {
                    // (Its id stays judged: handed on early.)
                    let (_, w) = self.held.pop_front().expect("not empty");
                    let (g, late) = w;
                    self.emit(g, late, out)?;
                }
                Ok(())
            }
            e => match self.route(e.conn()) {
                Route::Drop => Ok(()),
                Route::Held => {
                    if let Ok(i) = self.held_at(e.conn()) {
                        let (g, late) = &mut self.held[i].1;
                        if g.is_some() {
                            late.push(e);
                        }
                    }
                    Ok(())
                }
                Route::Late => self.inner.late_event(&e, out),
                Route::New => {
                    self.open.entry(e.conn()).or_default().push(e);
                    Ok(())
                }
            },
        }
    }

    fn quiet(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.inner.quiet(out)
    }

    fn settle(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.inner.settle(out)
    }

    fn take_spent(&mut self, into: &mut SpentVerdicts) {
        self.inner.take_spent(into);
    }

    fn finish(&mut self, summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
        // Whatever still waits (ids that never got a verdict), in id order.
        while let Some((_, w)) = self.held.pop_front() {
            let (g, late) = w;
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
    /// Where the drawings are made when not here, `batch_size` connections a piece: (is it
    /// the first, the connection).
    pieces: Option<Box<dyn super::Pieces<StackedBatch>>>,
    batch: StackedBatch,
    /// Connections a piece: [`STACKED_BATCH`] for a file, one for a live view.
    batch_size: usize,
}

/// Connections to draw, each with whether it is the first.
pub type StackedBatch = Vec<(bool, Gathered)>;

/// Connections per piece handed to `Stacked`'s pieces (one each would cost more in handing
/// over than in drawing).
pub const STACKED_BATCH: usize = 64;

/// Draws one whole connection.
pub type DrawFn = fn(&ConnGroup, &super::RenderOpts, &mut dyn Write) -> io::Result<()>;

impl Stacked {
    /// Stack the drawings of `draw` with `opts`.
    pub fn new(opts: super::RenderOpts, draw: DrawFn) -> Self {
        Stacked {
            opts,
            count: 0,
            draw,
            pieces: None,
            batch: Vec::new(),
            batch_size: STACKED_BATCH,
        }
    }

    /// Have the drawings made by `pieces` (which must draw each as [`Stacked::piece`] does),
    /// [`STACKED_BATCH`] connections at a time (for a file: drawings wait for their batch, so
    /// not for a live view).
    pub fn with_pieces(mut self, pieces: Box<dyn super::Pieces<StackedBatch>>) -> Self {
        self.pieces = Some(pieces);
        self.batch = Vec::with_capacity(STACKED_BATCH);
        self
    }

    /// Have the drawings made by `pieces` one connection at a time, written as soon as they
    /// are drawn (a live view: `quiet` writes what is drawn, `settle` waits for the rest).
    pub fn with_live_pieces(mut self, pieces: Box<dyn super::Pieces<StackedBatch>>) -> Self {
        self.pieces = Some(pieces);
        self.batch_size = 1;
        self
    }

    /// What this renderer draws, and how: its drawing function and options.
    pub fn drawing(&self) -> (DrawFn, super::RenderOpts) {
        (self.draw, self.opts)
    }

    /// One connection's piece of the output: a blank line before all but the first, then its
    /// drawing.
    pub fn piece(
        draw: DrawFn,
        opts: &super::RenderOpts,
        first: bool,
        g: &ConnGroup,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        if !first {
            writeln!(out)?;
        }
        draw(g, opts, out)
    }
}

impl GroupRenderer for Stacked {
    fn start(&mut self, _meta: &Meta, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    fn connection(&mut self, g: &ConnGroup, out: &mut dyn Write) -> io::Result<()> {
        self.connection_owned(g.clone(), out)
    }

    fn connection_owned(&mut self, g: ConnGroup, out: &mut dyn Write) -> io::Result<()> {
        self.connection_gathered(g.into(), out)
    }

    fn connection_gathered(&mut self, mut g: Gathered, out: &mut dyn Write) -> io::Result<()> {
        let first = self.count == 0;
        self.count += 1;
        if self.pieces.is_none() {
            return Self::piece(self.draw, &self.opts, first, g.group(), out);
        }
        self.batch.push((first, g));
        if self.batch.len() >= self.batch_size {
            super::submit_batch(&mut self.pieces, &mut self.batch, self.batch_size, out)?;
        }
        Ok(())
    }

    fn quiet(&mut self, out: &mut dyn Write) -> io::Result<()> {
        match &mut self.pieces {
            // Live (a piece a connection): what is drawn goes out now. A file's batches are
            // taken as the next is handed in (looking after every segment costs time).
            Some(p) if self.batch_size == 1 => p.ready(&mut super::write_to(out)),
            _ => Ok(()),
        }
    }

    fn settle(&mut self, out: &mut dyn Write) -> io::Result<()> {
        super::submit_batch(&mut self.pieces, &mut self.batch, self.batch_size, out)?;
        match &mut self.pieces {
            Some(p) => p.drain(&mut super::write_to(out)),
            None => Ok(()),
        }
    }

    fn finish(&mut self, summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
        super::submit_batch(&mut self.pieces, &mut self.batch, 0, out)?;
        if let Some(p) = &mut self.pieces {
            p.drain(&mut super::write_to(out))?;
        }
        if self.count == 0 {
            writeln!(out, "no TCP connections ({} frames read)", summary.frames)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{AnomalyEvent, AnomalyKind, Endpoint};
    use crate::timestamp::Timestamp;

    /// Records what it is handed: (conn, events).
    #[derive(Default)]
    struct Seen(Vec<(ConnId, usize)>);

    impl GroupRenderer for Seen {
        fn start(&mut self, _: &Meta, _: &mut dyn Write) -> io::Result<()> {
            Ok(())
        }
        fn connection(&mut self, g: &ConnGroup, _: &mut dyn Write) -> io::Result<()> {
            self.0.push((g.verdict.conn, g.events.len()));
            Ok(())
        }
        fn finish(&mut self, _: &Summary, _: &mut dyn Write) -> io::Result<()> {
            Ok(())
        }
    }

    fn anomaly(conn: ConnId, t: i64) -> Event {
        Event::Anomaly(AnomalyEvent {
            t: Timestamp(t),
            conn,
            frame: None,
            kind: AnomalyKind::Duplicate,
            detail: String::new(),
        })
    }

    fn verdict(conn: ConnId, t: i64) -> Event {
        let ep = Endpoint::new("127.0.0.1:1".parse().unwrap());
        Event::Connection(Box::new(ConnectionEvent::open_between(
            conn,
            ep,
            ep,
            Timestamp(t),
        )))
    }

    #[test]
    fn connections_come_in_start_order_and_none_loses_events() {
        let mut g = Grouped::new(Seen::default(), ConnFilter::default());
        let mut out = Vec::new();
        // Connection 2's first event (an observed call) comes before connection 1's; 2 ends
        // first; a call on no connection (0) is ignored.
        for e in [
            anomaly(2, 1),
            anomaly(0, 1),
            anomaly(1, 2),
            anomaly(1, 3),
            verdict(2, 4),
            anomaly(2, 5), // late: after its verdict
            verdict(1, 6),
        ] {
            g.event(&e, &mut out).unwrap();
        }
        g.finish(&Summary::default(), &mut out).unwrap();
        assert_eq!(g.inner.0, [(1, 2), (2, 1)]);
    }

    /// Records connections' ids as drawn, and late events' as `-id`.
    #[derive(Default)]
    struct Ids(Vec<i64>);

    impl GroupRenderer for Ids {
        fn start(&mut self, _: &Meta, _: &mut dyn Write) -> io::Result<()> {
            Ok(())
        }
        fn connection(&mut self, g: &ConnGroup, _: &mut dyn Write) -> io::Result<()> {
            self.0.push(g.verdict.conn as i64);
            for e in &g.events {
                assert_eq!(e.conn(), g.verdict.conn);
            }
            Ok(())
        }
        fn late_event(&mut self, e: &Event, _: &mut dyn Write) -> io::Result<()> {
            self.0.push(-(e.conn() as i64));
            Ok(())
        }
        fn wants_late_events(&self) -> bool {
            true
        }
        fn finish(&mut self, _: &Summary, _: &mut dyn Write) -> io::Result<()> {
            Ok(())
        }
    }

    /// One connection stays open while 1,999 later ones end (pairs out of order): past
    /// `MAX_HELD` waiting, the lowest are drawn early, in id order; a late event of one drawn
    /// early is drawn at once, one of a waiting connection after it; the first connection's
    /// verdict lets the rest go, in order.
    #[test]
    fn past_the_bound_the_lowest_waiting_go_early_in_order() {
        let last: ConnId = 2000;
        let mut g = Grouped::new(Ids::default(), ConnFilter::default());
        let mut out = Vec::new();
        for id in 1..=last {
            g.event(&anomaly(id, 1), &mut out).unwrap();
        }
        for pair in (2..=last).collect::<Vec<_>>().chunks(2) {
            for &id in pair.iter().rev() {
                g.event(&verdict(id, 2), &mut out).unwrap();
            }
        }
        g.event(&anomaly(2, 3), &mut out).unwrap();
        g.event(&anomaly(last, 3), &mut out).unwrap();
        g.event(&anomaly(last + 1, 3), &mut out).unwrap(); // opens a group, never judged
        g.event(&verdict(1, 4), &mut out).unwrap();
        g.finish(&Summary::default(), &mut out).unwrap();
        let early = (last - MAX_HELD as u64) as i64;
        let mut want: Vec<i64> = (2..=early).collect();
        want.push(-2);
        want.push(1);
        want.extend(early + 1..=last as i64);
        want.push(-(last as i64));
        assert_eq!(g.inner.0, want);
        assert!(g.held.is_empty());
        // Every id up to the last judged is behind `next` now, none kept above it.
        assert_eq!(g.next, last + 1);
        assert!(!g.judged(last + 1));
    }

    /// Reads verdicts only.
    #[derive(Default)]
    struct Verdicts(Seen);

    impl GroupRenderer for Verdicts {
        fn start(&mut self, m: &Meta, out: &mut dyn Write) -> io::Result<()> {
            self.0.start(m, out)
        }
        fn connection(&mut self, g: &ConnGroup, out: &mut dyn Write) -> io::Result<()> {
            self.0.connection(g, out)
        }
        fn finish(&mut self, s: &Summary, out: &mut dyn Write) -> io::Result<()> {
            self.0.finish(s, out)
        }
        fn wants_events(&self) -> bool {
            false
        }
    }

    /// A renderer of verdicts alone gets the same connections in the same order, with none
    /// of their events kept (a summary of a long capture holds no events).
    #[test]
    fn verdicts_alone_come_in_the_same_order_without_events() {
        let script = [
            anomaly(2, 1),
            anomaly(1, 2),
            verdict(2, 4),
            anomaly(2, 5),
            anomaly(3, 5),
            verdict(1, 6),
            verdict(3, 7),
        ];
        let mut all = Grouped::new(Seen::default(), ConnFilter::default());
        let mut only = Grouped::new(Verdicts::default(), ConnFilter::default());
        let mut out = Vec::new();
        for e in &script {
            all.event(e, &mut out).unwrap();
        }
        let mut run = script.to_vec();
        only.events_owned(&mut run, &mut out).unwrap();
        assert!(only.open.is_empty());
        all.finish(&Summary::default(), &mut out).unwrap();
        only.finish(&Summary::default(), &mut out).unwrap();
        assert_eq!(all.inner.0, [(1, 1), (2, 1), (3, 1)]);
        assert_eq!(only.inner.0 .0, [(1, 0), (2, 0), (3, 0)]);
    }

    /// Records every group whole (its verdict's id and its events) and every late event.
    #[derive(Default)]
    struct Recorder(Vec<String>);

    impl GroupRenderer for Recorder {
        fn start(&mut self, _: &Meta, _: &mut dyn Write) -> io::Result<()> {
            Ok(())
        }
        fn connection(&mut self, g: &ConnGroup, _: &mut dyn Write) -> io::Result<()> {
            self.0.push(format!("{} {:?}", g.verdict.conn, g.events));
            Ok(())
        }
        fn late_event(&mut self, e: &Event, _: &mut dyn Write) -> io::Result<()> {
            self.0.push(format!("late {e:?}"));
            Ok(())
        }
        fn wants_late_events(&self) -> bool {
            true
        }
        fn finish(&mut self, _: &Summary, _: &mut dyn Write) -> io::Result<()> {
            Ok(())
        }
    }

    fn segment(conn: ConnId, t: i64) -> Event {
        use crate::events::{Dir, SegmentEvent};
        use crate::segment::{PayloadPrefix, TcpFlags, TcpOptions};
        let ep = Endpoint::new("127.0.0.1:1".parse().unwrap());
        Event::Segment(SegmentEvent {
            frame: t as u64,
            t: Timestamp(t),
            conn,
            src: ep,
            dst: ep,
            dir: Dir::C2s,
            flags: TcpFlags(TcpFlags::ACK),
            seq: 1,
            ack: 1,
            seq_raw: 7,
            ack_raw: 9,
            len: t as u32,
            win: 512,
            options: TcpOptions::default(),
            notes: Default::default(),
            payload: PayloadPrefix::default(),
        })
    }

    proptest::proptest! {
        /// A run of events handed over at once (packed where they lie) is grouped as the same
        /// events one at a time: groups, their events and late events alike, whatever the
        /// runs' lengths.
        #[test]
        fn runs_are_grouped_as_events_one_at_a_time(
            script in proptest::collection::vec((0u8..4, 0u64..5, 0i64..50), 0..60),
            cuts in proptest::collection::vec(1usize..8, 1..20),
        ) {
            let events: Vec<Event> = script
                .iter()
                .enumerate()
                .map(|(i, &(kind, conn, t))| match kind {
                    0 | 1 => segment(conn, t),
                    2 => anomaly(conn, t),
                    _ => verdict(conn.max(1), i as i64),
                })
                .collect();
            let mut one = Grouped::new(Recorder::default(), ConnFilter::default());
            let mut out = Vec::new();
            for e in &events {
                one.event_owned(e.clone(), &mut out).unwrap();
            }
            one.finish(&Summary::default(), &mut out).unwrap();
            let mut runs = Grouped::new(Recorder::default(), ConnFilter::default());
            let mut rest = events.as_slice();
            for n in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (run, after) = rest.split_at((*n).min(rest.len()));
                let mut run = run.to_vec();
                runs.events_owned(&mut run, &mut out).unwrap();
                proptest::prop_assert!(run.is_empty());
                rest = after;
            }
            runs.finish(&Summary::default(), &mut out).unwrap();
            proptest::prop_assert_eq!(&runs.inner.0, &one.inner.0);
        }
    }
}
