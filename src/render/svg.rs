//! `--format svg` and `--format html`: the ladder as a self-contained, deterministic SVG
//! picture. Two vertical lifelines (client left, server right) headed `ip:port (role)`, each
//! drawn as a lane coloured by the endpoint's state, with the state's name beside it at each
//! change; an arrow per segment labelled as the ladder labels it; the socket calls beside the
//! side that made them; times on the left. Several connections are stacked in one `<svg>`,
//! whose height, in its head, is known only once the last is drawn. Into an output that can be
//! written again (a file: [`super::Rewrite`]) the document streams: its head first, with room
//! after each height, the height written in at the end. Into a pipe, the renderer keeps the
//! drawings and writes the document in `finish`: in memory up to a limit, then in an unnamed
//! temporary file ([`super::spill::Spill`]), so memory stays bounded however many connections
//! are shown. The head keeps the room (spaces to ten characters) either way: the document is
//! the same byte for byte.
//!
//! The vertical axis follows time (`--time-scale`, [`TimeScale`]): by default (compressed)
//! each row keeps at least its text's height, a gap gets room in proportion (the
//! connection's median gap is a row), and a gap longer than four median gaps is a broken
//! axis (two strokes across each lifeline) with its length in the time column; a TIME_WAIT
//! at the end gets its own break with its length. Each arrow leaves its sender's lifeline at
//! its capture time and reaches the receiver's where the tracker delivered it (the layout's
//! [`super::layout::Travel`]): level when that is the instant of its capture, sloping down
//! when it was settled later, so crossed SYNs or FINs cross (a delivery settled on a later
//! row is drawn half a row after that row's own segment: it came after it). A lost copy
//! stops half way with a red cross. State lanes change colour where the arrow that caused the
//! change ends. `rows` keeps evenly spaced rows and level arrows. Arrows' shafts carry
//! `class="seg"` and `data-frame`, `data-dir`, `data-t-send`, `data-t-recv` (ms since the
//! connection's start), `data-crossed` and `data-lost` attributes, for tools and tests.
//!
//! Readable at 100 % zoom: monospace text of 13 px (headers 14 px) on a white background.
//! Every piece of text is XML-escaped. Colour is decoration only: every arrow and lane keeps
//! its label. Pure: no clock, no environment.

use super::decimal::{push_decimal, push_ms3, round_half_away, rounded};
use super::group::{ConnGroup, Gathered, GroupRenderer};
use super::layout::{
    elided_text, segment_text, states_text, travel_mark, Layout, Row, RowKind, Travel, Why, LEFT,
    LEGEND, RIGHT,
};
use super::spill::Spill;
use super::{call_text, fit_cow, RenderOpts, TimeScale};
use crate::events::{Dir, Meta, SegmentEvent, Summary, TcpState};
use crate::segment::TcpFlags;
use crate::timestamp::Timestamp;
use std::borrow::Cow;
use std::io::{self, Write};

/// Draws the ladder of every connection into one SVG document (optionally inside an HTML page).
pub struct SvgRenderer {
    opts: RenderOpts,
    html: bool,
    title: String,
    /// Each connection's drawing, already placed at its height (memory up to a limit, then
    /// a temporary file: [`Spill`]), unless they go straight out (`streaming`).
    parts: Spill,
    /// An output that can be written again (a seekable file): the document is written as it
    /// is drawn, its header first with room for the height, which is written in at the end.
    rewrite: Option<Box<dyn super::Rewrite>>,
    /// Where the document's header is in the output, once it was written there (the
    /// drawings then go straight out).
    streaming: Option<u64>,
    /// How many connections are drawn.
    count: u64,
    height: u32,
    /// Where the drawings are made when not here ([`SvgRenderer::drawings`]), a batch of
    /// connections at a time.
    pieces: Option<Box<dyn super::Pieces<Vec<Gathered>, SvgDrawings>>>,
    batch: Vec<Gathered>,
}

/// Drawings of connections and their heights, in order.
pub type SvgDrawings = Vec<(String, f64)>;

/// Connections per batch handed to the pieces.
const SVG_BATCH: usize = 32;

impl SvgRenderer {
    /// An SVG document.
    pub fn svg(opts: RenderOpts) -> Self {
        SvgRenderer {
            opts,
            html: false,
            title: String::new(),
            parts: Spill::default(),
            rewrite: None,
            streaming: None,
            count: 0,
            height: 0,
            pieces: None,
            batch: Vec::new(),
        }
    }

    /// Have the drawings made by `pieces` (which must draw as [`SvgRenderer::drawings`] does
    /// with [`SvgRenderer::opts`]), a batch at a time (for a file: drawings wait for their
    /// batch, so not for a live view).
    pub fn with_pieces(
        mut self,
        pieces: Box<dyn super::Pieces<Vec<Gathered>, SvgDrawings>>,
    ) -> Self {
        self.pieces = Some(pieces);
        self
    }

    /// Write the document straight into `out`, which `rewrite` can write again (a seekable
    /// file), and its height into its header at the end, rather than holding the drawings
    /// until then. The document is the same byte for byte. Not for `--format html` (its
    /// pictures have their own heights: it streams anyway).
    pub fn with_rewrite(mut self, rewrite: Option<Box<dyn super::Rewrite>>) -> Self {
        self.rewrite = rewrite;
        self
    }

    /// The options it draws with.
    pub fn opts(&self) -> RenderOpts {
        self.opts
    }

    /// The drawings of `batch`, in order.
    pub fn drawings(batch: &mut [Gathered], opts: &RenderOpts) -> SvgDrawings {
        batch
            .iter_mut()
            .map(|g| {
                let d = draw_connection(g.group(), opts);
                g.drawn();
                d
            })
            .collect()
    }

    /// Hand the batch to the pieces, placing the drawings that are ready.
    fn submit(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let Some(mut p) = self.pieces.take() else {
            return Ok(());
        };
        let mut r = Ok(());
        if !self.batch.is_empty() {
            let batch = std::mem::take(&mut self.batch);
            r = p.submit(batch, &mut |d| self.place_all(d, out));
        }
        self.pieces = Some(p);
        r
    }

