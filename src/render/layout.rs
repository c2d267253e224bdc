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
//! The words are shared too: [`segment_text`], [`super::call_text`], [`states_text`],
//! [`elided_text`], and the why lines built here.

use super::escape::preview;
use super::group::ConnGroup;
use crate::events::{
    CallEvent, CallResult, ConnectionEvent, Endpoint, Errno, Event, Outcome, Phase, Role,
    SegmentEvent, StateEvent, TcpState,
};
use crate::timestamp::Timestamp;
use std::borrow::Cow;
use std::fmt::Write as _;

/// The left column (the client).
pub const LEFT: usize = 0;
/// The right column (the server).
pub const RIGHT: usize = 1;

/// One side (column) of the picture.
#[derive(Debug, Clone, Copy)]
pub struct Side {
    /// Its address.
    pub endpoint: Endpoint,
    /// What to call it: `client`, `server`, or `active` (simultaneous open).
    pub role: &'static str,
    /// Its state before the first change (or all along, if it never changed).
    pub initial: TcpState,
    /// It never had a socket: the server of a refused connect.
    pub no_socket: bool,
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
    /// The states each side (`LEFT`, `RIGHT`) entered at this row, in order.
    pub states: [Vec<StateMark>; 2],
    /// Explanations under it.
    pub why: Vec<Why>,
}

impl<'a> Row<'a> {
    fn new(t: Option<Timestamp>, kind: RowKind<'a>) -> Self {
        Row {
            t,
            kind,
            states: [Vec::new(), Vec::new()],
            why: Vec::new(),
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
            }
        };
        let sides = [side(LEFT, v.client), side(RIGHT, v.server)];

        let hide = hidden_segments(&g.events, max_segments);
        let mut rows = vec![Row::new(None, RowKind::Start)];
        // The row that takes state changes and anomalies: the last segment's (or the
        // elision row, inside the hidden stretch).
        let mut place: Option<usize> = None;
        let mut eliding = false;
        let mut elision: Option<usize> = None;
        let mut seg_no = 0;
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
                    };
                    for &s in sides_of(st) {
                        rows[i].states[s].push(mark);
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
    pub fn end_text(&self, side: usize) -> Cow<'static, str> {
        let s = &self.sides[side];
        if s.no_socket {
            Cow::Borrowed("(no socket)")
        } else {
            Cow::Owned(final_text(self.verdict, s.endpoint))
        }
    }

    /// A side's state at the end, as the verdict gives it.
    pub fn final_state(&self, side: usize) -> Option<TcpState> {
        final_state(self.verdict, self.sides[side].endpoint)
    }

    /// `7 segs, 5+5 bytes, handshake 0.053 ms`: the totals on the final row.
    pub fn totals(&self) -> String {
        let v = self.verdict;
        let mut s = format!(
            "{} segs, {}+{} bytes",
            v.packets[0] + v.packets[1],
            v.bytes[0],
            v.bytes[1]
        );
        if let Some(r) = v.handshake_rtt_ms {
            let _ = write!(s, ", handshake {r:.3} ms");
        }
        s
    }
}

/// The legend under a ladder or SVG drawing.
pub const LEGEND: &str = "calls: » observed, ~ inferred from packets; states are each side's \
     after the segment; TIME_WAIT Ns: how long it lasts once entered";

/// The legend in lines of at most `width` columns, broken after its `;`s (or at spaces).
pub fn legend_lines(width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for part in LEGEND.split_inclusive("; ") {
        let part = part.trim_end();
        match lines.last_mut() {
            Some(l) if l.chars().count() + 1 + part.chars().count() <= width => {
                l.push(' ');
                l.push_str(part);
            }
            _ => lines.push(part.to_string()),
        }
    }
    lines
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

/// States entered, in order: `FIN_WAIT_2 → TIME_WAIT`.
pub fn states_text(states: &[StateMark]) -> String {
    let mut s = String::new();
    for (i, m) in states.iter().enumerate() {
        if i > 0 {
            s.push_str(" → ");
        }
        s.push_str(m.to.name());
    }
    s
}

/// An elision row's words: `… 8 segments elided …`.
pub fn elided_text(segments: usize) -> String {
    let s = if segments == 1 { "" } else { "s" };
    format!("… {segments} segment{s} elided …")
}

/// The label on a segment's arrow: `SYN seq=0`, `PSH,ACK seq=1 ack=1 len=5 "hello"`.
pub fn segment_label(s: &SegmentEvent, payload: bool) -> String {
    let mut l = format!("{} seq={}", s.flags, s.seq);
    if s.flags.ack() {
        let _ = write!(l, " ack={}", s.ack);
    }
    if s.len > 0 {
        let _ = write!(l, " len={}", s.len);
        if payload {
            l.push(' ');
            l.push_str(&preview(s.payload.as_bytes(), s.len));
        }
    }
    l
}

/// The label with the segment's notes: `SYN seq=0 [retransmission]`.
pub fn segment_text(s: &SegmentEvent, payload: bool) -> String {
    let mut l = segment_label(s, payload);
    let mut last = None;
    for n in &s.notes {
        if last == Some(*n) {
            continue;
        }
        l.push_str(if last.is_none() { " [" } else { "," });
        l.push_str(n.as_str());
        last = Some(*n);
    }
    if last.is_some() {
        l.push(']');
    }
    l
}

/// Endpoint `ep`'s state at the end, as the verdict gives it.
pub(crate) fn final_state(v: &ConnectionEvent, ep: Endpoint) -> Option<TcpState> {
    v.final_states.0.iter().find(|(e, _)| *e == ep).map(|x| x.1)
}

/// Endpoint `ep`'s final state as the drawings end on it: its name, and for TIME_WAIT how
/// long it lasts from entering it (`TIME_WAIT 60.0s`: Linux's 60 s, or `--time-wait`).
pub(crate) fn final_text(v: &ConnectionEvent, ep: Endpoint) -> String {
    let st = final_state(v, ep).unwrap_or(TcpState::Unknown);
    match (st, v.time_wait_since, v.time_wait_until) {
        (TcpState::TimeWait, Some(since), Some(until)) => {
            format!("TIME_WAIT {:.1}s", until.since(since) as f64 / 1e9)
        }
        _ => st.name().to_string(),
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
