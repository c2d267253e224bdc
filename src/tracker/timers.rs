//! The tracker's deadlines in one heap: connections ended by an RST that linger for segments
//! still in flight, and TIME-WAITs of connections whose peer never finished. Entries are
//! checked when they come due (a connection may have ended or been replaced meanwhile).

use crate::events::ConnId;
use crate::timestamp::Timestamp;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What a deadline ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimerKind {
    /// An RST ended the connection; judge it now.
    Linger,
    /// A side's TIME-WAIT, entered at this time, runs out.
    TimeWait(Timestamp),
}

/// A due deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Timer {
    /// When it is due.
    pub at: Timestamp,
    /// What it ends.
    pub kind: TimerKind,
    /// The connection's table key.
    pub key: u128,
    /// The connection's id (a reused key holds a different one).
    pub id: ConnId,
}

/// Deadlines, earliest first.
#[derive(Debug, Default)]
pub(crate) struct Timers(BinaryHeap<Reverse<Timer>>);

impl Timers {
    /// Add a deadline.
    pub fn add(&mut self, t: Timer) {
        self.0.push(Reverse(t));
    }

    /// The earliest deadline, if any.
    pub fn next_at(&self) -> Option<Timestamp> {
        self.0.peek().map(|Reverse(t)| t.at)
    }

    /// The earliest deadline at or before `now`, removed.
    pub fn pop_due(&mut self, now: Timestamp) -> Option<Timer> {
        if self.next_at()? > now {
            return None;
        }
        self.0.pop().map(|Reverse(t)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_come_due_in_time_order_and_not_before() {
        let mut t = Timers::default();
        for (at, id) in [(30, 3), (10, 1), (20, 2)] {
            t.add(Timer {
                at: Timestamp(at),
                kind: TimerKind::Linger,
                key: 0,
                id,
            });
        }
        assert_eq!(t.next_at(), Some(Timestamp(10)));
        assert!(t.pop_due(Timestamp(9)).is_none());
        let due: Vec<ConnId> = std::iter::from_fn(|| t.pop_due(Timestamp(25)))
            .map(|x| x.id)
            .collect();
        assert_eq!(due, [1, 2]);
        assert_eq!(t.next_at(), Some(Timestamp(30)));
    }
}