    fn place_all(&mut self, drawings: SvgDrawings, out: &mut dyn Write) -> io::Result<()> {
        drawings
            .into_iter()
            .try_for_each(|(body, h)| self.place(body, h, out))
    }

    /// Place one connection's drawing under the last.
    fn place(&mut self, body: String, h: f64, out: &mut dyn Write) -> io::Result<()> {
        if self.html {
            self.height += 1;
            let part = format!("<g transform=\"translate(0,0)\">\n{body}</g>\n");
            return self.write_svg(h.ceil() as u32, &[part], out);
        }
        let top = self.height;
        let mut head = String::new();
        if self.count > 0 {
            // A rule between connections.
            head.push_str(&format!(
                "<line x1=\"8\" y1=\"{top}\" x2=\"{}\" y2=\"{top}\" stroke=\"#cfd8dc\" stroke-width=\"1\"/>\n",
                num(WIDTH - 8.0)
            ));
        }
        head.push_str(&format!("<g transform=\"translate(0,{top})\">\n"));
        // The drawing is not copied into a string of its own first: it is most of the bytes.
        for bytes in [head.as_bytes(), body.as_bytes(), b"</g>\n"] {
            match self.streaming {
                Some(_) => out.write_all(bytes)?,
                None => self.parts.push(bytes)?,
            }
        }
        self.count += 1;
        self.height = top + h.ceil() as u32;
        Ok(())
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
    push_escaped(&mut out, s);
    out
}

/// [`xml_escape`], appended to `out`.
fn push_escaped(out: &mut String, s: &str) {
    // Nearly always nothing to escape: one copy.
    if !s
        .bytes()
        .any(|b| b < 0x20 || matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'' | 0xef))
    {
        out.push_str(s);
        return;
    }
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

/// A colour, and its `fill` attribute made once rather than for every element (or the
/// attribute alone).
macro_rules! colour {
    ($name:ident, $fill:ident, $hex:literal) => {
        const $name: &str = $hex;
        colour!($fill, $hex);
    };
    ($fill:ident, $hex:literal) => {
        const $fill: &str = concat!("fill=\"", $hex, "\"");
    };
}
const INK: &str = "#222222";
const WARN: &str = "#8e24aa";
colour!(MUTED, MUTED_FILL, "#666666");
colour!(CALL_FILL, "#00695c");
colour!(RST_INK, RST_FILL, "#c62828");
colour!(SYN_INK, SYN_FILL, "#2e7d32");
colour!(FIN_INK, FIN_FILL, "#9a6700");
colour!(DATA_INK, DATA_FILL, "#37474f");
/// The cross on a lost copy.
const LOST: &str = RST_INK;

/// A number for an attribute: whole numbers without a decimal point.
fn num(x: f64) -> String {
    let mut s = String::with_capacity(8);
    push_num(&mut s, x);
    s
}

/// [`num`], appended to `s`.
fn push_num(s: &mut String, x: f64) {
    // In tenths, as integers: `format!("{:.1}")` of a float takes the exact (bignum) path.
    let tenths = round_half_away(x * 10.0);
    let mut buf = itoa::Buffer::new();
    if tenths % 10 == 0 {
        s.push_str(buf.format(tenths / 10));
        return;
    }
    let a = tenths.unsigned_abs();
    if tenths < 0 {
        s.push('-');
    }
    s.push_str(buf.format(a / 10));
    s.push('.');
    s.push(char::from(b'0' + (a % 10) as u8));
}

/// Arrow colour by the segment's most telling flag (as the terminal palette), and its `fill`.
fn flag_colour(f: TcpFlags) -> (&'static str, &'static str) {
    if f.rst() {
        (RST_INK, RST_FILL)
    } else if f.syn() {
        (SYN_INK, SYN_FILL)
    } else if f.fin() {
        (FIN_INK, FIN_FILL)
    } else {
        (DATA_INK, DATA_FILL)
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
    /// Append pieces and numbers, in order (no string made for either).
    fn put(&mut self, parts: &[Part]) {
        for p in parts {
            match p {
                Part::S(t) => self.0.push_str(t),
                Part::N(x) => push_num(&mut self.0, *x),
            }
        }
    }

    /// `<text>` with an anchor (`start`, `middle`, `end`) and extra attributes.
    fn text(&mut self, x: f64, y: f64, anchor: &str, attrs: &str, content: &str) {
        use Part::{N, S};
        self.put(&[S("<text x=\""), N(x), S("\" y=\""), N(y), S("\"")]);
        if anchor != "start" {
            self.put(&[S(" text-anchor=\""), S(anchor), S("\"")]);
        }
        if !attrs.is_empty() {
            self.put(&[S(" "), S(attrs)]);
        }
        self.0.push('>');
        push_escaped(&mut self.0, content);
        self.0.push_str("</text>\n");
    }

    fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, width: f64) {
        self.line_with(x1, y1, x2, y2, stroke, width, "");
    }

    /// A line with extra attributes after its geometry (` class="seg" data-…`).
    #[allow(clippy::too_many_arguments)]
    fn line_with(
        &mut self,
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        stroke: &str,
        width: f64,
        attrs: &str,
    ) {
        use Part::{N, S};
        self.put(&[
            S("<line x1=\""),
            N(x1),
            S("\" y1=\""),
            N(y1),
            S("\" x2=\""),
            N(x2),
            S("\" y2=\""),
            N(y2),
            S("\" stroke=\""),
            S(stroke),
            S("\" stroke-width=\""),
            N(width),
            S("\""),
            S(attrs),
            S("/>\n"),
        ]);
    }

    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str) {
        use Part::{N, S};
        self.put(&[
            S("<rect x=\""),
            N(x),
            S("\" y=\""),
            N(y),
            S("\" width=\""),
            N(w),
            S("\" height=\""),
            N(h),
            S("\" fill=\""),
            S(fill),
            S("\" stroke=\"#546e7a\" stroke-width=\"0.8\"/>\n"),
        ]);
    }

