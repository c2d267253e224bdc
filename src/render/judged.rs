//! Which connections at or above the next one awaited have had their verdict: one bit an id,
//! from the lowest id not yet judged up.
//!
//! Verdicts come in the order connections end, ids in the order they began: while one early
//! connection stays open (a TIME-WAIT whose last ACK was lost holds it a minute; a long
//! session, the whole capture), every later verdict is judged above it. A `BTreeSet` of those
//! ids grew by a node's share per verdict and cost a tenth of a summary's tracking thread;
//! bits take an eighth of a byte an id and a shift.

use crate::events::ConnId;
use std::collections::VecDeque;

/// Bits for ids `base * 64 ..` up to `(base + words.len()) * 64`.
#[derive(Debug, Default)]
pub struct Judged {
    words: VecDeque<u64>,
    /// The first word's number (id / 64).
    base: u64,
}

impl Judged {
    /// Note `id` judged (`id` is at or above the last `forget_below`'s floor).
    pub fn insert(&mut self, id: ConnId) {
        let w = id / 64;
        if self.words.is_empty() {
            self.base = w;
        }
        // Below the first word (which began at a higher id): words in front.
        while w < self.base {
            self.words.push_front(0);
            self.base -= 1;
        }
        let i = (w - self.base) as usize;
        if i >= self.words.len() {
            self.words.resize(i + 1, 0);
        }
        self.words[i] |= 1 << (id % 64);
    }

    /// Was `id` noted (and not forgotten)?
    pub fn contains(&self, id: ConnId) -> bool {
        super::conn_bits::bit(&self.words, self.base, id)
    }

    /// Forget the ids below `floor` (the next id awaited: everything below it is judged).
    pub fn forget_below(&mut self, floor: ConnId) {
        let w = floor / 64;
        while self.base < w && !self.words.is_empty() {
            self.words.pop_front();
            self.base += 1;
        }
        if self.words.is_empty() {
            self.base = w;
        } else if self.base == w {
            // Within the floor's word, the ids below it.
            self.words[0] &= !((1u64 << (floor % 64)) - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        /// Against a set: ids noted above a floor that rises, as in `Grouped` (ids mostly
        /// rising, some far above, the floor passing them).
        #[test]
        fn agrees_with_a_set(
            steps in proptest::collection::vec((0u8..4, 0u64..300), 1..300),
            start in prop_oneof![Just(0u64), Just(1u64), any::<u64>().prop_map(|x| x >> 2)],
        ) {
            let mut bits = Judged::default();
            let mut model = BTreeSet::new();
            let mut floor = start;
            bits.forget_below(floor);
            for (kind, d) in steps {
                match kind {
                    0 => {
                        floor += d % 70;
                        bits.forget_below(floor);
                        model.retain(|&x| x >= floor);
                    }
                    _ => {
                        let id = floor + d * u64::from(kind);
                        bits.insert(id);
                        model.insert(id);
                    }
                }
                for probe in [floor, floor.saturating_sub(1), floor + d, floor + d + 1, floor + 63, floor + 64] {
                    prop_assert_eq!(bits.contains(probe), model.contains(&probe), "id {}", probe);
                }
                // Words from the floor's to the highest id's, at most.
                let top = model.last().map_or(floor, |&m| m.max(floor));
                prop_assert!(bits.words.len() as u64 <= top / 64 + 1 - floor / 64);
            }
        }
    }
}
