//! Evaluation of a parsed filter on a decoded segment: the meaning every other form (the
//! BPF program) must agree with.

use super::ast::{Dir, FilterExpr, Net, Primitive};
use crate::segment::Segment;
use std::net::{IpAddr, SocketAddr};

/// What a filter looks at: the facts of one TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterInput {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// TCP header byte 13 (the flags).
    pub flags: u8,
    /// The 802.1Q VLAN id (12 bits), if the frame had a tag.
    pub vlan: Option<u16>,
}

impl From<&Segment> for FilterInput {
    /// The segment's addresses and flags; no VLAN (a `Segment` does not keep it).
    fn from(s: &Segment) -> Self {
        FilterInput {
            src: s.src,
            dst: s.dst,
            flags: s.flags.byte13(),
            vlan: None,
        }
    }
}

impl Net {
    /// Does `ip` lie in this network? (An IPv4 network holds no IPv6 address and back.)
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (*self, ip) {
            (Net::V4 { addr, mask }, IpAddr::V4(ip)) => u32::from(ip) & mask == u32::from(addr),
            (Net::V6 { addr, len }, IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                u128::from(ip) & mask == u128::from(addr)
            }
            _ => false,
        }
    }
}

fn by_dir<T: Copy>(dir: Dir, src: T, dst: T, test: impl Fn(T) -> bool) -> bool {
    match dir {
        Dir::Either => test(src) || test(dst),
        Dir::Src => test(src),
        Dir::Dst => test(dst),
        Dir::Both => test(src) && test(dst),
    }
}

impl FilterExpr {
    /// Does the segment pass the filter?
    pub fn matches(&self, pkt: &FilterInput) -> bool {
        self.eval(pkt, true)
    }

    /// As `matches`, for a packet whose TCP header may be out of sight: with `l4 == false`
    /// (an IPv4 fragment after the first, as tcpdump treats them) port and flag tests are
    /// false.
    pub(crate) fn eval(&self, pkt: &FilterInput, l4: bool) -> bool {
        match self {
            FilterExpr::And(a, b) => a.eval(pkt, l4) && b.eval(pkt, l4),
            FilterExpr::Or(a, b) => a.eval(pkt, l4) || b.eval(pkt, l4),
            FilterExpr::Not(a) => !a.eval(pkt, l4),
            FilterExpr::Prim(p) => p.eval(pkt, l4),
        }
    }
}

impl Primitive {
    fn eval(&self, pkt: &FilterInput, l4: bool) -> bool {
        let (src, dst) = (pkt.src, pkt.dst);
        match *self {
            Primitive::Host { dir, addr } => by_dir(dir, src.ip(), dst.ip(), |ip| ip == addr),
            Primitive::Net { dir, net } => by_dir(dir, src.ip(), dst.ip(), |ip| net.contains(ip)),
            Primitive::Port { dir, lo, hi } => {
                l4 && by_dir(dir, src.port(), dst.port(), |p| (lo..=hi).contains(&p))
            }
            Primitive::Tcp => true,
            Primitive::Ip => src.is_ipv4(),
            Primitive::Ip6 => src.is_ipv6(),
            Primitive::Vlan(None) => pkt.vlan.is_some(),
            Primitive::Vlan(Some(id)) => pkt.vlan == Some(id),
            Primitive::TcpFlags { mask, cmp, value } => {
                l4 && cmp.apply(u32::from(pkt.flags & mask), value)
            }
        }
    }
}
