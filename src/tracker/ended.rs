//! What is kept of connections that have ended: enough to close their TIME-WAIT (at its
//! deadline, or when a new SYN reuses the 4-tuple) and to attribute stray segments.
//!
//! A capture of a busy server ends hundreds of thousands of connections a minute, and each
//! client waits 60 s in TIME-WAIT, so this table holds most of what a capture costs in
//! memory: entries are packed (an IPv4 4-tuple into a 128-bit key; 40 bytes a connection, 16
//! in the deadline heap, ~5–10 in the index: about 65 in all, where a map of whole entries
//! took 90–120 and half as much again while it grew); IPv6 keys are a 64-bit hash, with the
//! addresses in a map of their own.

use super::flow::FlowKey;
use super::seq::SeqNum;
use crate::events::ConnId;
use crate::timestamp::Timestamp;
use hashbrown::HashTable;
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hash::BuildHasher;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// An ended connection, unpacked.
#[derive(Debug, Clone, Copy)]
pub struct Ended {
    /// Its id.
    pub id: ConnId,
    /// Client, server.
    pub addrs: [SocketAddr; 2],
    /// Which sides are in TIME-WAIT.
    pub time_wait: [bool; 2],
    /// When the entry expires (end of TIME-WAIT, or of the grace for strays).
    pub deadline: Timestamp,
    /// The client's ISN (a SYN with it is a retransmission, not a reuse).
    pub client_isn: Option<SeqNum>,
}

const HAS_ISN: u8 = 1;
const TW0: u8 = 2;
const TW1: u8 = 4;
const CLIENT_IS_LO: u8 = 8;
const V6_TAG: u128 = 1 << 127;
/// Forgotten (the slot waits for the front to pass it).
const DEAD: u8 = 16;

/// A 4-tuple's compact form as two words (8-byte aligned: a `u128` would pad every entry
/// to 48 bytes).
type Key = [u64; 2];

struct Packed {
    id: ConnId,
    deadline: Timestamp,
    isn: u32,
    flags: u8,
}

fn compact(key: &FlowKey) -> Key {
    let k = key.compact();
    [(k >> 64) as u64, k as u64]
}

fn wide(k: Key) -> u128 {
    (u128::from(k[0]) << 64) | u128::from(k[1])
}

/// An IPv6 connection's key (its addresses are in the side map).
fn is_v6(k: Key) -> bool {
    wide(k) & V6_TAG != 0
}

fn v4_addrs(k: u128) -> [SocketAddr; 2] {
    let ep = |ip: u128, port: u128| {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip as u32), port as u16))
    };
    [
        ep(k >> 80, (k >> 64) & 0xffff),
        ep((k >> 16) & 0xffff_ffff, k & 0xffff),
    ]
}

/// Slots per block: entries live in blocks that never move (a ring buffer would, in time,
/// touch all of its doubled room).
const BLOCK: usize = if cfg!(test) { 8 } else { 4096 };

/// An entry: its key and what is kept of it (40 bytes).
struct Slot {
    key: Key,
    packed: Packed,
}

/// Ended connections by 4-tuple, with their deadlines.
///
/// Entries are kept in the order they came, in blocks; a hash table of 4-byte entry numbers
/// finds one by its key (a map of whole entries took 41 bytes a bucket, with a quarter to a
/// half of its buckets empty, and half as much again while it grew), and a heap of (deadline,
/// entry number) orders the deadlines. An entry forgotten is marked so; the blocks before
/// the first live entry are dropped, and the table is compacted when more than half of what
/// it holds is dead. About 65 bytes a connection in all.
#[derive(Default)]
pub struct EndedTable {
    blocks: VecDeque<Vec<Slot>>,
    /// The number of the first block's first slot (numbers wrap; fewer than 2^32 are ever
    /// held at once).
    base: u32,
    /// Slots of the first block already dropped from the front.
    front: usize,
    /// Live entries' numbers, by key.
    index: HashTable<u32>,
    live: usize,
    /// IPv6 connections' addresses (client, server); IPv4 ones are in the key.
    v6: FxHashMap<Key, [SocketAddr; 2]>,
    /// (deadline, the id's low 32 bits, entry number): equal deadlines in connection order
    /// (ids 2^32 apart would tie on the id and go by entry), in 16 bytes.
    deadlines: BinaryHeap<Reverse<(Timestamp, u32, u32)>>,
}