    fn polygon(&mut self, points: &[(f64, f64)], fill: &str) {
        self.0.push_str("<polygon points=\"");
        for (i, (x, y)) in points.iter().enumerate() {
            if i > 0 {
                self.0.push(' ');
            }
            push_num(&mut self.0, *x);
            self.0.push(',');
            push_num(&mut self.0, *y);
        }
        self.put(&[Part::S("\" fill=\""), Part::S(fill), Part::S("\"/>\n")]);
    }
}

/// A piece of an element: text as it is, or a number as [`num`] writes it.
enum Part<'a> {
    S(&'a str),
    N(f64),
}

/// A line of the picture: a row of the layout, or a "why" line under one.
enum Line<'r, 'a> {
    Row(&'r Row<'a>),
    Why(&'r Why),
}

/// The y of a row's arrow (and the middle of its text) on evenly spaced rows.
fn anchor(i: usize) -> f64 {
    ROWS_TOP + i as f64 * ROW + 16.0
}

/// A broken stretch of the time axis: a wait too long to draw, with its length.
struct Break {
    /// Its middle, where the lanes are cut.
    y: f64,
    /// Its length, in words.
    label: String,
    /// The label goes in the time column (a gap between rows); otherwise across the
    /// picture (TIME_WAIT after the last row, where no arrow runs).
    in_time_column: bool,
}

/// Extra height of a broken stretch of the axis.
const BREAK_H: f64 = 36.0;
/// A gap longer than this many median gaps breaks the axis (shorter ones get room in
/// proportion, a row per median gap).
const BREAK_GAPS: f64 = 4.0;
/// The height a linear axis may take for its time (rows' text may add to it).
const LINEAR_H: f64 = 2400.0;
/// How far after its row a delivery settled there is drawn: it follows the row's segment.
const AFTER: f64 = ROW / 2.0;
/// How far along its way a lost copy is drawn.
const LOST_REACH: f64 = 0.55;

/// The vertical axis of one connection: a y for each line of the picture and for the final
/// row, from evenly spaced rows ([`TimeScale::Rows`]) or from time.
struct Axis {
    /// Each line's y (its arrow's send end).
    y: Vec<f64>,
    /// Each line's time, if it has one.
    t: Vec<Option<Timestamp>>,
    /// The final row's y.
    final_y: f64,
    /// The broken stretches.
    breaks: Vec<Break>,
    /// Arrows slope (time-scaled); otherwise they are level.
    sloped: bool,
}

/// `43 µs`, `210.790 ms`, `60.0 s`: a length of time on a broken axis (`{:.N}` of the
/// length in its unit as a float).
fn span_text(ns: i64) -> String {
    let ns = ns.max(0).unsigned_abs();
    let (per_digit, decimals, unit) = if ns >= 10_000_000_000 {
        (100_000_000, 1, " s")
    } else if ns >= 1_000_000_000 {
        (1_000_000, 3, " s")
    } else if ns >= 1_000_000 {
        (1_000, 3, " ms")
    } else {
        (1_000, 0, " µs")
    };
    let mut s = String::with_capacity(16);
    match rounded(ns, per_digit) {
        Some(n) => push_decimal(&mut s, n, decimals),
        None => {
            use std::fmt::Write;
            let whole = per_digit as f64 * 10f64.powi(decimals as i32);
            let _ = write!(s, "{:.*}", decimals, ns as f64 / whole);
        }
    }
    s.push_str(unit);
    s
}

impl Axis {
    fn new(lay: &Layout, lines: &[Line], scale: TimeScale) -> Axis {
        let t: Vec<Option<Timestamp>> = lines
            .iter()
            .map(|l| match l {
                Line::Row(r) => r.t,
                Line::Why(_) => None,
            })
            .collect();
        if scale == TimeScale::Rows {
            return Axis {
                y: (0..lines.len()).map(anchor).collect(),
                t,
                final_y: anchor(lines.len()),
                breaks: Vec::new(),
                sloped: false,
            };
        }
        // The gaps between consecutive times; their median is the unit (a row's height).
        let times: Vec<Timestamp> = t.iter().flatten().copied().collect();
        let mut gaps: Vec<i64> = times
            .windows(2)
            .map(|w| w[1].since(w[0]))
            .filter(|&g| g > 0)
            .collect();
        gaps.sort_unstable();
        let unit = gaps.get(gaps.len() / 2).copied().unwrap_or(1_000).max(1) as f64;
        let total = match (times.first(), times.last()) {
            (Some(a), Some(b)) => b.since(*a).max(1) as f64,
            _ => 1.0,
        };
        let per_ns = match scale {
            TimeScale::Linear => (ROW / unit).min(LINEAR_H / total),
            _ => ROW / unit,
        };
        let breaking = scale == TimeScale::Compressed;
        let mut y: Vec<f64> = Vec::with_capacity(lines.len());
        let mut breaks = Vec::new();
        let mut last: Option<(Timestamp, f64)> = None;
        for (i, ti) in t.iter().enumerate() {
            let yi = if i == 0 {
                anchor(0)
            } else {
                let base = y[i - 1] + ROW;
                match (ti, last) {
                    (Some(ti), Some((lt, ly))) => {
                        let dt = ti.since(lt).max(0);
                        if breaking && dt as f64 > BREAK_GAPS * unit {
                            breaks.push(Break {
                                y: base - ROW / 2.0 + BREAK_H / 2.0,
                                label: format!("+{}", span_text(dt)),
                                in_time_column: true,
                            });
                            base + BREAK_H
                        } else {
                            base.max(ly + per_ns * dt as f64)
                        }
                    }
                    _ => base,
                }
            };
            y.push(yi);
            if let Some(ti) = ti {
                last = Some((*ti, yi));
            }
        }
        let mut final_y = y.last().map_or(anchor(0), |l| l + ROW);
        // TIME_WAIT outlasts the capture: its length, as a broken axis before the final row.
        let v = lay.verdict;
        let time_wait = (0..2).any(|s| lay.final_state(s) == Some(TcpState::TimeWait));
        if let (true, true, Some(since), Some(until)) =
            (breaking, time_wait, v.time_wait_since, v.time_wait_until)
        {
            breaks.push(Break {
                y: final_y - ROW / 2.0 + BREAK_H / 2.0,
                label: format!("⋯ TIME_WAIT {} ⋯", span_text(until.since(since))),
                in_time_column: false,
            });
            final_y += BREAK_H;
        }
        Axis {
            y,
            t,
            final_y,
            breaks,
            sloped: true,
        }
    }

