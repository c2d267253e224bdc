//! Zeek's TCP reassembler (TCP_Reassembler.cc, Reassem.cc) reduced to what conn.log's
//! content-gap letters `G`/`g` need: which ranges of one endpoint's stream the capture holds
//! whole, and how far the peer's ACKs say the stream got. No payload bytes are kept.
//!
//! Sequence numbers here are relative and 64-bit, as Zeek's: the first data byte is 1.

/// Zeek's `tcp_max_above_hole_without_any_acks`: undelivered bytes above a hole, with no
/// ACK ever seen for this stream, after which Zeek gives up on the stream.
const ABOVE_HOLE_WITHOUT_ACKS: u64 = 16_384;
/// Zeek's `tcp_excessive_data_without_further_acks`.
const EXCESSIVE_WITHOUT_ACKS: u64 = 10 * 1024 * 1024;
/// Holes kept at most; beyond this the stream is given up (as Zeek gives up on excess).
const MAX_RANGES: usize = 1024;

/// One direction's reassembly bookkeeping.
#[derive(Debug, Clone)]
pub struct Reassembly {
    /// `last_reassem_seq`: everything below was delivered or declared missing.
    last: u64,
    /// `trim_seq`: everything below was acknowledged and forgotten.
    trim: u64,
    /// Captured ranges above `last`, waiting for a hole to fill: sorted, disjoint.
    pending: Vec<(u64, u64)>,
    /// `skip_deliveries`: Zeek stopped reassembling this stream.
    skip: bool,
}

impl Default for Reassembly {
    fn default() -> Self {
        Reassembly {
            last: 1,
            trim: 1,
            pending: Vec::new(),
            skip: false,
        }
    }
}

impl Reassembly {
    /// `DataSent`: the capture holds the payload `[seq, seq + len)` whole. `acked` is the
    /// highest ACK seen for this stream; `no_data_acked` when none acknowledged data yet.
    pub fn data(&mut self, seq: u64, len: u64, acked: u64, no_data_acked: bool) {
        if self.skip || len == 0 {
            return;
        }
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
        let top = self.pending.last().map_or(self.last, |r| r.1);
        let held = self.last.saturating_sub(self.trim) + self.pending_bytes();
        if (no_data_acked && top - self.last > ABOVE_HOLE_WITHOUT_ACKS)
            || held > EXCESSIVE_WITHOUT_ACKS
            || self.pending.len() > MAX_RANGES
        {
            self.pending.clear();
            self.skip = true;
        }
    }

    /// `AckReceived`: the peer acknowledged up to `seq`. `fin_seq` is the sequence number
    /// just past this stream's FIN, if one was sent; `partial` is Zeek's "connection picked
    /// up without its handshake". Returns how many content gaps Zeek reports.
    pub fn ack(&mut self, seq: u64, fin_seq: Option<u64>, partial: bool) -> u32 {
        // A FIN's sequence number is not data: an ACK of it covers the data before it.
        let seq = match fin_seq {
            Some(f) if seq >= f => f.saturating_sub(1),
            _ => seq,
        };
        if seq <= self.trim {
            return 0;
        }
        let mut gaps = 0;
        if seq > self.last {
            gaps = self.undelivered(seq, partial);
        }
        self.pending.retain(|r| r.1 > seq);
        self.deliver();
        self.trim = seq;
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
            while let Some(&(start, _)) = self.pending.first() {
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
        while let Some(&(start, end)) = self.pending.first() {
            if start > self.last {
                break;
            }
            self.last = self.last.max(end);
            self.pending.remove(0);
        }
    }

    fn insert(&mut self, start: u64, end: u64) {
        let i = self.pending.partition_point(|r| r.1 < start);
        let mut s = start;
        let mut e = end;
        let mut j = i;
        while j < self.pending.len() && self.pending[j].0 <= e {
            s = s.min(self.pending[j].0);
            e = e.max(self.pending[j].1);
            j += 1;
        }
        self.pending.splice(i..j, [(s, e)]);
    }

    fn pending_bytes(&self) -> u64 {
        self.pending.iter().map(|r| r.1 - r.0).sum()
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

    proptest! {
        /// Whatever arrives in whatever order, the bookkeeping stays sorted and disjoint,
        /// above what was delivered, and a gap is reported only for bytes never captured.
        #[test]
        fn ranges_stay_sorted_and_gaps_need_missing_bytes(
            ops in prop::collection::vec((any::<bool>(), 1u64..2000, 1u64..300), 1..60)
        ) {
            let mut r = Reassembly::default();
            let mut covered = vec![false; 2400];
            let mut acked = 1u64;
            for (is_ack, a, b) in ops {
                if is_ack {
                    let before = r.last;
                    let gaps = r.ack(a, None, false);
                    if gaps > 0 {
                        let missing = (before as usize..a as usize).any(|i| !covered[i]);
                        prop_assert!(missing, "gap reported with every byte captured");
                    }
                    acked = acked.max(a);
                } else {
                    r.data(a, b, acked, acked <= 2);
                    for c in covered.iter_mut().take((a + b) as usize).skip(a as usize) {
                        *c = true;
                    }
                }
                for w in r.pending.windows(2) {
                    prop_assert!(w[0].1 < w[1].0);
                }
                if let Some(first) = r.pending.first() {
                    prop_assert!(first.0 > r.last);
                }
            }
        }
    }
}
