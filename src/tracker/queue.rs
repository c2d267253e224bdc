//! The tracker's output queue: events in time order (ties: the order produced).
//!
//! Some inferences wait for a later segment (did the peer see this FIN before it sent its
//! own? was that FIN a close() or a shutdown()?). While one waits, it is "held" at its time,
//! and no event later than that time leaves the queue, so a late inference can still be
//! emitted at the time it happened without breaking the stream's order.

use super::hold_list::HoldList;
use super::side::Side;
use crate::events::{ConnId, Event};
use crate::timestamp::Timestamp;
use std::collections::{BTreeMap, VecDeque};

/// What a hold waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HoldKind {
    /// A SYN or FIN sent by this side, not yet known to be received.
    Delivery(Side),
    /// Whether this side's FIN was close() or shutdown().
    FinCall(Side),
    /// Whether this side, a request sock, took the ACK of its SYN (a full accept queue
    /// drops it).
    Accept(Side),
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

/// How many places from the deque's back a late event may be put in it (beyond: the map).
const NEAR: usize = 16;

/// Identifies one hold.
pub type HoldKey = (Timestamp, ConnId, HoldKind);

/// Events waiting to be polled.
///
/// Events are almost always produced in time order: those go to the back of a deque. The
/// rest (an inference settled late, a verdict dated at a connection's end) go into the deque
/// when they are at most `NEAR` places late, else to an ordered map, so that many of them (a
/// scan refused port after port) never cost a long shift of the deque. `pop` takes the earlier
/// of the two fronts; ties keep the order produced (every event carries its production
/// number).
#[derive(Default)]
pub struct EventQueue {
    /// Kinds of event nobody asked for: dropped at the door (verdicts always pass).
    skip: Wanted,
    queue: VecDeque<(Timestamp, u64, Event)>,
    /// Events produced after a later one, by (time, production number); boxed, so that the
    /// map's nodes move pointers, not events, as it changes.
    late: BTreeMap<(Timestamp, u64), Box<Event>>,
    /// Events produced so far.
    produced: u64,
    /// Each hold, with the table key of its connection.
    holds: HoldList,
    /// Holds for close-or-shutdown decisions, which may wait longer (a half-closed peer can
    /// take its time to answer).
    fin_holds: HoldList,
    /// Holds of RSTs in flight (settled sooner: silence is what an RST usually meets).
    rst_holds: HoldList,
    /// Holds of request socks' ACKs (settled a little later than deliveries: the SYN,ACK
    /// resent after a dropped ACK comes one second after the SYN,ACK, plus timer slack).
    accept_holds: HoldList,
    peak: usize,
    /// Live: events leave in the order they were made, holds hold nothing back (an inference
    /// settled later comes later, dated at its own time: the live view marks it late).
    live: bool,
    /// The oldest hold's time, while no hold has changed since it was found (`pop` asks for
    /// it once an event; holds change far less often).
    oldest_cache: std::cell::Cell<Option<Option<Timestamp>>>,
    /// `pop_ready` found nothing that may leave, and since then no event came and the oldest
    /// hold did not end (a new hold only holds more back, another's end nothing less): asked
    /// after every segment, it answers at once.
    stalled: bool,
    /// The oldest time of the holds begun since the tracker last asked (`take_begun`): its
    /// next deadline may be theirs.
    begun_from: Option<Timestamp>,
    /// How many events usually wait at most (the tracker settles inferences early past it):
    /// the deque grows to this and no further, rather than doubling past it (20,000 waiting
    /// events took 32,768 places: 6 MB where 3.7 would do).
    room: usize,
}

impl EventQueue {
    /// Hand events on as they are made (see `live`).
    pub fn set_live(&mut self, live: bool) {
        self.live = live;
    }

