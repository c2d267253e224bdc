//! Zeek's TCP reassembler (TCP_Reassembler.cc, Reassem.cc) reduced to what conn.log's
//! content-gap letters `G`/`g` need: which ranges of one endpoint's stream the capture holds
//! whole, and how far the peer's ACKs say the stream got. No payload bytes are kept.
//!
//! Sequence numbers here are relative and 64-bit, as Zeek's: the first data byte is 1.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Zeek's `tcp_max_above_hole_without_any_acks`: undelivered bytes above a hole, with no
/// ACK ever seen for this stream, after which Zeek gives up on the stream.
const ABOVE_HOLE_WITHOUT_ACKS: u64 = 16_384;
/// Zeek's `tcp_excessive_data_without_further_acks`.
const EXCESSIVE_WITHOUT_ACKS: u64 = 10 * 1024 * 1024;
/// Ranges one stream may hold (each sits above a hole). Zeek has no such limit; a stream that
/// reaches it is given up, and reports no more gaps.
pub const MAX_RANGES: usize = 1 << 16;
/// Ranges all the streams of one tracker may hold together (a few MiB), so that a capture
/// made of holes cannot exhaust memory whatever the number of connections.
pub const TOTAL_RANGES: usize = 1 << 18;

/// The ranges the streams of one tracker may still take.
#[derive(Debug, Clone)]
pub struct RangeBudget(Arc<AtomicUsize>);

