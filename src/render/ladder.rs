//! `--format ladder`: the lesson's picture, drawn from real packets. Two columns (client
//! left, server right), one row per segment with an arrow in its direction, each side's
//! state after it (only when it changes), the socket calls beside the side that made them,
//! and a "why" line under anything unusual.

use super::group::{ConnGroup, Stacked};
use super::layout::legend_lines;
use super::layout::{
    elided_text, segment_text, states_text, travel_mark, Layout, RowKind, Travel, LEFT, RIGHT,
};
use super::palette;
use super::{call_text, fit, RenderOpts};
use crate::events::{Dir, SegmentEvent};
use crate::segment::TcpFlags;
use crate::timestamp::Timestamp;
use std::fmt::Write as _;
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

/// Append `text` (cut to `width` if it must be), painted when `color`, then blanks to `width`:
/// the padding is never painted, so a painted line is the plain line with escapes added.
fn put(line: &mut String, text: &str, width: usize, color: bool, paint: impl Fn(&str) -> String) {
    let cut;
    let t = if text.len() <= width || text.chars().count() <= width {
        text
    } else {
        cut = fit(text, width);
        cut.as_str()
    };
    if color && !t.is_empty() {
        line.push_str(&paint(t));
    } else {
        line.push_str(t);
    }
    for _ in t.chars().count()..width {
        line.push(' ');
    }
}

/// Paint a side's text: a call, or states.
fn side_paint(text: &str, is_call: bool, color: bool) -> String {
    if is_call {
        palette::call(text, color)
    } else {
        palette::state(text, color)
    }
}

/// `text` in lines of at most `width` columns, broken after ` → ` (a chain of states) or at
/// spaces, so that no state name, call or port is cut; only a single word wider than the
/// column is (with `…`).
fn wrap(text: &str, width: usize) -> Vec<String> {
    if text.chars().count() <= width {
        return vec![text.to_string()];
    }
    // Words at spaces; an arrow stays with the word before it (a chain of states breaks
    // after its arrows).
    let mut words: Vec<String> = Vec::new();
    for w in text.split(' ') {
        match words.last_mut() {
            Some(prev) if w == "→" => {
                prev.push_str(" →");
            }
            _ => words.push(w.to_string()),
        }
    }
    let mut lines: Vec<String> = Vec::new();
    for w in words {
        match lines.last_mut() {
            Some(l) if l.chars().count() + 1 + w.chars().count() <= width => {
                l.push(' ');
                l.push_str(&w);
            }
            _ => lines.push(fit(&w, width)),
        }
    }
    lines
}

/// The arrow of a segment, `width` wide, with its label in the middle, and the mark of its
/// journey (text cannot slope an arrow, so it says so): `⤫ crossed` or `✗ lost` after the
/// label where both fit; else the glyph alone (`⤫`, `✗`) after it; else, when the label just
/// fits, the glyph beside the arrowhead; a label too long for the arrow anyway is cut to
/// leave the mark room.
fn arrow(s: &SegmentEvent, travel: &Travel, payload: bool, width: usize) -> String {
    let room = width.saturating_sub(4);
    let text = segment_text(s, payload);
    let len = text.chars().count();
    let mut by_head = None;
    let label = match travel_mark(travel) {
        None => fit(&text, room),
        Some(m) => {
            let glyph = m.split(' ').next().unwrap_or(m);
            let n = m.chars().count();
            if len + 1 + n <= room {
                format!("{text} {m}")
            } else if len + 2 <= room {
                format!("{text} {glyph}")
            } else if len <= room {
                by_head = Some(glyph);
                text
            } else if room >= n + 7 {
                format!("{} {m}", fit(&text, room - n - 1))
            } else {
                format!("{} {glyph}", fit(&text, room.saturating_sub(2)))
            }
        }
    };
    let dashes = width.saturating_sub(3 + label.chars().count());
    let (l, r) = (dashes / 2, dashes - dashes / 2);
    if by_head.is_none() {
        // The common arrow, built in one allocation.
        let mut a = String::with_capacity(label.len() + 3 * (dashes + 2) + 2);
        let dash = |a: &mut String, n: usize| (0..n).for_each(|_| a.push('─'));
        if s.dir == Dir::S2c {
            a.push('◀');
        }
        dash(&mut a, l);
        a.push(' ');
        a.push_str(&label);
        a.push(' ');
        dash(&mut a, r);
        if s.dir == Dir::C2s {
            a.push('▶');
        }
        return a;
    }
    let line = |n: usize| "─".repeat(n);
    match (s.dir, by_head) {
        (Dir::C2s, None) => format!("{} {label} {}▶", line(l), line(r)),
        (Dir::S2c, None) => format!("◀{} {label} {}", line(l), line(r)),
        // The glyph takes the place of the dash (or the blank) next to the head.
        (Dir::C2s, Some(g)) if r > 0 => format!("{} {label} {}{g}▶", line(l), line(r - 1)),
        (Dir::C2s, Some(g)) => format!("{} {label}{g}▶", line(l)),
        (Dir::S2c, Some(g)) if l > 0 => format!("◀{g}{} {label} {}", line(l - 1), line(r)),
        (Dir::S2c, Some(g)) => format!("◀{g}{label} {}", line(r)),
    }
}

