//! The one layout of a connection's picture, computed once from its events and drawn by the
//! ladder, the SVG, Mermaid and the timeline alike: the two sides (endpoint, role, first
//! state), then rows in time order.
//!
//! * A **segment row** carries each side's state changes after that segment.
//! * A **call row** carries one socket call, on the side that made it.
//! * An **elision row** (`--max-segments`) stands for the hidden middle of the segments and
//!   carries the state changes that happened inside it, so that no state is ever drawn on
//!   another segment's row; the calls and anomalies of the hidden stretch are hidden with it.
//! * A **states row** carries state changes no segment caused (timers).
//! * Any row may carry "why" lines: an anomaly (`! retransmission: …`) under the segment it
//!   concerns, or the cause of a failed call (`why: RST answers the SYN: …`) under the call.
//!
//! State changes are placed in the order the tracker reports them: each goes to the row of
//! the last segment before it (a segment's own changes follow it; crossed FINs or SYNs put a
//! change after the later segment, so that each side's states still read in order).
//!
//! Which side a state change belongs to is the event's role (client left, server right); a
//! self-connected socket (client and server the same address) is one socket, and its changes
//! are drawn on both sides. Which side a call belongs to is its endpoint.
//!
//! How each segment travelled ([`Travel`]) is read from the same events, so that every
//! picture can say it (the SVG slopes its arrows on a time axis; the ladder, which cannot
//! slope, marks the rows):
//!
//! * **Arrival**: a segment reaches its receiver when the receiver's first state change that
//!   names the segment's frame happens. The tracker dates a crossed SYN or FIN (one sent
//!   while the peer's own was in flight) at the moment it learnt of the crossing, later than
//!   the segment's capture, and reports the change after the segment that crossed it; such
//!   a segment has an [`Arrival`] (its time, and the row its change went to). Every other
//!   segment arrives at the instant it was captured (the drawings keep it level).
//! * **Crossed**: two segments in opposite directions cross when one is sent while the
//!   other is in flight: sent after it, on or before the row of its arrival.
//! * **Lost** (never got), decided conservatively: a SYN or FIN that its sender sent again
//!   (a later segment from the same side with the same flag and sequence number, noted as a
//!   retransmission) while nothing the receiver sent in between acknowledged it or reset the
//!   connection. From one vantage point a lost ACK looks the same; a SYN that a full backlog
//!   dropped counts (its receiver's TCP never took it). The tracker names the first copy as
//!   the one that changed the receiver's state (it keeps the first copy in flight); that
//!   change is moved to the row of the copy that got through, when the receiver's states
//!   still read in order. Data segments are never called lost.
//!
//! The words are shared too: [`segment_text`], [`super::call_text`], [`states_text`],
//! [`elided_text`], [`travel_mark`], and the why lines built here.

use super::escape::preview;
use super::group::ConnGroup;
use crate::events::{
    CallEvent, CallResult, ConnectionEvent, Dir, Endpoint, Errno, Event, Note, Outcome, Phase,
    Role, SegmentEvent, StateEvent, TcpState,
};
use crate::segment::TcpFlags;
use crate::timestamp::Timestamp;
use smallvec::SmallVec;
use std::fmt::Write as _;

/// The left column (the client).
pub const LEFT: usize = 0;
/// The right column (the server).
pub const RIGHT: usize = 1;

/// One side (column) of the picture.
#[derive(Debug, Clone)]
pub struct Side {
    /// Its address.
    pub endpoint: Endpoint,
    /// What to call it: `client`, `server`, or `active` (simultaneous open).
    pub role: &'static str,
    /// Its state before the first change (or all along, if it never changed).
    pub initial: TcpState,
    /// It never had a socket: the server of a refused connect.
    pub no_socket: bool,
    /// The process that holds it (`python3[4242]`), when traced calls named one.
    pub owner: Option<String>,
}

/// A state entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateMark {
    /// The state left.
    pub from: TcpState,
    /// The state entered.
    pub to: TcpState,
    /// When.
    pub t: Timestamp,
    /// The segment that caused it, as the tracker names it (none for a timer's change).
    pub frame: Option<u64>,
}

/// When a segment reached its receiver, if later than its capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// The time of the receiver's state change that the segment caused.
    pub t: Timestamp,
    /// The row that change is on (after the segment's own row, for a crossed segment).
    pub row: usize,
}

