//! One side (enter or return) of an observed call, and its packet-comment form (the demo's
//! and `watch`'s `-w x.pcapng`, read back by `replay`; tshark shows it).

use super::{CallEvent, CallName, CallResult, CallSource, ConnId, Endpoint, Owner, Phase};
use crate::timestamp::Timestamp;
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
    /// Who made it, when the kernel told (`watch`'s call tracing; the demo's own calls have none).
    pub owner: Option<Owner>,
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
        match &self.owner {
            Some(o) => format!("{PREFIX}{what} · {addrs} · at {} · by {o}", self.t),
            None => format!("{PREFIX}{what} · {addrs} · at {}", self.t),
        }
    }

    /// As an observed call event of connection `conn` (0: on none).
    pub fn into_event(self, conn: ConnId) -> CallEvent {
        CallEvent {
            t: self.t,
            conn,
            endpoint: Endpoint::new(self.local),
            call: self.call,
            phase: self.phase,
            result: self.result,
            source: CallSource::Observed,
            owner: self.owner,
        }
    }

    /// The note a comment holds, if it is one of ours.
    pub fn parse(comment: &str) -> Option<CallNote> {
        let rest = comment.strip_prefix(PREFIX)?;
        // The owner comes last, and its name may hold anything (` · ` too).
        let (rest, owner) = match rest.split_once(" · by ") {
            Some((r, by)) => (r, Some(parse_owner(by)?)),
            None => (rest, None),
        };
        let mut parts = rest.split(" · ");
        let (what, addrs, at) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
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
            owner,
        })
    }
}

/// `python3[4242]` or `python3[4242/4243]` (the comm may hold brackets: the last ones count).
fn parse_owner(s: &str) -> Option<Owner> {
    let (comm, ids) = s.strip_suffix(']')?.rsplit_once('[')?;
    let (pid, tid) = match ids.split_once('/') {
        Some((p, t)) => (p.parse().ok()?, t.parse().ok()?),
        None => {
            let p = ids.parse().ok()?;
            (p, p)
        }
    };
    Some(Owner {
        pid,
        tid,
        comm: comm.to_string(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Errno;

    #[test]
    fn comments_round_trip() {
        let results = [
            None,
            Some(CallResult::Ok),
            Some(CallResult::OkShutWr),
            Some(CallResult::Bytes(5)),
            Some(CallResult::Errno(Errno::ECONNREFUSED)),
            Some(CallResult::Errno(Errno(71))),
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
                owner: (i % 3 == 1).then(|| Owner {
                    pid: 4242,
                    tid: 4242 + i as u32 % 2,
                    comm: "py[th] · by on3".into(),
                }),
            };
            let c = n.to_comment();
            assert_eq!(CallNote::parse(&c), Some(n), "{c}");
        }
        assert_eq!(CallNote::parse("a comment of someone else"), None);
        assert_eq!(CallNote::parse("synfin call: nonsense · x · at 1.5"), None);
    }
}