    /// The y of time `t` at or after line `from`, between the lines whose times surround it.
    fn y_at(&self, t: Timestamp, from: usize) -> f64 {
        let mut prev: Option<(Timestamp, f64)> = None;
        for j in from..self.y.len() {
            let Some(tj) = self.t[j] else { continue };
            if tj >= t {
                return match prev {
                    Some((tp, yp)) if tj > tp => {
                        yp + (self.y[j] - yp) * (t.since(tp) as f64 / tj.since(tp) as f64)
                    }
                    _ => self.y[j],
                };
            }
            prev = Some((tj, self.y[j]));
        }
        prev.map_or(self.final_y, |p| p.1 + AFTER)
    }
}

/// Where a segment's arrow ends.
#[derive(Clone, Copy)]
enum End {
    /// At the receiver, at this y.
    At(f64),
    /// Short of it: lost.
    Lost(f64),
}

/// A time for a `data-` attribute: milliseconds since the connection's start, to the ns.
#[cfg(test)]
fn rel(t: Timestamp, start: Timestamp) -> String {
    let mut s = String::with_capacity(16);
    push_rel(&mut s, t, start);
    s
}

/// [`rel`], appended to `s`.
fn push_rel(s: &mut String, t: Timestamp, start: Timestamp) {
    // As integers (what `{:.6}` of the milliseconds as a float gives, without its bignums).
    let ns = t.since(start);
    if ns < 0 {
        s.push('-');
    }
    push_decimal(s, ns.unsigned_abs(), 6);
}

/// The time column's text for `ns` since the start: `{:.3}ms` of the milliseconds as a float,
/// appended to `s`.
fn push_ms(s: &mut String, ns: i64) {
    push_ms3(s, ns);
    s.push_str("ms");
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
    let axis = Axis::new(&lay, &lines, o.time_scale);
    // Each row's line.
    let line_of: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| matches!(l, Line::Row(_)).then_some(i))
        .collect();
    // Where each segment's arrow ends, by frame.
    let mut ends: Vec<(u64, usize, End)> = Vec::new();
    for (ri, r) in lay.rows.iter().enumerate() {
        let RowKind::Segment(s) = r.kind else {
            continue;
        };
        let li = line_of[ri];
        let y0 = axis.y[li];
        let end = if r.travel.lost.is_some() {
            End::Lost(if axis.sloped { y0 + AFTER } else { y0 })
        } else {
            match (axis.sloped, r.travel.arrival) {
                (true, Some(a)) => {
                    let at_row = a.row > ri && lay.rows[a.row].t == Some(a.t);
                    let y = if at_row {
                        axis.y[line_of[a.row]] + AFTER
                    } else {
                        axis.y_at(a.t, li)
                    };
                    End::At(y.max(y0))
                }
                _ => End::At(y0),
            }
        };
        ends.push((s.frame, ri, end));
    }
    // Each arrow's ends, and where along it its label goes: the middle, or for a crossed
    // arrow on its longer part beside the crossing, nearer the wide end of the wedge the two
    // arrows make, so that the two labels stay clear of each other and of the other arrow.
    let shafts: Vec<(u64, Shaft)> = ends
        .iter()
        .map(|&(frame, ri, end)| {
            let RowKind::Segment(s) = lay.rows[ri].kind else {
                unreachable!("ends are segments' rows")
            };
            (frame, Shaft::new(s.dir, axis.y[line_of[ri]], end))
        })
        .collect();
    let label_at = |frame: u64, crossed: &[u64]| -> f64 {
        let Some(a) = shafts.iter().find(|x| x.0 == frame).map(|x| x.1) else {
            return 0.5;
        };
        let at = shafts
            .iter()
            .filter(|b| crossed.contains(&b.0))
            .find_map(|b| a.crossing(&b.1));
        match at {
            Some(k) if k > 0.5 => k * 0.4,
            Some(k) => k + (1.0 - k) * 0.6,
            None => 0.5,
        }
    };
    // A state change's y: where the arrow that caused it ends, when the change was settled
    // on a later row (a crossed SYN or FIN); else its row's.
    let mark_y = |ri: usize, frame: Option<u64>| -> f64 {
        let row_y = axis.y[line_of[ri]];
        if !axis.sloped {
            return row_y;
        }
        let late = ends.iter().find(|e| Some(e.0) == frame && e.1 != ri);
        match (late, lay.rows[ri].kind) {
            (Some(&(_, _, End::At(y))), RowKind::Segment(_)) => y.max(row_y),
            _ => row_y,
        }
    };
    // Room for the whole drawing at once (grown by doubling, it was copied over and over):
    // ~1.5 KB of headings and lanes, then a line's time, arrow, label and states.
    let mut c = Canvas(String::with_capacity(1536 + 384 * lines.len()));

    let head = super::conn_header(v);
    c.text(
        8.0,
        20.0,
        "start",
        "font-size=\"14\" font-weight=\"bold\"",
        &fit_cow(&head, 140),
    );
    for (x, side) in [(CLIENT_X, &lay.sides[LEFT]), (SERVER_X, &lay.sides[RIGHT])] {
        c.text(
            x,
            46.0,
            "middle",
            "font-weight=\"bold\"",
            &fit_cow(&format!("{} ({})", side.endpoint, side.role), 60),
        );
    }