/// How a segment travelled, as far as the events tell (see the module's notes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Travel {
    /// It arrived later than it was captured (otherwise: at the instant of its capture).
    pub arrival: Option<Arrival>,
    /// It never reached its receiver: the frame of the copy its sender sent again.
    pub lost: Option<u64>,
    /// The frames of the segments it crossed in flight (in the other direction).
    pub crossed: Vec<u64>,
}

/// What a row shows (besides state changes and why lines).
#[derive(Debug, Clone, Copy)]
pub enum RowKind<'a> {
    /// The first row: each side's initial state ([`Layout::start_text`]).
    Start,
    /// An arrow.
    Segment(&'a SegmentEvent),
    /// A socket call, beside `side`.
    Call {
        /// `LEFT` or `RIGHT`.
        side: usize,
        /// The call.
        call: &'a CallEvent,
    },
    /// Segments hidden by `--max-segments`.
    Elided {
        /// How many.
        segments: usize,
        /// The first hidden segment's time.
        first: Timestamp,
        /// The last one's.
        last: Timestamp,
    },
    /// State changes no segment caused.
    States,
}

/// A line of explanation under a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Why {
    /// When, for drawings that show it (an anomaly's time).
    pub t: Option<Timestamp>,
    /// The words.
    pub text: String,
}

/// One row of the picture.
#[derive(Debug, Clone)]
pub struct Row<'a> {
    /// Its time, if it shows one.
    pub t: Option<Timestamp>,
    /// What it shows.
    pub kind: RowKind<'a>,
    /// The states each side (`LEFT`, `RIGHT`) entered at this row, in order (rarely more
    /// than two: held in the row).
    pub states: [SmallVec<[StateMark; 2]>; 2],
    /// Explanations under it.
    pub why: Vec<Why>,
    /// A segment row's journey (default for every other row).
    pub travel: Travel,
}

impl<'a> Row<'a> {
    fn new(t: Option<Timestamp>, kind: RowKind<'a>) -> Self {
        Row {
            t,
            kind,
            states: [SmallVec::new(), SmallVec::new()],
            why: Vec::new(),
            travel: Travel::default(),
        }
    }
}

/// One connection, laid out.
#[derive(Debug, Clone)]
pub struct Layout<'a> {
    /// The verdict.
    pub verdict: &'a ConnectionEvent,
    /// Left (client) and right (server).
    pub sides: [Side; 2],
    /// The rows, `RowKind::Start` first.
    pub rows: Vec<Row<'a>>,
}

