//! `--format svg` and `--format html`: the ladder as a self-contained, deterministic SVG
//! picture. Two vertical lifelines (client left, server right) headed `ip:port (role)`, each
//! drawn as a lane coloured by the endpoint's state, with the state's name beside it at each
//! change; an arrow per segment labelled as the ladder labels it; the socket calls beside the
//! side that made them; times on the left. Several connections are stacked in one `<svg>`, so
//! the renderer keeps the drawn connections and writes the document in `finish`, once the total
//! height is known (memory: the drawing of every connection shown).
//!
//! Readable at 100 % zoom: monospace text of 13 px (headers 14 px) on a white background.
//! Every piece of text is XML-escaped. Colour is decoration only: every arrow and lane keeps
//! its label. Pure: no clock, no environment.

use super::group::{ConnGroup, GroupRenderer};
use super::layout::{
    elided_text, segment_text, states_text, Layout, Row, RowKind, Why, LEFT, LEGEND, RIGHT,
};
use super::{call_text, fit, RenderOpts};
use crate::events::{Dir, Meta, Summary, TcpState};
use crate::segment::TcpFlags;
use crate::timestamp::Timestamp;
use std::borrow::Cow;
use std::io::{self, Write};

/// Draws the ladder of every connection into one SVG document (optionally inside an HTML page).
pub struct SvgRenderer {
    opts: RenderOpts,
    html: bool,
    title: String,
    /// Each connection's drawing, already placed at its height.
    parts: Vec<String>,
    height: u32,
}

impl SvgRenderer {
    /// An SVG document.
    pub fn svg(opts: RenderOpts) -> Self {
        SvgRenderer {
            opts,
            html: false,
            title: String::new(),
            parts: Vec::new(),
            height: 0,
        }
    }

    /// The same SVG inside a minimal HTML5 page.
    pub fn html(opts: RenderOpts) -> Self {
        SvgRenderer {
            html: true,
            ..SvgRenderer::svg(opts)
        }
    }
}

/// Escape text for XML content and attribute values. Characters XML forbids (C0 controls but
/// tab, newline and carriage return) become `?`.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

// Geometry, in px. Text is monospace, 13 px, about 7.8 px a character.
const WIDTH: f64 = 1210.0;
const CHAR_W: f64 = 7.8;
const ROW: f64 = 24.0;
/// Right edge of the time column.
const TIME_RIGHT: f64 = 88.0;
const CLIENT_X: f64 = 348.0;
const SERVER_X: f64 = 948.0;
/// Half the width of a state lane.
const LANE: f64 = 5.0;
/// Gap between a lane and the text beside it.
const GAP: f64 = 9.0;
/// Characters of state or call text beside a lane (between the time column and the lane).
const SIDE_CHARS: usize = ((CLIENT_X - LANE - GAP - TIME_RIGHT - 12.0) / CHAR_W) as usize;
/// Characters of an arrow's label (between the lanes).
const LABEL_CHARS: usize = ((SERVER_X - CLIENT_X - 2.0 * LANE - 24.0) / CHAR_W) as usize;
/// Characters of a note centred between the lanes, within the picture.
const NOTE_CHARS: usize = (2.0 * (WIDTH - 8.0 - (CLIENT_X + SERVER_X) / 2.0) / CHAR_W) as usize;
/// Where the rows start, below the title and the endpoint headings.
const ROWS_TOP: f64 = 58.0;

const INK: &str = "#222222";
const MUTED: &str = "#666666";
const CALL: &str = "#00695c";
const WARN: &str = "#8e24aa";

/// A number for an attribute: whole numbers without a decimal point.
fn num(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// Arrow colour by the segment's most telling flag (as the terminal palette).
fn flag_colour(f: TcpFlags) -> &'static str {
    if f.rst() {
        "#c62828"
    } else if f.syn() {
        "#2e7d32"
    } else if f.fin() {
        "#9a6700"
    } else {
        "#37474f"
    }
}

