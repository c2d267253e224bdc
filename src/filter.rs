//! Filters shared by every output: which segments enter the tracker (ports, hosts), and
//! which connections are shown (id, a state entered, outcome, anomalies). Pure functions.

use crate::events::{ConnectionEvent, Outcome, TcpState};
use crate::filter_expr::{Dir, FilterExpr, FilterInput, Primitive};
use crate::segment::Segment;

/// Which segments to track (like a capture filter): a filter expression, from the command
/// line's expression and `--port`/`--host` (each of those a term of its own, all joined with
/// `and`), or nothing.
#[derive(Debug, Clone, Default)]
pub struct SegmentFilter {
    expr: Option<FilterExpr>,
}

impl SegmentFilter {
    /// Segments that `expr` accepts (every segment for `None`).
    pub fn new(expr: Option<FilterExpr>) -> SegmentFilter {
        SegmentFilter { expr }
    }

    /// Segments to or from any of `ports`.
    pub fn ports(ports: &[u16]) -> SegmentFilter {
        let any = ports
            .iter()
            .map(|&p| {
                FilterExpr::Prim(Primitive::Port {
                    dir: Dir::Either,
                    lo: p,
                    hi: p,
                })
            })
            .reduce(|a, b| FilterExpr::Or(Box::new(a), Box::new(b)));
        SegmentFilter::new(any)
    }

    /// No condition at all.
    pub fn is_empty(&self) -> bool {
        self.expr.is_none()
    }

    /// The expression, if any (e.g. to install it in the kernel).
    pub fn expr(&self) -> Option<&FilterExpr> {
        self.expr.as_ref()
    }

    /// Could a segment from `a` to `b` pass, by addresses and ports alone? (A call on no
    /// connection, such as listen(), is shown when its address could be the filter's.)
    pub fn matches_endpoints(&self, a: std::net::SocketAddr, b: std::net::SocketAddr) -> bool {
        let Some(e) = &self.expr else { return true };
        let seg = Segment::header(a, b, Default::default(), 0, 0);
        e.matches(&FilterInput::from(&seg))
    }

    /// Does `seg` pass?
    pub fn matches(&self, seg: &Segment) -> bool {
        self.expr
            .as_ref()
            .is_none_or(|e| e.matches(&FilterInput::from(seg)))
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
