//! The parsed filter: a tree of `and`/`or`/`not` over primitives, and its `Display`, which
//! prints text that parses back to the same tree.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A parsed filter expression (the AST). Built by [`super::parse`]; evaluated by
/// [`FilterExpr::matches`]; compiled to classic BPF by [`super::bpf::compile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterExpr {
    /// Both sides hold.
    And(Box<FilterExpr>, Box<FilterExpr>),
    /// Either side holds.
    Or(Box<FilterExpr>, Box<FilterExpr>),
    /// The inner expression does not hold.
    Not(Box<FilterExpr>),
    /// One test.
    Prim(Primitive),
}

/// Which address or port of the segment a primitive looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Source or destination (no qualifier, or `src or dst`).
    Either,
    /// The source only (`src`).
    Src,
    /// The destination only (`dst`).
    Dst,
    /// Both source and destination (`src and dst`).
    Both,
}

/// An IPv4 network with any (even non-contiguous) mask, or an IPv6 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Net {
    /// IPv4: `addr & mask == addr` always holds.
    V4 {
        /// Network address (no bits outside `mask`).
        addr: Ipv4Addr,
        /// Netmask as a number (`255.255.0.0` is `0xffff_0000`).
        mask: u32,
    },
    /// IPv6: the first `len` bits of `addr`; the rest are zero.
    V6 {
        /// Network address (no bits past `len`).
        addr: Ipv6Addr,
        /// Prefix length, 0..=128.
        len: u8,
    },
}

/// A comparison operator of `tcp[tcpflags]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cmp {
    /// `=` or `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

impl Cmp {
    /// Apply the operator.
    pub fn apply(self, a: u32, b: u32) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
    fn symbol(self) -> &'static str {
        match self {
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
}

/// One test on a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Primitive {
    /// `[src|dst] host A`: one address (a name that resolved to several is an `or` of these).
    Host {
        /// Which side.
        dir: Dir,
        /// The address.
        addr: IpAddr,
    },
    /// `[src|dst] net N`: the address lies in the network.
    Net {
        /// Which side.
        dir: Dir,
        /// The network.
        net: Net,
    },
    /// `[src|dst] port N` (`lo == hi`) or `[src|dst] portrange lo-hi`.
    Port {
        /// Which side.
        dir: Dir,
        /// Lowest port, inclusive.
        lo: u16,
        /// Highest port, inclusive (`lo <= hi`).
        hi: u16,
    },
    /// `tcp`: always true for a TCP segment.
    Tcp,
    /// `ip`: IPv4.
    Ip,
    /// `ip6`: IPv6.
    Ip6,
    /// `vlan [ID]`: an 802.1Q tag (with that VLAN id).
    Vlan(Option<u16>),
    /// `tcp[tcpflags] & mask OP value` (`mask` is 0xff when the `&` part is absent).
    TcpFlags {
        /// Bits of TCP header byte 13 kept before comparing.
        mask: u8,
        /// The operator.
        cmp: Cmp,
        /// The right-hand side.
        value: u32,
    },
}

/// Flag names of `tcp[tcpflags]`, lowest bit first (as pcap-filter spells them).
pub const FLAG_NAMES: [(&str, u8); 8] = [
    ("tcp-fin", 0x01),
    ("tcp-syn", 0x02),
    ("tcp-rst", 0x04),
    ("tcp-push", 0x08),
    ("tcp-ack", 0x10),
    ("tcp-urg", 0x20),
    ("tcp-ece", 0x40),
    ("tcp-cwr", 0x80),
];

impl fmt::Display for Dir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dir::Either => "",
            Dir::Src => "src ",
            Dir::Dst => "dst ",
            Dir::Both => "src and dst ",
        })
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Net::V4 { addr, mask } if mask.leading_ones() + mask.trailing_zeros() == 32 => {
                write!(f, "{addr}/{}", mask.leading_ones())
            }
            Net::V4 { addr, mask } => write!(f, "{addr} mask {}", Ipv4Addr::from(mask)),
            Net::V6 { addr, len } => write!(f, "{addr}/{len}"),
        }
    }
}

/// `(tcp-syn|tcp-ack)`, `tcp-syn`, `0` or a decimal number beyond one byte.
fn write_flag_bits(f: &mut fmt::Formatter<'_>, bits: u32) -> fmt::Result {
    if bits == 0 || bits > 0xff {
        return write!(f, "{bits}");
    }
    let names: Vec<&str> = FLAG_NAMES
        .iter()
        .filter(|(_, b)| bits & u32::from(*b) != 0)
        .map(|(n, _)| *n)
        .collect();
    if names.len() == 1 {
        f.write_str(names[0])
    } else {
        write!(f, "({})", names.join("|"))
    }
}

impl fmt::Display for Primitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Primitive::Host { dir, addr } => write!(f, "{dir}host {addr}"),
            Primitive::Net { dir, net } => write!(f, "{dir}net {net}"),
            Primitive::Port { dir, lo, hi } if lo == hi => write!(f, "{dir}port {lo}"),
            Primitive::Port { dir, lo, hi } => write!(f, "{dir}portrange {lo}-{hi}"),
            Primitive::Tcp => f.write_str("tcp"),
            Primitive::Ip => f.write_str("ip"),
            Primitive::Ip6 => f.write_str("ip6"),
            Primitive::Vlan(None) => f.write_str("vlan"),
            Primitive::Vlan(Some(id)) => write!(f, "vlan {id}"),
            Primitive::TcpFlags { mask, cmp, value } => {
                f.write_str("tcp[tcpflags]")?;
                if *mask != 0xff {
                    f.write_str(" & ")?;
                    write_flag_bits(f, u32::from(*mask))?;
                }
                write!(f, " {} ", cmp.symbol())?;
                write_flag_bits(f, *value)
            }
        }
    }
}

impl fmt::Display for FilterExpr {
    /// pcap-filter syntax. `and` and `or` have equal precedence and group to the left, so a
    /// right operand that is itself `and`/`or` is parenthesized; a left operand of the other
    /// kind is parenthesized too, for the reader (`(a and b) or c`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn is_binary(e: &FilterExpr) -> bool {
            matches!(e, FilterExpr::And(..) | FilterExpr::Or(..))
        }
        fn paren(f: &mut fmt::Formatter<'_>, e: &FilterExpr, wrap: bool) -> fmt::Result {
            if wrap {
                write!(f, "({e})")
            } else {
                write!(f, "{e}")
            }
        }
        match self {
            FilterExpr::And(l, r) | FilterExpr::Or(l, r) => {
                let is_and = matches!(self, FilterExpr::And(..));
                let left_other = match **l {
                    FilterExpr::And(..) => !is_and,
                    FilterExpr::Or(..) => is_and,
                    _ => false,
                };
                paren(f, l, left_other)?;
                f.write_str(if is_and { " and " } else { " or " })?;
                paren(f, r, is_binary(r))
            }
            FilterExpr::Not(e) => {
                f.write_str("not ")?;
                paren(f, e, is_binary(e))
            }
            FilterExpr::Prim(p) => write!(f, "{p}"),
        }
    }
}
