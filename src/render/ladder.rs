//! `--format ladder`: the lesson's picture, drawn from real packets. Two columns (client
//! left, server right), one row per segment with an arrow in its direction, each side's
//! state after it (only when it changes), the socket calls beside the side that made them,
//! and a "why" line under anything unusual.

use super::group::{ConnGroup, Stacked};
use super::layout::{
    elided_text, push_legend, travel_mark, write_segment_label, write_segment_text,
    write_states_text, Layout, RowKind, Travel, LEFT, RIGHT,
};
use super::palette;
use super::runs::push_run;
use super::{fit, write_call_text, RenderOpts};
use crate::events::{Dir, SegmentEvent};
use crate::segment::TcpFlags;
use crate::timestamp::Timestamp;
use smallvec::SmallVec;
use std::borrow::Cow;
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

/// `    12.345ms`: `t` since `start`, in milliseconds to the microsecond, right-aligned in 11
/// columns (as `format!("{:>9.3}ms", ns as f64 / 1e6)`, appended without a float formatter).
fn write_rel_ms(out: &mut String, t: Timestamp, start: Timestamp) {
    let ns = t.since(start);
    // Integer rounding gives the float's digits unless the nanoseconds sit exactly half way
    // between two microseconds (where the float's own rounding error decides): below 10^15
    // ns the float's error (< 10^-7 ms) is smaller than any other distance to a half (10^-6
    // ms), so both round the same way. Halves, negatives and huge values take the formatter.
    if (0..1_000_000_000_000_000).contains(&ns) && ns % 1000 != 500 {
        let us = (ns + 500) / 1000;
        let mut num = itoa::Buffer::new();
        let whole = num.format(us / 1000);
        let frac = (us % 1000) as usize;
        push_run(out, ' ', 9usize.saturating_sub(whole.len() + 4));
        out.push_str(whole);
        out.push('.');
        let digits = [
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        out.push_str(std::str::from_utf8(&digits).expect("ASCII digits"));
        out.push_str("ms");
    } else {
        let _ = write!(out, "{:>9.3}ms", ns as f64 / 1e6);
    }
}

pub use super::layout::segment_label;

/// Draw one connection.
pub fn render_connection(g: &ConnGroup, o: &RenderOpts, out: &mut dyn Write) -> io::Result<()> {
    let lay = super::layout::Layout::new(g, o.max_segments);
    draw(&lay, o, out)
}

/// Append `text` (cut to `width` if it must be), painted when `color`, then blanks to `width`:
/// the padding is never painted, so a painted line is the plain line with escapes added.
fn put(line: &mut String, text: &str, width: usize, color: bool, paint: impl Fn(&str) -> String) {
    let n = width.saturating_sub(put_last(line, text, width, color, paint));
    push_run(line, ' ', n);
}

/// `put` for the last column of a line, which `end_line` trims: without the padding; the
/// columns taken.
fn put_last(
    line: &mut String,
    text: &str,
    width: usize,
    color: bool,
    paint: impl Fn(&str) -> String,
) -> usize {
    let cut;
    let t = if fits(text, width) {
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
    columns(t)
}

/// Does `t` fit in `width` columns? (Its length in bytes first: most text is ASCII.)
fn fits(t: &str, width: usize) -> bool {
    t.len() <= width || t.chars().count() <= width
}

/// How many columns `t` takes (a char each; ASCII text without counting).
fn columns(t: &str) -> usize {
    if t.is_ascii() {
        t.len()
    } else {
        t.chars().count()
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
/// column is (with `…`). A line is a stretch of `text` (its words and the blanks between
/// them), borrowed; only a cut word is a copy.
fn wrap(text: &str, width: usize) -> Wrapped<'_> {
    let mut w = Wrapped {
        text,
        width,
        lines: SmallVec::new(),
        line: None,
    };
    if fits(text, width) {
        w.lines.push(Cow::Borrowed(text));
        return w;
    }
    // Words at spaces, as byte ranges; an arrow stays with the word before it (a chain of
    // states breaks after its arrows).
    let mut word: Option<(usize, usize)> = None;
    let mut at = 0;
    for piece in text.split(' ') {
        let (start, end) = (at, at + piece.len());
        at = end + 1;
        match word {
            Some((first, _)) if piece == "→" => word = Some((first, end)),
            _ => {
                if let Some(done) = word {
                    w.place(done);
                }
                word = Some((start, end));
            }
        }
    }
    if let Some(done) = word {
        w.place(done);
    }
    if let Some((start, end, _)) = w.line.take() {
        w.lines.push(Cow::Borrowed(&text[start..end]));
    }
    w
}

/// Wrapped text: its lines (rarely more than three: held in place).
struct Wrapped<'a> {
    text: &'a str,
    width: usize,
    lines: SmallVec<[Cow<'a, str>; 3]>,
    /// The line being filled: its byte range in `text` and its columns.
    line: Option<(usize, usize, usize)>,
}

impl<'a> Wrapped<'a> {
    /// Put the word at `start..end` of the text on the line being filled if it fits there,
    /// else begin a line with it (cut to the width if it is wider).
    fn place(&mut self, (start, end): (usize, usize)) {
        let n = self.text[start..end].chars().count();
        match &mut self.line {
            Some((_, line_end, cols)) if *cols + 1 + n <= self.width => {
                *line_end = end;
                *cols += 1 + n;
            }
            _ => {
                if let Some((s, e, _)) = self.line.take() {
                    self.lines.push(Cow::Borrowed(&self.text[s..e]));
                }
                if n <= self.width {
                    self.line = Some((start, end, n));
                } else {
                    // Nothing more goes on a cut line: it is as wide as the column.
                    self.lines
                        .push(Cow::Owned(fit(&self.text[start..end], self.width)));
                }
            }
        }
    }
    /// How many lines.
    fn len(&self) -> usize {
        self.lines.len()
    }
    /// Line `i`, or nothing past the last.
    fn get(&self, i: usize) -> &str {
        self.lines.get(i).map_or("", |l| l)
    }
}

/// The arrow of a segment, `width` wide, with its label in the middle, and the mark of its
/// journey (text cannot slope an arrow, so it says so): `⤫ crossed` or `✗ lost` after the
/// label where both fit; else the glyph alone (`⤫`, `✗`) after it; else, when the label just
/// fits, the glyph beside the arrowhead; a label too long for the arrow anyway is cut to
/// leave the mark room.
fn arrow(
    a: &mut String,
    text: &mut String,
    s: &SegmentEvent,
    travel: &Travel,
    payload: bool,
    width: usize,
) {
    let room = width.saturating_sub(4);
    text.clear();
    write_segment_text(text, s, payload);
    // A label the notes would make too long loses them rather than its own words: each
    // note (`[retransmission]`) is told again on the anomaly line under the row.
    if columns(text) > room && !s.notes.is_empty() {
        text.clear();
        write_segment_label(text, s, payload);
    }
    let text = text.as_str();
    let len = columns(text);
    let mut by_head = None;
    let label: Cow<str> = match travel_mark(travel) {
        None if len <= room => Cow::Borrowed(text),
        None => Cow::Owned(fit(text, room)),
        Some(m) => {
            let glyph = m.split(' ').next().unwrap_or(m);
            let n = m.chars().count();
            if len + 1 + n <= room {
                Cow::Owned(format!("{text} {m}"))
            } else if len + 2 <= room {
                Cow::Owned(format!("{text} {glyph}"))
            } else if len <= room {
                by_head = Some(glyph);
                Cow::Borrowed(text)
            } else if room >= n + 7 {
                Cow::Owned(format!("{} {m}", fit(text, room - n - 1)))
            } else {
                Cow::Owned(format!("{} {glyph}", fit(text, room.saturating_sub(2))))
            }
        }
    };
    let label_len = columns(&label);
    let dashes = width.saturating_sub(3 + label_len);
    let (l, r) = (dashes / 2, dashes - dashes / 2);
    let dash = |a: &mut String, n: usize| push_run(a, '─', n);
    a.clear();
    match (s.dir, by_head) {
        (Dir::C2s, None) => {
            dash(a, l);
            a.push(' ');
            a.push_str(&label);
            a.push(' ');
            dash(a, r);
            a.push('▶');
        }
        (Dir::S2c, None) => {
            a.push('◀');
            dash(a, l);
            a.push(' ');
            a.push_str(&label);
            a.push(' ');
            dash(a, r);
        }
        // The glyph takes the place of the dash (or the blank) next to the head.
        (Dir::C2s, Some(g)) => {
            dash(a, l);
            a.push(' ');
            a.push_str(&label);
            if r > 0 {
                a.push(' ');
                dash(a, r - 1);
            }
            a.push_str(g);
            a.push('▶');
        }
        (Dir::S2c, Some(g)) => {
            a.push('◀');
            a.push_str(g);
            if l > 0 {
                dash(a, l - 1);
                a.push(' ');
            }
            a.push_str(&label);
            a.push(' ');
            dash(a, r);
        }
    }
}

/// The time column (`time` right-aligned in `width`) and the two blanks after it.
fn put_time(page: &mut String, time: &str, width: usize) {
    push_run(page, ' ', width.saturating_sub(time.len()));
    page.push_str(time);
    page.push_str("  ");
}

/// End the line that starts at `start` in `page`: trailing blanks trimmed, a newline added.
fn end_line(page: &mut String, start: usize) {
    // The padding is blanks: drop them bytewise, then whatever other white space `trim_end`
    // would (the same result as `trim_end` alone).
    let line = &page.as_bytes()[start..];
    let mut end = line.len();
    // Eight at a time first (a line is padded to the width: ~45 blanks a line on average).
    while end >= 8 && line[end - 8..end] == [b' '; 8] {
        end -= 8;
    }
    while end > 0 && line[end - 1] == b' ' {
        end -= 1;
    }
    page.truncate(start + end);
    if page[start..]
        .chars()
        .next_back()
        .is_some_and(char::is_whitespace)
    {
        let keep = page[start..].trim_end().len();
        page.truncate(start + keep);
    }
    page.push('\n');
}

/// Write out `page` once it holds this much (a long connection stays bounded in memory).
const PAGE: usize = 64 * 1024;

/// What drawing a connection writes into, kept from one connection to the next on each thread
/// (a ladder of a quarter of a million connections allocated ~50 times each before).
#[derive(Default)]
struct Scratch {
    page: String,
    left: String,
    right: String,
    mid: String,
    seg: String,
    time: String,
    titles: [String; 2],
    end: [String; 3],
}

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
}

/// Draw a laid-out connection.
pub fn draw(lay: &Layout, o: &RenderOpts, out: &mut dyn Write) -> io::Result<()> {
    let mut s = SCRATCH.take();
    let r = draw_into(lay, o, out, &mut s);
    s.page.clear();
    SCRATCH.set(s);
    r
}

/// [`draw`], with the thread's scratch strings.
fn draw_into(lay: &Layout, o: &RenderOpts, out: &mut dyn Write, s: &mut Scratch) -> io::Result<()> {
    let Scratch {
        page,
        left: left_buf,
        right: right_buf,
        mid,
        seg: seg_text,
        time,
        titles,
        end,
    } = s;
    let v = lay.verdict;
    let cols = Columns::new(o.width);
    let color = o.color;
    let start = v.start;
    // Lines go into `page` (each trimmed in place by `end_line`), written out in blocks.
    page.clear();
    page.reserve(((lay.rows.len() + 8) * (o.width + 16)).min(PAGE) + 4 * o.width);
    super::push_conn_header(page, v);
    if !color && fits(page, o.width) {
        page.push('\n');
    } else {
        // Painted or wrapped (a copy, the page keeping its room).
        let head = page.clone();
        page.clear();
        let lines = wrap(&head, o.width);
        for i in 0..lines.len() {
            page.push_str(&palette::header(lines.get(i), color));
            page.push('\n');
        }
    }
    let sidew = cols.side;
    let [l, r] = &lay.sides;
    // The endpoints over their columns; a role that does not fit goes under its address.
    let [tl, tr] = titles;
    let title = |t: &'_ mut String, e: &crate::events::Endpoint, role: &'static str| {
        t.clear();
        e.push_to(t);
        let addr = t.len();
        t.push(' ');
        t.push_str(role);
        if columns(t) <= sidew {
            None
        } else {
            t.truncate(addr);
            Some(role)
        }
    };
    let (l_role, r_role) = (
        title(tl, &l.endpoint, l.role),
        title(tr, &r.endpoint, r.role),
    );
    let mut lt: [&str; 3] = [tl.as_str(), l_role.unwrap_or(""), ""];
    let mut rt: [&str; 3] = [tr.as_str(), r_role.unwrap_or(""), ""];
    let mut n = 1 + usize::from(l_role.is_some() || r_role.is_some());
    // The owning processes, under the addresses, when traced calls named them.
    if l.owner.is_some() || r.owner.is_some() {
        lt[n] = l.owner.as_deref().unwrap_or_default();
        rt[n] = r.owner.as_deref().unwrap_or_default();
        n += 1;
    }
    for i in 0..n {
        // An address wider than its column runs on into the arrow's, and the right one
        // moves left so as to end within the width.
        let (lw, rw) = (lt[i], rt[i]);
        let room = sidew + 1 + cols.arrow;
        let (ll, rl) = (lw.chars().count(), rw.chars().count());
        let lead = room
            .min(o.width.saturating_sub(cols.time + 3 + rl))
            .max(ll + 1);
        let at = page.len();
        put_time(page, "", cols.time);
        put(page, lw, lead, false, |t| t.to_string());
        page.push(' ');
        page.push_str(rw);
        end_line(page, at);
    }
    let right_room = o
        .width
        .saturating_sub(cols.time + 2 + sidew + 1 + cols.arrow + 1)
        .max(sidew);
    for row in &lay.rows {
        if page.len() >= PAGE {
            out.write_all(page.as_bytes())?;
            page.clear();
        }
        time.clear();
        if let Some(t) = row.t {
            write_rel_ms(time, t, start);
        }
        left_buf.clear();
        right_buf.clear();
        mid.clear();
        let (mut left_call, mut right_call) = (false, false);
        let mut flags = TcpFlags::default();
        let (left, right): (&str, &str) = match row.kind {
            RowKind::Start => (lay.start_text(LEFT), lay.start_text(RIGHT)),
            RowKind::Call { side, call } => {
                let other = if side == LEFT { RIGHT } else { LEFT };
                // The call's text takes its side's place; the other side keeps its states.
                let (mine, theirs) = if side == LEFT {
                    left_call = true;
                    (&mut *left_buf, &mut *right_buf)
                } else {
                    right_call = true;
                    (&mut *right_buf, &mut *left_buf)
                };
                write_call_text(mine, call);
                write_states_text(theirs, &row.states[other]);
                (left_buf.as_str(), right_buf.as_str())
            }
            _ => {
                match row.kind {
                    RowKind::Segment(s) => {
                        flags = s.flags;
                        arrow(mid, seg_text, s, &row.travel, o.payload, cols.arrow);
                    }
                    RowKind::Elided { segments, .. } => mid.push_str(&elided_text(segments)),
                    _ => {}
                }
                write_states_text(left_buf, &row.states[LEFT]);
                write_states_text(right_buf, &row.states[RIGHT]);
                (left_buf.as_str(), right_buf.as_str())
            }
        };
        let (time, mid) = (time.as_str(), mid.as_str());
        // A row without an arrow lends the arrow's room to its call or state text; text
        // longer than its room wraps onto lines of its own under it.
        if mid.is_empty() && right.is_empty() {
            let room = sidew + 1 + cols.arrow;
            let lines = wrap(left, room);
            for i in 0..lines.len() {
                let at = page.len();
                put_time(page, if i == 0 { time } else { "" }, cols.time);
                put_last(page, lines.get(i), room, color, |t| {
                    side_paint(t, left_call, color)
                });
                end_line(page, at);
            }
        } else if mid.is_empty() && left.is_empty() {
            let lines = wrap(right, right_room);
            for i in 0..lines.len() {
                let at = page.len();
                put_time(page, if i == 0 { time } else { "" }, cols.time);
                push_run(page, ' ', sidew + 1 + cols.arrow + 1);
                put_last(page, lines.get(i), right_room, color, |t| {
                    side_paint(t, right_call, color)
                });
                end_line(page, at);
            }
        } else {
            // The common row is one line; text too long for its side wraps under it.
            let (ls, rs) = (wrap(left, sidew), wrap(right, right_room));
            for i in 0..ls.len().max(rs.len()) {
                let at = page.len();
                put_time(page, if i == 0 { time } else { "" }, cols.time);
                put(page, ls.get(i), sidew, color, |t| {
                    side_paint(t, left_call, color)
                });
                page.push(' ');
                put(
                    page,
                    if i == 0 { mid } else { "" },
                    cols.arrow,
                    color,
                    |t| palette::segment(t, flags, color),
                );
                page.push(' ');
                put_last(page, rs.get(i), right_room, color, |t| {
                    side_paint(t, right_call, color)
                });
                end_line(page, at);
            }
        }
        for why in &row.why {
            let lines = wrap(&why.text, o.width.saturating_sub(cols.time + 4));
            for i in 0..lines.len() {
                let indent = cols.time + 2 + if i == 0 { 0 } else { 2 };
                if color {
                    let text = format!("{}{}", " ".repeat(indent), lines.get(i));
                    page.push_str(&palette::warn(&text, color));
                } else {
                    push_run(page, ' ', indent);
                    page.push_str(lines.get(i));
                }
                page.push('\n');
            }
        }
    }
    // Final states and the TIME_WAIT countdown, the totals between them (wrapped if need be).
    let [el, em, er] = end;
    el.clear();
    lay.push_end_text(el, LEFT);
    em.clear();
    lay.push_totals(em);
    er.clear();
    lay.push_end_text(er, RIGHT);
    let (ls, ms, rs) = (
        wrap(el, sidew),
        wrap(em, cols.arrow),
        wrap(
            er,
            sidew.max(o.width.saturating_sub(cols.time + 4 + sidew + cols.arrow)),
        ),
    );
    for i in 0..ls.len().max(ms.len()).max(rs.len()) {
        let at = page.len();
        put_time(page, if i == 0 { "final" } else { "" }, cols.time);
        put(page, ls.get(i), sidew, false, |t| t.to_string());
        page.push(' ');
        put(page, ms.get(i), cols.arrow, false, |t| t.to_string());
        page.push(' ');
        page.push_str(rs.get(i));
        end_line(page, at);
        if color {
            // Painted whole, after trimming.
            let plain = page[at..page.len() - 1].to_string();
            page.truncate(at);
            page.push_str(&palette::state(&plain, color));
            page.push('\n');
        }
    }
    push_legend(page, o.width);
    out.write_all(page.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A line ended in place is the line `trim_end` leaves, with a newline; what came
        /// before it stays.
        #[test]
        fn a_line_ends_as_trim_end_leaves_it(
            before in "[a-z \n]{0,12}",
            line in "[ a\t│é\u{2003}]{0,40}",
            blanks in 0usize..70,
        ) {
            let mut page = before.clone();
            page.push_str(&line);
            page.extend(std::iter::repeat_n(' ', blanks));
            let start = before.len();
            let want = format!("{before}{}\n", page[start..].trim_end());
            end_line(&mut page, start);
            prop_assert_eq!(page, want);
        }
    }

    /// How lines were wrapped before they were borrowed: words copied, lines built anew.
    fn wrap_by_copying(text: &str, width: usize) -> Vec<String> {
        if text.chars().count() <= width {
            return vec![text.to_string()];
        }
        let mut words: Vec<String> = Vec::new();
        for w in text.split(' ') {
            match words.last_mut() {
                Some(prev) if w == "→" => prev.push_str(" →"),
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

    proptest! {
        /// Borrowed lines are the lines: words of any width (wider than the column too),
        /// runs of blanks, arrows anywhere, text that is not ASCII, any width.
        #[test]
        fn wrap_borrows_the_lines_it_copied(
            words in proptest::collection::vec(
                prop_oneof![
                    Just(String::new()),
                    Just("→".to_string()),
                    "[a-zA-Z_0-9.:]{1,14}",
                    "[é»~…]{1,4}",
                ],
                0..14,
            ),
            width in 0usize..30,
        ) {
            let text = words.join(" ");
            let w = wrap(&text, width);
            let got: Vec<&str> = (0..w.len()).map(|i| w.get(i)).collect();
            prop_assert_eq!(got, wrap_by_copying(&text, width));
            prop_assert_eq!(w.get(w.len()), "");
        }
    }

    /// The integer path writes what the float formatter writes, halves and extremes included.
    #[test]
    fn rel_ms_matches_the_float_formatter() {
        let start = Timestamp(0);
        let mut cases: Vec<i64> = vec![0, 1, 499, 500, 501, 999, 1000, 1500, 2500, 999_999_500];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push((x % 1_000_000_000_000) as i64);
            cases.push((x % 100_000) as i64 * 1000 + 500);
            cases.push((x >> 14) as i64);
        }
        for ns in cases {
            let mut s = String::new();
            write_rel_ms(&mut s, Timestamp(ns), start);
            assert_eq!(s, format!("{:>9.3}ms", ns as f64 / 1e6), "{ns} ns");
        }
    }
}
