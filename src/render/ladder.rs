//! `--format ladder`: the lesson's picture, drawn from real packets. Two columns (client
//! left, server right), one row per segment with an arrow in its direction, each side's
//! state after it (only when it changes), the socket calls beside the side that made them,
//! and a "why" line under anything unusual.

use super::group::{ConnGroup, Stacked};
use super::layout::{elided_text, segment_text, states_text, Layout, RowKind, LEFT, LEGEND, RIGHT};
use super::palette;
use super::{call_text, fit, RenderOpts};
use crate::events::{Dir, SegmentEvent};
use crate::segment::TcpFlags;
use crate::timestamp::Timestamp;
use std::io::{self, Write};

/// One ladder per connection, one after another.
pub fn renderer(opts: RenderOpts) -> Stacked {
    Stacked::new(opts, render_connection)
}

/// Column widths for a line width.
#[derive(Debug, Clone, Copy)]
struct Columns {
    time: usize,
    side: usize,
    arrow: usize,
}

impl Columns {
    fn new(width: usize) -> Columns {
        let time = 11;
        let side = ((width.saturating_sub(time + 4)) * 27 / 100).clamp(12, 26);
        let arrow = width.saturating_sub(time + 4 + 2 * side).max(12);
        Columns { time, side, arrow }
    }
}

fn pad(s: &str, n: usize) -> String {
    let s = fit(s, n);
    let len = s.chars().count();
    format!("{s}{}", " ".repeat(n - len))
}

fn rel_ms(t: Timestamp, start: Timestamp) -> String {
    let ns = t.since(start);
    format!("{:>9.3}ms", ns as f64 / 1e6)
}

pub use super::layout::segment_label;

/// Draw one connection.
pub fn render_connection(g: &ConnGroup, o: &RenderOpts, out: &mut dyn Write) -> io::Result<()> {
    let lay = super::layout::Layout::new(g, o.max_segments);
    draw(&lay, o, out)
}

/// Paint only the text of a cell, never its padding, so a painted line is the plain line with
/// escapes added (and trailing blanks trim the same way).
fn cell(text: &str, width: usize, paint: impl Fn(&str) -> String) -> String {
    let t = fit(text, width);
    let fill = width - t.chars().count();
    let body = if t.is_empty() { t } else { paint(&t) };
    format!("{body}{}", " ".repeat(fill))
}

/// Paint a side's text: a call, or states.
fn side_paint(text: &str, color: bool) -> String {
    if text.starts_with(['»', '~']) {
        palette::call(text, color)
    } else {
        palette::state(text, color)
    }
}

/// The arrow of a segment, `width` wide, with its label in the middle.
fn arrow(s: &SegmentEvent, payload: bool, width: usize) -> String {
    let label = fit(&segment_text(s, payload), width.saturating_sub(4));
    let dashes = width.saturating_sub(3 + label.chars().count());
    let (l, r) = (dashes / 2, dashes - dashes / 2);
    match s.dir {
        Dir::C2s => format!("{} {label} {}▶", "─".repeat(l), "─".repeat(r)),
        Dir::S2c => format!("◀{} {label} {}", "─".repeat(l), "─".repeat(r)),
    }
}

/// Draw a laid-out connection.
pub fn draw(lay: &Layout, o: &RenderOpts, out: &mut dyn Write) -> io::Result<()> {
    let v = lay.verdict;
    let cols = Columns::new(o.width);
    let color = o.color;
    let start = v.start;
    let head = super::conn_header(v);
    writeln!(out, "{}", palette::header(&fit(&head, o.width), color))?;
    let sidew = cols.side;
    let [l, r] = &lay.sides;
    let titles = format!(
        "{}  {} {} {}",
        " ".repeat(cols.time),
        pad(&format!("{} {}", l.endpoint, l.role), sidew),
        " ".repeat(cols.arrow),
        fit(&format!("{} {}", r.endpoint, r.role), sidew)
    );
    writeln!(out, "{}", titles.trim_end())?;
    for row in &lay.rows {
        let time = row.t.map(|t| rel_ms(t, start)).unwrap_or_default();
        let (mut left, mut right) = (
            states_text(&row.states[LEFT]),
            states_text(&row.states[RIGHT]),
        );
        let mut flags = TcpFlags::default();
        let mid = match row.kind {
            RowKind::Start => {
                left = lay.start_text(LEFT).to_string();
                right = lay.start_text(RIGHT).to_string();
                String::new()
            }
            RowKind::Segment(s) => {
                flags = s.flags;
                arrow(s, o.payload, cols.arrow)
            }
            RowKind::Call { side, call } => {
                let text = call_text(call);
                if side == LEFT {
                    left = text;
                } else {
                    right = text;
                }
                String::new()
            }
            RowKind::Elided { segments, .. } => elided_text(segments),
            RowKind::States => String::new(),
        };
        // A row without an arrow lends the arrow's room to its call or state text.
        let line = if mid.is_empty() && right.is_empty() {
            let left = cell(&left, sidew + 1 + cols.arrow, |t| side_paint(t, color));
            format!("{time:>w$}  {left}", w = cols.time)
        } else if mid.is_empty() && left.is_empty() {
            let room = o
                .width
                .saturating_sub(cols.time + 2 + sidew + 1 + cols.arrow + 1);
            let right = cell(&right, room.max(sidew), |t| side_paint(t, color));
            let blank = " ".repeat(sidew + 1 + cols.arrow);
            format!("{time:>w$}  {blank} {right}", w = cols.time)
        } else {
            let left = cell(&left, sidew, |t| side_paint(t, color));
            let mid = cell(&mid, cols.arrow, |t| palette::segment(t, flags, color));
            let right = cell(&right, sidew, |t| side_paint(t, color));
            format!("{time:>w$}  {left} {mid} {right}", w = cols.time)
        };
        writeln!(out, "{}", line.trim_end())?;
        for why in &row.why {
            let text = fit(&format!("{}  {}", " ".repeat(cols.time), why.text), o.width);
            writeln!(out, "{}", palette::warn(&text, color))?;
        }
    }
    // Final states and the TIME_WAIT countdown.
    let end = format!(
        "{:>w$}  {} {} {}",
        "final",
        pad(&lay.end_text(LEFT), sidew),
        pad(&lay.totals(), cols.arrow),
        fit(&lay.end_text(RIGHT), sidew),
        w = cols.time
    );
    writeln!(out, "{}", palette::state(end.trim_end(), color))?;
    writeln!(out, "{}", fit(LEGEND, o.width))?;
    Ok(())
}