    let final_y = axis.final_y;
    let bottom = final_y + 6.0;
    // Lifelines, then the state lanes over them: one rect per state, from where it was
    // entered to where it was left (or the final row), cut where the axis is broken.
    for x in [CLIENT_X, SERVER_X] {
        c.line(x, ROWS_TOP - 6.0, x, bottom, "#546e7a", 1.0);
    }
    for (x, side) in [(CLIENT_X, LEFT), (SERVER_X, RIGHT)] {
        let mut changes: Vec<(f64, TcpState)> = Vec::new();
        for (ri, r) in lay.rows.iter().enumerate() {
            if let RowKind::Start = r.kind {
                if !lay.sides[side].no_socket {
                    changes.push((axis.y[line_of[ri]], lay.sides[side].initial));
                }
                continue;
            }
            for m in &r.states[side] {
                let y = mark_y(ri, m.frame).max(changes.last().map_or(0.0, |c| c.0));
                match changes.last_mut() {
                    Some(last) if last.0 == y => last.1 = m.to,
                    _ => changes.push((y, m.to)),
                }
            }
        }
        for (k, &(y0, st)) in changes.iter().enumerate() {
            let y1 = changes.get(k + 1).map_or(final_y, |n| n.0);
            let mut top = y0;
            for b in axis.breaks.iter().filter(|b| b.y > y0 && b.y < y1) {
                c.rect(x - LANE, top, 2.0 * LANE, b.y - 4.0 - top, state_colour(st));
                top = b.y + 4.0;
            }
            if y1 > top {
                c.rect(x - LANE, top, 2.0 * LANE, y1 - top, state_colour(st));
            }
        }
    }

    let mid = (CLIENT_X + SERVER_X) / 2.0;
    let left_text = CLIENT_X - LANE - GAP;
    let right_text = SERVER_X + LANE + GAP;
    let mut ms = String::new();
    let mut time = |c: &mut Canvas, t: Option<Timestamp>, y: f64| {
        if let Some(t) = t {
            ms.clear();
            push_ms(&mut ms, t.since(v.start));
            c.text(TIME_RIGHT, y, "end", MUTED_FILL, &ms);
        }
    };
    // A line across the picture; a white halo keeps it readable where it crosses a lane.
    let note = |c: &mut Canvas, text: &str, y: f64, colour: &str| {
        c.text(
            mid,
            y,
            "middle",
            &format!(
                "fill=\"{colour}\" stroke=\"#ffffff\" stroke-width=\"4\" paint-order=\"stroke\""
            ),
            &fit_cow(text, NOTE_CHARS),
        );
    };
    // The broken stretches: each lifeline cut by two strokes, the length between them.
    for b in &axis.breaks {
        for x in [CLIENT_X, SERVER_X] {
            c.line(x - 9.0, b.y - 1.0, x + 9.0, b.y - 7.0, INK, 1.2);
            c.line(x - 9.0, b.y + 7.0, x + 9.0, b.y + 1.0, INK, 1.2);
        }
        if b.in_time_column {
            let attrs = format!("fill=\"{MUTED}\" font-style=\"italic\"");
            c.text(TIME_RIGHT, b.y + 4.5, "end", &attrs, &b.label);
        } else {
            note(&mut c, &b.label, b.y + 4.5, MUTED);
        }
    }
    let mut shafts = shafts.iter();
    for (i, l) in lines.iter().enumerate() {
        let y = axis.y[i];
        let text_y = y + 4.5;
        let r = match l {
            Line::Why(w) => {
                time(&mut c, w.t, text_y);
                note(&mut c, &w.text, text_y, WARN);
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
                let shaft = shafts.next().expect("a shaft per segment").1;
                let along = label_at(s.frame, &r.travel.crossed);
                draw_segment(&mut c, s, &r.travel, shaft, along, v.start, o.payload);
            }
            RowKind::Call { side, call } => {
                let call = call_text(call);
                let text = fit_cow(&call, SIDE_CHARS);
                if side == LEFT {
                    c.text(left_text, text_y, "end", CALL_FILL, &text);
                } else {
                    c.text(right_text, text_y, "start", CALL_FILL, &text);
                }
            }
            RowKind::Elided { segments, .. } => note(&mut c, &elided_text(segments), text_y, WARN),
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
                &fit_cow(&side_text[LEFT], SIDE_CHARS),
            );
        }
        if !side_text[RIGHT].is_empty() {
            c.text(
                right_text,
                text_y,
                "start",
                "font-weight=\"bold\"",
                &fit_cow(&side_text[RIGHT], SIDE_CHARS),
            );
        }
    }

    // The final row: each side's last state (TIME_WAIT with its countdown) and the totals.
    let y = final_y + 4.5;
    c.text(TIME_RIGHT, y, "end", MUTED_FILL, "final");
    c.text(
        left_text,
        y,
        "end",
        "font-weight=\"bold\"",
        &fit_cow(&lay.end_text(LEFT), SIDE_CHARS),
    );
    c.text(
        right_text,
        y,
        "start",
        "font-weight=\"bold\"",
        &fit_cow(&lay.end_text(RIGHT), SIDE_CHARS),
    );
    c.text(mid, y, "middle", "", &fit_cow(&lay.totals(), LABEL_CHARS));
    c.text(
        8.0,
        y + ROW,
        "start",
        &format!("fill=\"{MUTED}\" font-size=\"12\""),
        LEGEND,
    );
    (c.0, y + ROW + 14.0)
}

/// An arrow's line: from its send end to its tip (or, lost, to where it stops).
#[derive(Debug, Clone, Copy)]
struct Shaft {
    from: (f64, f64),
    to: (f64, f64),
    lost: bool,
}

