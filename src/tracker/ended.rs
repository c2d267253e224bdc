//! What is kept of connections that have ended: enough to close their TIME-WAIT (at its
//! deadline, or when a new SYN reuses the 4-tuple) and to attribute stray segments.
//!
//! A capture of a busy server ends hundreds of thousands of connections a minute, and each
//! client waits 60 s in TIME-WAIT, so this table holds most of what a capture costs in
//! memory: entries are packed (an IPv4 4-tuple in 12 bytes; deadline and id counted from
//! their block's first entry's in 32 and 24 bits: 24 bytes a connection, ~5–9 in the index:
//! about 32 in all, where a map of whole entries took 90–120 and half as much again while it
//! grew); IPv6 keys are a 64-bit hash, with the addresses in a map of their own. Deadlines
//! need no heap of their own: TIME-WAITs end in the order they began, so the entries, kept in
//! the order they came, are mostly in deadline order already; only those that are not (an
//! RST's short linger among TIME-WAITs) go into a small heap.

use super::flow::FlowKey;
use super::seq::SeqNum;
use super::sharded::ShardedTable;
use crate::events::ConnId;
use crate::timestamp::Timestamp;
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
/// Forgotten (the slot waits for the front to pass it).
const DEAD: u8 = 16;
/// An IPv6 connection: its key is a hash, its addresses are in the side map.
const V6: u8 = 32;

/// A 4-tuple's compact form: an IPv4 one exactly (lower address and port, higher address and
/// port: 96 bits); an IPv6 one as all ones and a 64-bit hash (see `FlowKey::compact`).
type Key = [u32; 3];

fn compact(key: &FlowKey) -> (Key, bool) {
    let k = key.compact();
    if k >> 127 != 0 {
        return ([u32::MAX, (k >> 32) as u32, k as u32], true);
    }
    // Bits 64..112 (lower endpoint) and 0..48 (higher endpoint), side by side.
    let k = ((k >> 64) << 48) | (k & 0xffff_ffff_ffff);
    ([(k >> 64) as u32, (k >> 32) as u32, k as u32], false)
}

fn v4_addrs(k: Key) -> [SocketAddr; 2] {
    let ep =
        |ip: u32, port: u32| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port as u16));
    [
        ep(k[0], k[1] >> 16),
        ep((k[1] << 16) | (k[2] >> 16), k[2] & 0xffff),
    ]
}

/// Slots per block: entries live in blocks that never move (a ring buffer would, in time,
/// touch all of its doubled room).
const BLOCK: usize = if cfg!(test) { 8 } else { 4096 };

/// How far (ns) an entry's deadline may lie after its block's first entry's, and its id from
/// the first's (either way); past either, a new block begins. A block of TIME-WAITs fills in
/// well under a second on a busy capture; one left short (quiet traffic, a connection that
/// ends long after thousands that began later) keeps its numbers but gives back its room.
const DT_MAX: i64 = if cfg!(test) { 20 } else { u32::MAX as i64 };
const ID_REACH: i64 = if cfg!(test) { 16 } else { 1 << 23 };

/// An entry (24 bytes): the key, the client's ISN and `meta`, which holds the deadline's
/// distance from its block's first (bits 0..32), the flags (32..40) and the id's distance
/// from its block's first (40..64, signed). A late entry's deadline and id are kept beside it
/// (`Late`), its `meta` holding the flags alone.
#[derive(Clone, Copy)]
struct Slot {
    key: Key,
    isn: u32,
    meta: u64,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 24);

impl Slot {
    fn flags(&self) -> u8 {
        (self.meta >> 32) as u8
    }

    fn set_flags(&mut self, f: u8) {
        self.meta = (self.meta & !(0xff << 32)) | (u64::from(f) << 32);
    }

    fn dead(&self) -> bool {
        self.flags() & DEAD != 0
    }
}

/// An entry that came out of order, with its deadline and id.
struct Late {
    slot: Slot,
    deadline: Timestamp,
    id: ConnId,
}

/// Entries in order, their deadlines and ids counted from the first's.
struct Block {
    deadline: Timestamp,
    id: ConnId,
    slots: Vec<Slot>,
}

impl Block {
    /// `Slot::meta` for an entry of this block, if its deadline and id are in reach.
    fn meta(&self, deadline: Timestamp, id: ConnId, flags: u8) -> Option<u64> {
        let dt = deadline.0.checked_sub(self.deadline.0)?;
        let di = (id as i64).wrapping_sub(self.id as i64);
        ((0..=DT_MAX).contains(&dt) && (-ID_REACH..ID_REACH).contains(&di))
            .then(|| dt as u64 | (u64::from(flags) << 32) | ((di as u64) << 40))
    }