impl<'a> Layout<'a> {
    /// Lay out one connection, hiding the middle segments beyond `max_segments`
    /// ([`hidden_segments`]).
    pub fn new(g: &'a ConnGroup, max_segments: Option<usize>) -> Layout<'a> {
        let v = &g.verdict;
        let self_connect = v.client == v.server;
        let sides_of = |s: &StateEvent| -> &'static [usize] {
            if self_connect {
                &[LEFT, RIGHT]
            } else if s.role == Role::Client {
                &[LEFT]
            } else {
                &[RIGHT]
            }
        };
        let names = role_names(v);
        let side = |i: usize, endpoint: Endpoint| {
            let first = g.events.iter().find_map(|e| match e {
                Event::State(s) if sides_of(s).contains(&i) => Some(s.from),
                _ => None,
            });
            Side {
                endpoint,
                role: names[i],
                initial: first
                    .or_else(|| final_state(v, endpoint))
                    .unwrap_or(TcpState::Unknown),
                no_socket: v.outcome == Outcome::Refused && first.is_none(),
                owner: g.events.iter().find_map(|e| match e {
                    Event::Call(c) if c.endpoint == endpoint => c.owner.as_ref().map(|o| {
                        // The process: its threads' calls are the rows'.
                        let mut o = o.clone();
                        o.tid = o.pid;
                        o.to_string()
                    }),
                    _ => None,
                }),
            }
        };
        let sides = [side(LEFT, v.client), side(RIGHT, v.server)];

        let hide = hidden_segments(&g.events, max_segments);
        // At most a row per event, and the start row: one allocation.
        let mut rows = Vec::with_capacity(g.events.len() + 1);
        rows.push(Row::new(None, RowKind::Start));
        // The row that takes state changes and anomalies: the last segment's (or the
        // elision row, inside the hidden stretch).
        let mut place: Option<usize> = None;
        let mut eliding = false;
        let mut elision: Option<usize> = None;
        let mut seg_no = 0;
        // Where each state change caused by a segment went: (frame, side, time, row).
        let caused = g
            .events
            .iter()
            .filter(|e| matches!(e, Event::State(s) if s.frame.is_some()));
        let mut placed: Vec<(u64, usize, Timestamp, usize)> =
            Vec::with_capacity(caused.count() * if self_connect { 2 } else { 1 });
        for e in &g.events {
            match e {
                Event::Segment(s) => {
                    seg_no += 1;
                    eliding = hide.contains(&seg_no);
                    if !eliding {
                        rows.push(Row::new(Some(s.t), RowKind::Segment(s)));
                        place = Some(rows.len() - 1);
                        continue;
                    }
                    let i = *elision.get_or_insert_with(|| {
                        let kind = RowKind::Elided {
                            segments: 0,
                            first: s.t,
                            last: s.t,
                        };
                        rows.push(Row::new(None, kind));
                        rows.len() - 1
                    });
                    if let RowKind::Elided { segments, last, .. } = &mut rows[i].kind {
                        *segments += 1;
                        *last = s.t;
                    }
                    place = Some(i);
                }
                Event::State(st) => {
                    let i = match place {
                        Some(p) if st.frame.is_some() || eliding => p,
                        _ => {
                            // A timer's change (or one before any segment): its own row,
                            // shared by changes at the same moment.
                            let last = rows.len() - 1;
                            if !matches!(rows[last].kind, RowKind::States) {
                                rows.push(Row::new(Some(st.t), RowKind::States));
                            }
                            rows.len() - 1
                        }
                    };
                    let mark = StateMark {
                        from: st.from,
                        to: st.to,
                        t: st.t,
                        frame: st.frame,
                    };
                    for &s in sides_of(st) {
                        rows[i].states[s].push(mark);
                        if let Some(f) = st.frame {
                            placed.push((f, s, st.t, i));
                        }
                    }
                }
                Event::Call(_) | Event::Anomaly(_) if eliding => {}
                Event::Call(c) => {
                    let side = if c.endpoint == v.client { LEFT } else { RIGHT };
                    let mut row = Row::new(Some(c.t), RowKind::Call { side, call: c });
                    // Once per connection: an observed call and its inferred twin say it once.
                    if let Some(text) = call_why(c, v) {
                        let said = rows.iter().any(|r| r.why.iter().any(|w| w.text == text));
                        if !said {
                            row.why.push(Why { t: None, text });
                        }
                    }
                    rows.push(row);
                }
                Event::Anomaly(a) => {
                    let i = place.unwrap_or(rows.len() - 1);
                    rows[i].why.push(Why {
                        t: Some(a.t),
                        text: format!("! {}: {}", a.kind.as_str(), a.detail),
                    });
                }
                Event::Connection(_) => {}
            }
        }
        travel(&mut rows, &g.events, &placed, self_connect);
        Layout {
            verdict: v,
            sides,
            rows,
        }
    }

    /// A side's first words: its initial state, or `(no socket)`.
    pub fn start_text(&self, side: usize) -> &'static str {
        let s = &self.sides[side];
        if s.no_socket {
            "(no socket)"
        } else {
            s.initial.name()
        }
    }

    /// A side's last words: its final state (TIME_WAIT with its end: `TIME_WAIT→+60.0s`),
    /// or `(no socket)`.
    pub fn end_text(&self, side: usize) -> String {
        let mut out = String::new();
        self.push_end_text(&mut out, side);
        out
    }

    /// [`Layout::end_text`], appended to `out`.
    pub fn push_end_text(&self, out: &mut String, side: usize) {
        let s = &self.sides[side];
        if s.no_socket {
            out.push_str("(no socket)");
        } else {
            push_final_text(out, self.verdict, s.endpoint);
        }
    }

    /// A side's state at the end, as the verdict gives it.
    pub fn final_state(&self, side: usize) -> Option<TcpState> {
        final_state(self.verdict, self.sides[side].endpoint)
    }

    /// `7 segs, 5+5 bytes, handshake 0.053 ms`: the totals on the final row.
    pub fn totals(&self) -> String {
        let mut s = String::new();
        self.push_totals(&mut s);
        s
    }

    /// [`Layout::totals`], appended to `s`.
    pub fn push_totals(&self, s: &mut String) {
        let v = self.verdict;
        let _ = write!(
            s,
            "{} segs, {}+{} bytes",
            v.packets[0] + v.packets[1],
            v.bytes[0],
            v.bytes[1]
        );
        if let Some(r) = v.handshake_rtt_ms {
            let _ = write!(s, ", handshake {r:.3} ms");
        }
    }
}

