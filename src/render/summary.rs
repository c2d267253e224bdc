//! `--format summary`: one row per connection as it ends, then totals.

use super::decimal::{push_ms3, push_thousandths};
use super::group::{ConnGroup, Gathered, GroupRenderer};
use super::runs::push_run;
use crate::events::{ConnectionEvent, Initiator, Meta, Outcome, SpentVerdicts, Summary, TcpState};
use crate::timestamp::Timestamp;
use std::io::{self, Write};
use std::ops::Range;

/// Streams summary rows; keeps only counters.
pub struct SummaryRenderer {
    width: usize,
    /// Reused for each row.
    text: RowText,
    /// Verdicts drawn, kept to be handed back ([`SummaryRenderer::handing_back`]).
    spent: Option<SpentVerdicts>,
    rows: u64,
    /// Rows by outcome, in `Outcome::ALL`'s order (its declaration's).
    by_outcome: [u64; Outcome::ALL.len()],
    tw_client: u64,
    tw_server: u64,
    resets: u64,
    retransmissions: u64,
}

/// Width of the one-line layout (every column); narrower outputs take two lines a row.
const WIDE: usize = 170;

/// Days since 1970-01-01 and the second of the day of a capture time (UTC), and its µs.
fn utc_parts(t: Timestamp) -> (i64, i64, i64) {
    let ns = t.as_nanos();
    let secs = ns.div_euclid(1_000_000_000);
    let us = ns.rem_euclid(1_000_000_000) / 1_000;
    (secs.div_euclid(86_400), secs.rem_euclid(86_400), us)
}

/// `2026-11-25` (UTC) of a capture time.
fn utc_date(t: Timestamp) -> String {
    let (days, _, _) = utc_parts(t);
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `12:22:45.564326` (UTC) of a capture time, appended to `b`.
fn push_utc_time(b: &mut String, t: Timestamp) {
    let (_, sod, us) = utc_parts(t);
    for (i, n) in [sod / 3600, sod % 3600 / 60, sod % 60]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            b.push(':');
        }
        push_digits(b, n as u64, 2);
    }
    b.push('.');
    push_digits(b, us as u64, 6);
}

/// `n` in at least `width` digits, zeros before (`{:0width$}`).
fn push_digits(b: &mut String, n: u64, width: usize) {
    let mut num = itoa::Buffer::new();
    let d = num.format(n);
    b.extend(std::iter::repeat_n('0', width.saturating_sub(d.len())));
    b.push_str(d);
}

/// Write `text` in lines of at most `width` columns, broken at spaces (a word longer than
/// the width stands alone); lines after the first are indented by two.
fn wrapped(out: &mut dyn Write, text: &str, width: usize) -> io::Result<()> {
    let mut line = String::new();
    let mut len = 0;
    for word in text.split(' ') {
        let n = word.chars().count();
        if len > 0 && len + 1 + n > width {
            writeln!(out, "{line}")?;
            line = "  ".into();
            len = 2;
        } else if len > 0 {
            line.push(' ');
            len += 1;
        }
        line.push_str(word);
        len += n;
    }
    writeln!(out, "{line}")
}

/// `1 connection`, `2 connections`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl SummaryRenderer {
    /// A summary renderer for lines of `width` columns.
    pub fn new(width: usize) -> Self {
        SummaryRenderer {
            width,
            text: RowText::default(),
            spent: None,
            rows: 0,
            by_outcome: [0; Outcome::ALL.len()],
            tw_client: 0,
            tw_server: 0,
            resets: 0,
            retransmissions: 0,
        }
    }

    /// Keep the verdicts drawn until [`Renderer::take_spent`](super::Renderer::take_spent)
    /// asks for them (drawn on another thread than the tracker's: they go back to be freed
    /// there).
    pub fn handing_back(mut self) -> Self {
        self.spent = Some(Vec::new());
        self
    }

    /// Render one verdict as a row (no per-segment events needed).
    pub fn row(&mut self, v: &ConnectionEvent, out: &mut dyn Write) -> io::Result<()> {
        self.count(v, out)?;
        write_row(v, self.width, &mut self.text, out)
    }

    /// Count a verdict into the totals (the heading before the first).
    fn count(&mut self, v: &ConnectionEvent, out: &mut dyn Write) -> io::Result<()> {
        if self.rows == 0 {
            self.header(v, self.width >= WIDE, out)?;
        }
        self.rows += 1;
        self.by_outcome[v.outcome as usize] += 1;
        let st = |i: usize| v.final_states.0.get(i).map_or(TcpState::Unknown, |x| x.1);
        if st(0) == TcpState::TimeWait {
            self.tw_client += 1;
        }
        if st(1) == TcpState::TimeWait {
            self.tw_server += 1;
        }
        self.resets += u64::from(v.resets);
        self.retransmissions += u64::from(v.retransmissions);
        Ok(())
    }

    /// The date line and the column headings, before the first row.
    fn header(&self, v: &ConnectionEvent, wide: bool, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "connections of {} (times UTC)", utc_date(v.start))?;
        if wide {
            writeln!(
                out,
                "{:>5} {:<15} {:<21} {:<21} {:>10} {:>8} {:>9} {:>11} {:<10} {:<6} {:<10} {:<6} final (client/server)",
                "conn", "start", "client", "server", "dur_ms", "rtt_ms", "pkts", "bytes",
                "history", "state", "outcome", "closer"
            )
        } else if self.width >= 100 {
            writeln!(
                out,
                "{:>5} {:<15} {:<45} {:<10} final (client/server)",
                "conn", "start", "client → server", "outcome"
            )
        } else if self.width >= 80 {
            writeln!(
                out,
                "{:>5} {:<15} {:<45} outcome",
                "conn", "start", "client → server"
            )
        } else {
            writeln!(out, "{:>5} {:<15} client → server", "conn", "start")
        }
    }
}