    fn deadline_id(&self, s: &Slot) -> (Timestamp, ConnId) {
        let dt = (s.meta & 0xffff_ffff) as i64;
        let di = (s.meta as i64) >> 40;
        (
            Timestamp(self.deadline.0 + dt),
            self.id.wrapping_add(di as u64),
        )
    }
}

/// Put an in-order entry after the last of `blocks` (in a new block if it is full or the entry
/// out of its reach); its offset from the first block's first slot.
fn push_in_order(
    blocks: &mut VecDeque<Block>,
    key: Key,
    isn: u32,
    flags: u8,
    (deadline, id): (Timestamp, ConnId),
) -> usize {
    let fits = blocks
        .back()
        .filter(|b| b.slots.len() < BLOCK)
        .and_then(|b| b.meta(deadline, id, flags));
    let meta = match fits {
        Some(m) => m,
        None => {
            if let Some(short) = blocks.back_mut().filter(|b| b.slots.len() < BLOCK) {
                short.slots.shrink_to_fit();
            }
            let b = Block {
                deadline,
                id,
                slots: Vec::with_capacity(BLOCK),
            };
            let m = b
                .meta(deadline, id, flags)
                .expect("an entry is in its own block's reach");
            blocks.push_back(b);
            m
        }
    };
    let b = blocks.len() - 1;
    let last = &mut blocks[b].slots;
    last.push(Slot { key, isn, meta });
    b * BLOCK + last.len() - 1
}

/// (deadline, id, entry number): the order entries end in (equal deadlines in connection
/// order).
type Due = (Timestamp, ConnId, u32);

/// An entry number with this bit is a place among the late entries; without it, a place in
/// the blocks, counted (in 31 bits, wrapping) from the first block's first slot ever.
const LATE_NO: u32 = 1 << 31;
const NO_BITS: u32 = LATE_NO - 1;

/// Where block entry `n` lies from the first block's first slot, numbered `base`.
fn offset(base: u32, n: u32) -> usize {
    (n.wrapping_sub(base) & NO_BITS) as usize
}

/// Entry `n` among the `blocks` whose first slot is numbered `base`, or the `late` ones.
fn entry<'a>(blocks: &'a VecDeque<Block>, late: &'a [Late], base: u32, n: u32) -> &'a Slot {
    if n & LATE_NO != 0 {
        return &late[(n & NO_BITS) as usize].slot;
    }
    let i = offset(base, n);
    &blocks[i / BLOCK].slots[i % BLOCK]
}

/// Ended connections by 4-tuple, with their deadlines.
///
/// Entries whose deadline is not before the last one's are in order: they are kept in the
/// order they came, in blocks, and are due in the order they lie (`next`: the first of them
/// still live). The others (an RST's 2 s linger among 60 s TIME-WAITs) are kept apart, in
/// `late_slots` with a heap of their deadlines, so that dying early they leave no holes in
/// the blocks. A hash table of 4-byte entry numbers finds an entry by its key (a map of whole
/// entries took 41 bytes a bucket, with a quarter to a half of its buckets empty, and half as
/// much again while it grew). An entry forgotten is marked so; the blocks before the first
/// live entry are dropped, and the blocks are compacted when more than half of their slots
/// are dead (4-tuples reused).
#[derive(Default)]
pub struct EndedTable {
    /// Every block but the last is full or was left short (`BLOCK` numbers each all the same).
    blocks: VecDeque<Block>,
    /// The number of the first block's first slot (numbers wrap in 31 bits; fewer than 2^31
    /// are ever held at once).
    base: u32,
    /// Slots of the first block already dropped from the front.
    front: usize,
    /// Slots in the blocks from `front` on, live or dead.
    held: usize,
    /// Live entries' numbers, by key.
    index: ShardedTable<u32>,
    live: usize,
    /// IPv6 connections' addresses (client, server); IPv4 ones are in the key.
    v6: FxHashMap<Key, [SocketAddr; 2]>,
    /// The last in-order entry's deadline and id.
    tail: Option<(Timestamp, ConnId)>,
    /// The first live in-order entry's offset from `base` (the span if none): every in-order
    /// entry before it is dead.
    next: usize,
    /// Entries that came out of order, and the places among them free again.
    late_slots: Vec<Late>,
    late_free: Vec<u32>,
    /// Their deadlines, as (deadline, id, entry); stale once forgotten.
    late: BinaryHeap<Reverse<Due>>,
    /// No live entry's deadline is before this (lowered by each insertion, raised when
    /// `pop_due` finds nothing due): most calls, one a segment, end on this comparison.
    floor: Timestamp,
}

