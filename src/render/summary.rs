//! `--format summary`: one row per connection as it ends, then totals.

use super::group::{ConnGroup, GroupRenderer};
use crate::events::{ConnectionEvent, Event, Meta, Outcome, Summary, TcpState};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Streams summary rows; keeps only counters.
#[derive(Default)]
pub struct SummaryRenderer {
    rows: u64,
    by_outcome: BTreeMap<&'static str, u64>,
    tw_client: u64,
    tw_server: u64,
    resets: u64,
    retransmissions: u64,
}

impl SummaryRenderer {
    /// A summary renderer.
    pub fn new() -> Self {
        SummaryRenderer {
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
        if self.rows == 0 {
            writeln!(
                out,
                "{:>5} {:<22} {:<22} {:>17} {:>10} {:>9} {:>9} {:>13} {:<12} {:<6} {:<10} {:<6} final (client/server)",
                "conn", "client", "server", "start", "dur_ms", "rtt_ms", "pkts", "bytes", "history",
                "state", "outcome", "closer"
            )?;
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
            Some(i) => format!("{i:?}").to_lowercase(),
            None => "-".into(),
        };
        writeln!(
            out,
            "{:>5} {:<22} {:<22} {:>17} {:>10.3} {:>9} {:>9} {:>13} {:<12} {:<6} {:<10} {:<6} {}/{}",
            v.conn,
            v.client.to_string(),
            v.server.to_string(),
            format!("{:.6}", v.start.as_secs_f64_us()),
            v.end.since(v.start) as f64 / 1e6,
            v.handshake_rtt_ms.map_or("-".into(), |r| format!("{r:.3}")),
            format!("{}/{}", v.packets[0], v.packets[1]),
            format!("{}/{}", v.bytes[0], v.bytes[1]),
            v.history,
            v.conn_state,
            v.outcome.as_str(),
            closer,
            st(0),
            if v.final_states.0.len() > 1 { st(1).name() } else { "(self)" },
        )?;
        Ok(())
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
        writeln!(
            out,
            "{} connections ({}), {} TCP segments in {} frames ({} skipped)",
            self.rows,
            if outcomes.is_empty() {
                "none".into()
            } else {
                outcomes.join(", ")
            },
            s.tcp_segments,
            s.frames,
            s.skipped_frames
        )?;
        writeln!(
            out,
            "ended in TIME_WAIT: {} on the client side, {} on the server side; {} resets, {} retransmissions",
            self.tw_client, self.tw_server, self.resets, self.retransmissions
        )?;
        for e in &s.errors {
            writeln!(out, "warning: {e}")?;
        }
        Ok(())
    }
}

/// The summary needs only verdicts: a streaming renderer that keeps no events.
pub struct StreamingSummary {
    inner: SummaryRenderer,
    filter: crate::filter::ConnFilter,
}

impl StreamingSummary {
    /// Summary rows for connections passing `filter`.
    pub fn new(filter: crate::filter::ConnFilter) -> Self {
        StreamingSummary {
            inner: SummaryRenderer::new(),
            filter,
        }
    }
}

impl super::Renderer for StreamingSummary {
    fn start(&mut self, _meta: &Meta, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
    fn event(&mut self, e: &Event, out: &mut dyn Write) -> io::Result<()> {
        if let Event::Connection(v) = e {
            if self.filter.matches(v) {
                self.inner.row(v, out)?;
            }
        }
        Ok(())
    }
    fn finish(&mut self, s: &Summary, out: &mut dyn Write) -> io::Result<()> {
        GroupRenderer::finish(&mut self.inner, s, out)
    }
}
