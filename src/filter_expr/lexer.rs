//! Words of a filter expression: names, numbers and addresses (one `Word` each, as in
//! `10.0.0.0/8`, `fe80::1`, `tcp-syn`, `20-25`), and the operator characters.

use super::error::{FilterError, Pos};

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A name, keyword, number or address.
    Word(String),
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `&&`
    AndAnd,
    /// `||`
    OrOr,
    /// `!`
    Bang,
    /// `&`
    Amp,
    /// `|`
    Pipe,
    /// `=` or `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A token and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: Kind,
    /// Its text as written.
    pub text: String,
    /// Where it is.
    pub pos: Pos,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '_' | '/' | '%')
}

/// Split `text` into tokens.
pub fn lex(text: &str) -> Result<Vec<Token>, FilterError> {
    let mut out = Vec::new();
    let mut it = text.char_indices().peekable();
    while let Some((start, c)) = it.next() {
        if c.is_whitespace() {
            continue;
        }
        let pos = Pos {
            word: out.len() + 1,
            column: start + 1,
        };
        let next = it.peek().map(|&(_, n)| n);
        let (kind, len) = match (c, next) {
            (c, _) if is_word_char(c) => {
                let mut end = start + c.len_utf8();
                while let Some(&(i, n)) = it.peek() {
                    if !is_word_char(n) {
                        break;
                    }
                    end = i + n.len_utf8();
                    it.next();
                }
                let w = &text[start..end];
                out.push(Token {
                    kind: Kind::Word(w.to_string()),
                    text: w.to_string(),
                    pos,
                });
                continue;
            }
            ('&', Some('&')) => (Kind::AndAnd, 2),
            ('|', Some('|')) => (Kind::OrOr, 2),
            ('!', Some('=')) => (Kind::Ne, 2),
            ('=', Some('=')) => (Kind::Eq, 2),
            ('<', Some('=')) => (Kind::Le, 2),
            ('>', Some('=')) => (Kind::Ge, 2),
            ('&', _) => (Kind::Amp, 1),
            ('|', _) => (Kind::Pipe, 1),
            ('!', _) => (Kind::Bang, 1),
            ('=', _) => (Kind::Eq, 1),
            ('<', _) => (Kind::Lt, 1),
            ('>', _) => (Kind::Gt, 1),
            ('(', _) => (Kind::LParen, 1),
            (')', _) => (Kind::RParen, 1),
            ('[', _) => (Kind::LBracket, 1),
            (']', _) => (Kind::RBracket, 1),
            (ch, _) => return Err(FilterError::BadChar { ch, pos }),
        };
        if len == 2 {
            it.next();
        }
        out.push(Token {
            kind,
            text: text[start..start + len].to_string(),
            pos,
        });
    }
    Ok(out)
}