impl Shaft {
    fn new(dir: Dir, y0: f64, end: End) -> Shaft {
        let (from, to) = match dir {
            Dir::C2s => (CLIENT_X + LANE, SERVER_X - LANE),
            Dir::S2c => (SERVER_X - LANE, CLIENT_X + LANE),
        };
        match end {
            End::At(y1) => Shaft {
                from: (from, y0),
                to: (to, y1),
                lost: false,
            },
            End::Lost(y1) => Shaft {
                from: (from, y0),
                to: (from + (to - from) * LOST_REACH, y1),
                lost: true,
            },
        }
    }

    /// How far along this shaft (0 to 1) it crosses `other`, if it does.
    fn crossing(&self, other: &Shaft) -> Option<f64> {
        let (p, r) = (
            self.from,
            (self.to.0 - self.from.0, self.to.1 - self.from.1),
        );
        let (q, s) = (
            other.from,
            (other.to.0 - other.from.0, other.to.1 - other.from.1),
        );
        let cross = |a: (f64, f64), b: (f64, f64)| a.0 * b.1 - a.1 * b.0;
        let d = cross(r, s);
        if d == 0.0 {
            return None;
        }
        let qp = (q.0 - p.0, q.1 - p.1);
        let (t, u) = (cross(qp, s) / d, cross(qp, r) / d);
        ((0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&u)).then_some(t)
    }
}

/// One segment's arrow. Its shaft is a `<line class="seg" …>` whose `data-` attributes say
/// what it shows: its frame, direction, send and arrival times (ms since the connection's
/// start, to the ns), the frames it crossed, and for a lost copy the frame that was sent
/// again. The shaft runs from the send end (`x1`, `y1`) towards the receiver (`x2`, `y2`): to
/// the arrowhead's base (the `<polygon>` after it, tip first), or to the cross where a lost
/// copy stops. Then its label (`<text>`), `along` the arrow (0 to 1 from its sender), turned
/// with it where it slopes.
fn draw_segment(
    c: &mut Canvas,
    s: &SegmentEvent,
    travel: &Travel,
    shaft: Shaft,
    along: f64,
    start: Timestamp,
    payload: bool,
) {
    let (colour, fill) = flag_colour(s.flags);
    let mut data = String::with_capacity(128);
    data.push_str(" class=\"seg\" data-frame=\"");
    data.push_str(itoa::Buffer::new().format(s.frame));
    data.push_str(match s.dir {
        Dir::C2s => "\" data-dir=\"c2s\" data-t-send=\"",
        Dir::S2c => "\" data-dir=\"s2c\" data-t-send=\"",
    });
    push_rel(&mut data, s.t, start);
    match (travel.arrival, travel.lost) {
        (_, Some(again)) => {
            data.push_str("\" data-lost=\"");
            data.push_str(itoa::Buffer::new().format(again));
        }
        (arrival, None) => {
            data.push_str("\" data-t-recv=\"");
            push_rel(&mut data, arrival.map_or(s.t, |a| a.t), start);
        }
    }
    data.push('"');
    if !travel.crossed.is_empty() {
        let frames: Vec<String> = travel.crossed.iter().map(u64::to_string).collect();
        data.push_str(&format!(" data-crossed=\"{}\"", frames.join(" ")));
    }
    let ((x0, y0), (x1, y1)) = (shaft.from, shaft.to);
    if shaft.lost {
        c.line_with(x0, y0, x1, y1, colour, 1.5, &data);
        for (a, b) in [(-5.0, -5.0), (-5.0, 5.0)] {
            c.line(x1 + a, y1 + b, x1 - a, y1 - b, LOST, 2.0);
        }
    } else {
        let (dx, dy) = (x1 - x0, y1 - y0);
        let len = (dx * dx + dy * dy).sqrt();
        let (ux, uy) = (dx / len, dy / len);
        let (bx, by) = (x1 - 9.0 * ux, y1 - 9.0 * uy);
        c.line_with(x0, y0, bx, by, colour, 1.5, &data);
        // The head's base corners, the upper one first.
        let (nx, ny) = (-uy * 4.5, ux * 4.5);
        let (p, q) = ((bx - nx, by - ny), (bx + nx, by + ny));
        let (p, q) = if p.1 <= q.1 { (p, q) } else { (q, p) };
        c.polygon(&[(x1, y1), p, q], colour);
    }
    let mark = travel_mark(travel);
    let room = LABEL_CHARS - mark.map_or(0, |m| m.chars().count() + 1);
    let text = segment_text(s, payload);
    let mut label = match fit_cow(&text, room) {
        Cow::Borrowed(_) => text,
        Cow::Owned(cut) => cut,
    };
    if let Some(m) = mark {
        label.push(' ');
        label.push_str(m);
    }
    let (cx, cy) = (x0 + (x1 - x0) * along, y0 + (y1 - y0) * along);
    if y1 == y0 {
        c.text(cx, y0 - 5.0, "middle", fill, &label);
    } else {
        let angle = ((y1 - y0) / (x1 - x0)).atan().to_degrees();
        let attrs = format!(
            "{fill} transform=\"rotate({},{},{})\"",
            num(angle),
            num(cx),
            num(cy)
        );
        c.text(cx, cy - 5.0, "middle", &attrs, &label);
    }
}

impl SvgRenderer {
    /// One root `<svg>` element of height `h` around `parts`.
    fn write_svg(&self, h: u32, parts: &[String], out: &mut dyn Write) -> io::Result<()> {
        self.open_svg(h, out)?;
        for p in parts {
            out.write_all(p.as_bytes())?;
        }
        writeln!(out, "</svg>")
    }

    /// The opening of a root `<svg>` element of height `h` (its title and background).
    fn open_svg(&self, h: u32, out: &mut dyn Write) -> io::Result<()> {
        self.open_svg_padded(h, "", out)
    }

