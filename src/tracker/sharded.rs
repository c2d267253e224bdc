//! A hash table split in shards by hash, each growing on its own.
//!
//! One table of a million entries doubles all at once: for that moment the old buckets and the
//! twice as many new ones are held together (the ended table's index took 15.7 MB at a long
//! capture's peak, for 10.5 MB of buckets after). Shards double one at a time, a 64th of the
//! buckets each, and, filling unevenly, sit between half and seven eighths full on average
//! rather than all at the same point.

use hashbrown::HashTable;

const SHARDS: usize = 64;

/// Bits 51..57 of a hash pick the shard: hashbrown takes a bucket from the low bits and its
/// tag from the top seven, so a shard's entries stay spread over its buckets.
fn shard(hash: u64) -> usize {
    (hash >> 51) as usize % SHARDS
}

/// `HashTable<T>` in [`SHARDS`] parts.
pub struct ShardedTable<T> {
    shards: Box<[HashTable<T>]>,
}

impl<T> Default for ShardedTable<T> {
    fn default() -> Self {
        ShardedTable {
            shards: (0..SHARDS).map(|_| HashTable::new()).collect(),
        }
    }
}

impl<T> ShardedTable<T> {
    /// Room for about `n` entries spread evenly.
    pub fn with_capacity(n: usize) -> Self {
        let each = n.div_ceil(SHARDS);
        ShardedTable {
            shards: (0..SHARDS)
                .map(|_| HashTable::with_capacity(each))
                .collect(),
        }
    }

    /// The entry with `hash` that `eq` accepts.
    pub fn find(&self, hash: u64, eq: impl FnMut(&T) -> bool) -> Option<&T> {
        self.shards[shard(hash)].find(hash, eq)
    }

    /// Take out the entry with `hash` that `eq` accepts.
    pub fn remove(&mut self, hash: u64, eq: impl FnMut(&T) -> bool) -> Option<T> {
        let e = self.shards[shard(hash)].find_entry(hash, eq).ok()?;
        Some(e.remove().0)
    }

    /// Add `value` (not already in) with `hash`; `hasher` gives an entry's hash again as its
    /// shard grows.
    pub fn insert_unique(&mut self, hash: u64, value: T, hasher: impl Fn(&T) -> u64) {
        self.shards[shard(hash)].insert_unique(hash, value, hasher);
    }

    /// Entries held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.shards.iter().map(HashTable::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;
    use std::hash::BuildHasher;

    fn h(k: u64) -> u64 {
        rustc_hash::FxBuildHasher.hash_one(k)
    }

    proptest! {
        /// Against a map: keys inserted, found and removed in any order, across many shards.
        #[test]
        fn agrees_with_a_map(ops in proptest::collection::vec((0u8..3, 0u64..3000), 1..2000)) {
            let mut t: ShardedTable<(u64, u32)> = ShardedTable::default();
            let mut m: HashMap<u64, u32> = HashMap::new();
            for (i, (op, k)) in ops.into_iter().enumerate() {
                match op {
                    0 if !m.contains_key(&k) => {
                        t.insert_unique(h(k), (k, i as u32), |e| h(e.0));
                        m.insert(k, i as u32);
                    }
                    1 => {
                        let got = t.remove(h(k), |e| e.0 == k).map(|e| e.1);
                        prop_assert_eq!(got, m.remove(&k));
                    }
                    _ => {}
                }
                prop_assert_eq!(t.find(h(k), |e| e.0 == k).map(|e| e.1), m.get(&k).copied());
                prop_assert_eq!(t.len(), m.len());
            }
        }
    }

    /// Loopback 4-tuples (one address, ports counting up), hashed as the ended table hashes
    /// its keys, spread too.
    #[test]
    fn loopback_tuples_spread_over_the_shards() {
        let lo = u32::from(std::net::Ipv4Addr::LOCALHOST);
        let mut t: ShardedTable<[u32; 3]> = ShardedTable::default();
        let hash = |k: &[u32; 3]| rustc_hash::FxBuildHasher.hash_one(k);
        for port in 20_000..52_000u32 {
            for server in [8888u32, 27001] {
                let k = [
                    lo,
                    (port << 16) | (lo >> 16),
                    ((lo & 0xffff) << 16) | server,
                ];
                t.insert_unique(hash(&k), k, hash);
            }
        }
        for s in t.shards.iter() {
            assert!((700..1300).contains(&s.len()), "{} in one shard", s.len());
        }
    }

    #[test]
    fn keys_spread_over_the_shards() {
        let mut t: ShardedTable<u64> = ShardedTable::with_capacity(64_000);
        for k in 0..64_000u64 {
            t.insert_unique(h(k), k, |&k| h(k));
        }
        for s in t.shards.iter() {
            assert!((700..1300).contains(&s.len()), "{} in one shard", s.len());
        }
    }
}
