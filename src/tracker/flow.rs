//! `FlowKey`: the canonical 4-tuple of a connection (both directions map to one key), and
//! `Direction`.

use std::net::SocketAddr;

/// Both endpoints, the smaller first, so A→B and B→A give the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// The smaller endpoint.
    pub lo: SocketAddr,
    /// The larger endpoint.
    pub hi: SocketAddr,
}

impl FlowKey {
    /// The key of a segment from `src` to `dst`.
    pub fn new(src: SocketAddr, dst: SocketAddr) -> FlowKey {
        if src <= dst {
            FlowKey { lo: src, hi: dst }
        } else {
            FlowKey { lo: dst, hi: src }
        }
    }
}

/// Which way a segment travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client (originator) to server (responder).
    ToServer,
    /// Server to client.
    ToClient,
}

impl Direction {
    /// The sending side's index (0 = client, 1 = server).
    pub fn sender(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }

    /// `c2s` / `s2c`, as the schema spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ToServer => "c2s",
            Direction::ToClient => "s2c",
        }
    }
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
}
