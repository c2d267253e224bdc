//! Text that is safe for a terminal: control characters (C0, DEL, C1: the bytes of escape
//! sequences and bells) become `\xNN`; everything else, UTF-8 included, stays. For names and
//! messages that come from outside (file names, interface names) on their way to stdout or
//! stderr; payload bytes have their own, stricter preview (`render::escape`).

use std::borrow::Cow;

/// `s` with every control character written as `\xNN` (borrowed when there is none).
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_pass() {
        assert_eq!(printable("plain → ok.pcap"), "plain → ok.pcap");
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
        let evil = "evil\u{1b}]0;PWN\u{7}\u{1b}[31m\nfake\u{9b}.pcap";
        let p = printable(evil);
        assert!(!p.chars().any(char::is_control), "{p}");
        assert_eq!(p, "evil\\x1b]0;PWN\\x07\\x1b[31m\\x0afake\\x9b.pcap");
    }
}
