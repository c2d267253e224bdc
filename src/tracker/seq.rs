//! `SeqNum`: a TCP sequence number that compares with wraparound (RFC 9293 §3.4), like
//! smoltcp's `TcpSeqNumber`. Never compare raw `u32`s: they break at 2^32.

use std::cmp::Ordering;
use std::ops::{Add, Sub};

/// A sequence number modulo 2^32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeqNum(pub u32);

impl PartialOrd for SeqNum {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Ordered by the signed distance, so `SeqNum(5) > SeqNum(u32::MAX)`. Not transitive over
/// more than 2^31 apart, as TCP itself.
impl Ord for SeqNum {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.0.wrapping_sub(other.0) as i32).cmp(&0)
    }
}

impl Add<u32> for SeqNum {
    type Output = SeqNum;
    fn add(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(n))
    }
}

impl Sub for SeqNum {
    type Output = i64;
    /// Signed distance `self - other`.
    fn sub(self, other: SeqNum) -> i64 {
        i64::from(self.0.wrapping_sub(other.0) as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn compares_across_wraparound() {
        assert!(SeqNum(5) > SeqNum(u32::MAX));
        assert!(SeqNum(u32::MAX - 10) < SeqNum(3));
        assert_eq!(SeqNum(u32::MAX) + 2, SeqNum(1));
        assert_eq!(SeqNum(1) - SeqNum(u32::MAX), 2);
    }

    proptest! {
        #[test]
        fn adding_a_small_step_is_always_greater(a in any::<u32>(), n in 1u32..(1 << 31)) {
            prop_assert!(SeqNum(a) + n > SeqNum(a));
            prop_assert_eq!((SeqNum(a) + n) - SeqNum(a), i64::from(n));
        }
    }
}