fn hash(k: &Key) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(k)
}

impl EndedTable {
    /// Entries held.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Offsets from the first block's first slot to the last one's end.
    fn span(&self) -> usize {
        self.blocks
            .back()
            .map_or(0, |b| (self.blocks.len() - 1) * BLOCK + b.slots.len())
    }

    /// The slot at offset `i` from `base` (none where a short block ended).
    fn at(&self, i: usize) -> Option<&Slot> {
        self.blocks.get(i / BLOCK)?.slots.get(i % BLOCK)
    }

    /// Entries held in the blocks (live or not).
    fn in_blocks(&self) -> usize {
        self.live - (self.late_slots.len() - self.late_free.len())
    }

    /// The entry numbered `n`, if it is still held (live or not).
    fn slot(&self, n: u32) -> Option<&Slot> {
        if n & LATE_NO != 0 {
            return self.late_slots.get((n & NO_BITS) as usize).map(|l| &l.slot);
        }
        let i = offset(self.base, n);
        if i < self.front {
            return None;
        }
        self.at(i)
    }

    fn slot_mut(&mut self, n: u32) -> &mut Slot {
        if n & LATE_NO != 0 {
            return &mut self.late_slots[(n & NO_BITS) as usize].slot;
        }
        let i = offset(self.base, n);
        &mut self.blocks[i / BLOCK].slots[i % BLOCK]
    }

    /// Held entry `n`'s deadline and id.
    fn deadline_id(&self, n: u32) -> (Timestamp, ConnId) {
        if n & LATE_NO != 0 {
            let l = &self.late_slots[(n & NO_BITS) as usize];
            return (l.deadline, l.id);
        }
        let i = offset(self.base, n);
        let b = &self.blocks[i / BLOCK];
        b.deadline_id(&b.slots[i % BLOCK])
    }

    /// The live entry of `k`, by number.
    fn find(&self, k: &Key) -> Option<u32> {
        let (blocks, late, base) = (&self.blocks, &self.late_slots, self.base);
        self.index
            .find(hash(k), |&n| entry(blocks, late, base, n).key == *k)
            .copied()
    }

    /// Forget the entry of `k`: out of the index, marked dead (a late one's place free
    /// again), the blocks' front trimmed.
    fn forget(&mut self, k: &Key) {
        let (blocks, late, base) = (&self.blocks, &self.late_slots, self.base);
        let found = self
            .index
            .remove(hash(k), |&n| entry(blocks, late, base, n).key == *k);
        let Some(n) = found else { return };
        let slot = self.slot_mut(n);
        slot.set_flags(slot.flags() | DEAD);
        if slot.flags() & V6 != 0 {
            self.v6.remove(k);
        }
        if n & LATE_NO != 0 {
            self.late_free.push(n & NO_BITS);
        }
        self.live -= 1;
        self.trim();
        self.skip_to_next();
    }

    /// Drop the dead slots at the front, a block at a time.
    fn trim(&mut self) {
        while let Some(first) = self.blocks.front() {
            while self.front < first.slots.len() && first.slots[self.front].dead() {
                self.front += 1;
                self.held -= 1;
            }
            // A block is done with once all it will ever hold is dead: a full one, or one
            // left short (a later block began).
            if self.front < first.slots.len()
                || (self.blocks.len() == 1 && first.slots.len() < BLOCK)
            {
                return;
            }
            self.blocks.pop_front();
            self.base = self.base.wrapping_add(BLOCK as u32) & NO_BITS;
            self.front = 0;
            self.next = self.next.saturating_sub(BLOCK);
        }
    }

    /// Move `next` past dead entries (and where short blocks end). With no in-order entry
    /// left, the next one begins the order afresh (rather than sending every earlier deadline
    /// to the heap).
    fn skip_to_next(&mut self) {
        let span = self.span();
        self.next = self.next.max(self.front);
        while self.next < span && self.at(self.next).is_none_or(Slot::dead) {
            self.next += 1;
        }
        if self.next == span {
            self.tail = None;
        }
    }

