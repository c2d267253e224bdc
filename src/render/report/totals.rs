//! The report's totals: the numbers `--format summary` ends with (connections by outcome,
//! segments, frames, TIME_WAIT ends, resets, retransmissions), and who closed first and the
//! anomalies by kind. Counted from the same verdicts, so the two agree.

use super::row::{Seen, ANOMALY_KINDS};
use crate::events::{ConnectionEvent, Initiator, Outcome, Summary, TcpState};
use serde::Serialize;

/// Counters over the connections shown.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Totals {
    /// Connections shown (the table's rows).
    pub connections: u64,
    /// By outcome, in [`Outcome::ALL`]'s order (zeros included).
    pub outcomes: Vec<(&'static str, u64)>,
    /// Who closed first: client, server, both, nobody.
    pub closers: Vec<(&'static str, u64)>,
    /// Connections with an anomaly of each kind, and anomalies of each kind.
    pub anomalies: Vec<(&'static str, u64, u64)>,
    /// Ended in TIME_WAIT on the client side.
    pub time_wait_client: u64,
    /// Ended in TIME_WAIT on the server side.
    pub time_wait_server: u64,
    /// RST segments.
    pub resets: u64,
    /// Retransmitted segments.
    pub retransmissions: u64,
    /// Frames read (from the summary).
    pub frames: u64,
    /// TCP segments decoded.
    pub tcp_segments: u64,
    /// Frames that gave no TCP segment.
    pub skipped_frames: u64,
    /// Problems met, one sentence each.
    pub errors: Vec<String>,
}

impl Totals {
    /// Nothing counted yet.
    pub fn new() -> Self {
        Totals {
            outcomes: Outcome::ALL.iter().map(|o| (o.as_str(), 0)).collect(),
            closers: ["client", "server", "both", "none"]
                .iter()
                .map(|c| (*c, 0))
                .collect(),
            anomalies: ANOMALY_KINDS.iter().map(|k| (k.as_str(), 0, 0)).collect(),
            ..Totals::default()
        }
    }

    /// Count one connection.
    pub fn add(&mut self, v: &ConnectionEvent, seen: &Seen) {
        self.connections += 1;
        let o = Outcome::ALL
            .iter()
            .position(|o| *o == v.outcome)
            .expect("every outcome is listed");
        self.outcomes[o].1 += 1;
        let c = match v.close_initiator {
            Some(Initiator::Client) => 0,
            Some(Initiator::Server) => 1,
            Some(Initiator::Both) => 2,
            None => 3,
        };
        self.closers[c].1 += 1;
        let st = |i: usize| v.final_states.0.get(i).map(|x| x.1);
        if st(0) == Some(TcpState::TimeWait) {
            self.time_wait_client += 1;
        }
        if st(1) == Some(TcpState::TimeWait) {
            self.time_wait_server += 1;
        }
        self.resets += u64::from(v.resets);
        self.retransmissions += u64::from(v.retransmissions);
        for (i, n) in seen.anomalies.iter().enumerate() {
            if *n > 0 {
                self.anomalies[i].1 += 1;
                self.anomalies[i].2 += u64::from(*n);
            }
        }
    }

    /// Take the run's counts.
    pub fn set_summary(&mut self, s: &Summary) {
        self.frames = s.frames;
        self.tcp_segments = s.tcp_segments;
        self.skipped_frames = s.skipped_frames;
        self.errors = s.errors.clone();
    }
}
