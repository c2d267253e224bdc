//! Recursive descent over the tokens, following pcap-filter's grammar for the covered subset:
//! `not`/`!` binds tightest; `and`/`&&` and `or`/`||` have equal precedence and group to the
//! left (`a or b and c` is `(a or b) and c`, as in tcpdump); a bare value after a qualified
//! primitive takes that primitive's qualifiers (`port 80 or 443`, `src host a or b`).

use super::ast::{Dir, FilterExpr, Primitive};
use super::error::FilterError;
use super::lexer::{Kind, Token};
use super::resolve::Resolver;

const PRIMITIVE: &str = "a primitive such as host, port, net, tcp";
const KEYWORDS: [&str; 14] = [
    "and",
    "or",
    "not",
    "src",
    "dst",
    "host",
    "net",
    "port",
    "portrange",
    "tcp",
    "ip",
    "ip6",
    "vlan",
    "mask",
];

/// Address or port kind of a qualified primitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Host,
    Net,
    Port,
    PortRange,
}

/// The qualifiers a bare value inherits.
#[derive(Debug, Clone, Copy)]
struct Quals {
    proto: Option<Primitive>,
    dir: Dir,
    ty: Ty,
}

/// The parser state.
pub struct Parser<'a> {
    pub(super) toks: Vec<Token>,
    pub(super) i: usize,
    pub(super) resolver: &'a dyn Resolver,
    last: Option<Quals>,
}

type R<T> = Result<T, FilterError>;

pub(super) fn word(t: &Token) -> Option<&str> {
    match &t.kind {
        Kind::Word(w) => Some(w.as_str()),
        _ => None,
    }
}

pub(super) fn invalid(t: &Token, reason: impl Into<String>) -> FilterError {
    FilterError::Invalid {
        found: t.text.clone(),
        pos: t.pos,
        reason: reason.into(),
    }
}