    /// Keep `e` under `key` until its deadline.
    pub fn insert(&mut self, key: FlowKey, e: Ended) {
        let (k, v6) = compact(&key);
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
        if v6 {
            flags |= V6;
        }
        self.forget(&k);
        self.floor = self.floor.min(e.deadline);
        if v6 {
            self.v6.insert(k, e.addrs);
        }
        // Its deadline comes before the last in-order entry's: it is kept apart.
        let late = self.tail.is_some_and(|t| (e.deadline, e.id) < t);
        if !late {
            self.tail = Some((e.deadline, e.id));
        }
        let isn = e.client_isn.map_or(0, |s| s.0);
        let n = if late {
            let entry = Late {
                slot: Slot {
                    key: k,
                    isn,
                    meta: u64::from(flags) << 32,
                },
                deadline: e.deadline,
                id: e.id,
            };
            let i = match self.late_free.pop() {
                Some(i) => {
                    self.late_slots[i as usize] = entry;
                    i
                }
                None => {
                    self.late_slots.push(entry);
                    (self.late_slots.len() - 1) as u32
                }
            };
            self.late.push(Reverse((e.deadline, e.id, i | LATE_NO)));
            i | LATE_NO
        } else {
            let i = push_in_order(&mut self.blocks, k, isn, flags, (e.deadline, e.id));
            self.held += 1;
            self.base.wrapping_add(i as u32) & NO_BITS
        };
        let (blocks, late, base) = (&self.blocks, &self.late_slots, self.base);
        self.index
            .insert_unique(hash(&k), n, |&m| hash(&entry(blocks, late, base, m).key));
        self.live += 1;
        self.skip_to_next();
        if self.held > 2 * self.in_blocks() + BLOCK {
            self.compact();
        }
    }

    /// Keep only the live entries, renumbered from 0: a long-lived entry at the front (a
    /// TIME-WAIT among connections that end by RST and linger 2 s; entries of a clock that
    /// stepped back) would otherwise hold every later slot, live or not. Done when more than
    /// half the slots held are dead, so its cost is paid by the insertions since the last.
    fn compact(&mut self) {
        let mut blocks: VecDeque<Block> = VecDeque::new();
        // The old index goes first: the two together were this table's peak.
        self.index = ShardedTable::default();
        let mut index = ShardedTable::with_capacity(self.live);
        let old = std::mem::take(&mut self.blocks);
        let late = &self.late_slots;
        let mut held = 0;
        for (b, block) in old.into_iter().enumerate() {
            let skip = if b == 0 { self.front } else { 0 };
            for slot in block.slots.iter().skip(skip) {
                if slot.dead() {
                    continue;
                }
                let at = block.deadline_id(slot);
                let i = push_in_order(&mut blocks, slot.key, slot.isn, slot.flags(), at);
                let h = hash(&slot.key);
                index.insert_unique(h, i as u32, |&m: &u32| {
                    hash(&entry(&blocks, late, 0, m).key)
                });
                held += 1;
            }
        }
        // The late entries keep their numbers.
        for (i, Late { slot, .. }) in late.iter().enumerate() {
            if !slot.dead() {
                index.insert_unique(hash(&slot.key), i as u32 | LATE_NO, |&m: &u32| {
                    hash(&entry(&blocks, late, 0, m).key)
                });
            }
        }
        self.blocks = blocks;
        self.index = index;
        self.held = held;
        self.base = 0;
        self.front = 0;
        self.next = 0;
        self.skip_to_next();
    }

    fn unpack(&self, s: &Slot, (deadline, id): (Timestamp, ConnId)) -> Ended {
        let flags = s.flags();
        let v6 = (flags & V6 != 0).then(|| self.v6.get(&s.key)).flatten();
        let addrs = match v6 {
            Some(a) => *a,
            None => {
                let [lo, hi] = v4_addrs(s.key);
                if flags & CLIENT_IS_LO != 0 {
                    [lo, hi]
                } else {
                    [hi, lo]
                }
            }
        };
        Ended {
            id,
            addrs,
            time_wait: [flags & TW0 != 0, flags & TW1 != 0],
            deadline,
            client_isn: (flags & HAS_ISN != 0).then_some(SeqNum(s.isn)),
        }
    }

    /// The ended connection on `key`, if any.
    pub fn get(&self, key: &FlowKey) -> Option<Ended> {
        let n = self.find(&compact(key).0)?;
        Some(self.unpack(self.slot(n)?, self.deadline_id(n)))
    }

    /// Forget `key`.
    pub fn remove(&mut self, key: &FlowKey) {
        self.forget(&compact(key).0);
    }

