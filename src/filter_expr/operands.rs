//! The operands of primitives: host names and addresses, networks, VLAN ids, and the
//! `tcp[tcpflags]` comparison.

use super::ast::{Cmp, Dir, FilterExpr, Net, Primitive, FLAG_NAMES};
use super::error::FilterError;
use super::lexer::Kind;
use super::parser::{invalid, number, word, Parser};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

type R<T> = Result<T, FilterError>;

impl Parser<'_> {
    pub(super) fn host(&mut self, dir: Dir) -> R<FilterExpr> {
        let t = self.value("a host name or address")?;
        let w = word(&t).expect("a word");
        let addrs = match w.parse::<IpAddr>() {
            Ok(a) => vec![a],
            Err(_) if w.contains('/') => return Err(invalid(&t, "a network: use 'net'")),
            Err(_) => {
                let mut v = self
                    .resolver
                    .host(w)
                    .map_err(|e| invalid(&t, format!("cannot resolve: {e}")))?;
                let mut seen = Vec::new();
                v.retain(|a| {
                    !seen.contains(a) && {
                        seen.push(*a);
                        true
                    }
                });
                v
            }
        };
        let mut prims = addrs
            .into_iter()
            .map(|addr| FilterExpr::Prim(Primitive::Host { dir, addr }));
        let first = prims
            .next()
            .ok_or_else(|| invalid(&t, "cannot resolve: no address"))?;
        Ok(prims.fold(first, |l, r| FilterExpr::Or(Box::new(l), Box::new(r))))
    }

    /// `net 10.0.0.0/8`, `net 10/8`, `net 10.1` (a /16), `net A mask M`, `net 2001:db8::/32`.
    pub(super) fn net(&mut self, dir: Dir) -> R<FilterExpr> {
        let t = self.value("a network such as 10.0.0.0/8")?;
        let w = word(&t).expect("a word").to_string();
        let (addr_s, len_s) = match w.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (w.as_str(), None),
        };
        let len = |max: u32| -> R<Option<u32>> {
            len_s
                .map(|l| l.parse::<u32>().ok().filter(|&n| n <= max))
                .map(|n| n.ok_or_else(|| invalid(&t, format!("prefix length above {max}"))))
                .transpose()
        };
        let net = if addr_s.contains(':') {
            let addr: Ipv6Addr = addr_s
                .parse()
                .map_err(|_| invalid(&t, "not an IPv6 network"))?;
            let len = len(128)?.unwrap_or(128);
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            if u128::from(addr) & !mask != 0 {
                return Err(invalid(&t, "address bits set past the prefix length"));
            }
            Net::V6 {
                addr,
                len: len as u8,
            }
        } else {
            let parts: Vec<&str> = addr_s.split('.').collect();
            let octets: Option<Vec<u8>> = parts.iter().map(|p| p.parse().ok()).collect();
            let octets = octets
                .filter(|o| (1..=4).contains(&o.len()))
                .ok_or_else(|| invalid(&t, "not an IPv4 network"))?;
            let addr = octets
                .iter()
                .chain(std::iter::repeat(&0))
                .take(4)
                .fold(0u32, |a, &o| (a << 8) | u32::from(o));
            let mask = if self.peek_word(0) == Some("mask") && len_s.is_none() {
                self.bump();
                let m = self.value("a netmask such as 255.255.0.0")?;
                let mw = word(&m).expect("a word");
                u32::from(
                    mw.parse::<Ipv4Addr>()
                        .map_err(|_| invalid(&m, "not a netmask such as 255.255.0.0"))?,
                )
            } else {
                let bits = len(32)?.unwrap_or(8 * octets.len() as u32);
                u32::MAX.checked_shl(32 - bits).unwrap_or(0)
            };
            if addr & !mask != 0 {
                return Err(invalid(&t, "address bits set outside the netmask"));
            }
            Net::V4 {
                addr: Ipv4Addr::from(addr),
                mask,
            }
        };
        Ok(FilterExpr::Prim(Primitive::Net { dir, net }))
    }

    pub(super) fn vlan(&mut self) -> R<FilterExpr> {
        self.bump();
        let id = match self.peek_word(0) {
            Some(w) if w.bytes().all(|b| b.is_ascii_digit()) => {
                let t = self.bump().expect("peeked");
                let id = number(word(&t).expect("a word")).filter(|&n| n < 4096);
                Some(id.ok_or_else(|| invalid(&t, "VLAN id above 4095"))? as u16)
            }
            _ => None,
        };
        Ok(FilterExpr::Prim(Primitive::Vlan(id)))
    }

    /// `tcp[tcpflags|13] [& TERM] OP TERM`.
    pub(super) fn tcp_flags(&mut self) -> R<FilterExpr> {
        self.i += 2; // `tcp` `[`
        match self.peek_word(0) {
            Some("tcpflags" | "13") => self.i += 1,
            _ => return Err(self.unexpected("'tcpflags' or 13 (the only byte of tcp[] covered)")),
        }
        self.expect(Kind::RBracket, "']'")?;
        let mut mask = 0xff;
        if self.peek().map(|t| &t.kind) == Some(&Kind::Amp) {
            self.bump();
            let start = self.i;
            let m = self.flag_term()?;
            mask = u8::try_from(m)
                .map_err(|_| invalid(&self.toks[start], "mask wider than the flags byte"))?;
            if self.peek().map(|t| &t.kind) == Some(&Kind::Pipe) {
                return Err(self.unexpected("a comparison (write the mask as '(tcp-syn|tcp-ack)')"));
            }
        }
        let cmp = match self.peek().map(|t| &t.kind) {
            Some(Kind::Eq) => Cmp::Eq,
            Some(Kind::Ne) => Cmp::Ne,
            Some(Kind::Lt) => Cmp::Lt,
            Some(Kind::Le) => Cmp::Le,
            Some(Kind::Gt) => Cmp::Gt,
            Some(Kind::Ge) => Cmp::Ge,
            _ => return Err(self.unexpected("a comparison such as '!= 0'")),
        };
        self.bump();
        let value = self.flag_term()?;
        Ok(FilterExpr::Prim(Primitive::TcpFlags { mask, cmp, value }))
    }

    /// A number, a flag name, or `(a|b|…)` of those.
    pub(super) fn flag_term(&mut self) -> R<u32> {
        const TERM: &str = "a number or a flag such as tcp-syn";
        if self.peek().map(|t| &t.kind) == Some(&Kind::LParen) {
            self.bump();
            let mut v = self.flag_term()?;
            while self.peek().map(|t| &t.kind) == Some(&Kind::Pipe) {
                self.bump();
                v |= self.flag_term()?;
            }
            self.expect(Kind::RParen, "'|' or ')'")?;
            return Ok(v);
        }
        let t = self.value(TERM)?;
        let w = word(&t).expect("a word");
        FLAG_NAMES
            .iter()
            .find(|(n, _)| *n == w)
            .map(|&(_, b)| u32::from(b))
            .or_else(|| number(w))
            .ok_or_else(|| invalid(&t, format!("expected {TERM}")))
    }
}