impl GroupRenderer for SummaryRenderer {
    fn start(&mut self, _meta: &Meta, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
    fn connection(&mut self, g: &ConnGroup, out: &mut dyn Write) -> io::Result<()> {
        self.row(&g.verdict, out)
    }
    fn wants_events(&self) -> bool {
        false // a row is its connection's verdict
    }
    fn connection_gathered(&mut self, g: Gathered, out: &mut dyn Write) -> io::Result<()> {
        self.row(g.verdict(), out)?;
        if let Some(spent) = &mut self.spent {
            spent.push(g.into_verdict());
        }
        Ok(())
    }
    fn take_spent(&mut self, into: &mut SpentVerdicts) {
        if let Some(spent) = &mut self.spent {
            into.append(spent);
        }
    }
    fn finish(&mut self, s: &Summary, out: &mut dyn Write) -> io::Result<()> {
        if self.rows > 0 {
            writeln!(out)?;
        }
        let outcomes: Vec<String> = Outcome::ALL
            .iter()
            .zip(self.by_outcome)
            .filter(|&(_, n)| n > 0)
            .map(|(o, n)| format!("{} {n}", o.as_str()))
            .collect();
        let totals = format!(
            "{} ({}), {} in {} ({} skipped)",
            plural(self.rows, "connection", "connections"),
            if outcomes.is_empty() {
                "none".into()
            } else {
                outcomes.join(", ")
            },
            plural(s.tcp_segments, "TCP segment", "TCP segments"),
            plural(s.frames, "frame", "frames"),
            s.skipped_frames
        );
        wrapped(out, &totals, self.width)?;
        let ends = format!(
            "ended in TIME_WAIT: {} on the client side, {} on the server side; {}, {}",
            self.tw_client,
            self.tw_server,
            plural(self.resets, "reset", "resets"),
            plural(self.retransmissions, "retransmission", "retransmissions")
        );
        wrapped(out, &ends, self.width)?;
        for e in &s.errors {
            let e = crate::text::printable(e);
            wrapped(out, &format!("warning: {e}"), self.width)?;
        }
        Ok(())
    }
}

/// A row's text, made in buffers kept from row to row (no String per field or row).
#[derive(Default)]
struct RowText {
    /// The fields, each a range of it.
    fields: String,
    /// The row's lines.
    line: String,
}

/// `text` left-aligned in `width` columns (`{:<width}`).
fn push_left(b: &mut String, text: &str, width: usize) {
    b.push_str(text);
    push_run(b, ' ', width.saturating_sub(text.chars().count()));
}

/// `text` right-aligned in `width` columns (`{:>width}`).
fn push_right(b: &mut String, text: &str, width: usize) {
    push_run(b, ' ', width.saturating_sub(text.chars().count()));
    b.push_str(text);
}

/// One verdict's row (two lines and more when narrow) for lines of `width` columns, made in
/// `text` and written at once.
fn write_row(
    v: &ConnectionEvent,
    width: usize,
    text: &mut RowText,
    out: &mut dyn Write,
) -> io::Result<()> {
    let wide = width >= WIDE;
    let st = |i: usize| v.final_states.0.get(i).map_or(TcpState::Unknown, |x| x.1);
    let closer = match v.close_initiator {
        Some(Initiator::Client) => "client",
        Some(Initiator::Server) => "server",
        Some(Initiator::Both) => "both",
        None => "-",
    };
    let server_state = if v.final_states.0.len() > 1 {
        st(1).name()
    } else {
        "(self)"
    };
    let RowText { fields: b, line } = text;
    b.clear();
    line.clear();
    // Each field appended, and its byte range kept.
    let mut at = 0;
    let mut next = |b: &String| -> Range<usize> {
        let r = at..b.len();
        at = b.len();
        r
    };
    let mut num = itoa::Buffer::new();
    push_utc_time(b, v.start);
    let time = next(b);
    b.push_str(st(0).name());
    b.push('/');
    b.push_str(server_state);
    let fin = next(b);
    match v.handshake_rtt_ms {
        Some(r) => push_thousandths(b, r),
        None => b.push('-'),
    }
    let rtt = next(b);
    let mut pair = |b: &mut String, [x, y]: [u64; 2]| {
        b.push_str(num.format(x));
        b.push('/');
        b.push_str(num.format(y));
    };
    pair(b, v.packets);
    let pkts = next(b);
    pair(b, v.bytes);
    let bytes = next(b);
    v.client.push_to(b);
    let client = next(b);
    v.server.push_to(b);
    let server = next(b);
    push_ms3(b, v.end.since(v.start));
    let dur_text = next(b);
    let conn = num.format(v.conn);
    if wide {
        let cells = [
            (conn, 5, true),
            (&b[time], 15, false),
            (&b[client], 21, false),
            (&b[server], 21, false),
            (&b[dur_text], 10, true),
            (&b[rtt], 8, true),
            (&b[pkts], 9, true),
            (&b[bytes], 11, true),
            (v.history.as_str(), 10, false),
            (v.conn_state.as_str(), 6, false),
            (v.outcome.as_str(), 10, false),
            (closer, 6, false),
        ];
        for (text, w, right) in cells {
            if right {
                push_right(line, text, w);
            } else {
                push_left(line, text, w);
            }
            line.push(' ');
        }
        line.push_str(&b[fin]);
        line.push('\n');
        return out.write_all(line.as_bytes());
    }
    // client → server as one column of 45 (the arrow: one column, three bytes).
    let pad = 45usize.saturating_sub(client.len() + 3 + server.len());
    push_right(line, conn, 5);
    line.push(' ');
    push_left(line, &b[time], 15);
    line.push(' ');
    line.push_str(&b[client.clone()]);
    line.push_str(" → ");
    line.push_str(&b[server]);
    if width >= 80 {
        push_run(line, ' ', pad);
        line.push(' ');
        if width >= 100 {
            push_left(line, v.outcome.as_str(), 10);
            line.push(' ');
            line.push_str(&b[fin.clone()]);
        } else {
            line.push_str(v.outcome.as_str());
        }
    }
    line.push('\n');
    // The details under the row, wrapped to the width (ASCII: bytes are columns).
    let outcome = v.outcome.as_str();
    let history = v.history.as_str();
    let state = v.conn_state.as_str();
    let rtt_unit = if v.handshake_rtt_ms.is_some() {
        " ms"
    } else {
        ""
    };
    let details: [(&str, &str, &str, &str); 9] = [
        (if width < 80 { outcome } else { "" }, "", "", ""),
        (
            if width < 100 { "final " } else { "" },
            if width < 100 { &b[fin] } else { "" },
            "",
            "",
        ),
        ("", &b[dur_text], " ms", ""),
        ("rtt ", &b[rtt], rtt_unit, ""),
        ("pkts ", &b[pkts], "", ""),
        ("bytes ", &b[bytes], "", ""),
        (history, " ", state, ""),
        ("closer ", closer, "", ""),
        ("", "", "", ""),
    ];
    const INDENT: usize = 22;
    push_run(line, ' ', INDENT);
    let mut len = 0;
    for (a, m, z, y) in details {
        let w = a.len() + m.len() + z.len() + y.len();
        if w == 0 {
            continue;
        }
        if len > 0 && INDENT + len + 2 + w > width {
            line.push('\n');
            push_run(line, ' ', INDENT);
            len = 0;
        } else if len > 0 {
            line.push_str(", ");
            len += 2;
        }
        for part in [a, m, z, y] {
            line.push_str(part);
        }
        len += w;
    }
    line.push('\n');
    out.write_all(line.as_bytes())
}

/// The summary needs only verdicts (the tracker makes no other events for it), handed on in
/// start order by `Grouped`, which then holds nothing but connections that ended before an
/// earlier one.
pub fn streaming(
    filter: crate::filter::ConnFilter,
    width: usize,
) -> super::group::Grouped<SummaryRenderer> {
    super::group::Grouped::new(SummaryRenderer::new(width), filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The totals count rows by `outcome as usize`: that is each outcome's place in `ALL`.
    #[test]
    fn outcomes_are_counted_in_their_place() {
        for (i, o) in Outcome::ALL.into_iter().enumerate() {
            assert_eq!(o as usize, i, "{o:?}");
        }
    }
}
