//! The command line's filter options → the pipeline's two filters.

use crate::cli::{FilterArgs, OutcomeArg};
use crate::events::Outcome;
use crate::filter::{ConnFilter, SegmentFilter};
use crate::filter_expr::{self, FilterExpr};
use crate::pipeline::UsageError;

/// Split the command line's filters into the two kinds.
/// `--port`/`--host` and a filter expression (tcpdump's words) become one expression: each
/// option a term (its values joined with `or`), the terms and the expression joined with
/// `and`. An error names the option or the expression's bad word.
pub fn from_args(
    a: &FilterArgs,
    expression: &[String],
) -> Result<(SegmentFilter, ConnFilter), UsageError> {
    let outcome = a.outcome.map(|o| match o {
        OutcomeArg::Closed => Outcome::Closed,
        OutcomeArg::Reset => Outcome::Reset,
        OutcomeArg::Refused => Outcome::Refused,
        OutcomeArg::Aborted => Outcome::Aborted,
        OutcomeArg::Incomplete => Outcome::Incomplete,
        OutcomeArg::Open => Outcome::Open,
    });
    let and = |a: FilterExpr, b: FilterExpr| FilterExpr::And(Box::new(a), Box::new(b));
    let or = |a: FilterExpr, b: FilterExpr| FilterExpr::Or(Box::new(a), Box::new(b));
    let ports = SegmentFilter::ports(&a.ports).expr().cloned();
    let mut hosts = None;
    for h in &a.hosts {
        if h.is_empty() || h.contains(char::is_whitespace) {
            return Err(UsageError(format!(
                "--host {h:?}: give one address, network (CIDR) or name"
            )));
        }
        // A CIDR is a network, anything else an address or a name.
        let text = if h.contains('/') {
            format!("net {h}")
        } else {
            format!("host {h}")
        };
        let e = filter_expr::parse(&[text]).map_err(|e| UsageError(format!("--host {h}: {e}")))?;
        hosts = Some(match hosts {
            Some(prev) => or(prev, e),
            None => e,
        });
    }
    let expr = if expression.is_empty() {
        None
    } else {
        Some(filter_expr::parse(expression).map_err(|e| UsageError(e.to_string()))?)
    };
    let all = [ports, hosts, expr].into_iter().flatten().reduce(and);
    Ok((
        SegmentFilter::new(all),
        ConnFilter {
            conns: a.conns.clone(),
            state: a.state,
            outcome,
            anomalies: a.anomalies,
        },
    ))
}