/// A pale lane colour per state family; the name beside the lane says which state it is.
fn state_colour(s: TcpState) -> &'static str {
    match s {
        TcpState::Unknown => "#f5f5f5",
        TcpState::Closed => "#e0e0e0",
        TcpState::Listen => "#bbdefb",
        TcpState::SynSent | TcpState::SynReceived => "#c8e6c9",
        TcpState::Established => "#90caf9",
        TcpState::FinWait1
        | TcpState::FinWait2
        | TcpState::CloseWait
        | TcpState::Closing
        | TcpState::LastAck => "#ffe082",
        TcpState::TimeWait => "#ffcc80",
    }
}

/// Builds SVG elements into a string.
#[derive(Default)]
struct Canvas(String);

impl Canvas {
    /// `<text>` with an anchor (`start`, `middle`, `end`) and extra attributes.
    fn text(&mut self, x: f64, y: f64, anchor: &str, attrs: &str, content: &str) {
        let anchor = if anchor == "start" {
            String::new()
        } else {
            format!(" text-anchor=\"{anchor}\"")
        };
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!(" {attrs}")
        };
        self.0.push_str(&format!(
            "<text x=\"{}\" y=\"{}\"{anchor}{attrs}>{}</text>\n",
            num(x),
            num(y),
            xml_escape(content)
        ));
    }

    fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, width: f64) {
        self.0.push_str(&format!(
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{stroke}\" stroke-width=\"{}\"/>\n",
            num(x1),
            num(y1),
            num(x2),
            num(y2),
            num(width)
        ));
    }

    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str) {
        self.0.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" stroke=\"#546e7a\" stroke-width=\"0.8\"/>\n",
            num(x),
            num(y),
            num(w),
            num(h)
        ));
    }

    fn polygon(&mut self, points: &[(f64, f64)], fill: &str) {
        let pts: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{},{}", num(*x), num(*y)))
            .collect();
        self.0.push_str(&format!(
            "<polygon points=\"{}\" fill=\"{fill}\"/>\n",
            pts.join(" ")
        ));
    }
}

/// A line of the picture: a row of the layout, or a "why" line under one.
enum Line<'r, 'a> {
    Row(&'r Row<'a>),
    Why(&'r Why),
}

/// The y of a row's arrow (and the middle of its text).
fn anchor(i: usize) -> f64 {
    ROWS_TOP + i as f64 * ROW + 16.0
}

/// Draw one connection with its top at y = 0; returns the drawing and its height.
fn draw_connection(g: &ConnGroup, o: &RenderOpts) -> (String, f64) {
    let lay = Layout::new(g, o.max_segments);
    let v = lay.verdict;
    let lines: Vec<Line> = lay
        .rows
        .iter()
        .flat_map(|r| std::iter::once(Line::Row(r)).chain(r.why.iter().map(Line::Why)))
        .collect();
    let mut c = Canvas::default();

    let head = super::conn_header(v);
    c.text(
        8.0,
        20.0,
        "start",
        "font-size=\"14\" font-weight=\"bold\"",
        &fit(&head, 140),
    );
    for (x, side) in [(CLIENT_X, &lay.sides[LEFT]), (SERVER_X, &lay.sides[RIGHT])] {
        c.text(
            x,
            46.0,
            "middle",
            "font-weight=\"bold\"",
            &fit(&format!("{} ({})", side.endpoint, side.role), 60),
        );
    }

    let final_row = lines.len();
    let bottom = anchor(final_row) + 6.0;
    // Lifelines, then the state lanes over them: one rect per state, from the row that
    // entered it to the row that left it (or the final row).
    for x in [CLIENT_X, SERVER_X] {
        c.line(x, ROWS_TOP - 6.0, x, bottom, "#546e7a", 1.0);
    }
    for (x, side) in [(CLIENT_X, LEFT), (SERVER_X, RIGHT)] {
        let mut changes: Vec<(usize, TcpState)> = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let Line::Row(r) = l else { continue };
            if let RowKind::Start = r.kind {
                if !lay.sides[side].no_socket {
                    changes.push((i, lay.sides[side].initial));
                }
            } else if let Some(last) = r.states[side].last() {
                changes.push((i, last.to));
            }
        }
        for (k, &(i, st)) in changes.iter().enumerate() {
            let end = changes.get(k + 1).map_or(final_row, |n| n.0);
            let (y0, y1) = (anchor(i), anchor(end));
            c.rect(x - LANE, y0, 2.0 * LANE, y1 - y0, state_colour(st));
        }
    }

