//! [`Held`]: one open connection's events, kept for its ladder, stored by kind. An [`Event`]
//! is as large as its largest kind (the verdict's, 288 bytes), while most of a connection's
//! events are state changes and calls of 72: kept apart, they take about a third of the room,
//! and the ladder gets them back as one list in their order.

use crate::events::{AnomalyEvent, CallEvent, Event, SegmentEvent, StateEvent};
use std::mem::size_of;

/// One connection's events by kind, and the order they came in.
#[derive(Debug, Default)]
pub struct Held {
    /// Each event's kind, in order: 0 segment, 1 state, 2 call, 3 anomaly.
    order: Vec<u8>,
    segments: Vec<SegmentEvent>,
    states: Vec<StateEvent>,
    calls: Vec<CallEvent>,
    anomalies: Vec<AnomalyEvent>,
}

impl Held {
    /// Keep `e` (a verdict is not kept: it comes last, on its own).
    pub fn push(&mut self, e: &Event) {
        let kind = match e {
            Event::Segment(s) => {
                self.segments.push(s.clone());
                0
            }
            Event::State(s) => {
                self.states.push(s.clone());
                1
            }
            Event::Call(c) => {
                self.calls.push(c.clone());
                2
            }
            Event::Anomaly(a) => {
                self.anomalies.push(a.clone());
                3
            }
            Event::Connection(_) => return,
        };
        self.order.push(kind);
    }

    /// The memory it takes (its vectors' room; an anomaly's text besides).
    pub fn bytes(&self) -> usize {
        self.order.capacity()
            + self.segments.capacity() * size_of::<SegmentEvent>()
            + self.states.capacity() * size_of::<StateEvent>()
            + self.calls.capacity() * size_of::<CallEvent>()
            + self.anomalies.capacity() * size_of::<AnomalyEvent>()
            + self.anomalies.iter().map(|a| a.detail.len()).sum::<usize>()
    }

    /// The events, in the order they came.
    pub fn into_events(self) -> Vec<Event> {
        let mut segments = self.segments.into_iter();
        let mut states = self.states.into_iter();
        let mut calls = self.calls.into_iter();
        let mut anomalies = self.anomalies.into_iter();
        self.order
            .iter()
            .map(|k| match k {
                0 => Event::Segment(segments.next().expect("one per mark")),
                1 => Event::State(states.next().expect("one per mark")),
                2 => Event::Call(calls.next().expect("one per mark")),
                _ => Event::Anomaly(anomalies.next().expect("one per mark")),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{AnomalyKind, Endpoint, Role, TcpState};
    use crate::timestamp::Timestamp;

    #[test]
    fn events_come_back_in_their_order() {
        let ep = Endpoint::new("127.0.0.1:1".parse().unwrap());
        let state = |t: i64| {
            Event::State(StateEvent {
                t: Timestamp(t),
                conn: 1,
                endpoint: ep,
                role: Role::Client,
                from: TcpState::Closed,
                to: TcpState::SynSent,
                frame: None,
                projected: false,
                source: Default::default(),
            })
        };
        let anomaly = |t: i64| {
            Event::Anomaly(AnomalyEvent {
                t: Timestamp(t),
                conn: 1,
                frame: None,
                kind: AnomalyKind::Duplicate,
                detail: "twice".into(),
            })
        };
        let events = [state(1), anomaly(2), state(3), anomaly(4)];
        let mut h = Held::default();
        for e in &events {
            h.push(e);
        }
        assert!(h.bytes() >= 2 * size_of::<StateEvent>() + 2 * size_of::<AnomalyEvent>());
        let back: Vec<i64> = h.into_events().iter().map(|e| e.t().0).collect();
        assert_eq!(back, [1, 2, 3, 4]);
    }
}
