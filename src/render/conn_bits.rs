//! A set of connection ids near the newest, one bit each: which drawn connections were shown
//! (for their late events, such as TIME_WAIT's end a minute later).
//!
//! Ids are numbered in the order connections began, so the ones still asked about are a
//! window below the newest. A hash set of a million ids took ~25 MB on a long capture; the
//! same window as bits takes 128 KiB.

use crate::events::ConnId;
use std::collections::VecDeque;

/// Ids about this far below the newest inserted are remembered (2 MiB of bits at most;
/// TIME_WAIT's minute at 270,000 new connections a second).
pub const WINDOW: u64 = 1 << 24;

const WORDS: usize = (WINDOW / 64) as usize;

/// Bits for ids `base * 64 ..` up to `(base + words.len()) * 64`.
#[derive(Debug, Default)]
pub struct ConnBits {
    words: VecDeque<u64>,
    /// The first word's number (id / 64).
    base: u64,
}

impl ConnBits {
    /// Remember `id`; ids whose word is `WINDOW / 64` words or more below the newest's are
    /// forgotten.
    pub fn insert(&mut self, id: ConnId) {
        let w = id / 64;
        let Some(top) = (self.base + self.words.len() as u64).checked_sub(1) else {
            self.base = w;
            self.words.push_back(0);
            return self.set(id);
        };
        let span = WORDS as u64;
        if w > top && w - top >= span {
            // A jump past the whole window: start again at this id.
            self.words.clear();
            self.base = w;
            self.words.push_back(0);
        } else if w > top {
            for _ in top..w {
                self.words.push_back(0);
            }
            while self.words.len() > WORDS {
                self.words.pop_front();
                self.base += 1;
            }
        } else if w < self.base {
            if top - w >= span {
                return; // older than the window: forgotten
            }
            for _ in w..self.base {
                self.words.push_front(0);
            }
            self.base = w;
        }
        self.set(id);
    }

    fn set(&mut self, id: ConnId) {
        self.words[(id / 64 - self.base) as usize] |= 1 << (id % 64);
    }

    /// Was `id` inserted (and not forgotten)?
    pub fn contains(&self, id: ConnId) -> bool {
        bit(&self.words, self.base, id)
    }
}

/// Is `id`'s bit set in `words`, the bits of ids `base * 64 ..` (none outside them)?
pub(super) fn bit(words: &VecDeque<u64>, base: u64, id: ConnId) -> bool {
    let w = id / 64;
    w >= base
        && words
            .get((w - base) as usize)
            .is_some_and(|b| b & (1 << (id % 64)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        /// Against a plain set that forgets ids a window below the newest: ids mostly rising
        /// (as connections begin), some out of order, some jumps.
        #[test]
        fn agrees_with_a_set_that_forgets_old_ids(
            steps in proptest::collection::vec((0u8..10, 0u64..200, any::<bool>()), 1..400),
            start in prop_oneof![Just(0u64), Just(u64::MAX / 2), any::<u64>().prop_map(|x| x >> 2)],
        ) {
            let mut bits = ConnBits::default();
            let mut model = BTreeSet::new();
            let mut newest: Option<u64> = None;
            let mut cursor = start;
            for (kind, d, insert) in steps {
                let id = match kind {
                    0 => cursor.saturating_sub(d),                      // a little late
                    1 => cursor.saturating_add(WINDOW + d * 4096),      // a jump past the window
                    2 => cursor.saturating_add(WINDOW - 64 - d),        // near the window's edge
                    3 => cursor.saturating_sub(WINDOW + d),             // forgotten
                    _ => cursor.saturating_add(d),                      // rising
                };
                cursor = cursor.max(id);
                if insert {
                    bits.insert(id);
                    let top = newest.map_or(id, |n| n.max(id)) / 64;
                    // What the window keeps: ids in the last `WORDS` words up to the newest's.
                    let kept = |x: u64| top - x / 64 < WORDS as u64;
                    if kept(id) {
                        model.insert(id);
                    }
                    newest = Some(top * 64 + 63);
                    model.retain(|&x| kept(x));
                }
                for probe in [id, id.wrapping_add(1), id.wrapping_sub(1), cursor] {
                    prop_assert_eq!(bits.contains(probe), model.contains(&probe), "id {}", probe);
                }
            }
        }
    }

    #[test]
    fn a_million_ids_take_bits_not_entries() {
        let mut bits = ConnBits::default();
        for id in 1..=1_000_000u64 {
            if id % 3 != 0 {
                bits.insert(id);
            }
        }
        assert!(bits.contains(1) && !bits.contains(3) && bits.contains(999_999 - 1));
        assert!(!bits.contains(999_999) && !bits.contains(1_000_001));
        assert!(bits.words.len() <= 1_000_000 / 64 + 1);
    }
}
