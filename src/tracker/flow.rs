//! `FlowKey`: the canonical 4-tuple of a connection (both directions map to one key), and
//! `Direction`.

use std::net::{SocketAddr, SocketAddrV4};

/// Both endpoints, the smaller first, so A→B and B→A give the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// The smaller endpoint.
    pub lo: SocketAddr,
    /// The larger endpoint.
    pub hi: SocketAddr,
}

impl FlowKey {
    /// A 128-bit key for tables: an IPv4 4-tuple packed exactly (96 bits), an IPv6 one as a
    /// 64-bit hash with the top bit set (a collision between two live IPv6 4-tuples has odds
    /// of about 2^-64 per pair).
    pub fn compact(&self) -> u128 {
        use std::hash::{Hash, Hasher};
        match (self.lo, self.hi) {
            (SocketAddr::V4(lo), SocketAddr::V4(hi)) => v4_key(lo, hi),
            _ => {
                // A fixed-key SipHash: the same key in every run.
                let mut h = std::hash::DefaultHasher::new();
                self.hash(&mut h);
                (1 << 127) | u128::from(h.finish())
            }
        }
    }

    /// `FlowKey::new(src, dst).compact()`, without the key: an IPv4 4-tuple's endpoints are
    /// put in order as the integers they pack into (a comparison of two integers rather than
    /// of two enums: asked every segment).
    pub fn compact_of(src: SocketAddr, dst: SocketAddr) -> u128 {
        match (src, dst) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) => v4_key(s, d),
            _ => FlowKey::new(src, dst).compact(),
        }
    }

    /// The key of a segment from `src` to `dst`.
    pub fn new(src: SocketAddr, dst: SocketAddr) -> FlowKey {
        if src <= dst {
            FlowKey { lo: src, hi: dst }
        } else {
            FlowKey { lo: dst, hi: src }
        }
    }
}

/// An IPv4 4-tuple's key, either way round: each endpoint packed into 48 bits (address, then
/// port, so the integers order as `SocketAddrV4`s do), the smaller in the high half.
fn v4_key(a: SocketAddrV4, b: SocketAddrV4) -> u128 {
    let pack = |e: SocketAddrV4| (u64::from(u32::from(*e.ip())) << 16) | u64::from(e.port());
    let (a, b) = (pack(a), pack(b));
    (u128::from(a.min(b)) << 64) | u128::from(a.max(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_share_a_key() {
        let a: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let b: SocketAddr = "127.0.0.9:8888".parse().unwrap();
        assert_eq!(FlowKey::new(a, b), FlowKey::new(b, a));
        assert_ne!(FlowKey::new(a, b), FlowKey::new(a, a));
    }

    fn addr() -> impl proptest::strategy::Strategy<Value = SocketAddr> {
        use proptest::prelude::*;
        // Few values each, so that equal addresses and equal ports come up often.
        let v4 = (0u32..4, 0u16..3).prop_map(|(a, p)| SocketAddr::from(([127, 0, 0, a as u8], p)));
        let wide =
            (any::<u32>(), any::<u16>()).prop_map(|(a, p)| SocketAddr::from((a.to_be_bytes(), p)));
        let v6 =
            (0u16..3, 0u16..3).prop_map(|(a, p)| SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, a], p)));
        prop_oneof![v4, wide, v6]
    }

    proptest::proptest! {
        /// The shortcut gives the key the endpoints' order gives, both ways round.
        #[test]
        fn compact_of_is_the_keys_compact(a in addr(), b in addr()) {
            proptest::prop_assert_eq!(FlowKey::compact_of(a, b), FlowKey::new(a, b).compact());
            proptest::prop_assert_eq!(FlowKey::compact_of(b, a), FlowKey::new(a, b).compact());
        }
    }
}