/// The legend under a ladder or SVG drawing.
pub const LEGEND: &str = "calls: » observed, ~ inferred from packets; states are each side's \
     after the segment; TIME_WAIT Ns: how long it lasts once entered";

/// The legend in lines of at most `width` columns, broken after its `;`s, each line ended
/// with a newline; a part wider than the width is cut to it, on a line of its own.
pub fn push_legend(out: &mut String, width: usize) {
    // Columns of the line being written (none before the first).
    let mut line: Option<usize> = None;
    for part in LEGEND.split_inclusive("; ") {
        let part = part.trim_end();
        let n = part.chars().count();
        match line {
            Some(c) if c + 1 + n <= width => {
                out.push(' ');
                out.push_str(part);
                line = Some(c + 1 + n);
            }
            _ => {
                if line.is_some() {
                    out.push('\n');
                }
                if n <= width {
                    out.push_str(part);
                } else {
                    out.push_str(&super::fit(part, width));
                }
                line = Some(n);
            }
        }
    }
    if line.is_some() {
        out.push('\n');
    }
}

/// Why a call failed, in words, for the calls that an RST ends (observed or inferred).
fn call_why(c: &CallEvent, v: &ConnectionEvent) -> Option<String> {
    match (c.phase, c.result) {
        (Phase::Return, Some(CallResult::Errno(Errno::ECONNREFUSED))) if v.server_listened => {
            Some(format!(
                "why: RST answers the SYN: {} answered SYNs earlier, so its listener has \
                 closed since (or, with tcp_abort_on_overflow, its accept queue was full) → \
                 ECONNREFUSED",
                v.server
            ))
        }
        (Phase::Return, Some(CallResult::Errno(Errno::ECONNREFUSED))) => Some(format!(
            "why: RST answers the SYN: nothing listens on {} → ECONNREFUSED",
            v.server
        )),
        (Phase::Return, Some(CallResult::Errno(Errno::ECONNRESET))) => Some(
            "why: the peer reset the connection (close() with SO_LINGER 0, or with unread data)"
                .to_string(),
        ),
        _ => None,
    }
}

/// The receiving side (column) of a segment.
pub fn receiver(s: &SegmentEvent) -> usize {
    match s.dir {
        Dir::C2s => RIGHT,
        Dir::S2c => LEFT,
    }
}

