//! Filters shared by every output: which segments enter the tracker (ports, hosts), and
//! which connections are shown (id, a state entered, outcome, anomalies). Pure functions.

use crate::events::{ConnectionEvent, Outcome, TcpState};
use crate::segment::Segment;
use std::net::IpAddr;

/// Which segments to track (like a capture filter).
#[derive(Debug, Clone, Default)]
pub struct SegmentFilter {
    /// Ports; empty means any.
    pub ports: Vec<u16>,
    /// Addresses; empty means any.
    pub hosts: Vec<IpAddr>,
}

impl SegmentFilter {
    /// No condition at all.
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty() && self.hosts.is_empty()
    }

    /// Does `seg` pass?
    pub fn matches(&self, seg: &Segment) -> bool {
        (self.ports.is_empty()
            || self.ports.contains(&seg.src.port())
            || self.ports.contains(&seg.dst.port()))
            && (self.hosts.is_empty()
                || self.hosts.contains(&seg.src.ip())
                || self.hosts.contains(&seg.dst.ip()))
    }
}

/// Which connections to show.
#[derive(Debug, Clone, Default)]
pub struct ConnFilter {
    /// Connection ids; empty means any.
    pub conns: Vec<u64>,
    /// A state some endpoint must have entered.
    pub state: Option<TcpState>,
    /// The outcome required.
    pub outcome: Option<Outcome>,
    /// Only connections with an anomaly.
    pub anomalies: bool,
}

impl ConnFilter {
    /// Does this filter need a connection's verdict before its events can be shown?
    pub fn needs_verdict(&self) -> bool {
        !self.conns.is_empty() || self.state.is_some() || self.outcome.is_some() || self.anomalies
    }

    /// Does the connection pass?
    pub fn matches(&self, c: &ConnectionEvent) -> bool {
        (self.conns.is_empty() || self.conns.contains(&c.conn))
            && self.state.is_none_or(|s| {
                c.states_entered & s.bit() != 0 || c.final_states.0.iter().any(|(_, f)| *f == s)
            })
            && self.outcome.is_none_or(|o| c.outcome == o)
            && (!self.anomalies || c.anomalies > 0)
    }
}