impl RangeBudget {
    /// A budget of `n` ranges.
    pub fn new(n: usize) -> RangeBudget {
        RangeBudget(Arc::new(AtomicUsize::new(n)))
    }
    fn take(&self, n: usize) -> bool {
        self.0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(n)
            })
            .is_ok()
    }
    fn give(&self, n: usize) {
        // Nothing to give is no locked instruction (most calls, one or two a segment).
        if n > 0 {
            self.0.fetch_add(n, Ordering::Relaxed);
        }
    }
    /// Ranges left.
    #[cfg(test)]
    pub fn left(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// One direction's reassembly bookkeeping.
#[derive(Debug)]
pub struct Reassembly {
    /// `last_reassem_seq`: everything below was delivered or declared missing.
    last: u64,
    /// `trim_seq`: everything below was acknowledged and forgotten.
    trim: u64,
    /// Captured ranges above `last`, waiting for a hole to fill: start → end, disjoint.
    pending: BTreeMap<u64, u64>,
    /// Bytes in `pending`.
    bytes: u64,
    /// `skip_deliveries`: Zeek (or the range limits) stopped reassembling this stream.
    skip: bool,
    /// Where `pending`'s ranges are counted, and how many it holds there.
    budget: Option<RangeBudget>,
    held: usize,
}

impl Default for Reassembly {
    fn default() -> Self {
        Reassembly {
            last: 1,
            trim: 1,
            pending: BTreeMap::new(),
            bytes: 0,
            skip: false,
            budget: None,
            held: 0,
        }
    }
}

/// A copy is detached from the budget (nothing clones a live connection's history).
impl Clone for Reassembly {
    fn clone(&self) -> Self {
        Reassembly {
            last: self.last,
            trim: self.trim,
            pending: self.pending.clone(),
            bytes: self.bytes,
            skip: self.skip,
            budget: None,
            held: 0,
        }
    }
}

impl Drop for Reassembly {
    fn drop(&mut self) {
        if let Some(b) = &self.budget {
            b.give(self.held);
        }
    }
}

impl Reassembly {
    /// A stream whose ranges count against `budget`.
    pub fn with_budget(budget: RangeBudget) -> Reassembly {
        let mut r = Reassembly::default();
        r.budget = Some(budget);
        r
    }

    /// `DataSent`: the capture holds the payload `[seq, seq + len)` whole. `acked` is the
    /// highest ACK seen for this stream; `no_data_acked` when none acknowledged data yet.
    /// (Always inlined: a call cost a third of the quick way's instructions.)
    #[inline(always)]
    pub fn data(&mut self, seq: u64, len: u64, acked: u64, no_data_acked: bool) {
        if self.skip || len == 0 {
            return;
        }
        // Most data: in order, or nothing new, with no range waiting (what follows does
        // nothing more for it).
        if self.pending.is_empty() && self.held == 0 {
            let upper = seq + len;
            let start = seq.max(acked).max(self.trim).max(self.last);
            if start >= upper || start == self.last {
                if start < upper {
                    self.last = upper;
                }
                if self.last.saturating_sub(self.trim) > EXCESSIVE_WITHOUT_ACKS {
                    self.give_up();
                }
                return;
            }
        }
        self.data_with_ranges(seq, len, acked, no_data_acked);
    }

    fn data_with_ranges(&mut self, seq: u64, len: u64, acked: u64, no_data_acked: bool) {
        let upper = seq + len;
        // Already acknowledged, trimmed, or delivered: only the new part counts.
        let start = seq.max(acked).max(self.trim).max(self.last);
        if start < upper {
            if start == self.last {
                // In order, the common case: delivered at once.
                self.last = upper;
            } else {
                self.insert(start, upper);
            }
            self.deliver();
        }
        let top = self.pending.last_key_value().map_or(self.last, |(_, &e)| e);
        let held = self.last.saturating_sub(self.trim) + self.bytes;
        if (no_data_acked && top - self.last > ABOVE_HOLE_WITHOUT_ACKS)
            || held > EXCESSIVE_WITHOUT_ACKS
        {
            self.give_up();
        }
        self.settle();
    }

    /// `AckReceived`: the peer acknowledged up to `seq`. `fin_seq` is the sequence number
    /// just past this stream's FIN, if one was sent; `partial` is Zeek's "connection picked
    /// up without its handshake". Returns how many content gaps Zeek reports.
    #[inline(always)]
    pub fn ack(&mut self, seq: u64, fin_seq: Option<u64>, partial: bool) -> u32 {
        // A FIN's sequence number is not data: an ACK of it covers the data before it.
        let seq = match fin_seq {
            Some(f) if seq >= f => f.saturating_sub(1),
            _ => seq,
        };
        if seq <= self.trim {
            return 0;
        }
        // Most ACKs: of what was delivered, no range waiting.
        if seq <= self.last && self.pending.is_empty() && self.held == 0 {
            self.trim = seq;
            return 0;
        }
        self.ack_with_ranges(seq, partial)
    }

    fn ack_with_ranges(&mut self, seq: u64, partial: bool) -> u32 {
        let mut gaps = 0;
        if seq > self.last {
            gaps = self.undelivered(seq, partial);
        }
        while let Some((_, &end)) = self.pending.first_key_value() {
            if end > seq {
                break;
            }
            self.pop_first();
        }
        self.deliver();
        self.trim = seq;
        self.settle();
        gaps
    }

    /// `Undelivered`: the peer acknowledged bytes up to `up_to` that were never delivered;
    /// every hole below it is a gap, and the ranges between holes are delivered.
    fn undelivered(&mut self, up_to: u64, partial: bool) -> u32 {
        // Zeek faked this side's initial sequence number; an ACK of 1 or 2 proves nothing.
        if up_to <= 2 && partial {
            return 0;
        }
        let mut gaps = 0;
        if !self.skip {
            while let Some((&start, _)) = self.pending.first_key_value() {
                if start >= up_to {
                    break;
                }
                if start > self.last {
                    gaps += 1;
                }
                self.last = start;
                self.deliver();
            }
            if up_to > self.last {
                gaps += 1;
            }
        }
        self.last = self.last.max(up_to);
        gaps
    }

    /// Deliver what now continues the stream.
    fn deliver(&mut self) {
        while let Some((&start, &end)) = self.pending.first_key_value() {
            if start > self.last {
                break;
            }
            self.last = self.last.max(end);
            self.pop_first();
        }
    }

    fn pop_first(&mut self) {
        if let Some((s, e)) = self.pending.pop_first() {
            self.bytes -= e - s;
        }
    }

    /// Add `[start, end)`, merged with every range it overlaps or touches.
    fn insert(&mut self, start: u64, end: u64) {
        let (mut s, mut e) = (start, end);
        while let Some((&k, &v)) = self.pending.range(..=e).next_back() {
            if v < s {
                break;
            }
            s = s.min(k);
            e = e.max(v);
            self.pending.remove(&k);
            self.bytes -= v - k;
        }
        self.pending.insert(s, e);
        self.bytes += e - s;
    }

    /// Count the ranges held against the budget; past a limit, give the stream up.
    fn settle(&mut self) {
        let now = self.pending.len();
        if now > self.held {
            let more = now - self.held;
            let granted = self.budget.as_ref().is_none_or(|b| b.take(more));
            if !granted || now > MAX_RANGES {
                if granted {
                    self.held = now;
                }
                self.give_up();
                return;
            }
        } else if let Some(b) = &self.budget {
            b.give(self.held - now);
        }
        self.held = now;
    }

    /// Stop reassembling: no more gaps from this stream (Zeek's `skip_deliveries`).
    fn give_up(&mut self) {
        self.pending = BTreeMap::new();
        self.bytes = 0;
        self.skip = true;
        if let Some(b) = &self.budget {
            b.give(self.held);
        }
        self.held = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn acked_data_that_was_captured_is_no_gap() {
        let mut r = Reassembly::default();
        r.data(1, 100, 1, true);
        assert_eq!(r.ack(101, None, false), 0);
    }

    #[test]
    fn acked_data_never_captured_is_one_gap() {
        let mut r = Reassembly::default();
        assert_eq!(r.ack(475, None, false), 1);
        // The same ACK again, or a lower one, reports nothing more.
        assert_eq!(r.ack(475, None, false), 0);
        assert_eq!(r.ack(300, None, false), 0);
    }

    #[test]
    fn each_hole_below_the_ack_is_a_gap() {
        let mut r = Reassembly::default();
        r.data(1, 10, 1, true);
        r.data(21, 10, 1, true); // hole 11..21
        r.data(41, 10, 1, true); // hole 31..41
        assert_eq!(r.ack(51, None, false), 2);
        // Filled later by a retransmission: too late, already trimmed.
        r.data(11, 10, 51, false);
        assert_eq!(r.ack(51, None, false), 0);
    }

    #[test]
    fn a_hole_filled_before_the_ack_is_no_gap() {
        let mut r = Reassembly::default();
        r.data(21, 10, 1, true);
        r.data(1, 20, 1, true);
        assert_eq!(r.ack(31, None, false), 0);
    }

    #[test]
    fn the_ack_of_a_fin_covers_only_the_data() {
        let mut r = Reassembly::default();
        r.data(1, 10, 1, true);
        // FIN at 11, so fin_seq (just past it) is 12; its ACK is 12.
        assert_eq!(r.ack(12, Some(12), false), 0);
    }

    #[test]
    fn a_partial_connections_first_ack_proves_nothing() {
        let mut r = Reassembly::default();
        assert_eq!(r.ack(2, None, true), 0);
        assert_eq!(r.ack(2, None, false), 0, "already trimmed to 2");
    }

    #[test]
    fn a_stream_given_up_reports_no_gaps() {
        let mut r = Reassembly::default();
        r.data(ABOVE_HOLE_WITHOUT_ACKS + 100, 1000, 1, true);
        assert_eq!(r.ack(ABOVE_HOLE_WITHOUT_ACKS + 1100, None, false), 0);
    }

    #[test]
    fn a_stream_with_too_many_holes_is_given_up_and_returns_its_ranges() {
        let budget = RangeBudget::new(TOTAL_RANGES);
        let mut r = Reassembly::with_budget(budget.clone());
        for i in 0..(MAX_RANGES as u64 + 1) {
            r.data(10 + 2 * i, 1, 1, false);
        }
        assert!(r.skip);
        assert_eq!(budget.left(), TOTAL_RANGES);
        assert_eq!(r.ack(1_000_000, None, false), 0);
    }

    #[test]
    fn streams_share_the_budget_and_give_ranges_back() {
        let budget = RangeBudget::new(3);
        let mut a = Reassembly::with_budget(budget.clone());
        let mut b = Reassembly::with_budget(budget.clone());
        a.data(10, 1, 1, false);
        a.data(20, 1, 1, false);
        assert_eq!(budget.left(), 1);
        b.data(10, 1, 1, false);
        b.data(20, 1, 1, false); // over budget: b gives up
        assert!(b.skip && !a.skip);
        assert_eq!(budget.left(), 1);
        // An ACK above both of a's ranges frees them; dropping a stream frees the rest.
        assert_eq!(a.ack(30, None, false), 3);
        assert_eq!(budget.left(), 3);
        a.data(40, 1, 30, false);
        drop(a);
        assert_eq!(budget.left(), 3);
    }

    #[test]
    fn ten_mib_held_without_acks_gives_the_stream_up() {
        let mut r = Reassembly::default();
        // Delivered in order but never acknowledged: Zeek holds it all, then gives up.
        r.data(1, EXCESSIVE_WITHOUT_ACKS + 1, 1, false);
        assert!(r.skip);
    }

    proptest! {
        /// The quick ways through `data` and `ack` (nothing waiting) leave a stream exactly
        /// as the ways that handle waiting ranges do.
        #[test]
        fn the_quick_ways_are_the_whole_ways(
            ops in prop::collection::vec(
                (any::<bool>(), 1u64..3000, 0u64..400, 0u64..3000, any::<bool>(), any::<bool>()),
                1..80,
            )
        ) {
            let (b1, b2) = (RangeBudget::new(40), RangeBudget::new(40));
            let mut quick = Reassembly::with_budget(b1.clone());
            let mut whole = Reassembly::with_budget(b2.clone());
            for (is_ack, a, len, acked, none_acked, fin) in ops {
                if is_ack {
                    let fin_seq = fin.then_some(acked.max(2));
                    let q = quick.ack(a, fin_seq, none_acked);
                    let seq = match fin_seq {
                        Some(f) if a >= f => f - 1,
                        _ => a,
                    };
                    let w = if seq <= whole.trim { 0 } else { whole.ack_with_ranges(seq, none_acked) };
                    prop_assert_eq!(q, w);
                } else {
                    quick.data(a, len, acked, none_acked);
                    if !whole.skip && len > 0 {
                        whole.data_with_ranges(a, len, acked, none_acked);
                    }
                }
                prop_assert_eq!(format!("{quick:?}"), format!("{whole:?}"));
                prop_assert_eq!(b1.left(), b2.left());
            }
        }

        /// Whatever arrives in whatever order, every ACK reports exactly one gap per run of
        /// bytes below it that were never captured (and not yet reported), the ranges stay
        /// disjoint and above what was delivered, and their byte count stays right.
        #[test]
        fn each_ack_reports_each_missing_run_once(
            ops in prop::collection::vec((any::<bool>(), 1u64..2000, 1u64..300), 1..60)
        ) {
            let mut r = Reassembly::default();
            let mut covered = vec![false; 2400];
            let mut acked = 1u64;
            for (is_ack, a, b) in ops {
                if is_ack {
                    let before = r.last;
                    let gaps = r.ack(a, None, false);
                    let mut runs = 0;
                    let mut in_hole = false;
                    for c in covered.iter().take(a as usize).skip(before as usize) {
                        if !*c && !in_hole {
                            runs += 1;
                        }
                        in_hole = !*c;
                    }
                    prop_assert_eq!(gaps, runs);
                    acked = acked.max(a);
                } else {
                    // Bytes below what was already delivered or acknowledged are ignored.
                    let from = a.max(r.last).max(acked);
                    for c in covered.iter_mut().take((a + b) as usize).skip(from as usize) {
                        *c = true;
                    }
                    r.data(a, b, acked, acked <= 2);
                }
                let mut prev_end = None;
                let mut bytes = 0;
                for (&s, &e) in &r.pending {
                    prop_assert!(s < e);
                    prop_assert!(s > r.last);
                    if let Some(p) = prev_end {
                        prop_assert!(p < s);
                    }
                    prev_end = Some(e);
                    bytes += e - s;
                }
                prop_assert_eq!(bytes, r.bytes);
            }
        }
    }
}
