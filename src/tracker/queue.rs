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
    /// Whether an RST that refused this side's SYN ended its connect(), or the same SYN
    /// comes again (one connect() trying again).
    Refusal(u8),
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
    /// Holds for close-or-shutdown decisions, which may wait longer (a half-closed peer can
    /// take its time to answer).
    fin_holds: BTreeMap<HoldKey, u128>,
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
        self.map_for(key.2).insert(key, conn_key);
    }

    /// End a hold.
    pub fn release(&mut self, key: HoldKey) {
        self.map_for(key.2).remove(&key);
    }

    fn map_for(&mut self, kind: HoldKind) -> &mut BTreeMap<HoldKey, u128> {
        match kind {
            HoldKind::Delivery(_) | HoldKind::Refusal(_) => &mut self.holds,
            HoldKind::FinCall(_) => &mut self.fin_holds,
        }
    }

    /// Delivery holds begun before `deliveries`, and close/shutdown holds begun before
    /// `fin_calls`, oldest first.
    pub fn holds_before(
        &self,
        deliveries: Timestamp,
        fin_calls: Timestamp,
    ) -> Vec<(HoldKey, u128)> {
        let mut v: Vec<(HoldKey, u128)> = self
            .holds
            .iter()
            .take_while(|(k, _)| k.0 < deliveries)
            .chain(self.fin_holds.iter().take_while(|(k, _)| k.0 < fin_calls))
            .map(|(k, v)| (*k, *v))
            .collect();
        v.sort_unstable();
        v
    }

    /// Every hold, oldest first.
    pub fn all_holds(&self) -> Vec<(HoldKey, u128)> {
        self.holds_before(Timestamp(i64::MAX), Timestamp(i64::MAX))
    }

    /// The oldest hold, if any.
    pub fn oldest_hold(&self) -> Option<(HoldKey, u128)> {
        let a = self.holds.first_key_value();
        let b = self.fin_holds.first_key_value();
        match (a, b) {
            (Some(x), Some(y)) => Some(if x.0 <= y.0 {
                (*x.0, *x.1)
            } else {
                (*y.0, *y.1)
            }),
            (Some(x), None) | (None, Some(x)) => Some((*x.0, *x.1)),
            (None, None) => None,
        }
    }

    /// Is the next event held back by a hold?
    pub fn blocked(&self) -> bool {
        match (self.queue.front(), self.oldest_hold()) {
            (Some((t, _)), Some((h, _))) => *t > h.0,
            _ => false,
        }
    }

    /// Events waiting (held or not).
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// No event waiting.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The most events ever waiting at once.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// The next event that may leave.
    pub fn pop(&mut self) -> Option<Event> {
        let (t, _) = self.queue.front()?;
        if let Some((first, _)) = self.oldest_hold() {
            if *t > first.0 {
                return None;
            }
        }
        self.queue.pop_front().map(|(_, e)| e)
    }
}
