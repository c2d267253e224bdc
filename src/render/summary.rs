//! `--format summary`: one row per connection as it ends, then totals.

use super::group::{ConnGroup, GroupRenderer};
use crate::events::{ConnectionEvent, Initiator, Meta, Outcome, Summary, TcpState};
use crate::timestamp::Timestamp;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Streams summary rows; keeps only counters.
pub struct SummaryRenderer {
    width: usize,
    rows: u64,
    by_outcome: BTreeMap<&'static str, u64>,
    tw_client: u64,
    tw_server: u64,
    resets: u64,
    retransmissions: u64,
}

/// Width of the one-line layout (every column); narrower outputs take two lines a row.
const WIDE: usize = 170;

/// `2026-11-25`, `12:22:45.564326` (UTC) of a capture time.
fn utc(t: Timestamp) -> (String, String) {
    let ns = t.as_nanos();
    let secs = ns.div_euclid(1_000_000_000);
    let us = ns.rem_euclid(1_000_000_000) / 1_000;
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
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
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!(
            "{:02}:{:02}:{:02}.{us:06}",
            sod / 3600,
            sod % 3600 / 60,
            sod % 60
        ),
    )
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
            rows: 0,
            by_outcome: BTreeMap::new(),
            tw_client: 0,
            tw_server: 0,
            resets: 0,
            retransmissions: 0,
        }
    }

    /// Render one verdict as a row (no per-segment events needed).
    pub fn row(&mut self, v: &ConnectionEvent, out: &mut dyn Write) -> io::Result<()> {
        let wide = self.width >= WIDE;
        let (date, time) = utc(v.start);
        if self.rows == 0 {
            writeln!(out, "connections of {date} (times UTC)")?;
            if wide {
                writeln!(
                    out,
                    "{:>5} {:<15} {:<21} {:<21} {:>10} {:>8} {:>9} {:>11} {:<10} {:<6} {:<10} {:<6} final (client/server)",
                    "conn", "start", "client", "server", "dur_ms", "rtt_ms", "pkts", "bytes",
                    "history", "state", "outcome", "closer"
                )?;
            } else {
                if self.width >= 100 {
                    writeln!(
                        out,
                        "{:>5} {:<15} {:<45} {:<10} final (client/server)",
                        "conn", "start", "client → server", "outcome"
                    )?;
                } else if self.width >= 80 {
                    writeln!(
                        out,
                        "{:>5} {:<15} {:<45} outcome",
                        "conn", "start", "client → server"
                    )?;
                } else {
                    writeln!(out, "{:>5} {:<15} client → server", "conn", "start")?;
                }
            }
        }
        self.rows += 1;
        *self.by_outcome.entry(v.outcome.as_str()).or_default() += 1;
        let st = |i: usize| v.final_states.0.get(i).map_or(TcpState::Unknown, |x| x.1);
        if st(0) == TcpState::TimeWait {
            self.tw_client += 1;
        }
        if st(1) == TcpState::TimeWait {
            self.tw_server += 1;
        }
        self.resets += u64::from(v.resets);
        self.retransmissions += u64::from(v.retransmissions);
        let closer = match v.close_initiator {
            Some(Initiator::Client) => "client",
            Some(Initiator::Server) => "server",
            Some(Initiator::Both) => "both",
            None => "-",
        };
        let fin = format!(
            "{}/{}",
            st(0),
            if v.final_states.0.len() > 1 {
                st(1).name()
            } else {
                "(self)"
            }
        );
        let dur = format!("{:.3}", v.end.since(v.start) as f64 / 1e6);
        let rtt = v.handshake_rtt_ms.map_or("-".into(), |r| format!("{r:.3}"));
        let rtt_ms = v
            .handshake_rtt_ms
            .map_or("-".into(), |r| format!("{r:.3} ms"));
        let pkts = format!("{}/{}", v.packets[0], v.packets[1]);
        let bytes = format!("{}/{}", v.bytes[0], v.bytes[1]);
        if wide {
            writeln!(
                out,
                "{:>5} {:<15} {:<21} {:<21} {:>10} {:>8} {:>9} {:>11} {:<10} {:<6} {:<10} {:<6} {fin}",
                v.conn,
                time,
                v.client.to_string(),
                v.server.to_string(),
                dur,
                rtt,
                pkts,
                bytes,
                v.history,
                v.conn_state,
                v.outcome.as_str(),
                closer,
            )
        } else {
            let pair = format!("{} → {}", v.client, v.server);
            let mut details = vec![
                format!("{dur} ms"),
                format!("rtt {rtt_ms}"),
                format!("pkts {pkts}"),
                format!("bytes {bytes}"),
                format!("{} {}", v.history, v.conn_state),
                format!("closer {closer}"),
            ];
            if self.width >= 100 {
                writeln!(
                    out,
                    "{:>5} {:<15} {:<45} {:<10} {fin}",
                    v.conn,
                    time,
                    pair,
                    v.outcome.as_str()
                )?;
            } else if self.width >= 80 {
                writeln!(
                    out,
                    "{:>5} {:<15} {:<45} {}",
                    v.conn,
                    time,
                    pair,
                    v.outcome.as_str()
                )?;
                details.insert(0, format!("final {fin}"));
            } else {
                writeln!(out, "{:>5} {:<15} {pair}", v.conn, time)?;
                details.insert(0, format!("final {fin}"));
                details.insert(0, v.outcome.as_str().to_string());
            }
            // The details under the row, wrapped to the width.
            const INDENT: usize = 22;
            let mut line = String::new();
            for d in details {
                let len = line.chars().count();
                if len > 0 && INDENT + len + 2 + d.chars().count() > self.width {
                    writeln!(out, "{:INDENT$}{line}", "")?;
                    line.clear();
                }
                if !line.is_empty() {
                    line.push_str(", ");
                }
                line.push_str(&d);
            }
            writeln!(out, "{:INDENT$}{line}", "")
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
    fn finish(&mut self, s: &Summary, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out)?;
        let outcomes: Vec<String> = Outcome::ALL
            .iter()
            .filter_map(|o| {
                self.by_outcome
                    .get(o.as_str())
                    .map(|n| format!("{} {n}", o.as_str()))
            })
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
            wrapped(out, &format!("warning: {e}"), self.width)?;
        }
        Ok(())
    }
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
