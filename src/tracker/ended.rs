//! What is kept of connections that have ended: enough to close their TIME-WAIT (at its
//! deadline, or when a new SYN reuses the 4-tuple) and to attribute stray segments.
//!
//! A capture of a busy server ends hundreds of thousands of connections a minute, and each
//! client waits 60 s in TIME-WAIT, so this table holds most of what a capture costs in
//! memory: entries are packed (an IPv4 4-tuple into a 128-bit key, 40 bytes a connection in
//! the map and 24 in the deadline heap); IPv6 keys are a 64-bit hash, with the addresses in a
//! map of their own.

use super::flow::FlowKey;
use super::seq::SeqNum;
use crate::events::ConnId;
use crate::timestamp::Timestamp;
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
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

/// Ended connections by 4-tuple, with their deadlines.
#[derive(Default)]
pub struct EndedTable {
    map: FxHashMap<Key, Packed>,
    /// IPv6 connections' addresses (client, server); IPv4 ones are in the key.
    v6: FxHashMap<Key, [SocketAddr; 2]>,
    deadlines: BinaryHeap<Reverse<(Timestamp, Key)>>,
}

impl EndedTable {
    /// Entries held.
    pub fn len(&self) -> usize {
        self.map.len()
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
        if is_v6(k) {
            self.v6.insert(k, e.addrs);
        }
        self.map.insert(
            k,
            Packed {
                id: e.id,
                deadline: e.deadline,
                isn: e.client_isn.map_or(0, |s| s.0),
                flags,
            },
        );
        self.deadlines.push(Reverse((e.deadline, k)));
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
        self.map.get(&k).map(|p| self.unpack(k, p))
    }

    /// Forget `key` (its deadline entry goes stale).
    pub fn remove(&mut self, key: &FlowKey) {
        let k = compact(key);
        if self.map.remove(&k).is_some() && is_v6(k) {
            self.v6.remove(&k);
        }
    }

    /// Side `s` of `key` left TIME-WAIT early.
    pub fn clear_time_wait(&mut self, key: &FlowKey, s: usize) {
        if let Some(p) = self.map.get_mut(&compact(key)) {
            p.flags &= !(if s == 0 { TW0 } else { TW1 });
        }
    }

    /// The earliest deadline (an entry may be stale: removed or reused since).
    pub fn next_due(&self) -> Option<Timestamp> {
        self.deadlines.peek().map(|Reverse((d, _))| *d)
    }

    /// The earliest ended connection whose deadline is at or before `now`, removed.
    pub fn pop_due(&mut self, now: Timestamp) -> Option<Ended> {
        while let Some(Reverse((deadline, k))) = self.deadlines.peek().copied() {
            if deadline > now {
                return None;
            }
            self.deadlines.pop();
            // Stale if the key was removed or reused since.
            if self.map.get(&k).is_some_and(|p| p.deadline == deadline) {
                let p = self.map.remove(&k).expect("just checked");
                let e = self.unpack(k, &p);
                self.v6.remove(&k);
                return Some(e);
            }
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
}