    let mid = (CLIENT_X + SERVER_X) / 2.0;
    let left_text = CLIENT_X - LANE - GAP;
    let right_text = SERVER_X + LANE + GAP;
    let time = |c: &mut Canvas, t: Option<Timestamp>, y: f64| {
        if let Some(t) = t {
            let ms = t.since(v.start) as f64 / 1e6;
            let attrs = format!("fill=\"{MUTED}\"");
            c.text(TIME_RIGHT, y, "end", &attrs, &format!("{ms:.3}ms"));
        }
    };
    // A line across the picture; a white halo keeps it readable where it crosses a lane.
    let note = |c: &mut Canvas, text: &str, y: f64| {
        c.text(
            mid,
            y,
            "middle",
            &format!(
                "fill=\"{WARN}\" stroke=\"#ffffff\" stroke-width=\"4\" paint-order=\"stroke\""
            ),
            &fit(text, NOTE_CHARS),
        );
    };
    for (i, l) in lines.iter().enumerate() {
        let y = anchor(i);
        let text_y = y + 4.5;
        let r = match l {
            Line::Why(w) => {
                time(&mut c, w.t, text_y);
                note(&mut c, &w.text, text_y);
                continue;
            }
            Line::Row(r) => r,
        };
        time(&mut c, r.t, text_y);
        let mut side_text = [
            Cow::Owned(states_text(&r.states[LEFT])),
            Cow::Owned(states_text(&r.states[RIGHT])),
        ];
        match r.kind {
            RowKind::Segment(s) => {
                let colour = flag_colour(s.flags);
                let (from, to) = match s.dir {
                    Dir::C2s => (CLIENT_X + LANE, SERVER_X - LANE),
                    Dir::S2c => (SERVER_X - LANE, CLIENT_X + LANE),
                };
                let back = if to > from { -9.0 } else { 9.0 };
                c.line(from, y, to + back, y, colour, 1.5);
                c.polygon(
                    &[(to, y), (to + back, y - 4.5), (to + back, y + 4.5)],
                    colour,
                );
                c.text(
                    mid,
                    y - 5.0,
                    "middle",
                    &format!("fill=\"{colour}\""),
                    &fit(&segment_text(s, o.payload), LABEL_CHARS),
                );
            }
            RowKind::Call { side, call } => {
                let attrs = format!("fill=\"{CALL}\"");
                let text = fit(&call_text(call), SIDE_CHARS);
                if side == LEFT {
                    c.text(left_text, text_y, "end", &attrs, &text);
                } else {
                    c.text(right_text, text_y, "start", &attrs, &text);
                }
            }
            RowKind::Elided { segments, .. } => note(&mut c, &elided_text(segments), text_y),
            RowKind::Start => {
                side_text = [
                    Cow::Borrowed(lay.start_text(LEFT)),
                    Cow::Borrowed(lay.start_text(RIGHT)),
                ];
            }
            RowKind::States => {}
        }
        if !side_text[LEFT].is_empty() {
            c.text(
                left_text,
                text_y,
                "end",
                "font-weight=\"bold\"",
                &fit(&side_text[LEFT], SIDE_CHARS),
            );
        }
        if !side_text[RIGHT].is_empty() {
            c.text(
                right_text,
                text_y,
                "start",
                "font-weight=\"bold\"",
                &fit(&side_text[RIGHT], SIDE_CHARS),
            );
        }
    }