    /// `open_svg`, each height followed by `pad`.
    fn open_svg_padded(&self, h: u32, pad: &str, out: &mut dyn Write) -> io::Result<()> {
        let w = num(WIDTH);
        let title = xml_escape(&self.title);
        writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\"{pad} viewBox=\"0 0 {w} {h}\"{pad} \
             xml:space=\"preserve\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"13\" fill=\"{INK}\">"
        )?;
        writeln!(out, "<title>{title}</title>")?;
        writeln!(
            out,
            "<rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\"{pad} fill=\"#ffffff\"/>"
        )
    }

    /// The document's head: the XML declaration and the root `<svg>` of height `h`, each
    /// height padded with spaces to ten characters, so that a head written before the height
    /// is known (`streaming`) has room for it and comes out as it would after.
    fn document_head(&self, h: u32) -> io::Result<Vec<u8>> {
        let mut head = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n".to_vec();
        let digits = itoa::Buffer::new().format(h).len();
        let pad = " ".repeat(10 - digits);
        self.open_svg_padded(h, &pad, &mut head)?;
        Ok(head)
    }

    /// The drawing of no connection at all.
    fn nothing(summary: &Summary) -> (String, u32) {
        let mut c = Canvas::default();
        c.text(
            8.0,
            24.0,
            "start",
            "",
            &format!("no TCP connections ({} frames read)", summary.frames),
        );
        (c.0, 40)
    }
}

/// One connection as a standalone `<svg>` document of its own height, titled `title`: the
/// same drawing as `--format svg`'s (the report's ladders).
pub fn write_connection_svg(
    g: &ConnGroup,
    opts: &RenderOpts,
    title: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    let (body, h) = draw_connection(g, opts);
    let r = SvgRenderer {
        title: title.to_string(),
        ..SvgRenderer::svg(*opts)
    };
    r.write_svg(h.ceil() as u32, &[body], out)
}

impl GroupRenderer for SvgRenderer {
    fn start(&mut self, meta: &Meta, out: &mut dyn Write) -> io::Result<()> {
        self.title = format!("synfin: {}", meta.input);
        if self.html {
            // The page streams: one picture per connection as it comes, so memory stays
            // bounded however many connections there are.
            let title = xml_escape(&self.title);
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
        } else if let Some(r) = &mut self.rewrite {
            out.flush()?;
            // An output whose position cannot be told is held to the end instead.
            if let Ok(at) = r.position() {
                out.write_all(&self.document_head(0)?)?;
                self.streaming = Some(at);
            }
        }
        Ok(())
    }

    fn connection(&mut self, g: &ConnGroup, out: &mut dyn Write) -> io::Result<()> {
        let (body, h) = draw_connection(g, &self.opts);
        self.place(body, h, out)
    }

    fn connection_owned(&mut self, g: ConnGroup, out: &mut dyn Write) -> io::Result<()> {
        self.connection_gathered(g.into(), out)
    }

    fn connection_gathered(&mut self, mut g: Gathered, out: &mut dyn Write) -> io::Result<()> {
        if self.pieces.is_none() {
            return self.connection(g.group(), out);
        }
        self.batch.push(g);
        if self.batch.len() >= SVG_BATCH {
            self.submit(out)?;
        }
        Ok(())
    }

