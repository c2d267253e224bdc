//! A state change and the event that tells it (and a segment's event). Every change of an endpoint's state goes
//! through `Conn::set_state` (a live connection) or `Tracker::close_time_wait` (an ended one
//! whose TIME-WAIT runs out); both build the event here.

use super::side::Side;
use crate::events::{
    ConnId, Dir, Endpoint, Event, Notes, SegmentEvent, StateEvent, StateSource, TcpState,
};
use crate::segment::Segment;
use crate::timestamp::Timestamp;

/// Why a state changes, and so whether and how the change is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// A segment (this frame) caused it at this time.
    Segment(Timestamp, u64),
    /// A timer ran out at this time (TIME-WAIT's end), maybe at a segment that ended it early.
    Timer(Timestamp, Option<u64>),
    /// A TIME-WAIT end after the input ended: projected, not seen.
    Projected(Timestamp),
    /// A state that was already there when first seen (a listener's LISTEN): not an event.
    Found,
}

/// The told part of a change.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Change {
    pub t: Timestamp,
    pub frame: Option<u64>,
    pub projected: bool,
}

impl Cause {
    /// When and by which frame, for a change that is told.
    pub(crate) fn change(self) -> Option<Change> {
        match self {
            Cause::Segment(t, frame) => Some(Change {
                t,
                frame: Some(frame),
                projected: false,
            }),
            Cause::Timer(t, frame) => Some(Change {
                t,
                frame,
                projected: false,
            }),
            Cause::Projected(t) => Some(Change {
                t,
                frame: None,
                projected: true,
            }),
            Cause::Found => None,
        }
    }
}

/// The event for endpoint `ep` (side `s` of connection `conn`) going `from` → `to`.
pub(crate) fn state_event(
    conn: ConnId,
    ep: Endpoint,
    s: Side,
    from: TcpState,
    to: TcpState,
    c: Change,
) -> Event {
    Event::State(StateEvent {
        t: c.t,
        conn,
        endpoint: ep,
        role: s.role(),
        from,
        to,
        frame: c.frame,
        projected: c.projected,
        source: StateSource::Inferred,
    })
}

/// The event for `seg`, sent by side `s` of connection `conn`, with its relative sequence and
/// acknowledgment numbers.
pub(crate) fn segment_event(
    conn: ConnId,
    seg: &Segment,
    s: Side,
    (seq, ack): (u32, u32),
    notes: Notes,
) -> Event {
    Event::Segment(SegmentEvent {
        frame: seg.frame,
        t: seg.ts,
        conn,
        src: Endpoint::new(seg.src),
        dst: Endpoint::new(seg.dst),
        dir: match s {
            Side::Client => Dir::C2s,
            Side::Server => Dir::S2c,
        },
        flags: seg.flags,
        seq,
        ack,
        seq_raw: seg.seq,
        ack_raw: seg.ack,
        len: seg.payload_len,
        win: seg.window,
        options: seg.options,
        notes,
        payload: seg.payload,
    })
}
