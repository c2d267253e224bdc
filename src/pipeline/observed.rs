//! Observed calls (timed around the real syscalls) beside a capture: their packet-comment
//! form (the demo's `-w x.pcapng`, read back by `replay`), the connection each belongs to,
//! and which inferred calls they replace.

pub use crate::events::CallNote;
use crate::events::{CallEvent, CallResult, ConnId, Event};
use crate::timestamp::Timestamp;
use crate::tracker::FlowKey;
use std::collections::HashSet;

/// A connection's 4-tuple and time span, from its verdict.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    key: FlowKey,
    conn: ConnId,
    start: Timestamp,
    end: Timestamp,
}

/// The spans of the connections whose verdicts are among `events`.
pub fn spans(events: &[Event]) -> Vec<Span> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Connection(c) => Some(Span {
                key: FlowKey::new(c.client.addr(), c.server.addr()),
                conn: c.conn,
                start: c.start,
                end: c.end,
            }),
            _ => None,
        })
        .collect()
}

/// Observed calls as events, each filed under the connection of its socket's 4-tuple that is
/// nearest in time (0: no connection, e.g. listen()).
pub fn events(notes: &[CallNote], spans: &[Span]) -> Vec<Event> {
    notes
        .iter()
        .map(|n| {
            let conn = n
                .peer
                .and_then(|peer| {
                    let key = FlowKey::new(n.local, peer);
                    spans
                        .iter()
                        .filter(|s| s.key == key)
                        .min_by_key(|s| {
                            if n.t < s.start {
                                s.start.since(n.t)
                            } else if n.t > s.end {
                                n.t.since(s.end)
                            } else {
                                0
                            }
                        })
                        .map(|s| s.conn)
                })
                .unwrap_or(0);
            Event::Call(n.clone().into_event(conn))
        })
        .collect()
}

/// Which inferred calls the observed ones replace: every inferred call of a socket whose
/// calls were all observed (a missing one was not made: no `accept() returns` on a server
/// that never accepted), and of a socket only partly seen (a killed process: its `close` is
/// the kernel's) those of a call observed for it.
pub fn replaced_by(notes: &[CallNote]) -> super::Replaced {
    let mut whole = HashSet::new();
    let mut partly = HashSet::new();
    for n in notes {
        if n.result == Some(CallResult::Killed) {
            partly.insert((n.local, n.call));
        } else {
            whole.insert(n.local);
        }
    }
    // A socket with a killed call was not all observed, whatever else was.
    for (addr, _) in &partly {
        whole.remove(addr);
    }
    Box::new(move |c: &CallEvent| {
        whole.contains(&c.endpoint.addr()) || partly.contains(&(c.endpoint.addr(), c.call))
    })
}
