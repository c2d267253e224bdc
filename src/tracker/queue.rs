//! The tracker's output queue: events in time order (ties: the order produced).
//!
//! Some inferences wait for a later segment (did the peer see this FIN before it sent its
//! own? was that FIN a close() or a shutdown()?). While one waits, it is "held" at its time,
//! and no event later than that time leaves the queue, so a late inference can still be
//! emitted at the time it happened without breaking the stream's order.

use crate::timeline::{ConnId, Event};
use crate::timestamp::Timestamp;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

/// What a hold waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HoldKind {
    /// A SYN or FIN sent by this side, not yet known to be received.
    Delivery(u8),
    /// Whether this side's FIN was close() or shutdown().
    FinCall(u8),
}

/// Identifies one hold.
pub type HoldKey = (Timestamp, ConnId, HoldKind);

struct Queued {
    t: Timestamp,
    n: u64,
    event: Event,
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        (self.t, self.n) == (o.t, o.n)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.t, self.n).cmp(&(o.t, o.n))
    }
}

/// Events waiting to be polled.
#[derive(Default)]
pub struct EventQueue {
    heap: BinaryHeap<Reverse<Queued>>,
    n: u64,
    holds: BTreeMap<HoldKey, ()>,
}

impl EventQueue {
    /// Queue an event at its own time.
    pub fn push(&mut self, event: Event) {
        self.push_at(event.t(), event);
    }

    /// Queue an event, ordered at `t`.
    pub fn push_at(&mut self, t: Timestamp, event: Event) {
        self.n += 1;
        self.heap.push(Reverse(Queued {
            t,
            n: self.n,
            event,
        }));
    }

    /// Hold back events later than `key.0` until `release(key)`.
    pub fn hold(&mut self, key: HoldKey) {
        self.holds.insert(key, ());
    }

    /// End a hold.
    pub fn release(&mut self, key: HoldKey) {
        self.holds.remove(&key);
    }

    /// Holds begun before `before`, oldest first.
    pub fn holds_before(&self, before: Timestamp) -> Vec<HoldKey> {
        self.holds
            .keys()
            .take_while(|k| k.0 < before)
            .copied()
            .collect()
    }

    /// Every hold, oldest first.
    pub fn all_holds(&self) -> Vec<HoldKey> {
        self.holds.keys().copied().collect()
    }

    /// The next event that may leave.
    pub fn pop(&mut self) -> Option<Event> {
        let top = self.heap.peek()?;
        if let Some((first, _)) = self.holds.first_key_value() {
            if top.0.t > first.0 {
                return None;
            }
        }
        self.heap.pop().map(|q| q.0.event)
    }
}
