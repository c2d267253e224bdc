//! `--format timeline`: one connection at a time, a horizontal lane per endpoint (client,
//! server) on a shared time axis as wide as the line. Each state is a labelled bar as long as
//! it lasted; the final TIME_WAIT lasts until the verdict's `time_wait_until`. Under the lanes,
//! an axis marks each segment (`S` SYN, `F` FIN, `R` RST, `.` other) and call (`c`), and a
//! line of tick labels gives times relative to the first segment. The lanes and marks come
//! from the shared layout (`layout`): with `--max-segments`, the hidden stretch is marked `~`
//! (its state changes still shape the lanes).
//!
//! Time is linear by default; `RenderOpts::log_time` gives each gap between consecutive
//! events room in proportion to `ln(1 + gap / 1 µs)`, so a 60 s TIME_WAIT no longer squashes a
//! handshake of microseconds. Pure: no clock, no environment; colour only when `opts.color`.

use super::group::{ConnGroup, Stacked};
use super::layout::{elided_text, Layout, RowKind, LEFT, RIGHT};
use super::{fit, palette, RenderOpts};
use crate::events::{Event, TcpState};
use crate::segment::TcpFlags;
use crate::timestamp::Timestamp;
use std::io::{self, Write};

/// One timeline per connection, one after another.
pub fn renderer(opts: RenderOpts) -> Stacked {
    Stacked::new(opts, render_connection)
}

/// The width of the lane names (`client `, `server `) in front of each lane.
const NAME_WIDTH: usize = 8;

/// The unit of the log scale: a gap of `LOG_UNIT_NS` gets `ln 2` of room.
const LOG_UNIT_NS: f64 = 1_000.0;

/// One state held by one endpoint over `[from, to)`.
#[derive(Debug, Clone, Copy)]
struct Span {
    state: TcpState,
    from: Timestamp,
    to: Timestamp,
}

/// Where a time falls on the axis, as a fraction of its width.
enum Scale {
    Linear {
        t0: Timestamp,
        span: i64,
    },
    /// Breakpoints (every event time, in order) with the cumulative room before each.
    Log {
        breaks: Vec<(Timestamp, f64)>,
        total: f64,
    },
}

impl Scale {
    fn new(times: &[Timestamp], t0: Timestamp, t_end: Timestamp, log: bool) -> Scale {
        if !log {
            return Scale::Linear {
                t0,
                span: t_end.since(t0).max(1),
            };
        }
        let mut ts: Vec<Timestamp> = times.to_vec();
        ts.push(t0);
        ts.push(t_end);
        ts.sort();
        ts.dedup();
        let mut breaks = Vec::with_capacity(ts.len());
        let mut cum = 0.0;
        let mut prev = ts[0];
        for t in ts {
            cum += room(t.since(prev));
            breaks.push((t, cum));
            prev = t;
        }
        Scale::Log { breaks, total: cum }
    }

    /// `t`'s place on the axis, from 0 to 1.
    fn frac(&self, t: Timestamp) -> f64 {
        let f = match self {
            Scale::Linear { t0, span } => t.since(*t0) as f64 / *span as f64,
            Scale::Log { breaks, total } => {
                if *total <= 0.0 {
                    return 0.0;
                }
                // The last breakpoint at or before `t`, then the log room from there.
                let i = breaks.partition_point(|(b, _)| *b <= t);
                if i == 0 {
                    return 0.0;
                }
                let (b, cum) = breaks[i - 1];
                (cum + room(t.since(b))) / total
            }
        };
        f.clamp(0.0, 1.0)
    }

    /// `t`'s column on an axis `w` cells wide (0 ..= w).
    fn col(&self, t: Timestamp, w: usize) -> usize {
        ((self.frac(t) * w as f64).round() as usize).min(w)
    }
}

/// The room a gap takes on the log scale.
fn room(gap_ns: i64) -> f64 {
    (gap_ns.max(0) as f64 / LOG_UNIT_NS).ln_1p()
}