    // The final row: each side's last state (TIME_WAIT with its countdown) and the totals.
    let y = anchor(final_row) + 4.5;
    c.text(TIME_RIGHT, y, "end", &format!("fill=\"{MUTED}\""), "final");
    c.text(
        left_text,
        y,
        "end",
        "font-weight=\"bold\"",
        &fit(&lay.end_text(LEFT), SIDE_CHARS),
    );
    c.text(
        right_text,
        y,
        "start",
        "font-weight=\"bold\"",
        &fit(&lay.end_text(RIGHT), SIDE_CHARS),
    );
    c.text(mid, y, "middle", "", &fit(&lay.totals(), LABEL_CHARS));
    c.text(
        8.0,
        y + ROW,
        "start",
        &format!("fill=\"{MUTED}\" font-size=\"12\""),
        LEGEND,
    );
    (c.0, y + ROW + 14.0)
}

impl GroupRenderer for SvgRenderer {
    fn start(&mut self, meta: &Meta, _out: &mut dyn Write) -> io::Result<()> {
        self.title = format!("synfin: {}", meta.input);
        Ok(())
    }

    fn connection(&mut self, g: &ConnGroup, _out: &mut dyn Write) -> io::Result<()> {
        let (body, h) = draw_connection(g, &self.opts);
        let top = self.height;
        let mut part = String::new();
        if !self.parts.is_empty() {
            // A rule between connections.
            part.push_str(&format!(
                "<line x1=\"8\" y1=\"{top}\" x2=\"{}\" y2=\"{top}\" stroke=\"#cfd8dc\" stroke-width=\"1\"/>\n",
                num(WIDTH - 8.0)
            ));
        }
        part.push_str(&format!(
            "<g transform=\"translate(0,{top})\">\n{body}</g>\n"
        ));
        self.parts.push(part);
        self.height = top + h.ceil() as u32;
        Ok(())
    }

    fn finish(&mut self, summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
        if self.parts.is_empty() {
            let mut c = Canvas::default();
            c.text(
                8.0,
                24.0,
                "start",
                "",
                &format!("no TCP connections ({} frames read)", summary.frames),
            );
            self.parts.push(c.0);
            self.height = 40;
        }
        let (w, h) = (num(WIDTH), self.height);
        let title = xml_escape(&self.title);
        if self.html {
            writeln!(out, "<!doctype html>")?;
            writeln!(out, "<html lang=\"en\">")?;
            writeln!(out, "<head>")?;
            writeln!(out, "<meta charset=\"utf-8\">")?;
            writeln!(out, "<title>{title}</title>")?;
            writeln!(
                out,
                "<style>body{{margin:0;background:#ffffff}} svg{{display:block}}</style>"
            )?;
            writeln!(out, "</head>")?;
            writeln!(out, "<body>")?;
        } else {
            writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
        }
        writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
             xml:space=\"preserve\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"13\" fill=\"{INK}\">"
        )?;
        writeln!(out, "<title>{title}</title>")?;
        writeln!(
            out,
            "<rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>"
        )?;
        for p in &self.parts {
            out.write_all(p.as_bytes())?;
        }
        writeln!(out, "</svg>")?;
        if self.html {
            writeln!(out, "</body>")?;
            writeln!(out, "</html>")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_markup_character() {
        assert_eq!(
            xml_escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
        );
        assert_eq!(xml_escape("a\u{1b}b\tc"), "a?b\tc");
        assert_eq!(
            xml_escape("FIN_WAIT_2 → TIME_WAIT"),
            "FIN_WAIT_2 → TIME_WAIT"
        );
    }

    #[test]
    fn numbers_are_short_and_stable() {
        assert_eq!(num(348.0), "348");
        assert_eq!(num(74.5), "74.5");
        assert_eq!(num(1.04), "1");
    }

    #[test]
    fn text_columns_fit_the_geometry() {
        assert_eq!((SIDE_CHARS, LABEL_CHARS, NOTE_CHARS), (30, 72, 142));
        // Server-side text stays inside the picture.
        assert!(SERVER_X + LANE + GAP + SIDE_CHARS as f64 * CHAR_W <= WIDTH - 8.0);
    }
}
