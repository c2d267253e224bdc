//! The tracker's output queue: events in time order (ties: the order produced).
//!
//! Some inferences wait for a later segment (did the peer see this FIN before it sent its
//! own? was that FIN a close() or a shutdown()?). While one waits, it is "held" at its time,
//! and no event later than that time leaves the queue, so a late inference can still be
//! emitted at the time it happened without breaking the stream's order.

use crate::timeline::{ConnId, Event};
use crate::timestamp::Timestamp;
use std::collections::{BTreeMap, VecDeque};

/// What a hold waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HoldKind {
    /// A SYN or FIN sent by this side, not yet known to be received.
    Delivery(u8),
    /// Whether this side's FIN was close() or shutdown().
    FinCall(u8),
}

/// Which kinds of event a consumer wants (the verdicts always come).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    /// `segment` events.
    pub segments: bool,
    /// `state` events.
    pub states: bool,
    /// `call` events.
    pub calls: bool,
    /// `anomaly` events.
    pub anomalies: bool,
}

impl Wanted {
    /// Everything.
    pub const ALL: Wanted = Wanted {
        segments: true,
        states: true,
        calls: true,
        anomalies: true,
    };
    /// Only the verdicts (a summary).
    pub const VERDICTS: Wanted = Wanted {
        segments: false,
        states: false,
        calls: false,
        anomalies: false,
    };
}

impl Default for Wanted {
    /// The `skip` field starts as "skip nothing".
    fn default() -> Self {
        Wanted::VERDICTS
    }
}

/// Kinds of event that can be left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `segment`.
    Segment,
    /// `state`.
    State,
    /// `call`.
    Call,
    /// `anomaly`.
    Anomaly,
}

/// Identifies one hold.
pub type HoldKey = (Timestamp, ConnId, HoldKind);

/// Events waiting to be polled.
///
/// A deque kept sorted by time: events are almost always produced in time order, so a push
/// is an append, and a late inference is inserted a few places from the back (ties keep the
/// order produced). Events are moved as rarely as possible: they are large.
#[derive(Default)]
pub struct EventQueue {
    /// Kinds of event nobody asked for: dropped at the door (verdicts always pass).
    skip: Wanted,
    queue: VecDeque<(Timestamp, Event)>,
    /// Each hold, with the table key of its connection.
    holds: BTreeMap<HoldKey, u128>,
    peak: usize,
}

impl EventQueue {
    /// Only keep the kinds in `w`.
    pub fn set_wanted(&mut self, w: Wanted) {
        self.skip = Wanted {
            segments: !w.segments,
            states: !w.states,
            calls: !w.calls,
            anomalies: !w.anomalies,
        };
    }

    /// Is anyone interested in events of this kind? (Callers skip building unwanted ones.)
    pub fn wants(&self, kind: Kind) -> bool {
        !match kind {
            Kind::Segment => self.skip.segments,
            Kind::State => self.skip.states,
            Kind::Call => self.skip.calls,
            Kind::Anomaly => self.skip.anomalies,
        }
    }

    /// Queue an event at its own time.
    pub fn push(&mut self, event: Event) {
        self.push_at(event.t(), event);
    }

    /// Queue an event, ordered at `t`.
    pub fn push_at(&mut self, t: Timestamp, event: Event) {
        let kind = match &event {
            Event::Segment(_) => Some(Kind::Segment),
            Event::State(_) => Some(Kind::State),
            Event::Call(_) => Some(Kind::Call),
            Event::Anomaly(_) => Some(Kind::Anomaly),
            Event::Connection(_) => None,
        };
        if kind.is_some_and(|k| !self.wants(k)) {
            return;
        }
        let mut i = self.queue.len();
        while i > 0 && self.queue[i - 1].0 > t {
            i -= 1;
        }
        self.peak = self.peak.max(self.queue.len() + 1);
        if i == self.queue.len() {
            self.queue.push_back((t, event));
        } else {
            self.queue.insert(i, (t, event));
        }
    }

    /// Hold back events later than `key.0` until `release(key)`.
    pub fn hold(&mut self, key: HoldKey, conn_key: u128) {
        self.holds.insert(key, conn_key);
    }

    /// End a hold.
    pub fn release(&mut self, key: HoldKey) {
        self.holds.remove(&key);
    }

    /// Holds begun before `before`, oldest first.
    pub fn holds_before(&self, before: Timestamp) -> Vec<(HoldKey, u128)> {
        self.holds
            .iter()
            .take_while(|(k, _)| k.0 < before)
            .map(|(k, v)| (*k, *v))
            .collect()
    }

    /// Every hold, oldest first.
    pub fn all_holds(&self) -> Vec<(HoldKey, u128)> {
        self.holds.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// The most events ever waiting at once.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// The next event that may leave.
    pub fn pop(&mut self) -> Option<Event> {
        let (t, _) = self.queue.front()?;
        if let Some((first, _)) = self.holds.first_key_value() {
            if *t > first.0 {
                return None;
            }
        }
        self.queue.pop_front().map(|(_, e)| e)
    }
}