/// A number as pcap-filter reads it: `0x` hexadecimal, a leading `0` octal, else decimal.
pub(super) fn number(s: &str) -> Option<u32> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(h, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u32::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

impl<'a> Parser<'a> {
    /// A parser over `toks`; names go to `resolver`.
    pub fn new(toks: Vec<Token>, resolver: &'a dyn Resolver) -> Self {
        Parser {
            toks,
            i: 0,
            resolver,
            last: None,
        }
    }

    /// The whole expression; every token must be used.
    pub fn parse_all(mut self) -> R<FilterExpr> {
        if self.toks.is_empty() {
            return Err(FilterError::Empty);
        }
        let e = self.expr()?;
        match self.peek() {
            Some(_) => Err(self.unexpected("'and', 'or' or the end")),
            None => Ok(e),
        }
    }

    pub(super) fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }
    pub(super) fn peek_word(&self, ahead: usize) -> Option<&str> {
        self.toks.get(self.i + ahead).and_then(word)
    }
    pub(super) fn bump(&mut self) -> Option<Token> {
        let t = self.toks.get(self.i).cloned();
        self.i += usize::from(t.is_some());
        t
    }
    /// The error for the next token (or for the end).
    pub(super) fn unexpected(&self, expected: &'static str) -> FilterError {
        match self.peek() {
            Some(t) => FilterError::Unexpected {
                found: t.text.clone(),
                pos: t.pos,
                expected,
            },
            None => FilterError::End {
                word: self.toks.len(),
                expected,
            },
        }
    }
    pub(super) fn expect(&mut self, kind: Kind, expected: &'static str) -> R<Token> {
        match self.peek() {
            Some(t) if t.kind == kind => Ok(self.bump().expect("peeked")),
            _ => Err(self.unexpected(expected)),
        }
    }
    /// A word that is not a keyword (a value).
    pub(super) fn value(&mut self, expected: &'static str) -> R<Token> {
        match self.peek_word(0) {
            Some(w) if !KEYWORDS.contains(&w) => Ok(self.bump().expect("peeked")),
            _ => Err(self.unexpected(expected)),
        }
    }

    fn expr(&mut self) -> R<FilterExpr> {
        let mut left = self.unary()?;
        loop {
            let is_and = match self.peek().map(|t| (&t.kind, word(t))) {
                Some((Kind::AndAnd, _) | (_, Some("and"))) => true,
                Some((Kind::OrOr, _) | (_, Some("or"))) => false,
                _ => return Ok(left),
            };
            self.bump();
            let right = Box::new(self.unary()?);
            left = if is_and {
                FilterExpr::And(Box::new(left), right)
            } else {
                FilterExpr::Or(Box::new(left), right)
            };
        }
    }

    fn unary(&mut self) -> R<FilterExpr> {
        match self.peek().map(|t| (&t.kind, word(t))) {
            Some((Kind::Bang, _) | (_, Some("not"))) => {
                self.bump();
                Ok(FilterExpr::Not(Box::new(self.unary()?)))
            }
            Some((Kind::LParen, _)) => {
                self.bump();
                let e = self.expr()?;
                self.expect(Kind::RParen, "')', 'and' or 'or'")?;
                Ok(e)
            }
            _ => self.primitive(),
        }
    }

    fn primitive(&mut self) -> R<FilterExpr> {
        let Some(w) = self.peek_word(0) else {
            return Err(self.unexpected(PRIMITIVE));
        };
        let proto = match w {
            "tcp" if self.toks.get(self.i + 1).map(|t| &t.kind) == Some(&Kind::LBracket) => {
                return self.tcp_flags();
            }
            "tcp" => Some(Primitive::Tcp),
            "ip" => Some(Primitive::Ip),
            "ip6" => Some(Primitive::Ip6),
            "vlan" => return self.vlan(),
            "src" | "dst" | "host" | "net" | "port" | "portrange" => None,
            w if KEYWORDS.contains(&w) => return Err(self.unexpected(PRIMITIVE)),
            _ => {
                let Some(q) = self.last else {
                    return Err(self.unexpected(PRIMITIVE));
                };
                return self.qualified_value(q);
            }
        };
        if let Some(p) = proto {
            self.bump();
            let qualified = matches!(
                self.peek_word(0),
                Some("src" | "dst" | "host" | "net" | "port" | "portrange")
            );
            if !qualified {
                return Ok(FilterExpr::Prim(p));
            }
        }
        let dir = self.dir();
        let ty = match self.peek_word(0) {
            Some("host") => Some(Ty::Host),
            Some("net") => Some(Ty::Net),
            Some("port") => Some(Ty::Port),
            Some("portrange") => Some(Ty::PortRange),
            _ => None,
        };
        if ty.is_some() {
            self.bump();
        }
        let quals = Quals {
            proto,
            dir,
            ty: ty.unwrap_or(Ty::Host),
        };
        self.last = Some(quals);
        self.qualified_value(quals)
    }

    /// `src`, `dst`, `src or dst`, `src and dst` (either order), or nothing.
    fn dir(&mut self) -> Dir {
        let first = match self.peek_word(0) {
            Some("src") => Dir::Src,
            Some("dst") => Dir::Dst,
            _ => return Dir::Either,
        };
        self.bump();
        let other = if first == Dir::Src { "dst" } else { "src" };
        if self.peek_word(1) == Some(other) {
            let joined = match self.peek_word(0) {
                Some("or") => Some(Dir::Either),
                Some("and") => Some(Dir::Both),
                _ => None,
            };
            if let Some(d) = joined {
                self.i += 2;
                return d;
            }
        }
        first
    }

    fn qualified_value(&mut self, q: Quals) -> R<FilterExpr> {
        let prim = match q.ty {
            Ty::Host => self.host(q.dir)?,
            Ty::Net => self.net(q.dir)?,
            Ty::Port => {
                let t = self.value("a port number or service name")?;
                let w = word(&t).expect("a word");
                let port = match w.parse::<u32>() {
                    Ok(n) => u16::try_from(n).map_err(|_| invalid(&t, "port above 65535"))?,
                    Err(_) => self
                        .resolver
                        .service(w)
                        .ok_or_else(|| invalid(&t, "not a port number or known TCP service"))?,
                };
                FilterExpr::Prim(Primitive::Port {
                    dir: q.dir,
                    lo: port,
                    hi: port,
                })
            }
            Ty::PortRange => {
                let t = self.value("a port range such as 1024-2048")?;
                let bad = || invalid(&t, "not a port range such as 1024-2048");
                let (a, b) = word(&t).expect("a word").split_once('-').ok_or_else(bad)?;
                let (a, b): (u16, u16) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                FilterExpr::Prim(Primitive::Port {
                    dir: q.dir,
                    lo: a.min(b),
                    hi: a.max(b),
                })
            }
        };
        Ok(match q.proto {
            Some(p) => FilterExpr::And(Box::new(FilterExpr::Prim(p)), Box::new(prim)),
            None => prim,
        })
    }
}