/// Compact relative times for tick labels: `0`, `37µs`, `-0.28ms`, `1.5s`, `60s`.
fn short_time(ns: i64) -> String {
    if ns == 0 {
        return "0".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let a = ns.unsigned_abs() as f64;
    let (v, unit) = if a < 1e3 {
        (a, "ns")
    } else if a < 1e6 {
        (a / 1e3, "µs")
    } else if a < 1e9 {
        (a / 1e6, "ms")
    } else {
        (a / 1e9, "s")
    };
    // Three significant digits, trailing zeros dropped.
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let mut s = format!("{v:.digits$}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    format!("{sign}{s}{unit}")
}

/// A round step (1, 2 or 5 × 10ⁿ ns) of at least `raw` ns.
fn nice_step(raw: f64) -> i64 {
    let raw = raw.max(1.0);
    let mag = 10f64.powi(raw.log10().floor() as i32);
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    step.round().max(1.0) as i64
}

/// Each state `side` of the layout held, from `t0` to `t_end`, in order (a self-connected
/// socket is one socket, drawn in both lanes: the layout gives both sides its changes).
fn spans(lay: &Layout, side: usize, t0: Timestamp, t_end: Timestamp) -> Vec<Span> {
    let v = lay.verdict;
    let mut cur = lay.sides[side].initial;
    let mut since = t0;
    let mut out = Vec::new();
    for s in lay.rows.iter().flat_map(|r| &r.states[side]) {
        out.push(Span {
            state: s.from,
            from: since,
            to: s.t.max(since),
        });
        cur = s.to;
        since = s.t.max(since);
    }
    if let (TcpState::TimeWait, Some(until)) = (cur, v.time_wait_until) {
        let until = until.max(since);
        out.push(Span {
            state: TcpState::TimeWait,
            from: since,
            to: until,
        });
        cur = TcpState::Closed;
        since = until;
    }
    out.push(Span {
        state: cur,
        from: since,
        to: t_end.max(since),
    });
    out
}

/// One endpoint's lane, `w` cells wide, and the names of the states too short to draw.
fn lane(spans: &[Span], scale: &Scale, w: usize, color: bool) -> (String, Vec<&'static str>) {
    let mut line = String::new();
    let mut hidden = Vec::new();
    let mut used = 0;
    for sp in spans {
        let a = scale.col(sp.from, w).max(used);
        let b = scale.col(sp.to, w).max(a);
        let n = b - a;
        if n == 0 {
            if sp.to > sp.from {
                hidden.push(sp.state.name());
            }
            continue;
        }
        // No connection: nothing to fill. Any other state: a line.
        let fill = match sp.state {
            TcpState::Closed | TcpState::Unknown => ' ',
            _ => '─',
        };
        let label = fit(sp.state.name(), n - 1);
        let len = label.chars().count();
        let mut bar = String::with_capacity(label.len() + 3 * n);
        bar.push('│');
        bar.push_str(&label);
        super::runs::push_run(&mut bar, fill, n - 1 - len);
        line.push_str(&palette::state(&bar, color));
        used = b;
    }
    (line, hidden)
}

/// A mark on the axis; a higher rank wins a shared cell.
#[derive(Debug, Clone, Copy)]
struct Mark {
    ch: char,
    rank: u8,
    flags: Option<TcpFlags>,
}

fn segment_mark(flags: TcpFlags) -> Mark {
    let (ch, rank) = if flags.rst() {
        ('R', 5)
    } else if flags.syn() {
        ('S', 4)
    } else if flags.fin() {
        ('F', 3)
    } else {
        ('.', 2)
    };
    Mark {
        ch,
        rank,
        flags: Some(flags),
    }
}

/// Draw one connection.
pub fn render_connection(g: &ConnGroup, o: &RenderOpts, out: &mut dyn Write) -> io::Result<()> {
    let v = &g.verdict;
    let color = o.color;
    // Lane names only where they leave room for an axis.
    let name_w = if o.width >= 3 * NAME_WIDTH {
        NAME_WIDTH
    } else {
        0
    };
    let w = o.width.saturating_sub(name_w).max(1);

    let times: Vec<Timestamp> = g.events.iter().map(Event::t).collect();
    let t0 = times
        .iter()
        .copied()
        .chain([v.start])
        .min()
        .unwrap_or(v.start);
    let t_end = times
        .iter()
        .copied()
        .chain([v.end])
        .chain(v.time_wait_until)
        .max()
        .unwrap_or(v.end);
    let t_end = if t_end > t0 { t_end } else { t0.plus_nanos(1) };
    let scale = Scale::new(&times, t0, t_end, o.log_time);

    let head = super::conn_header(v);
    writeln!(out, "{}", palette::header(&fit(&head, o.width), color))?;

    let lay = Layout::new(g, o.max_segments);
    let mut hidden_note = Vec::new();
    for side in [LEFT, RIGHT] {
        let name = lay.sides[side].role;
        let sp = spans(&lay, side, t0, t_end);
        let (bars, hidden) = lane(&sp, &scale, w, color);
        let prefix = fit(name, name_w.saturating_sub(1));
        let prefix = format!("{prefix:<name_w$}");
        writeln!(out, "{}", format!("{prefix}{bars}").trim_end())?;
        if !hidden.is_empty() {
            hidden_note.push(format!("{name} {}", hidden.join(", ")));
        }
    }

    // The axis: ticks, then segments and calls over them.
    let mut axis: Vec<Mark> = vec![
        Mark {
            ch: '─',
            rank: 0,
            flags: None,
        };
        w
    ];
    let mut labels: Vec<(Timestamp, usize)> = Vec::new();
    match &scale {
        Scale::Linear { span, .. } => {
            let step = nice_step(*span as f64 / (w as f64 / 12.0).max(1.0));
            let rel0 = t0.since(v.start);
            let rel_end = t_end.since(v.start);
            let mut k = rel0.div_euclid(step) + i64::from(rel0.rem_euclid(step) != 0);
            // At most one tick per column: a damaged capture can span i64::MAX nanoseconds.
            while let Some(at) = k.checked_mul(step).filter(|&at| at <= rel_end) {
                if labels.len() > w {
                    break;
                }
                let t = v.start.plus_nanos(at);
                let c = scale.col(t, w).min(w - 1);
                axis[c] = Mark {
                    ch: '┬',
                    rank: 1,
                    flags: None,
                };
                labels.push((t, c));
                k += 1;
            }
        }
        Scale::Log { breaks, .. } => {
            for (t, _) in breaks {
                labels.push((*t, scale.col(*t, w).min(w - 1)));
            }
        }
    }
    let mut elided = 0;
    for row in &lay.rows {
        let (m, t) = match row.kind {
            RowKind::Segment(s) => (segment_mark(s.flags), s.t),
            RowKind::Call { call, .. } => (
                Mark {
                    ch: 'c',
                    rank: 1,
                    flags: None,
                },
                call.t,
            ),
            RowKind::Elided {
                segments,
                first,
                last,
            } => {
                // The hidden stretch, over the axis and its ticks (later segments win).
                elided += segments;
                let (a, b) = (
                    scale.col(first, w).min(w - 1),
                    scale.col(last, w).min(w - 1),
                );
                for cell in &mut axis[a..=b] {
                    if cell.rank <= 1 {
                        *cell = Mark {
                            ch: '~',
                            rank: 1,
                            flags: None,
                        };
                    }
                }
                continue;
            }
            RowKind::Start | RowKind::States => continue,
        };
        let c = scale.col(t, w).min(w - 1);
        if m.rank >= axis[c].rank {
            axis[c] = m;
        }
    }
    let mut axis_line = " ".repeat(name_w);
    for m in &axis {
        let s = m.ch.to_string();
        axis_line.push_str(&match (m.flags, m.ch) {
            (Some(f), _) => palette::segment(&s, f, color),
            (None, 'c') => palette::call(&s, color),
            _ => s,
        });
    }
    writeln!(out, "{axis_line}")?;

    // Tick labels: the end first (flush right), then from the left where they fit.
    let mut cells = vec![' '; w];
    let end_label = short_time(t_end.since(v.start));
    let end_len = end_label.chars().count().min(w);
    let end_at = w - end_len;
    for (i, ch) in end_label.chars().take(end_len).enumerate() {
        cells[end_at + i] = ch;
    }
    let mut free_from = 0;
    for (t, c) in labels {
        let text = short_time(t.since(v.start));
        let len = text.chars().count();
        if c < free_from || c + len + 1 > end_at {
            continue;
        }
        for (i, ch) in text.chars().enumerate() {
            cells[c + i] = ch;
        }
        free_from = c + len + 1;
    }
    let ticks: String = cells.into_iter().collect();
    writeln!(out, "{}{}", " ".repeat(name_w), ticks.trim_end())?;

    if !hidden_note.is_empty() {
        let hint = if o.log_time {
            ""
        } else {
            " (drop --linear-time)"
        };
        let note = format!(
            "too short to draw at this scale{hint}: {}",
            hidden_note.join("; ")
        );
        writeln!(out, "{}", palette::warn(&fit(&note, o.width), color))?;
    }
    let scale_name = if o.log_time {
        "log-scaled gaps"
    } else {
        "linear time"
    };
    let elided = if elided > 0 {
        format!("  ~ {}", elided_text(elided).trim_matches([' ', '…']))
    } else {
        String::new()
    };
    let legend = format!("S SYN  F FIN  R RST  . other  c call{elided}  · {scale_name}");
    writeln!(out, "{}", fit(&legend, o.width))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_times_are_compact() {
        assert_eq!(short_time(0), "0");
        assert_eq!(short_time(37_000), "37µs");
        assert_eq!(short_time(-283_000), "-283µs");
        assert_eq!(short_time(1_500_000_000), "1.5s");
        assert_eq!(short_time(60_000_000_000), "60s");
        assert_eq!(short_time(224_000), "224µs");
        assert_eq!(short_time(2_250), "2.25µs");
    }

    #[test]
    fn nice_steps_are_round() {
        assert_eq!(nice_step(3.0), 5);
        assert_eq!(nice_step(7_000.0), 10_000);
        assert_eq!(nice_step(1.9e9), 2_000_000_000);
    }

    #[test]
    fn log_scale_is_monotone_and_gives_short_gaps_room() {
        let t = |ns| Timestamp(ns);
        let times = [t(0), t(37_000), t(53_000), t(60_000_000_000)];
        let s = Scale::new(&times, t(0), t(60_000_000_000), true);
        let cols: Vec<usize> = times.iter().map(|&x| s.col(x, 100)).collect();
        assert!(cols.windows(2).all(|c| c[0] < c[1]), "{cols:?}");
        assert_eq!(cols[3], 100);
        assert!(cols[1] >= 10, "a 37 µs gap keeps room: {cols:?}");
        let lin = Scale::new(&times, t(0), t(60_000_000_000), false);
        assert_eq!(lin.col(t(53_000), 100), 0);
    }
}