fn hash(k: &Key) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(k)
}

impl EndedTable {
    /// Entries held.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Slots held, from the first block's first to the last one's end (every block but the
    /// last is full).
    fn span(&self) -> usize {
        self.blocks
            .back()
            .map_or(0, |b| (self.blocks.len() - 1) * BLOCK + b.len())
    }

    /// The slot numbered `n`, if it is still held (live or not).
    fn slot(&self, n: u32) -> Option<&Slot> {
        let i = n.wrapping_sub(self.base) as usize;
        if i < self.front {
            return None;
        }
        self.blocks.get(i / BLOCK)?.get(i % BLOCK)
    }

    fn slot_mut(&mut self, n: u32) -> &mut Slot {
        let i = n.wrapping_sub(self.base) as usize;
        &mut self.blocks[i / BLOCK][i % BLOCK]
    }

    /// The live entry of `k`, by number.
    fn find(&self, k: &Key) -> Option<u32> {
        let (blocks, base) = (&self.blocks, self.base);
        self.index
            .find(hash(k), |&n| {
                let i = n.wrapping_sub(base) as usize;
                blocks[i / BLOCK][i % BLOCK].key == *k
            })
            .copied()
    }

    /// Forget the entry of `k`: out of the index, marked dead, the front trimmed.
    fn forget(&mut self, k: &Key) {
        let (blocks, base) = (&self.blocks, self.base);
        let entry = self
            .index
            .find_entry(hash(k), |&n| {
                let i = n.wrapping_sub(base) as usize;
                blocks[i / BLOCK][i % BLOCK].key == *k
            })
            .ok();
        let Some(entry) = entry else { return };
        let n = *entry.get();
        entry.remove();
        self.live -= 1;
        self.slot_mut(n).packed.flags |= DEAD;
        if is_v6(*k) {
            self.v6.remove(k);
        }
        self.trim();
    }

    /// Drop the dead slots at the front, a block at a time.
    fn trim(&mut self) {
        while let Some(first) = self.blocks.front() {
            while self.front < first.len() && first[self.front].packed.flags & DEAD != 0 {
                self.front += 1;
            }
            if self.front < BLOCK {
                return;
            }
            self.blocks.pop_front();
            self.base = self.base.wrapping_add(BLOCK as u32);
            self.front = 0;
        }
    }

    /// Keep `e` under `key` until its deadline.
    pub fn insert(&mut self, key: FlowKey, e: Ended) {
        let k = compact(&key);
        let mut flags = 0;
        if e.client_isn.is_some() {
            flags |= HAS_ISN;
        }
        if e.time_wait[0] {
            flags |= TW0;
        }
        if e.time_wait[1] {
            flags |= TW1;
        }
        if e.addrs[0] == key.lo {
            flags |= CLIENT_IS_LO;
        }
        self.forget(&k);
        if is_v6(k) {
            self.v6.insert(k, e.addrs);
        }
        if self.blocks.back().is_none_or(|b| b.len() == BLOCK) {
            self.blocks.push_back(Vec::with_capacity(BLOCK));
        }
        let n = self.base.wrapping_add(self.span() as u32);
        self.blocks
            .back_mut()
            .expect("a block with room")
            .push(Slot {
                key: k,
                packed: Packed {
                    id: e.id,
                    deadline: e.deadline,
                    isn: e.client_isn.map_or(0, |s| s.0),
                    flags,
                },
            });
        let (blocks, base) = (&self.blocks, self.base);
        self.index.insert_unique(hash(&k), n, |&m| {
            let i = m.wrapping_sub(base) as usize;
            hash(&blocks[i / BLOCK][i % BLOCK].key)
        });
        self.live += 1;
        self.deadlines.push(Reverse((e.deadline, e.id as u32, n)));
        if self.span() - self.front > 2 * self.live + BLOCK {
            self.compact();
        }
    }