    /// The deque's room once it fills (see `room`).
    pub fn set_room(&mut self, room: usize) {
        self.room = room;
    }

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
        self.stalled = false;
        self.produced += 1;
        let n = self.produced;
        self.peak = self.peak.max(self.len() + 1);
        if self.queue.len() == self.queue.capacity() {
            // Doubling, but not past the room (beyond it, doubling again).
            let len = self.queue.len();
            let double = (2 * len).max(64);
            let to = if len < self.room {
                double.min(self.room + NEAR)
            } else {
                double
            };
            self.queue.reserve_exact(to - len);
        }
        if self.live || self.queue.back().is_none_or(|b| b.0 <= t) {
            self.queue.push_back((t, n, event));
            return;
        }
        // Most late events are a few places late (a receiver's state change dated at its
        // segment, made after the sender's): a short shift of the deque's back is cheaper
        // than a node of the map.
        let later = self
            .queue
            .iter()
            .rev()
            .take(NEAR + 1)
            .take_while(|b| b.0 > t)
            .count();
        if later <= NEAR {
            self.queue.insert(self.queue.len() - later, (t, n, event));
        } else {
            self.late.insert((t, n), Box::new(event));
        }
    }

    /// (time, production number) of the next event, if any.
    fn front(&self) -> Option<(Timestamp, u64)> {
        let a = self.queue.front().map(|(t, n, _)| (*t, *n));
        if self.late.is_empty() {
            return a;
        }
        let b = self.late.first_key_value().map(|(k, _)| *k);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Hold back events later than `key.0` until `release(key)`.
    pub fn hold(&mut self, key: HoldKey, conn_key: u128) {
        self.held(key.0);
        self.list_for(key.2).insert(key, conn_key);
    }

    /// Hold back events later than `key.0` for an RST in flight (its own, shorter limit).
    pub fn hold_rst(&mut self, key: HoldKey, conn_key: u128) {
        self.held(key.0);
        self.rst_holds.insert(key, conn_key);
    }

    /// A hold at `t` begins: the oldest is the older of it and the one known.
    fn held(&mut self, t: Timestamp) {
        self.begun_from = Some(self.begun_from.map_or(t, |b| b.min(t)));
        if let Some(known) = self.oldest_cache.get() {
            let oldest = known.map_or(t, |o| o.min(t));
            self.oldest_cache.set(Some(Some(oldest)));
        }
    }

    /// End a hold.
    pub fn release(&mut self, key: HoldKey) {
        // Only the oldest hold's end (or one as old) can change which is oldest, and so let
        // anything more leave: another's end leaves the queue as stalled as it was.
        if self
            .oldest_cache
            .get()
            .is_none_or(|known| known.is_none_or(|o| key.0 <= o))
        {
            self.oldest_cache.set(None);
            self.stalled = false;
        }
        if self.list_for(key.2).remove(&key).is_none() {
            self.rst_holds.remove(&key);
        }
    }

    fn list_for(&mut self, kind: HoldKind) -> &mut HoldList {
        match kind {
            HoldKind::Delivery(_) => &mut self.holds,
            HoldKind::Accept(_) => &mut self.accept_holds,
            HoldKind::FinCall(_) => &mut self.fin_holds,
        }
    }

    /// The oldest time of the holds begun since the last call, if any began.
    pub fn take_begun(&mut self) -> Option<Timestamp> {
        self.begun_from.take()
    }

    /// Is a hold older than `t`? (Cached: asked after every segment.)
    pub fn holds_any_before(&self, t: Timestamp) -> bool {
        self.oldest_time().is_some_and(|oldest| oldest < t)
    }

    /// Holds begun before their kind's limit, oldest first: `[deliveries, close/shutdown
    /// calls, RSTs, request ACKs]`.
    pub fn holds_before(&self, limits: [Timestamp; 4]) -> Vec<(HoldKey, u128)> {
        let [deliveries, fin_calls, rsts, accepts] = limits;
        let mut v: Vec<(HoldKey, u128)> = self
            .holds
            .iter()
            .take_while(|(k, _)| k.0 < deliveries)
            .chain(self.fin_holds.iter().take_while(|(k, _)| k.0 < fin_calls))
            .chain(self.rst_holds.iter().take_while(|(k, _)| k.0 < rsts))
            .chain(self.accept_holds.iter().take_while(|(k, _)| k.0 < accepts))
            .collect();
        v.sort_unstable();
        v
    }

    /// Every hold, oldest first.
    pub fn all_holds(&self) -> Vec<(HoldKey, u128)> {
        let end = Timestamp(i64::MAX);
        self.holds_before([end; 4])
    }

    /// The oldest delivery, close-or-shutdown, RST and request-ACK holds' times.
    pub fn oldest_hold_times(&self) -> [Option<Timestamp>; 4] {
        [
            &self.holds,
            &self.fin_holds,
            &self.rst_holds,
            &self.accept_holds,
        ]
        .map(|m| m.first().map(|(k, _)| k.0))
    }

    /// The oldest hold, if any.
    pub fn oldest_hold(&self) -> Option<(HoldKey, u128)> {
        [
            &self.holds,
            &self.fin_holds,
            &self.rst_holds,
            &self.accept_holds,
        ]
        .into_iter()
        .filter_map(HoldList::first)
        .min_by_key(|(k, _)| *k)
    }

    /// Is the next event held back by a hold?
    pub fn blocked(&self) -> bool {
        match (self.front(), self.oldest_hold()) {
            (Some((t, _)), Some((h, _))) => t > h.0,
            _ => false,
        }
    }

    /// Events waiting (held or not).
    pub fn len(&self) -> usize {
        self.queue.len() + self.late.len()
    }

    /// No event waiting.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.late.is_empty()
    }

    /// The most events ever waiting at once.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// Nothing waiting (as after most segments of a summary, which wants verdicts only), or
    /// nothing that may leave yet: `pop_ready` would hand out nothing.
    pub fn idle(&self) -> bool {
        self.stalled || (self.queue.is_empty() && self.late.is_empty())
    }

    /// Events that may leave now, in order, to the end of `out` until it holds `max` (as `pop`
    /// until `None`, with a run of the deque moved at once).
    pub fn pop_ready(&mut self, out: &mut Vec<Event>, max: usize) {
        if self.idle() {
            return;
        }
        while out.len() < max {
            let oldest = self.holding_from();
            let late = self.late.first_key_value().map(|(k, _)| *k);
            // The deque's events before the map's first and not held back.
            let run = self
                .queue
                .iter()
                .take(max - out.len())
                .take_while(|(t, n, _)| {
                    late.is_none_or(|l| (*t, *n) < l) && oldest.is_none_or(|h| *t <= h)
                })
                .count();
            if run > 0 {
                out.extend(self.queue.drain(..run).map(|(_, _, e)| e));
                continue;
            }
            match self.pop() {
                Some(e) => out.push(e),
                None => {
                    self.stalled = true;
                    return;
                }
            }
        }
    }

    /// The time after which events are held back (the oldest hold's; none while live).
    fn holding_from(&self) -> Option<Timestamp> {
        if self.live {
            return None;
        }
        self.oldest_time()
    }

    /// The oldest hold's time, cached until a hold changes.
    fn oldest_time(&self) -> Option<Timestamp> {
        match self.oldest_cache.get() {
            Some(cached) => cached,
            None => {
                let o = self.oldest_hold().map(|(k, _)| k.0);
                self.oldest_cache.set(Some(o));
                o
            }
        }
    }

    /// The next event that may leave.
    pub fn pop(&mut self) -> Option<Event> {
        let (t, n) = self.front()?;
        if self.holding_from().is_some_and(|first| t > first) {
            return None;
        }
        if self.queue.front().is_some_and(|f| (f.0, f.1) == (t, n)) {
            self.queue.pop_front().map(|(_, _, e)| e)
        } else {
            self.late.pop_first().map(|(_, e)| *e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{AnomalyEvent, AnomalyKind};
    use proptest::prelude::*;

    fn ev(t: i64, tag: u64) -> Event {
        Event::Anomaly(AnomalyEvent {
            t: Timestamp(t),
            conn: 1,
            frame: Some(tag),
            kind: AnomalyKind::Duplicate,
            detail: String::new(),
        })
    }

    fn tag(e: Event) -> u64 {
        match e {
            Event::Anomaly(a) => a.frame.unwrap(),
            _ => unreachable!(),
        }
    }

    /// Held events fill the deque up to its room, not to the next power of two; past the
    /// room it doubles again, and every event still leaves in order.
    #[test]
    fn the_deque_grows_to_its_room_and_no_further() {
        let mut q = EventQueue::default();
        q.set_room(1000);
        q.hold(hold_key(0, 0), 7);
        for i in 0..1000 {
            q.push(ev(1 + i, i as u64));
        }
        assert!(
            (1000..=1000 + NEAR).contains(&q.queue.capacity()),
            "{}",
            q.queue.capacity()
        );
        for i in 1000..1100 {
            q.push(ev(1 + i, i as u64));
        }
        assert!(q.queue.capacity() >= 1100);
        q.release(hold_key(0, 0));
        let mut out = Vec::new();
        q.pop_ready(&mut out, usize::MAX);
        assert_eq!(
            out.into_iter().map(tag).collect::<Vec<_>>(),
            (0..1100).collect::<Vec<_>>()
        );
    }

    /// A hold of any kind, by step.
    fn hold_key(t: i64, i: usize) -> HoldKey {
        let kind = match i % 3 {
            0 => HoldKind::Delivery(Side::Client),
            1 => HoldKind::FinCall(Side::Server),
            _ => HoldKind::Accept(Side::Server),
        };
        (Timestamp(t), i as u64, kind)
    }

    proptest! {
        /// Whatever order events are produced in, they leave in time order, ties in the
        /// order produced; a hold stops everything after it until released.
        #[test]
        fn events_leave_in_time_order_ties_as_produced(
            times in prop::collection::vec(0i64..50, 1..200),
            hold_at in 0i64..50,
        ) {
            let mut q = EventQueue::default();
            let key = (Timestamp(hold_at), 1, HoldKind::Delivery(Side::Client));
            q.hold(key, 7);
            for (i, &t) in times.iter().enumerate() {
                q.push(ev(t, i as u64));
            }
            let mut out = Vec::new();
            while let Some(e) = q.pop() {
                out.push(tag(e));
            }
            prop_assert!(out.iter().all(|&i| times[i as usize] <= hold_at));
            q.release(key);
            while let Some(e) = q.pop() {
                out.push(tag(e));
            }
            let mut expected: Vec<u64> = (0..times.len() as u64).collect();
            expected.sort_by_key(|&i| (times[i as usize], i));
            prop_assert_eq!(out, expected);
            prop_assert!(q.is_empty());
        }

        /// `pop_ready` hands out exactly what `pop` does, in the same order, whatever the
        /// times (in order, a few places late, far late), the holds, the mode and `max`.
        #[test]
        fn pop_ready_is_pop_until_none(
            steps in prop::collection::vec((0i64..60, 0u8..8), 1..300),
            live in any::<bool>(),
            max in 1usize..40,
        ) {
            let (mut a, mut b) = (EventQueue::default(), EventQueue::default());
            a.set_live(live);
            b.set_live(live);
            let (mut by_pop, mut by_run) = (Vec::new(), Vec::new());
            let mut holds = Vec::new();
            for (i, &(t, op)) in steps.iter().enumerate() {
                for q in [&mut a, &mut b] {
                    match op {
                        // A hold (or an RST's) at t, or the first or last hold begun ended.
                        0 => q.hold(hold_key(t, i), 1),
                        3 => q.hold_rst(hold_key(t, i), 1),
                        1 => {
                            if let Some(&k) = holds.first() {
                                q.release(k);
                            }
                        }
                        2 => {
                            if let Some(&k) = holds.last() {
                                q.release(k);
                            }
                        }
                        _ => q.push(ev(t, i as u64)),
                    }
                    // The oldest hold known (kept as holds begin and end) is the oldest, also
                    // after several changes with no look in between.
                    if i % 3 == 0 {
                        prop_assert_eq!(q.oldest_time(), q.oldest_hold().map(|(k, _)| k.0));
                    }
                }
                match op {
                    0 | 3 => holds.push(hold_key(t, i)),
                    1 if !holds.is_empty() => {
                        holds.remove(0);
                    }
                    2 => {
                        holds.pop();
                    }
                    _ => {}
                }
                if i % 7 == 0 {
                    while let Some(e) = a.pop() {
                        by_pop.push(tag(e));
                    }
                    loop {
                        let mut run = Vec::new();
                        b.pop_ready(&mut run, max);
                        let n = run.len();
                        prop_assert!(n <= max);
                        by_run.extend(run.into_iter().map(tag));
                        if n < max {
                            break;
                        }
                    }
                    prop_assert_eq!(&by_pop, &by_run);
                }
            }
            prop_assert_eq!(a.len(), b.len());
        }
    }
}
