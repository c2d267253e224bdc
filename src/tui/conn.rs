//! One row of the full-screen view's connection list: what is known of a connection so far
//! (endpoints, both ends' current states, its verdict once judged), with a bounded copy of
//! its events (for its ladder) and of its frames (for a pcap export).

use crate::events::{
    CallSource, ConnId, ConnState, ConnectionEvent, Dir, Endpoint, Event, FinalStates, Outcome,
    TcpState,
};
use crate::filter_expr::{FilterExpr, FilterInput};
use crate::frame::OwnedFrame;
use crate::render::group::ConnGroup;
use crate::timestamp::Timestamp;
use std::collections::VecDeque;

/// Events kept per connection: the first `EVENTS_KEPT` and the last `EVENTS_KEPT` (a long
/// connection's middle is counted, not kept; its ladder says so).
pub const EVENTS_KEPT: usize = 256;
/// Frames kept per connection for a pcap export: the first and the last `FRAMES_KEPT` (the
/// handshake and the teardown), each cut to `FRAME_SNAP` bytes (its wire length kept).
pub const FRAMES_KEPT: usize = 32;
/// How many bytes of each kept frame are kept.
pub const FRAME_SNAP: usize = 512;

/// The first `cap` items and the last `cap`, the rest counted.
#[derive(Debug, Clone)]
pub struct HeadTail<T> {
    cap: usize,
    head: Vec<T>,
    tail: VecDeque<T>,
    /// Items dropped from the middle.
    pub dropped: u64,
}

impl<T> HeadTail<T> {
    /// Keep at most `2 * cap` items.
    pub fn new(cap: usize) -> Self {
        HeadTail {
            cap,
            head: Vec::new(),
            tail: VecDeque::new(),
            dropped: 0,
        }
    }

    /// Add one at the end.
    pub fn push(&mut self, x: T) {
        if self.head.len() < self.cap {
            self.head.push(x);
            return;
        }
        if self.tail.len() == self.cap {
            self.tail.pop_front();
            self.dropped += 1;
        }
        self.tail.push_back(x);
    }

