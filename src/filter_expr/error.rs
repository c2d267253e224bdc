//! `FilterError`: why a filter did not parse. Every message is one line that names the bad
//! word, its number (1-based, counting the words of the expression as the lexer splits them:
//! `tcp[13]&2!=0` is 8 words) and its byte column (1-based, in the argv words joined with
//! spaces).

use thiserror::Error;

/// Where a word sits in the expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// 1-based word number.
    pub word: usize,
    /// 1-based byte column.
    pub column: usize,
}

/// A filter expression that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FilterError {
    /// No words at all.
    #[error("filter: empty expression")]
    Empty,
    /// A character no word can hold.
    #[error("filter: unexpected character '{ch}' at column {}", pos.column)]
    BadChar {
        /// The character.
        ch: char,
        /// Where (word: the number the word would have had).
        pos: Pos,
    },
    /// A word that does not fit the grammar there.
    #[error("filter: unexpected '{found}' at word {}, column {} (expected {expected})", pos.word, pos.column)]
    Unexpected {
        /// The word.
        found: String,
        /// Where.
        pos: Pos,
        /// What would have fit.
        expected: &'static str,
    },
    /// The expression stops where more is needed.
    #[error("filter: unexpected end after word {word} (expected {expected})")]
    End {
        /// Number of the last word.
        word: usize,
        /// What would have fit.
        expected: &'static str,
    },
    /// A word in the right place with an unusable value (a port above 65535, a network
    /// with host bits set, a name that does not resolve, …).
    #[error("filter: bad '{found}' at word {}, column {}: {reason}", pos.word, pos.column)]
    Invalid {
        /// The word.
        found: String,
        /// Where.
        pos: Pos,
        /// Why.
        reason: String,
    },
}