    /// Keep only the live entries, renumbered from 0: a long-lived entry at the front (a
    /// TIME-WAIT among connections that end by RST and linger 2 s; entries of a clock that
    /// stepped back) would otherwise hold every later slot, live or not. Done when more than
    /// half the slots held are dead, so its cost is paid by the insertions since the last.
    fn compact(&mut self) {
        let mut blocks: VecDeque<Vec<Slot>> = VecDeque::new();
        let mut index = HashTable::with_capacity(self.live);
        let mut deadlines = Vec::with_capacity(self.live);
        let old = std::mem::take(&mut self.blocks);
        let mut n = 0u32;
        for (b, block) in old.into_iter().enumerate() {
            let skip = if b == 0 { self.front } else { 0 };
            for slot in block.into_iter().skip(skip) {
                if slot.packed.flags & DEAD != 0 {
                    continue;
                }
                if blocks.back().is_none_or(|b| b.len() == BLOCK) {
                    blocks.push_back(Vec::with_capacity(BLOCK));
                }
                let h = hash(&slot.key);
                deadlines.push(Reverse((slot.packed.deadline, slot.packed.id as u32, n)));
                blocks.back_mut().expect("a block with room").push(slot);
                index.insert_unique(h, n, |&m: &u32| {
                    let i = m as usize;
                    hash(&blocks[i / BLOCK][i % BLOCK].key)
                });
                n += 1;
            }
        }
        self.blocks = blocks;
        self.index = index;
        self.deadlines = BinaryHeap::from(deadlines);
        self.base = 0;
        self.front = 0;
    }

    fn unpack(&self, k: Key, p: &Packed) -> Ended {
        let v6 = is_v6(k).then(|| self.v6.get(&k)).flatten();
        let addrs = match v6 {
            Some(a) => *a,
            None => {
                let [lo, hi] = v4_addrs(wide(k));
                if p.flags & CLIENT_IS_LO != 0 {
                    [lo, hi]
                } else {
                    [hi, lo]
                }
            }
        };
        Ended {
            id: p.id,
            addrs,
            time_wait: [p.flags & TW0 != 0, p.flags & TW1 != 0],
            deadline: p.deadline,
            client_isn: (p.flags & HAS_ISN != 0).then_some(SeqNum(p.isn)),
        }
    }

    /// The ended connection on `key`, if any.
    pub fn get(&self, key: &FlowKey) -> Option<Ended> {
        let k = compact(key);
        let n = self.find(&k)?;
        let slot = self.slot(n)?;
        Some(self.unpack(k, &slot.packed))
    }

    /// Forget `key` (its deadline entry goes stale).
    pub fn remove(&mut self, key: &FlowKey) {
        self.forget(&compact(key));
    }

    /// Side `s` of `key` left TIME-WAIT early.
    pub fn clear_time_wait(&mut self, key: &FlowKey, s: usize) {
        if let Some(n) = self.find(&compact(key)) {
            self.slot_mut(n).packed.flags &= !(if s == 0 { TW0 } else { TW1 });
        }
    }

    /// The earliest deadline (an entry may be stale: removed or reused since).
    pub fn next_due(&self) -> Option<Timestamp> {
        self.deadlines.peek().map(|Reverse((d, _, _))| *d)
    }

    /// The earliest ended connection whose deadline is at or before `now`, removed.
    pub fn pop_due(&mut self, now: Timestamp) -> Option<Ended> {
        while let Some(Reverse((deadline, _, n))) = self.deadlines.peek().copied() {
            if deadline > now {
                return None;
            }
            self.deadlines.pop();
            // Stale if the entry was forgotten (its key removed or reused) since.
            let Some(slot) = self.slot(n) else { continue };
            if slot.packed.flags & DEAD != 0 {
                continue;
            }
            let k = slot.key;
            let e = self.unpack(k, &slot.packed);
            self.forget(&k);
            return Some(e);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_unpacks_v4_and_v6() {
        for (c, s) in [
            ("10.0.0.1:40000", "10.0.0.2:80"),
            ("10.0.0.9:1", "10.0.0.2:80"),
            ("[::1]:5", "[::1]:6"),
        ] {
            let (c, s): (SocketAddr, SocketAddr) = (c.parse().unwrap(), s.parse().unwrap());
            let key = FlowKey::new(c, s);
            let mut t = EndedTable::default();
            let e = Ended {
                id: 7,
                addrs: [c, s],
                time_wait: [true, false],
                deadline: Timestamp(5),
                client_isn: Some(SeqNum(99)),
            };
            t.insert(key, e);
            let got = t.get(&key).unwrap();
            assert_eq!(
                (got.id, got.addrs, got.time_wait, got.client_isn),
                (7, [c, s], [true, false], Some(SeqNum(99)))
            );
            t.clear_time_wait(&key, 0);
            assert_eq!(t.pop_due(Timestamp(4)).map(|e| e.id), None);
            let due = t.pop_due(Timestamp(5)).unwrap();
            assert_eq!(due.time_wait, [false, false]);
            assert_eq!(t.len(), 0);
        }
    }

    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16, i64),
        Remove(u16),
        ClearTimeWait(u16),
        PopDue(i64),
    }