/// Fill in each segment row's [`Travel`] (arrival, crossings, loss), and move a lost copy's
/// state changes to the row of the copy that got through.
fn travel(
    rows: &mut [Row],
    events: &[Event],
    placed: &[(u64, usize, Timestamp, usize)],
    self_connect: bool,
) {
    fn segment(e: &Event) -> Option<&SegmentEvent> {
        match e {
            Event::Segment(s) => Some(s),
            _ => None,
        }
    }
    let row_of = |rows: &[Row], frame: u64| {
        rows.iter()
            .position(|r| matches!(r.kind, RowKind::Segment(s) if s.frame == frame))
    };
    // Lost copies, from every segment (hidden ones too: they are evidence).
    let mut lost: Vec<(u64, u64)> = Vec::new();
    if !self_connect {
        for (k, e) in events.iter().enumerate() {
            let Some(a) = segment(e) else { continue };
            if let Some(again) = sent_again_unacked(a, events[k + 1..].iter().filter_map(segment)) {
                lost.push((a.frame, again));
            }
        }
    }
    for (i, row) in rows.iter_mut().enumerate() {
        let RowKind::Segment(s) = row.kind else {
            continue;
        };
        let rx = receiver(s);
        let t = &mut row.travel;
        t.lost = lost.iter().find(|l| l.0 == s.frame).map(|l| l.1);
        if t.lost.is_some() {
            continue;
        }
        t.arrival = placed
            .iter()
            .find(|p| p.0 == s.frame && p.1 == rx)
            .filter(|p| p.2 > s.t && p.3 >= i)
            .map(|p| Arrival { t: p.2, row: p.3 });
    }
    // Crossings: B sent while A was in flight, the other way.
    for i in 0..rows.len() {
        let (RowKind::Segment(a), Some(arr)) = (rows[i].kind, rows[i].travel.arrival) else {
            continue;
        };
        for j in i + 1..=arr.row.min(rows.len() - 1) {
            let RowKind::Segment(b) = rows[j].kind else {
                continue;
            };
            if b.dir != a.dir && rows[j].travel.lost.is_none() {
                rows[i].travel.crossed.push(b.frame);
                rows[j].travel.crossed.push(a.frame);
            }
        }
    }
    for r in rows.iter_mut() {
        r.travel.crossed.sort_unstable();
        r.travel.crossed.dedup();
    }
    // A lost copy's state changes belong to the copy that got through (the last one sent
    // again), when nothing of that side happens between the two rows.
    for &(first, _) in &lost {
        let seg = events.iter().filter_map(segment).find(|s| s.frame == first);
        let (Some(from), Some(seg)) = (row_of(rows, first), seg) else {
            continue;
        };
        let mut through = first;
        while let Some(&(_, next)) = lost.iter().find(|l| l.0 == through) {
            through = next;
        }
        let Some(to) = row_of(rows, through).filter(|&to| to > from) else {
            continue;
        };
        let rx = receiver(seg);
        let moving: Vec<StateMark> = rows[from].states[rx]
            .iter()
            .filter(|m| m.frame == Some(first))
            .copied()
            .collect();
        let between_quiet = rows[from + 1..to].iter().all(|r| r.states[rx].is_empty());
        let last_of_row = rows[from].states[rx]
            .iter()
            .rev()
            .take(moving.len())
            .all(|m| m.frame == Some(first));
        if moving.is_empty() || !between_quiet || !last_of_row {
            continue;
        }
        rows[from].states[rx].retain(|m| m.frame != Some(first));
        rows[to].states[rx].insert_many(0, moving);
    }
}

/// The frame of the copy that `a` (a SYN or FIN) was sent again as, if nothing its receiver
/// sent before that acknowledged `a` or reset the connection.
fn sent_again_unacked<'e>(
    a: &SegmentEvent,
    later: impl Iterator<Item = &'e SegmentEvent>,
) -> Option<u64> {
    if !(a.flags.syn() || a.flags.fin()) {
        return None;
    }
    let end = a
        .seq
        .wrapping_add(a.len)
        .wrapping_add(u32::from(a.flags.syn()) + u32::from(a.flags.fin()));
    for b in later {
        if b.dir == a.dir {
            let again = b.seq == a.seq
                && b.flags.syn() == a.flags.syn()
                && b.flags.fin() == a.flags.fin()
                && b.notes.contains(Note::Retransmission);
            if again {
                return Some(b.frame);
            }
        } else if b.flags.rst() || (b.flags.ack() && b.ack.wrapping_sub(end) as i32 >= 0) {
            return None;
        }
    }
    None
}

/// The mark a segment's row carries for its journey: `⤫ crossed`, `✗ lost`.
pub fn travel_mark(t: &Travel) -> Option<&'static str> {
    if t.lost.is_some() {
        Some(LOST_MARK)
    } else if !t.crossed.is_empty() {
        Some(CROSSED_MARK)
    } else {
        None
    }
}

/// Beside a segment that crossed another in flight.
pub const CROSSED_MARK: &str = "⤫ crossed";
/// Beside a copy of a SYN or FIN that never got through (its sender sent it again, nothing
/// acknowledged it in between).
pub const LOST_MARK: &str = "✗ lost";

/// States entered, in order: `FIN_WAIT_2 → TIME_WAIT`.
pub fn states_text(states: &[StateMark]) -> String {
    let mut s = String::with_capacity(32);
    write_states_text(&mut s, states);
    s
}

/// [`states_text`], appended to `out`.
pub fn write_states_text(out: &mut String, states: &[StateMark]) {
    for (i, m) in states.iter().enumerate() {
        if i > 0 {
            out.push_str(" → ");
        }
        out.push_str(m.to.name());
    }
}

