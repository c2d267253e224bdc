//! A subset of tcpdump's pcap-filter language for TCP, parsed once into a [`FilterExpr`],
//! evaluated on a decoded segment ([`FilterExpr::matches`]) or compiled to classic BPF for a
//! packet socket ([`bpf::compile`]). Sans-IO: names are looked up through a [`Resolver`] at
//! parse time ([`parse`] uses the system's).
//!
//! Covered:
//! - `[src|dst|src or dst|src and dst] host A` (IPv4, IPv6, or a name: every address it
//!   resolves to, joined with `or`), `… net N` (`10.0.0.0/8`, `10/8`, `10.1` = /16,
//!   `10.0.0.0 mask 255.0.0.0`, `2001:db8::/32`), `… port N` (number or TCP service name),
//!   `… portrange N-M` (numbers); a direction alone means `host` (`src 10.0.0.1`);
//! - `tcp`, `ip`, `ip6`, and those as qualifiers: `tcp port 80` is `tcp and port 80`;
//! - `vlan [ID]`;
//! - `tcp[tcpflags]` (or `tcp[13]`) `[& MASK] OP VALUE`, OP one of `= == != < <= > >=`, MASK
//!   and VALUE a number (`0x12`, `022` octal, `18`), a flag (`tcp-fin`, `tcp-syn`, `tcp-rst`,
//!   `tcp-push`, `tcp-ack`, `tcp-urg`, `tcp-ece`, `tcp-cwr`) or `(f1|f2|…)`;
//! - `not`/`!`, `and`/`&&`, `or`/`||`, parentheses. As in pcap-filter, `not` binds tightest
//!   and `and`/`or` have EQUAL precedence, grouping left: `a or b and c` is `(a or b) and c`;
//! - implicit qualifiers as pcap-filter: a bare value repeats the previous qualified
//!   primitive's qualifiers: `port 80 or 443`, `src host a or b`, `tcp port 22 or 80`.
//!
//! Not covered: other protocols (`udp`, `icmp`, `arp`, …), `ether`, `gateway`, `proto`,
//! `less`/`greater`, `tcp[N]` for N ≠ 13 and any other arithmetic, port names in
//! `portrange`, IPv6 extension headers, stacked VLAN tags.
//!
//! Differences from tcpdump, on purpose: `tcp[tcpflags]` also works on IPv6 (libpcap's
//! `tcp[…]` is IPv4-only); `vlan` does not shift the offsets of the primitives after it (every
//! primitive sees through one 802.1Q tag, wherever it stands); the BPF program accepts
//! only TCP (the whole filter is `tcp and (…)`), and IPv6 only without extension headers.
//! As tcpdump, IPv4 fragments after the first pass or fail on addresses alone: port and flag
//! tests are false for them.

pub mod ast;
pub mod bpf;
mod bpf_asm;
pub mod error;
pub mod eval;
mod lexer;
mod operands;
mod parser;
pub mod resolve;

#[cfg(test)]
mod bpf_interp;
#[cfg(test)]
mod bpf_tests;
#[cfg(test)]
mod strategies;
#[cfg(test)]
mod tests;

pub use ast::{Cmp, Dir, FilterExpr, Net, Primitive};
pub use error::{FilterError, Pos};
pub use eval::FilterInput;
pub use resolve::{NoResolver, Resolver, SystemResolver};

/// Parse the words of a filter (tcpdump joins trailing argv words with spaces), resolving
/// names with the system's resolver.
pub fn parse(words: &[String]) -> Result<FilterExpr, FilterError> {
    parse_with(&words.join(" "), &SystemResolver)
}

/// Parse a filter, resolving names with `resolver`.
pub fn parse_with(text: &str, resolver: &dyn Resolver) -> Result<FilterExpr, FilterError> {
    parser::Parser::new(lexer::lex(text)?, resolver).parse_all()
}
