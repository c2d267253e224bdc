//! Payload previews that can never reach the terminal raw: printable ASCII stays, every
//! other byte (escape sequences, control characters, UTF-8) becomes `\xNN`, `\n`, `\"`.

/// At most this many payload bytes are shown.
pub const PREVIEW_BYTES: usize = 32;

/// `"hello\x1b[31m"`: quoted, escaped, cut at `PREVIEW_BYTES` (a `…` marks the cut).
pub fn preview(bytes: &[u8], total_len: u32) -> String {
    let shown = &bytes[..bytes.len().min(PREVIEW_BYTES)];
    let mut s = String::with_capacity(shown.len() + 4);
    s.push('"');
    for &b in shown {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    if total_len as usize > shown.len() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_terminal_sequences() {
        assert_eq!(preview(b"hi\x1b[2J\x07", 7), r#""hi\x1b[2J\x07""#);
        assert_eq!(preview(b"a\"b\\\n", 5), r#""a\"b\\\n""#);
        assert_eq!(preview(b"hello", 500), "\"hello\"…");
    }

    proptest! {
        #[test]
        fn output_is_printable_ascii(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let p = preview(&bytes, bytes.len() as u32);
            prop_assert!(p.chars().all(|c| c == '…' || (' '..='~').contains(&c)));
        }
    }
}