    /// Everything kept, in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.head.iter().chain(self.tail.iter())
    }

    /// How many are kept.
    pub fn len(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    /// Nothing kept?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the view knows of one connection.
#[derive(Debug, Clone)]
pub struct ConnEntry {
    /// Its id.
    pub id: ConnId,
    /// The client (originator), once a segment said it.
    pub client: Option<Endpoint>,
    /// The server.
    pub server: Option<Endpoint>,
    /// Each end's current state (client, server); `Unknown` until an event says it.
    pub states: [TcpState; 2],
    /// Its verdict, once judged.
    pub verdict: Option<ConnectionEvent>,
    /// First event's time.
    pub first: Timestamp,
    /// Latest event's time.
    pub last: Timestamp,
    /// Anomalies raised.
    pub anomalies: u32,
    /// Segments each way (client→server, server→client).
    pub packets: [u64; 2],
    /// Payload bytes each way.
    pub bytes: [u64; 2],
    /// Its events (bounded: [`EVENTS_KEPT`]).
    pub events: HeadTail<Event>,
    /// Its frames (bounded: [`FRAMES_KEPT`]), when the source hands frames on.
    pub frames: HeadTail<OwnedFrame>,
    /// The flag bytes (TCP header byte 13) seen each way, as a 256-bit set: a filter
    /// expression is tried on each (direction, flags) the connection sent.
    flags_seen: [[u64; 4]; 2],
    /// Some end reached ESTABLISHED.
    established: bool,
    /// The process that owns the local socket, once some source says it (none does yet:
    /// the list's owner column appears when one is known).
    pub owner: Option<String>,
}

impl ConnEntry {
    /// A connection first seen at `t`.
    pub fn new(id: ConnId, t: Timestamp) -> ConnEntry {
        ConnEntry {
            id,
            client: None,
            server: None,
            states: [TcpState::Unknown; 2],
            verdict: None,
            first: t,
            last: t,
            anomalies: 0,
            packets: [0; 2],
            bytes: [0; 2],
            events: HeadTail::new(EVENTS_KEPT),
            frames: HeadTail::new(FRAMES_KEPT),
            flags_seen: [[0; 4]; 2],
            established: false,
            owner: None,
        }
    }

    /// How it ended, or `Open` while it has no verdict.
    pub fn outcome(&self) -> Outcome {
        self.verdict.as_ref().map_or(Outcome::Open, |v| v.outcome)
    }

    /// Judged?
    pub fn ended(&self) -> bool {
        self.verdict.is_some()
    }

    /// Take in one of its events (the states are the caller's: it counts sockets).
    pub fn record(&mut self, e: &Event) {
        let t = e.t();
        if t > self.last {
            self.last = t;
        }
        match e {
            Event::Segment(s) => {
                let (c, s2c) = match s.dir {
                    Dir::C2s => (s.src, 0),
                    Dir::S2c => (s.dst, 1),
                };
                if self.client.is_none() {
                    self.client = Some(c);
                    self.server = Some(if s2c == 0 { s.dst } else { s.src });
                }
                self.packets[s2c] += 1;
                self.bytes[s2c] += u64::from(s.len);
                let b = s.flags.byte13();
                self.flags_seen[s2c][usize::from(b >> 6)] |= 1 << (b & 63);
            }
            Event::Anomaly(_) => self.anomalies += 1,
            Event::State(st) => self.established |= st.to == TcpState::Established,
            Event::Connection(v) => {
                self.client = Some(v.client);
                self.server = Some(v.server);
                self.anomalies = self.anomalies.max(v.anomalies);
                self.verdict = Some((**v).clone());
                return; // the verdict is kept apart from the events
            }
            _ => {}
        }
        self.events.push(e.clone());
    }

    /// Does some segment it sent pass `expr`? (The command line's filter keeps a segment
    /// when it passes; a connection is listed when any of its segments would be kept.)
    pub fn matches(&self, expr: &FilterExpr) -> bool {
        let (Some(c), Some(s)) = (self.client, self.server) else {
            return false;
        };
        for (dir, set) in self.flags_seen.iter().enumerate() {
            let (src, dst) = if dir == 0 {
                (c.addr(), s.addr())
            } else {
                (s.addr(), c.addr())
            };
            for (word, bits) in set.iter().enumerate() {
                let mut bits = *bits;
                while bits != 0 {
                    let b = bits.trailing_zeros();
                    bits &= bits - 1;
                    let flags = (word as u32 * 64 + b) as u8;
                    let input = FilterInput {
                        src,
                        dst,
                        flags,
                        vlan: None,
                    };
                    if expr.matches(&input) {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// Its events and verdict as the renderers take them: the verdict, or while it is open
    /// one that says so (outcome `open`; Zeek's S1 once established, S0 before, OTH when
    /// picked up mid-stream; no history yet).
    pub fn group(&self) -> Option<ConnGroup> {
        let (client, server) = (self.client?, self.server?);
        let verdict = match &self.verdict {
            Some(v) => v.clone(),
            None => {
                let conn_state = if self.established {
                    ConnState::S1
                } else if self.states == [TcpState::Unknown; 2] {
                    ConnState::OTH
                } else {
                    ConnState::S0
                };
                ConnectionEvent {
                    end: self.last,
                    packets: self.packets,
                    bytes: self.bytes,
                    history: "-".into(),
                    conn_state,
                    final_states: FinalStates(smallvec::smallvec![
                        (client, self.states[0]),
                        (server, self.states[1]),
                    ]),
                    anomalies: self.anomalies,
                    zeek_endpoints: [("", 0); 2],
                    ..ConnectionEvent::open_between(self.id, client, server, self.first)
                }
            }
        };
        // A live tracker hands on an inference when it is settled, later than its own time
        // (the stream view marks it late): in the picture it goes back to its place.
        let mut events: Vec<Event> = self.events.iter().cloned().collect();
        events.sort_by_key(Event::t);
        // An end whose calls were traced: its inferred calls (told before the trace's) go.
        let traced: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Call(c) if c.source == CallSource::Observed => Some(c.endpoint),
                _ => None,
            })
            .collect();
        if !traced.is_empty() {
            events.retain(|e| {
                !matches!(e, Event::Call(c)
                    if c.source == CallSource::Inferred && traced.contains(&c.endpoint))
            });
        }
        Some(ConnGroup {
            events,
            verdict: Box::new(verdict),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_tail_keeps_both_ends_and_counts_the_middle() {
        let mut h = HeadTail::new(3);
        for i in 0..10 {
            h.push(i);
        }
        assert_eq!(h.iter().copied().collect::<Vec<_>>(), [0, 1, 2, 7, 8, 9]);
        assert_eq!(h.dropped, 4);
        assert_eq!(h.len(), 6);
    }
}