    /// Side `s` of `key` left TIME-WAIT early.
    pub fn clear_time_wait(&mut self, key: &FlowKey, s: usize) {
        if let Some(n) = self.find(&compact(key).0) {
            let slot = self.slot_mut(n);
            slot.set_flags(slot.flags() & !(if s == 0 { TW0 } else { TW1 }));
        }
    }

    /// The first in-order entry still live, as a `Due`.
    fn next_in_order(&self) -> Option<Due> {
        let n = self.base.wrapping_add(self.next as u32) & NO_BITS;
        self.at(self.next).map(|_| {
            let (deadline, id) = self.deadline_id(n);
            (deadline, id, n)
        })
    }

    /// The earliest deadline (it may be stale: an entry removed or reused since).
    pub fn next_due(&self) -> Option<Timestamp> {
        let late = self.late.peek().map(|Reverse(d)| d.0);
        let in_order = self.next_in_order().map(|d| d.0);
        match (late, in_order) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The earliest ended connection whose deadline is at or before `now`, removed.
    pub fn pop_due(&mut self, now: Timestamp) -> Option<Ended> {
        if now < self.floor {
            return None;
        }
        // Stale late entries: forgotten (their key removed or reused) since, their place
        // perhaps taken by another.
        while let Some(&Reverse((d, id, n))) = self.late.peek() {
            if self
                .slot(n)
                .is_some_and(|s| !s.dead() && self.deadline_id(n) == (d, id))
            {
                break;
            }
            self.late.pop();
        }
        let late = self.late.peek().map(|Reverse(d)| *d);
        let (due, from_late) = match (late, self.next_in_order()) {
            (Some(l), Some(o)) if l < o => (l, true),
            (_, Some(o)) => (o, false),
            (Some(l), None) => (l, true),
            (None, None) => {
                self.floor = Timestamp(i64::MAX);
                return None;
            }
        };
        if due.0 > now {
            self.floor = due.0;
            return None;
        }
        if from_late {
            self.late.pop();
        }
        let slot = self.slot(due.2).expect("a live entry");
        let (k, e) = (slot.key, self.unpack(slot, (due.0, due.1)));
        self.forget(&k);
        Some(e)
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
        fn answers_as_a_plain_map(
            ops in proptest::collection::vec(op(), 0..300),
            // Ids across 2^32 too, and out of order (a connection ends after others that
            // began after it).
            first_id in prop_oneof![Just(0u64), Just(u64::from(u32::MAX) - 150), Just(7u64 << 32)],
            // Deadlines a few ns apart, or seconds (past a block's reach in 32 bits of ns).
            scale in prop_oneof![Just(1i64), Just(1i64 << 29)],
            // Ids close together, or millions apart (past a block's reach in 24 bits).
            id_scale in prop_oneof![Just(1u64), Just(1u64 << 20)],
        ) {
            let mut t = EndedTable::default();
            // key -> (insertion number, entry)
            let mut model: std::collections::HashMap<u16, (u64, Ended)> = Default::default();
            for (n, op) in ops.into_iter().enumerate() {
                match op.clone() {
                    Op::Insert(k, d) => {
                        let fk = key(k);
                        let e = Ended {
                            id: first_id + (n as u64 ^ 0x55) * id_scale,
                            addrs: [fk.hi, fk.lo],
                            time_wait: [true, k % 2 == 0],
                            deadline: Timestamp(d * scale),
                            client_isn: (k % 3 != 0).then_some(SeqNum(u32::from(k) * 7)),
                        };
                        t.insert(fk, e);
                        model.insert(k, (e.id, e));
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
                        let now = now * scale;
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
                // The next deadline is the earliest (or one already forgotten, never later).
                let earliest = model.values().map(|(_, e)| e.deadline).min();
                if let Some(m) = earliest {
                    prop_assert!(t.next_due().is_some_and(|d| d <= m));
                }
                for k in 0..40u16 {
                    let g = t.get(&key(k)).map(|e| (e.id, e.addrs, e.time_wait, e.client_isn));
                    let m = model.get(&k).map(|(_, e)| (e.id, e.addrs, e.time_wait, e.client_isn));
                    prop_assert_eq!(g, m);
                }
                // After an insertion (what makes the table grow), at most half the slots held
                // are dead (a block's worth aside).
                if matches!(op, Op::Insert(..)) {
                    let held: usize = t.blocks.iter().map(|b| b.slots.len()).sum::<usize>() - t.front;
                    prop_assert_eq!(held, t.held);
                    prop_assert!(held <= 2 * t.live + BLOCK, "{held} slots for {} entries", t.live);
                }
            }
        }
    }
}