    fn key(i: u16) -> FlowKey {
        let c = SocketAddr::from(([10, 0, 0, (i % 3) as u8], 40000 + i / 3));
        let s: SocketAddr = if i % 5 == 0 {
            "[::1]:80".parse().unwrap()
        } else {
            "10.0.0.9:80".parse().unwrap()
        };
        match (c, s) {
            (SocketAddr::V4(c), SocketAddr::V6(_)) => {
                FlowKey::new(SocketAddr::from((c.ip().to_ipv6_mapped(), c.port())), s)
            }
            _ => FlowKey::new(c, s),
        }
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u16..40, 0i64..50).prop_map(|(k, d)| Op::Insert(k, d)),
            1 => (0u16..40).prop_map(Op::Remove),
            1 => (0u16..40).prop_map(Op::ClearTimeWait),
            2 => (0i64..60).prop_map(Op::PopDue),
        ]
    }

    proptest! {
        /// The table answers as a map of entries would, popping the earliest deadline first
        /// (the lower connection id first on a tie), however its blocks come and go.
        #[test]
        fn answers_as_a_plain_map(ops in proptest::collection::vec(op(), 0..300)) {
            let mut t = EndedTable::default();
            // key -> (insertion number, entry)
            let mut model: std::collections::HashMap<u16, (u64, Ended)> = Default::default();
            for (n, op) in ops.into_iter().enumerate() {
                match op.clone() {
                    Op::Insert(k, d) => {
                        let fk = key(k);
                        let e = Ended {
                            id: n as u64,
                            addrs: [fk.hi, fk.lo],
                            time_wait: [true, k % 2 == 0],
                            deadline: Timestamp(d),
                            client_isn: (k % 3 != 0).then_some(SeqNum(u32::from(k) * 7)),
                        };
                        t.insert(fk, e);
                        model.insert(k, (n as u64, e));
                    }
                    Op::Remove(k) => {
                        t.remove(&key(k));
                        model.remove(&k);
                    }
                    Op::ClearTimeWait(k) => {
                        t.clear_time_wait(&key(k), 1);
                        if let Some((_, e)) = model.get_mut(&k) {
                            e.time_wait[1] = false;
                        }
                    }
                    Op::PopDue(now) => {
                        let want = model
                            .iter()
                            .filter(|(_, (_, e))| e.deadline.0 <= now)
                            .min_by_key(|(_, (_, e))| (e.deadline, e.id))
                            .map(|(k, _)| *k);
                        let got = t.pop_due(Timestamp(now));
                        match want {
                            Some(k) => {
                                let (_, e) = model.remove(&k).unwrap();
                                let g = got.expect("an entry is due");
                                prop_assert_eq!(
                                    (g.id, g.addrs, g.time_wait, g.deadline, g.client_isn),
                                    (e.id, e.addrs, e.time_wait, e.deadline, e.client_isn)
                                );
                            }
                            None => prop_assert!(got.is_none()),
                        }
                    }
                }
                prop_assert_eq!(t.len(), model.len());
                for k in 0..40u16 {
                    let g = t.get(&key(k)).map(|e| (e.id, e.addrs, e.time_wait, e.client_isn));
                    let m = model.get(&k).map(|(_, e)| (e.id, e.addrs, e.time_wait, e.client_isn));
                    prop_assert_eq!(g, m);
                }
                // After an insertion (what makes the table grow), at most half the slots held
                // are dead (a block's worth aside).
                if matches!(op, Op::Insert(..)) {
                    let held = t.span() - t.front;
                    prop_assert!(held <= 2 * t.live + BLOCK, "{held} slots for {} entries", t.live);
                }
            }
        }
    }
}