    fn finish(&mut self, summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
        self.submit(out)?;
        if let Some(mut p) = self.pieces.take() {
            p.drain(&mut |d| self.place_all(d, out))?;
        }
        if self.html {
            // `height` counts the pictures written.
            if self.height == 0 {
                let (part, h) = Self::nothing(summary);
                self.write_svg(h, &[part], out)?;
            }
            writeln!(out, "</body>")?;
            return writeln!(out, "</html>");
        }
        let mut height = self.height;
        let nothing = (self.count == 0).then(|| {
            let (part, h) = Self::nothing(summary);
            height = h;
            part
        });
        if let Some(at) = self.streaming {
            out.write_all(nothing.unwrap_or_default().as_bytes())?;
            writeln!(out, "</svg>")?;
            out.flush()?;
            let head = self.document_head(height)?;
            let r = self.rewrite.as_mut().expect("streaming has a rewrite");
            return r.rewrite(at, &head);
        }
        out.write_all(&self.document_head(height)?)?;
        match nothing {
            Some(part) => out.write_all(part.as_bytes())?,
            None => self.parts.copy_to(out)?,
        }
        writeln!(out, "</svg>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::Strategy as _;

    /// An output in memory that can be written again, as a file can.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl super::super::Rewrite for Shared {
        fn position(&mut self) -> io::Result<u64> {
            Ok(self.0.lock().unwrap().len() as u64)
        }
        fn rewrite(&mut self, at: u64, bytes: &[u8]) -> io::Result<()> {
            let mut v = self.0.lock().unwrap();
            v[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
            Ok(())
        }
    }

    fn group(conn: u64, t: i64) -> ConnGroup {
        use crate::events::{ConnectionEvent, Endpoint};
        let ep = |s: &str| Endpoint::new(s.parse().unwrap());
        ConnGroup {
            events: Vec::new(),
            verdict: Box::new(ConnectionEvent::open_between(
                conn,
                ep("127.0.0.1:40000"),
                ep("127.0.0.1:80"),
                Timestamp(t),
            )),
        }
    }

    /// The document of `n` connections, with or without an output to write again.
    fn document(n: u64, rewrite: bool) -> (Vec<u8>, Vec<usize>) {
        let out = Shared::default();
        let mut w = out.clone();
        let mut r = SvgRenderer::svg(RenderOpts::default());
        if rewrite {
            r = r.with_rewrite(Some(Box::new(out.clone())));
        }
        let meta = Meta::synfin("replay", "x.pcap".into(), "EN10MB".into());
        r.start(&meta, &mut w).unwrap();
        // How much has reached the output after each connection.
        let mut seen = Vec::new();
        for conn in 1..=n {
            r.connection(&group(conn, conn as i64 * 1000), &mut w)
                .unwrap();
            seen.push(out.0.lock().unwrap().len());
        }
        r.finish(&Summary::default(), &mut w).unwrap();
        let bytes = out.0.lock().unwrap().clone();
        (bytes, seen)
    }

    #[test]
    fn into_an_output_written_again_the_document_streams_and_is_the_same() {
        for n in [0, 1, 3] {
            let (held, held_seen) = document(n, false);
            let (streamed, streamed_seen) = document(n, true);
            assert_eq!(
                String::from_utf8_lossy(&streamed),
                String::from_utf8_lossy(&held)
            );
            // Held: nothing out until the end; streamed: each drawing out as it is placed.
            assert!(held_seen.iter().all(|&len| len == 0), "{held_seen:?}");
            assert!(
                streamed_seen.windows(2).all(|w| w[0] < w[1]),
                "{streamed_seen:?}"
            );
            assert!(streamed_seen.first().is_none_or(|&len| len > 0));
        }
    }

    /// `push_num` as it was written first, with the library's `round` and `itoa`.
    fn num_reference(x: f64) -> String {
        let tenths = (x * 10.0).round() as i64;
        if tenths % 10 == 0 {
            return (tenths / 10).to_string();
        }
        let a = tenths.unsigned_abs();
        format!("{}{}.{}", if tenths < 0 { "-" } else { "" }, a / 10, a % 10)
    }

    /// `span_text` as it was written first, with the float.
    fn span_reference(ns: i64) -> String {
        let ns = ns.max(0) as f64;
        if ns >= 10e9 {
            format!("{:.1} s", ns / 1e9)
        } else if ns >= 1e9 {
            format!("{:.3} s", ns / 1e9)
        } else if ns >= 1e6 {
            format!("{:.3} ms", ns / 1e6)
        } else {
            format!("{:.0} µs", ns / 1e3)
        }
    }

    proptest::proptest! {
        /// Numbers are written as the library's rounding writes them, halves, negatives,
        /// infinities and all.
        #[test]
        fn numbers_round_as_the_library_rounds(
            x in proptest::prop_oneof![
                proptest::num::f64::ANY,
                -1e6f64..1e6,
                (-200_000i64..200_000).prop_map(|n| n as f64 / 20.0),
                -1e17f64..1e17,
            ]
        ) {
            proptest::prop_assert_eq!(num(x), num_reference(x));
        }

        /// Broken-axis lengths are what `{:.N}` of the float wrote, ties and all.
        #[test]
        fn spans_are_the_floats_text(
            ns in proptest::prop_oneof![
                proptest::prelude::any::<i64>(),
                0i64..(1i64 << 52),
                (0i64..(1i64 << 44)).prop_map(|n| n / 1000 * 1000 + 500),
                (0i64..(1i64 << 44)).prop_map(|n| n / 1_000_000 * 1_000_000 + 500_000),
                (0i64..(1i64 << 50)).prop_map(|n| n / 100_000_000 * 100_000_000 + 50_000_000),
                0i64..20_000_000_000,
            ]
        ) {
            proptest::prop_assert_eq!(span_text(ns), span_reference(ns));
        }

        /// The time column's integer path writes what `{:.3}` of the float wrote, ties and
        /// all (the tie `x.xxx5` ms, exact in a float at 62,500 ns, rounds to even there).
        #[test]
        fn the_time_column_is_the_floats_text(
            ns in proptest::prop_oneof![
                proptest::prelude::any::<i64>(),
                -(1i64 << 50)..(1i64 << 50),
                (-(1i64 << 40)..(1i64 << 40)).prop_map(|n| n / 1000 * 1000 + 500),
                -10_000_000i64..10_000_000,
            ]
        ) {
            let mut s = String::new();
            push_ms(&mut s, ns);
            proptest::prop_assert_eq!(s, format!("{:.3}ms", ns as f64 / 1e6));
        }
    }

    #[test]
    fn times_are_written_in_milliseconds_to_the_nanosecond() {
        for ns in [0, 1, -1, 999_999, 1_000_000, 1_234_567_891, -60_000_000_001] {
            assert_eq!(
                rel(Timestamp(ns), Timestamp(0)),
                format!("{:.6}", ns as f64 / 1e6),
                "{ns}"
            );
        }
    }

    #[test]
    fn numbers_are_written_to_a_tenth() {
        for (x, want) in [
            (0.0, "0"),
            (-0.01, "0"),
            (12.0, "12"),
            (12.04, "12"),
            (12.05, "12.1"),
            (12.34, "12.3"),
            (-0.5, "-0.5"),
            (-12.36, "-12.4"),
            (1e9 + 0.25, "1000000000.3"),
        ] {
            assert_eq!(num(x), want, "{x}");
        }
    }

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
    fn waits_are_written_in_their_unit() {
        assert_eq!(span_text(43_000), "43 µs");
        assert_eq!(span_text(210_790_000), "210.790 ms");
        assert_eq!(span_text(1_010_371_000), "1.010 s");
        assert_eq!(span_text(60_000_000_000), "60.0 s");
    }

    #[test]
    fn shafts_know_where_they_cross() {
        let down = Shaft::new(Dir::C2s, 100.0, End::At(200.0));
        let level = Shaft::new(Dir::S2c, 150.0, End::At(150.0));
        let k = down.crossing(&level).expect("they cross");
        assert!((k - 0.5).abs() < 1e-9, "{k}");
        // Level arrows side by side never cross; a lost one stops before the other.
        let below = Shaft::new(Dir::S2c, 250.0, End::At(250.0));
        assert_eq!(down.crossing(&below), None);
        let lost = Shaft::new(Dir::S2c, 120.0, End::Lost(120.0));
        assert_eq!(down.crossing(&lost), None);
        assert!(lost.to.0 > CLIENT_X + 100.0 && lost.to.0 < SERVER_X - 100.0);
    }

    #[test]
    fn text_columns_fit_the_geometry() {
        assert_eq!((SIDE_CHARS, LABEL_CHARS, NOTE_CHARS), (30, 72, 142));
        // Server-side text stays inside the picture.
        assert!(SERVER_X + LANE + GAP + SIDE_CHARS as f64 * CHAR_W <= WIDTH - 8.0);
    }
}