/// Draw a laid-out connection.
pub fn draw(lay: &Layout, o: &RenderOpts, out: &mut dyn Write) -> io::Result<()> {
    let v = lay.verdict;
    let cols = Columns::new(o.width);
    let color = o.color;
    let start = v.start;
    let head = super::conn_header(v);
    for line in wrap(&head, o.width) {
        writeln!(out, "{}", palette::header(&line, color))?;
    }
    let sidew = cols.side;
    let [l, r] = &lay.sides;
    // The endpoints over their columns; a role that does not fit goes under its address.
    let title = |e: &dyn std::fmt::Display, role: &str| {
        let t = format!("{e} {role}");
        if t.chars().count() <= sidew {
            vec![t]
        } else {
            vec![e.to_string(), role.to_string()]
        }
    };
    let (lt, rt) = (title(&l.endpoint, l.role), title(&r.endpoint, r.role));
    for i in 0..lt.len().max(rt.len()) {
        let get = |v: &Vec<String>| v.get(i).cloned().unwrap_or_default();
        // An address wider than its column runs on into the arrow's, and the right one
        // moves left so as to end within the width.
        let (lw, rw) = (get(&lt), get(&rt));
        let room = sidew + 1 + cols.arrow;
        let (ll, rl) = (lw.chars().count(), rw.chars().count());
        let lead = room
            .min(o.width.saturating_sub(cols.time + 3 + rl))
            .max(ll + 1);
        let line = format!("{}  {} {rw}", " ".repeat(cols.time), pad(&lw, lead));
        writeln!(out, "{}", line.trim_end())?;
    }
    let mut line = String::with_capacity(o.width * 2);
    for row in &lay.rows {
        let time = row.t.map(|t| rel_ms(t, start)).unwrap_or_default();
        let (mut left, mut right) = (
            states_text(&row.states[LEFT]),
            states_text(&row.states[RIGHT]),
        );
        let (mut left_call, mut right_call) = (false, false);
        let mut flags = TcpFlags::default();
        let mid = match row.kind {
            RowKind::Start => {
                left = lay.start_text(LEFT).to_string();
                right = lay.start_text(RIGHT).to_string();
                String::new()
            }
            RowKind::Segment(s) => {
                flags = s.flags;
                arrow(s, &row.travel, o.payload, cols.arrow)
            }
            RowKind::Call { side, call } => {
                let text = call_text(call);
                if side == LEFT {
                    left = text;
                    left_call = true;
                } else {
                    right = text;
                    right_call = true;
                }
                String::new()
            }
            RowKind::Elided { segments, .. } => elided_text(segments),
            RowKind::States => String::new(),
        };
        // A row without an arrow lends the arrow's room to its call or state text; text
        // longer than its room wraps onto lines of its own under it.
        let one_line = |t: &str, w: usize| t.len() <= w || t.chars().count() <= w;
        let lines: Vec<String> = if mid.is_empty() && right.is_empty() {
            let room = sidew + 1 + cols.arrow;
            if one_line(&left, room) {
                line.clear();
                let _ = write!(line, "{time:>w$}  ", w = cols.time);
                put(&mut line, &left, room, color, |t| {
                    side_paint(t, left_call, color)
                });
                writeln!(out, "{}", line.trim_end())?;
                Vec::new()
            } else {
                wrap(&left, room)
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let time = if i == 0 { time.as_str() } else { "" };
                        let left = cell(t, room, |t| side_paint(t, left_call, color));
                        format!("{time:>w$}  {left}", w = cols.time)
                    })
                    .collect()
            }
        } else if mid.is_empty() && left.is_empty() {
            let room = o
                .width
                .saturating_sub(cols.time + 2 + sidew + 1 + cols.arrow + 1)
                .max(sidew);
            if one_line(&right, room) {
                line.clear();
                let _ = write!(line, "{time:>w$}  ", w = cols.time);
                for _ in 0..sidew + 1 + cols.arrow + 1 {
                    line.push(' ');
                }
                put(&mut line, &right, room, color, |t| {
                    side_paint(t, right_call, color)
                });
                writeln!(out, "{}", line.trim_end())?;
                Vec::new()
            } else {
                let blank = " ".repeat(sidew + 1 + cols.arrow);
                wrap(&right, room)
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let time = if i == 0 { time.as_str() } else { "" };
                        let right = cell(t, room, |t| side_paint(t, right_call, color));
                        format!("{time:>w$}  {blank} {right}", w = cols.time)
                    })
                    .collect()
            }
        } else {
            let right_room = o
                .width
                .saturating_sub(cols.time + 2 + sidew + 1 + cols.arrow + 1)
                .max(sidew);
            if one_line(&left, sidew) && one_line(&right, right_room) {
                // The common row: one line, written straight into the reused buffer.
                line.clear();
                let _ = write!(line, "{time:>w$}  ", w = cols.time);
                put(&mut line, &left, sidew, color, |t| {
                    side_paint(t, left_call, color)
                });
                line.push(' ');
                put(&mut line, &mid, cols.arrow, color, |t| {
                    palette::segment(t, flags, color)
                });
                line.push(' ');
                put(&mut line, &right, right_room, color, |t| {
                    side_paint(t, right_call, color)
                });
                writeln!(out, "{}", line.trim_end())?;
                Vec::new()
            } else {
                let (ls, rs) = (wrap(&left, sidew), wrap(&right, right_room));
                (0..ls.len().max(rs.len()))
                    .map(|i| {
                        let get = |v: &Vec<String>| v.get(i).cloned().unwrap_or_default();
                        let time = if i == 0 { time.as_str() } else { "" };
                        let left = cell(&get(&ls), sidew, |t| side_paint(t, left_call, color));
                        let m = if i == 0 { mid.as_str() } else { "" };
                        let m = cell(m, cols.arrow, |t| palette::segment(t, flags, color));
                        let right =
                            cell(&get(&rs), right_room, |t| side_paint(t, right_call, color));
                        format!("{time:>w$}  {left} {m} {right}", w = cols.time)
                    })
                    .collect()
            }
        };
        for line in lines {
            writeln!(out, "{}", line.trim_end())?;
        }
        for why in &row.why {
            for (i, part) in wrap(&why.text, o.width.saturating_sub(cols.time + 4))
                .iter()
                .enumerate()
            {
                let indent = cols.time + 2 + if i == 0 { 0 } else { 2 };
                let text = format!("{}{part}", " ".repeat(indent));
                writeln!(out, "{}", palette::warn(&text, color))?;
            }
        }
    }
    // Final states and the TIME_WAIT countdown, the totals between them (wrapped if need be).
    let (ls, ms, rs) = (
        wrap(&lay.end_text(LEFT), sidew),
        wrap(&lay.totals(), cols.arrow),
        wrap(
            &lay.end_text(RIGHT),
            sidew.max(o.width.saturating_sub(cols.time + 4 + sidew + cols.arrow)),
        ),
    );
    for i in 0..ls.len().max(ms.len()).max(rs.len()) {
        let get = |v: &Vec<String>| v.get(i).cloned().unwrap_or_default();
        let end = format!(
            "{:>w$}  {} {} {}",
            if i == 0 { "final" } else { "" },
            pad(&get(&ls), sidew),
            pad(&get(&ms), cols.arrow),
            get(&rs),
            w = cols.time
        );
        writeln!(out, "{}", palette::state(end.trim_end(), color))?;
    }
    for line in legend_lines(o.width) {
        writeln!(out, "{}", fit(&line, o.width))?;
    }
    Ok(())
}
