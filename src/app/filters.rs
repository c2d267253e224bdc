//! The command line's filter options → the pipeline's two filters.

use crate::cli::{FilterArgs, OutcomeArg};
use crate::events::Outcome;
use crate::filter::{ConnFilter, SegmentFilter};

/// Split the command line's filters into the two kinds.
pub fn from_args(a: &FilterArgs) -> (SegmentFilter, ConnFilter) {
    let outcome = a.outcome.map(|o| match o {
        OutcomeArg::Closed => Outcome::Closed,
        OutcomeArg::Reset => Outcome::Reset,
        OutcomeArg::Refused => Outcome::Refused,
        OutcomeArg::Aborted => Outcome::Aborted,
        OutcomeArg::Incomplete => Outcome::Incomplete,
        OutcomeArg::Open => Outcome::Open,
    });
    (
        SegmentFilter {
            ports: a.ports.clone(),
            hosts: a.hosts.clone(),
        },
        ConnFilter {
            conns: a.conns.clone(),
            state: a.state,
            outcome,
            anomalies: a.anomalies,
        },
    )
}
