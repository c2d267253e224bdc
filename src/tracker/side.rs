//! Which end of a connection: the client (sent the first SYN, or guessed) or the server.

use crate::events::Role;
use std::ops::{Index, IndexMut};

/// One end of a connection. The client is the originator (the first SYN's sender, or the
/// guessed one when the handshake was not captured).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// The originator.
    Client,
    /// The responder.
    Server,
}

impl Side {
    /// Both, client first.
    pub const BOTH: [Side; 2] = [Side::Client, Side::Server];

    /// The other end.
    pub fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    /// The end that sent from `is_server`'s address.
    pub fn from_is_server(is_server: bool) -> Side {
        if is_server {
            Side::Server
        } else {
            Side::Client
        }
    }

    /// 0 for the client, 1 for the server (array slots, wire encodings).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The schema's role.
    pub fn role(self) -> Role {
        match self {
            Side::Client => Role::Client,
            Side::Server => Role::Server,
        }
    }
}

/// One value per side, indexed by `Side`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PerSide<T>(pub [T; 2]);

impl<T> PerSide<T> {
    /// Client's, then server's.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
}

impl<T> Index<Side> for PerSide<T> {
    type Output = T;
    fn index(&self, s: Side) -> &T {
        &self.0[s.index()]
    }
}

impl<T> IndexMut<Side> for PerSide<T> {
    fn index_mut(&mut self, s: Side) -> &mut T {
        &mut self.0[s.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_is_the_other_end_and_indexes_match_roles() {
        assert_eq!(Side::Client.peer(), Side::Server);
        assert_eq!(Side::Server.peer(), Side::Client);
        let mut p = PerSide([1, 2]);
        p[Side::Server] += 10;
        assert_eq!(p.0, [1, 12]);
        assert_eq!(Side::Server.role(), Role::Server);
        assert_eq!(Side::from_is_server(true), Side::Server);
    }
}
