//! proptest generators for the tests: filter ASTs and segments drawn from small pools, so
//! that hosts, networks, ports and VLAN ids match often enough to matter.

use super::ast::{Cmp, Dir, FilterExpr, Net, Primitive};
use super::eval::FilterInput;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub const V4: [Ipv4Addr; 4] = [
    Ipv4Addr::new(10, 0, 0, 1),
    Ipv4Addr::new(10, 0, 1, 2),
    Ipv4Addr::new(192, 168, 1, 1),
    Ipv4Addr::new(127, 0, 0, 1),
];
pub const V6: [Ipv6Addr; 4] = [
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
    Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, 2),
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0x1234, 0x5678, 0x9abc, 0xdef0),
    Ipv6Addr::LOCALHOST,
];
pub const PORTS: [u16; 8] = [0, 22, 80, 443, 1023, 1024, 8080, 65535];
pub const VLANS: [u16; 4] = [0, 1, 100, 4095];

fn pick<T: Copy + std::fmt::Debug + 'static>(pool: &'static [T]) -> impl Strategy<Value = T> {
    (0..pool.len()).prop_map(move |i| pool[i])
}

fn any_v4() -> impl Strategy<Value = Ipv4Addr> {
    prop_oneof![4 => pick(&V4), 1 => any::<u32>().prop_map(Ipv4Addr::from)]
}
fn any_v6() -> impl Strategy<Value = Ipv6Addr> {
    prop_oneof![4 => pick(&V6), 1 => any::<u128>().prop_map(Ipv6Addr::from)]
}
fn port() -> impl Strategy<Value = u16> {
    prop_oneof![3 => pick(&PORTS), 1 => any::<u16>()]
}
fn dir() -> impl Strategy<Value = Dir> {
    prop_oneof![
        Just(Dir::Either),
        Just(Dir::Src),
        Just(Dir::Dst),
        Just(Dir::Both)
    ]
}
fn cmp() -> impl Strategy<Value = Cmp> {
    prop_oneof![
        Just(Cmp::Eq),
        Just(Cmp::Ne),
        Just(Cmp::Lt),
        Just(Cmp::Le),
        Just(Cmp::Gt),
        Just(Cmp::Ge)
    ]
}

fn net() -> impl Strategy<Value = Net> {
    prop_oneof![
        (any_v4(), 0..=32u32).prop_map(|(a, len)| {
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            Net::V4 {
                addr: Ipv4Addr::from(u32::from(a) & mask),
                mask,
            }
        }),
        (any_v4(), any::<u32>()).prop_map(|(a, mask)| Net::V4 {
            addr: Ipv4Addr::from(u32::from(a) & mask),
            mask
        }),
        (any_v6(), 0..=128u32).prop_map(|(a, len)| {
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            Net::V6 {
                addr: Ipv6Addr::from(u128::from(a) & mask),
                len: len as u8,
            }
        }),
    ]
}

/// One primitive.
pub fn primitive() -> impl Strategy<Value = Primitive> {
    prop_oneof![
        3 => (dir(), prop_oneof![any_v4().prop_map(IpAddr::V4), any_v6().prop_map(IpAddr::V6)])
            .prop_map(|(dir, addr)| Primitive::Host { dir, addr }),
        2 => (dir(), net()).prop_map(|(dir, net)| Primitive::Net { dir, net }),
        3 => (dir(), port(), port()).prop_map(|(dir, a, b)| Primitive::Port {
            dir,
            lo: a.min(b),
            hi: a.max(b)
        }),
        2 => (dir(), port()).prop_map(|(dir, p)| Primitive::Port { dir, lo: p, hi: p }),
        1 => Just(Primitive::Tcp),
        1 => Just(Primitive::Ip),
        1 => Just(Primitive::Ip6),
        2 => prop::option::of(prop_oneof![3 => pick(&VLANS), 1 => 0..4096u16]).prop_map(Primitive::Vlan),
        3 => (prop_oneof![Just(0xffu8), any::<u8>()], cmp(), prop_oneof![0..=0x1ffu32, Just(0)])
            .prop_map(|(mask, cmp, value)| Primitive::TcpFlags { mask, cmp, value }),
    ]
}

/// A filter AST of up to a few dozen nodes.
pub fn expr() -> impl Strategy<Value = FilterExpr> {
    primitive()
        .prop_map(FilterExpr::Prim)
        .prop_recursive(5, 32, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| FilterExpr::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| FilterExpr::Or(Box::new(a), Box::new(b))),
                inner.prop_map(|a| FilterExpr::Not(Box::new(a))),
            ]
        })
}

/// A TCP segment (both addresses of one family).
pub fn input() -> impl Strategy<Value = FilterInput> {
    let addrs = prop_oneof![
        (any_v4(), any_v4()).prop_map(|(a, b)| (IpAddr::V4(a), IpAddr::V4(b))),
        (any_v6(), any_v6()).prop_map(|(a, b)| (IpAddr::V6(a), IpAddr::V6(b))),
    ];
    let vlan = prop::option::of(prop_oneof![3 => pick(&VLANS), 1 => 0..4096u16]);
    (addrs, port(), port(), any::<u8>(), vlan).prop_map(|((s, d), sp, dp, flags, vlan)| {
        FilterInput {
            src: SocketAddr::new(s, sp),
            dst: SocketAddr::new(d, dp),
            flags,
            vlan,
        }
    })
}
