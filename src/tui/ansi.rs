//! The renderers' ANSI colours (SGR codes, as `colored` writes them) as ratatui styles, so
//! that the ladder screen shows the ladder renderer's own painting. Only what `colored`
//! writes is understood: reset, bold, dim, italic, underline, the 16 foreground colours.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

/// One line of text with SGR escapes → a styled line (escapes removed).
pub fn line(text: &str) -> Line<'static> {
    let mut spans = Vec::new();
    let mut style = Style::default();
    let mut rest = text;
    while let Some(at) = rest.find("\x1b[") {
        if at > 0 {
            spans.push(Span::styled(rest[..at].to_string(), style));
        }
        let after = &rest[at + 2..];
        let Some(end) = after.find('m') else {
            rest = after;
            break;
        };
        for code in after[..end].split(';') {
            style = apply(style, code.parse().unwrap_or(0));
        }
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        spans.push(Span::styled(rest.to_string(), style));
    }
    Line::from(spans)
}

fn apply(style: Style, code: u16) -> Style {
    let colors = [
        Color::Black,
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::Gray,
    ];
    let bright = [
        Color::DarkGray,
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
        Color::White,
    ];
    match code {
        0 => Style::default(),
        1 => style.add_modifier(Modifier::BOLD),
        2 => style.add_modifier(Modifier::DIM),
        3 => style.add_modifier(Modifier::ITALIC),
        4 => style.add_modifier(Modifier::UNDERLINED),
        30..=37 => style.fg(colors[usize::from(code - 30)]),
        39 => style.fg(Color::Reset),
        90..=97 => style.fg(bright[usize::from(code - 90)]),
        _ => style,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_become_styles_and_leave_the_text() {
        let l = line("a \x1b[1;31mRST\x1b[0m b");
        let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "a RST b");
        assert_eq!(
            l.spans[1].style,
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
        );
        assert_eq!(l.spans[2].style, Style::default());
    }
}