/// An elision row's words: `… 8 segments elided …`.
pub fn elided_text(segments: usize) -> String {
    let s = if segments == 1 { "" } else { "s" };
    format!("… {segments} segment{s} elided …")
}

/// The label on a segment's arrow: `SYN seq=0`, `PSH,ACK seq=1 ack=1 len=5 "hello"`.
pub fn segment_label(s: &SegmentEvent, payload: bool) -> String {
    let mut l = String::new();
    write_segment_label(&mut l, s, payload);
    l
}

/// [`segment_label`], appended to `out`.
pub fn write_segment_label(out: &mut String, s: &SegmentEvent, payload: bool) {
    let mut num = itoa::Buffer::new();
    write_flags(out, s.flags);
    out.push_str(" seq=");
    out.push_str(num.format(s.seq));
    if s.flags.ack() {
        out.push_str(" ack=");
        out.push_str(num.format(s.ack));
    }
    if s.len > 0 {
        out.push_str(" len=");
        out.push_str(num.format(s.len));
        if payload {
            out.push(' ');
            out.push_str(&preview(s.payload.as_bytes(), s.len));
        }
    }
}

/// `TcpFlags`' `Display` (`SYN,ACK`, `PSH,ACK`, `none`), appended without a formatter.
fn write_flags(out: &mut String, flags: TcpFlags) {
    let mut first = true;
    for name in flags.shown() {
        if !first {
            out.push(',');
        }
        out.push_str(name);
        first = false;
    }
    if first {
        out.push_str("none");
    }
}

/// The label with the segment's notes: `SYN seq=0 [retransmission]`.
pub fn segment_text(s: &SegmentEvent, payload: bool) -> String {
    // Room for a label with its numbers (`PSH,ACK seq=4294967295 ack=… len=…`) at once.
    let mut l = String::with_capacity(64);
    write_segment_text(&mut l, s, payload);
    l
}

/// [`segment_text`], appended to `out`.
pub fn write_segment_text(out: &mut String, s: &SegmentEvent, payload: bool) {
    write_segment_label(out, s, payload);
    for (i, n) in s.notes.iter().enumerate() {
        out.push_str(if i == 0 { " [" } else { "," });
        out.push_str(n.as_str());
    }
    if !s.notes.is_empty() {
        out.push(']');
    }
}

/// Endpoint `ep`'s state at the end, as the verdict gives it.
pub(crate) fn final_state(v: &ConnectionEvent, ep: Endpoint) -> Option<TcpState> {
    v.final_states.0.iter().find(|(e, _)| *e == ep).map(|x| x.1)
}

/// Endpoint `ep`'s final state as the drawings end on it: its name, and for TIME_WAIT how
/// long it lasts from entering it (`TIME_WAIT 60.0s`: Linux's 60 s, or `--time-wait`).
pub(crate) fn push_final_text(out: &mut String, v: &ConnectionEvent, ep: Endpoint) {
    let st = final_state(v, ep).unwrap_or(TcpState::Unknown);
    match (st, v.time_wait_since, v.time_wait_until) {
        (TcpState::TimeWait, Some(since), Some(until)) => {
            let _ = write!(out, "TIME_WAIT {:.1}s", until.since(since) as f64 / 1e9);
        }
        _ => out.push_str(st.name()),
    }
}

/// What to call the two sides: `client` and `server`, or `active` twice when both sent a
/// SYN (a simultaneous open: no one listened).
pub(crate) fn role_names(v: &ConnectionEvent) -> [&'static str; 2] {
    if v.simultaneous_open {
        ["active", "active"]
    } else {
        ["client", "server"]
    }
}

/// `--max-segments`: the 1-based segment numbers to hide (elide) in a connection: the
/// middle, keeping the first `max / 2` and the last `max - max / 2`. Empty when nothing is
/// elided; with `max` 0, every segment.
pub fn hidden_segments(events: &[Event], max: Option<usize>) -> std::ops::RangeInclusive<usize> {
    let total = events
        .iter()
        .filter(|e| matches!(e, Event::Segment(_)))
        .count();
    match max {
        Some(m) if total > m => (m / 2 + 1)..=(total - (m - m / 2)),
        #[allow(clippy::reversed_empty_ranges)]
        _ => 1..=0,
    }
}
