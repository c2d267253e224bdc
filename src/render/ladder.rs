//! `--format ladder`: the lesson's picture, drawn from real packets. Two columns (client
//! left, server right), one row per segment with an arrow in its direction, each side's
//! state after it (only when it changes), the socket calls beside the side that made them,
//! and a "why" line under anything unusual.

use super::escape::preview;
use super::group::{ConnGroup, Stacked};
use super::palette;
use super::{call_text, fit, RenderOpts};
use crate::events::{CallResult, CallSource, Dir, Errno, Event, SegmentEvent, TcpState};
use crate::timestamp::Timestamp;
use std::io::{self, Write};

/// One ladder per connection, one after another.
pub fn renderer(opts: RenderOpts) -> Stacked {
    Stacked::new(opts, render_connection)
}

/// Column widths for a line width.
#[derive(Debug, Clone, Copy)]
struct Layout {
    time: usize,
    side: usize,
    arrow: usize,
}

impl Layout {
    fn new(width: usize) -> Layout {
        let time = 11;
        let side = ((width.saturating_sub(time + 4)) * 27 / 100).clamp(12, 26);
        let arrow = width.saturating_sub(time + 4 + 2 * side).max(12);
        Layout { time, side, arrow }
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

/// The label on a segment's arrow: `SYN seq=0`, `PSH,ACK seq=1 ack=1 len=5 "hello"`.
pub fn segment_label(s: &SegmentEvent, payload: bool) -> String {
    let mut l = format!("{} seq={}", s.flags, s.seq);
    if s.flags.ack() {
        l.push_str(&format!(" ack={}", s.ack));
    }
    if s.len > 0 {
        l.push_str(&format!(" len={}", s.len));
        if payload {
            l.push(' ');
            l.push_str(&preview(s.payload.as_bytes(), s.len));
        }
    }
    l
}

struct Row {
    time: String,
    left: String,
    mid: String,
    mid_flags: crate::segment::TcpFlags,
    right: String,
    why: Vec<String>,
}

/// Draw one connection.
pub fn render_connection(g: &ConnGroup, o: &RenderOpts, out: &mut dyn Write) -> io::Result<()> {
    let v = &g.verdict;
    let lay = Layout::new(o.width);
    let color = o.color;
    let client = v.client;
    let server = v.server;
    let start = v.start;
    let head = super::conn_header(v);
    writeln!(out, "{}", palette::header(&fit(&head, o.width), color))?;
    let sidew = lay.side;
    let [cr, sr] = super::role_names(v);
    let titles = format!(
        "{}  {} {} {}",
        " ".repeat(lay.time),
        pad(&format!("{client} {cr}"), sidew),
        " ".repeat(lay.arrow),
        fit(&format!("{server} {sr}"), sidew)
    );
    writeln!(out, "{}", titles.trim_end())?;
    // Initial states: the `from` of each side's first change, else its final state.
    let initial = |ep| {
        g.events
            .iter()
            .find_map(|e| match e {
                Event::State(s) if s.endpoint == ep => Some(s.from),
                _ => None,
            })
            .or_else(|| super::final_state(v, ep))
            .unwrap_or(TcpState::Unknown)
    };
    // An endpoint that never had a socket (a refused connect's server) has no state at all.
    let never = |ep| {
        !g.events
            .iter()
            .any(|e| matches!(e, Event::State(s) if s.endpoint == ep))
    };
    let first_state = |ep| {
        if v.outcome == crate::events::Outcome::Refused && never(ep) {
            "(no socket)".to_string()
        } else {
            initial(ep).name().to_string()
        }
    };
    let init_row = Row {
        time: String::new(),
        left: first_state(client),
        mid: String::new(),
        mid_flags: Default::default(),
        right: first_state(server),
        why: vec![],
    };
    let mut rows: Vec<Row> = vec![init_row];
    let mut last_seg_row: Option<usize> = None;
    let hide = super::hidden_segments(&g.events, o.max_segments);
    let mut seg_index = 0usize;
    let mut elided = 0usize;
    let mut eliding = false;
    for e in &g.events {
        if let Event::Segment(_) = e {
            seg_index += 1;
            let hidden = hide.contains(&seg_index);
            if hidden {
                elided += 1;
                eliding = true;
                continue;
            } else if eliding {
                eliding = false;
                rows.push(Row {
                    time: String::new(),
                    left: String::new(),
                    mid: format!("… {elided} segments …"),
                    mid_flags: Default::default(),
                    right: String::new(),
                    why: vec![],
                });
                last_seg_row = None;
                elided = 0;
            }
        } else if eliding {
            // Keep state changes and anomalies of the elided part visible only as a count.
            if let Event::State(_) = e {
            } else {
                continue;
            }
        }
        match e {
            Event::Segment(s) => {
                let label = segment_label(s, o.payload);
                let mut notes: Vec<String> = s
                    .notes
                    .iter()
                    .map(|n| format!("{n:?}").to_lowercase())
                    .collect();
                notes.dedup();
                let label = if notes.is_empty() {
                    label
                } else {
                    format!("{label} [{}]", notes.join(","))
                };
                let inner = lay.arrow.saturating_sub(4);
                let label = fit(&label, inner);
                let dashes = lay.arrow.saturating_sub(3 + label.chars().count());
                let (l, r) = (dashes / 2, dashes - dashes / 2);
                let mid = match s.dir {
                    Dir::C2s => format!("{} {label} {}▶", "─".repeat(l), "─".repeat(r)),
                    Dir::S2c => format!("◀{} {label} {}", "─".repeat(l), "─".repeat(r)),
                };
                rows.push(Row {
                    time: rel_ms(s.t, start),
                    left: String::new(),
                    mid,
                    mid_flags: s.flags,
                    right: String::new(),
                    why: vec![],
                });
                last_seg_row = Some(rows.len() - 1);
            }
            Event::State(st) => {
                let idx = match last_seg_row {
                    Some(i) => i,
                    None => {
                        rows.push(Row {
                            time: rel_ms(st.t, start),
                            left: String::new(),
                            mid: String::new(),
                            mid_flags: Default::default(),
                            right: String::new(),
                            why: vec![],
                        });
                        rows.len() - 1
                    }
                };
                let row = &mut rows[idx];
                let cell = if st.endpoint == client {
                    &mut row.left
                } else {
                    &mut row.right
                };
                if cell.is_empty() {
                    cell.push_str(st.to.name());
                } else {
                    cell.push_str(" → ");
                    cell.push_str(st.to.name());
                }
            }
            Event::Call(c) => {
                let text = call_text(c);
                let left = c.endpoint == client;
                // RST causes, in words, under the call they end.
                let why = match (c.source, c.result) {
                    (CallSource::Inferred, Some(CallResult::Errno(Errno::ECONNREFUSED))) => vec![format!(
                        "why: RST answers the SYN: nothing listens on {server} → ECONNREFUSED"
                    )],
                    (CallSource::Inferred, Some(CallResult::Errno(Errno::ECONNRESET))) => vec![
                        "why: the peer reset the connection (close() with SO_LINGER 0, or with unread data)"
                            .to_string(),
                    ],
                    _ => vec![],
                };
                rows.push(Row {
                    time: rel_ms(c.t, start),
                    left: if left { text.clone() } else { String::new() },
                    mid: String::new(),
                    mid_flags: Default::default(),
                    right: if left { String::new() } else { text },
                    why,
                });
            }
            Event::Anomaly(a) => {
                let idx = last_seg_row.unwrap_or(rows.len() - 1);
                rows[idx]
                    .why
                    .push(format!("! {}: {}", a.kind.as_str(), a.detail));
            }
            Event::Connection(_) => {}
        }
    }
    if eliding {
        rows.push(Row {
            time: String::new(),
            left: String::new(),
            mid: format!("… {elided} segments …"),
            mid_flags: Default::default(),
            right: String::new(),
            why: vec![],
        });
    }
    // Paint only the text of a cell, never its padding, so a painted line is the plain line
    // with escapes added (and trailing blanks trim the same way).
    let cell = |text: &str, width: usize, paint: &dyn Fn(&str) -> String| {
        let t = fit(text, width);
        let fill = width - t.chars().count();
        let body = if t.is_empty() { t } else { paint(&t) };
        format!("{body}{}", " ".repeat(fill))
    };
    let side_paint = |text: &str| -> Box<dyn Fn(&str) -> String> {
        if text.starts_with(['»', '~']) {
            Box::new(move |t: &str| palette::call(t, color))
        } else {
            Box::new(move |t: &str| palette::state(t, color))
        }
    };
    for row in &rows {
        // A row without an arrow lends the arrow's room to its call or state text.
        let line = if row.mid.is_empty() && row.right.is_empty() {
            let left = cell(&row.left, sidew + 1 + lay.arrow, &*side_paint(&row.left));
            format!("{:>w$}  {left}", row.time, w = lay.time)
        } else if row.mid.is_empty() && row.left.is_empty() {
            let room = o
                .width
                .saturating_sub(lay.time + 2 + sidew + 1 + lay.arrow + 1);
            let right = cell(&row.right, room.max(sidew), &*side_paint(&row.right));
            let blank = " ".repeat(sidew + 1 + lay.arrow);
            format!("{:>w$}  {blank} {right}", row.time, w = lay.time)
        } else {
            let left = cell(&row.left, sidew, &*side_paint(&row.left));
            let flags = row.mid_flags;
            let mid = cell(&row.mid, lay.arrow, &|t: &str| {
                palette::segment(t, flags, color)
            });
            let right = cell(&row.right, sidew, &*side_paint(&row.right));
            format!("{:>w$}  {left} {mid} {right}", row.time, w = lay.time)
        };
        writeln!(out, "{}", line.trim_end())?;
        for why in &row.why {
            let text = fit(&format!("{}  {why}", " ".repeat(lay.time)), o.width);
            writeln!(out, "{}", palette::warn(&text, color))?;
        }
    }
    // Final states and the TIME_WAIT countdown.
    let fin = |ep| {
        if v.outcome == crate::events::Outcome::Refused && never(ep) {
            "(no socket)".to_string()
        } else {
            super::final_text(v, ep)
        }
    };
    let end = format!(
        "{:>w$}  {} {} {}",
        "final",
        pad(&fin(client), sidew),
        pad(
            &format!(
                "{} segs, {}+{} bytes{}",
                v.packets[0] + v.packets[1],
                v.bytes[0],
                v.bytes[1],
                v.handshake_rtt_ms
                    .map(|r| format!(", handshake {r:.3} ms"))
                    .unwrap_or_default()
            ),
            lay.arrow
        ),
        fit(&fin(server), sidew),
        w = lay.time
    );
    writeln!(out, "{}", palette::state(end.trim_end(), color))?;
    let legend =
        "calls: » observed, ~ inferred from packets; states are each side's after the segment";
    writeln!(out, "{}", fit(legend, o.width))?;
    Ok(())
}
