//! The holds of one kind, in key order: an ordered map for keys that come almost in order.
//!
//! A hold's key starts with its segment's time, so holds begin at the back; they end in any
//! order (when their answer comes). A `BTreeMap` paid a node's search, shift and sometimes
//! allocation each way (a twelfth of a summary's tracking). Here a hold begins with a push to
//! the back of a vector (a binary search and a short shift when it is out of order), and ends
//! by being marked gone in place (a binary search): gone holds are dropped when they reach
//! either end (at the front by moving where the list starts), and all at once when they
//! outnumber the holds left. (A `VecDeque` did the same with half again the instructions: its
//! search and ends go through its two slices.)

use super::queue::HoldKey;

/// Holds by key, each with its connection's table key.
#[derive(Debug, Default)]
pub struct HoldList {
    /// Sorted by key from `start`, no key twice; `None`: ended. Both ends of `items[start..]`
    /// are held (or it is empty); what lies before `start` is dropped.
    items: Vec<(HoldKey, Option<u128>)>,
    /// Where the list starts in `items`.
    start: usize,
    /// Holds not ended.
    live: usize,
}

impl HoldList {
    /// The list, in key order.
    fn list(&self) -> &[(HoldKey, Option<u128>)] {
        &self.items[self.start..]
    }

    /// Hold `key` for the connection `conn` (a key held already takes the new `conn`).
    pub fn insert(&mut self, key: HoldKey, conn: u128) {
        if self.list().last().is_none_or(|b| b.0 < key) {
            self.items.push((key, Some(conn)));
            self.live += 1;
            return;
        }
        match self.list().binary_search_by(|e| e.0.cmp(&key)) {
            Ok(i) => {
                if self.items[self.start + i].1.replace(conn).is_none() {
                    self.live += 1;
                }
            }
            Err(i) => {
                self.items.insert(self.start + i, (key, Some(conn)));
                self.live += 1;
            }
        }
    }

    /// End the hold `key`: its connection's table key, if it was held.
    pub fn remove(&mut self, key: &HoldKey) -> Option<u128> {
        let i = self.list().binary_search_by(|e| e.0.cmp(key)).ok()?;
        let conn = self.items[self.start + i].1.take()?;
        self.live -= 1;
        if self.live == 0 {
            self.items.clear();
            self.start = 0;
            return Some(conn);
        }
        // Both ends held again: some hold is live, so neither loop runs past it.
        while self.items[self.start].1.is_none() {
            self.start += 1;
        }
        while self.items.last().is_some_and(|e| e.1.is_none()) {
            self.items.pop();
        }
        // Ended holds before the start or between long-lived ones: kept no longer than the
        // holds left need.
        if self.items.len() > 2 * self.live + 64 {
            self.items.retain(|e| e.1.is_some());
            self.start = 0;
        }
        Some(conn)
    }

    /// The oldest hold.
    pub fn first(&self) -> Option<(HoldKey, u128)> {
        self.list().first().and_then(|&(k, c)| Some((k, c?)))
    }

    /// The holds, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (HoldKey, u128)> + '_ {
        self.list().iter().filter_map(|&(k, c)| Some((k, c?)))
    }

    /// How many holds.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.live
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::Timestamp;
    use crate::tracker::queue::HoldKind;
    use crate::tracker::side::Side;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn key(t: i64, conn: u64) -> HoldKey {
        (Timestamp(t), conn, HoldKind::Delivery(Side::Client))
    }

    proptest! {
        /// Against a map: holds begun near the back, far back, again, and ended in any order
        /// (some never held), many ended between long-lived ones.
        #[test]
        fn as_an_ordered_map(ops in proptest::collection::vec((0u8..4, 0i64..200, 0u64..3), 0..400)) {
            let mut list = HoldList::default();
            let mut map = BTreeMap::new();
            let mut t = 0i64;
            for (n, (op, dt, conn)) in ops.into_iter().enumerate() {
                match op {
                    // Begin at about the latest time (in order, or a little before it).
                    0 | 1 => {
                        t += dt % 4;
                        let k = key(t - dt % 3, conn);
                        list.insert(k, n as u128);
                        map.insert(k, n as u128);
                    }
                    // End one at a time picked by `dt` (held or not).
                    _ => {
                        let k = key(dt.min(t), conn);
                        prop_assert_eq!(list.remove(&k), map.remove(&k));
                        if let Some((&k, _)) = map.iter().nth((dt as usize) % (map.len() + 1)) {
                            prop_assert_eq!(list.remove(&k), map.remove(&k));
                        }
                    }
                }
                prop_assert_eq!(list.len(), map.len());
                prop_assert_eq!(list.first(), map.first_key_value().map(|(k, v)| (*k, *v)));
                let all: Vec<_> = list.iter().collect();
                let want: Vec<_> = map.iter().map(|(k, v)| (*k, *v)).collect();
                prop_assert_eq!(all, want);
                prop_assert!(list.items.len() <= 2 * list.live + 64);
            }
        }
    }
}
