//! Observed calls (timed around the real syscalls) beside a capture: their packet-comment
//! form (the demo's `-w x.pcapng`, read back by `replay`), the connection each belongs to,
//! and which inferred calls they replace.

use crate::events::{CallEvent, CallName, CallResult, CallSource, ConnId, Endpoint, Event, Phase};
use crate::timestamp::Timestamp;
use crate::tracker::FlowKey;
use std::collections::HashSet;
use std::net::SocketAddr;

/// One side (enter or return) of an observed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallNote {
    /// When (the capture's clock).
    pub t: Timestamp,
    /// The socket's own address.
    pub local: SocketAddr,
    /// Its peer, if connected.
    pub peer: Option<SocketAddr>,
    /// Which call.
    pub call: CallName,
    /// Enter or return.
    pub phase: Phase,
    /// The result (returns only).
    pub result: Option<CallResult>,
}

/// What every comment of an observed call starts with.
const PREFIX: &str = "synfin call: ";

impl CallNote {
    /// As a packet comment, readable in tshark and parsed back by `parse`:
    /// `synfin call: connect() returns ECONNREFUSED · 127.0.0.1:40000 → 127.0.0.9:8888 ·
    /// at 1795617765.276100000`.
    pub fn to_comment(&self) -> String {
        let what = match (self.phase, self.result) {
            (Phase::Enter, _) => format!("{}()", self.call.as_str()),
            (Phase::Return, Some(r)) => format!("{}() returns {r}", self.call.as_str()),
            (Phase::Return, None) => format!("{}() returns", self.call.as_str()),
        };
        let addrs = match self.peer {
            Some(p) => format!("{} → {p}", self.local),
            None => self.local.to_string(),
        };
        format!("{PREFIX}{what} · {addrs} · at {}", self.t)
    }

    /// The note a comment holds, if it is one of ours.
    pub fn parse(comment: &str) -> Option<CallNote> {
        let rest = comment.strip_prefix(PREFIX)?;
        let mut parts = rest.split(" · ");
        let (what, addrs, at) = (parts.next()?, parts.next()?, parts.next()?);
        let t = parse_time(at.strip_prefix("at ")?)?;
        let (local, peer) = match addrs.split_once(" → ") {
            Some((l, p)) => (l.parse().ok()?, Some(p.parse().ok()?)),
            None => (addrs.parse().ok()?, None),
        };
        let (name, result) = match what.split_once("() returns") {
            Some((name, r)) => (name, Some(r.trim_start())),
            None => (what.strip_suffix("()")?, None),
        };
        let call = CallName::ALL.into_iter().find(|c| c.as_str() == name)?;
        let (phase, result) = match result {
            None => (Phase::Enter, None),
            Some("") => (Phase::Return, None),
            Some(r) => (Phase::Return, Some(CallResult::from_text(r)?)),
        };
        Some(CallNote {
            t,
            local,
            peer,
            call,
            phase,
            result,
        })
    }
}

/// `1795617765.276100000` (or with a minus sign) as a timestamp.
fn parse_time(s: &str) -> Option<Timestamp> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (secs, frac) = s.split_once('.')?;
    if frac.len() != 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ns = secs
        .parse::<i64>()
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(frac.parse::<i64>().ok()?)?;
    Some(Timestamp(if neg { -ns } else { ns }))
}

/// A connection's 4-tuple and time span, from its verdict.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    key: FlowKey,
    conn: ConnId,
    start: Timestamp,
    end: Timestamp,
}

/// The spans of the connections whose verdicts are among `events`.
pub fn spans(events: &[Event]) -> Vec<Span> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Connection(c) => Some(Span {
                key: FlowKey::new(c.client.0, c.server.0),
                conn: c.conn,
                start: c.start,
                end: c.end,
            }),
            _ => None,
        })
        .collect()
}

/// Observed calls as events, each filed under the connection of its socket's 4-tuple that is
/// nearest in time (0: no connection, e.g. listen()).
pub fn events(notes: &[CallNote], spans: &[Span]) -> Vec<Event> {
    notes
        .iter()
        .map(|n| {
            let conn = n
                .peer
                .and_then(|peer| {
                    let key = FlowKey::new(n.local, peer);
                    spans
                        .iter()
                        .filter(|s| s.key == key)
                        .min_by_key(|s| {
                            if n.t < s.start {
                                s.start.since(n.t)
                            } else if n.t > s.end {
                                n.t.since(s.end)
                            } else {
                                0
                            }
                        })
                        .map(|s| s.conn)
                })
                .unwrap_or(0);
            Event::Call(CallEvent {
                t: n.t,
                conn,
                endpoint: Endpoint(n.local),
                call: n.call,
                phase: n.phase,
                result: n.result,
                source: CallSource::Observed,
            })
        })
        .collect()
}

/// Which inferred calls the observed ones replace: every inferred call of a socket whose
/// calls were all observed (a missing one was not made: no `accept() returns` on a server
/// that never accepted), and of a socket only partly seen (a killed process: its `close` is
/// the kernel's) those of a call observed for it.
pub fn replaced_by(notes: &[CallNote]) -> super::Replaced {
    let mut whole = HashSet::new();
    let mut partly = HashSet::new();
    for n in notes {
        if n.result == Some(CallResult::Killed) {
            partly.insert((n.local, n.call));
        } else {
            whole.insert(n.local);
        }
    }
    // A socket with a killed call was not all observed, whatever else was.
    for (addr, _) in &partly {
        whole.remove(addr);
    }
    Box::new(move |c: &CallEvent| {
        whole.contains(&c.endpoint.0) || partly.contains(&(c.endpoint.0, c.call))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_round_trip() {
        let results = [
            None,
            Some(CallResult::Ok),
            Some(CallResult::OkShutWr),
            Some(CallResult::Bytes(5)),
            Some(CallResult::Errno(crate::events::Errno::ECONNREFUSED)),
            Some(CallResult::Errno(crate::events::Errno(71))),
            Some(CallResult::Listening {
                reuse: false,
                backlog: 5,
            }),
            Some(CallResult::Killed),
        ];
        for (i, result) in results.into_iter().enumerate() {
            let n = CallNote {
                t: Timestamp(1_795_617_765_276_100_000 + i as i64),
                local: "127.0.0.1:40000".parse().unwrap(),
                peer: (i % 2 == 0).then(|| "[::1]:8888".parse().unwrap()),
                call: CallName::ALL[i % CallName::ALL.len()],
                phase: if result.is_some() {
                    Phase::Return
                } else {
                    Phase::Enter
                },
                result,
            };
            let c = n.to_comment();
            assert_eq!(CallNote::parse(&c), Some(n), "{c}");
        }
        assert_eq!(CallNote::parse("a comment of someone else"), None);
        assert_eq!(CallNote::parse("synfin call: nonsense · x · at 1.5"), None);
    }
}
