//! `--kernel-check`: each endpoint's inferred state sequence beside the kernel's own.
//! Pure: the trace and the TIME_WAIT sockets are read by `capture::tracefs` and
//! `capture::proc_net`.

use super::KernelTransition;
use crate::events::{ConnId, Endpoint, Event, Role, TcpState};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::net::SocketAddr;

/// One endpoint, both views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointCheck {
    /// Its connection.
    pub conn: ConnId,
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Its role.
    pub role: Role,
    /// Both sides were active (a simultaneous open): the role only says who sent first.
    pub both_active: bool,
    /// synfin's states, first one included (projected changes left out).
    pub synfin: Vec<TcpState>,
    /// The kernel's (this connection's run of the 4-tuple), with a final
    /// FIN_WAIT_2/CLOSING→CLOSE read as TIME_WAIT (see `compare`).
    pub kernel: Vec<TcpState>,
}

impl EndpointCheck {
    /// Same sequence?
    pub fn agrees(&self) -> bool {
        self.synfin == self.kernel
    }

    /// The kernel's trace cannot have it: synfin has a request socket that never became a
    /// full one (LISTEN → SYN_RECEIVED → …, never ESTABLISHED), and the trace has nothing.
    /// inet_sock_set_state fires for full sockets only; a request sock (TCP_NEW_SYN_RECV)
    /// is born and dropped without it. Not compared, and said so: not an agreement.
    pub fn unrecorded(&self) -> bool {
        self.kernel.is_empty()
            && self.role == Role::Server
            && self.synfin.first() == Some(&TcpState::Listen)
            && self.synfin.contains(&TcpState::SynReceived)
            && !self.synfin.contains(&TcpState::Established)
    }

    /// Agrees, or the kernel cannot record it.
    pub fn passes(&self) -> bool {
        self.agrees() || self.unrecorded()
    }
}

fn names(v: &[TcpState]) -> String {
    if v.is_empty() {
        return "(no socket)".into();
    }
    v.iter().map(|s| s.name()).collect::<Vec<_>>().join(" → ")
}

/// The kernel's transitions of one (local, remote) pair, split into one run per socket: a
/// 4-tuple can carry several connections one after another (a port reused while its
/// TIME_WAIT lasts on the peer), and a socket's run ends at CLOSE. A transition continues
/// the oldest open run that ends in its `from` state, else starts a run.
///
/// Two ACKs racing for one request sock (a SYN,ACK answered twice) can make two children
/// (tcp_check_req on two CPUs): the one that loses (`req_stolen`) is closed at once and
/// never reaches the user. Such a run (LISTEN → SYN_RECV → CLOSE, started while another
/// run of the 4-tuple was open) is left out.
fn runs(kernel: &[KernelTransition], local: SocketAddr, remote: SocketAddr) -> Vec<Vec<TcpState>> {
    // Each run, and whether another was open when it started.
    let mut all: Vec<(Vec<TcpState>, bool)> = Vec::new();
    for k in kernel
        .iter()
        .filter(|k| k.local == local && k.remote == remote)
    {
        let open = |r: &Vec<TcpState>| r.last() != Some(&TcpState::Closed);
        match all
            .iter_mut()
            .find(|(r, _)| open(r) && r.last() == Some(&k.from))
        {
            Some((run, _)) => run.push(k.to),
            None => {
                let overlapping = all.iter().any(|(r, _)| open(r));
                all.push((vec![k.from, k.to], overlapping));
            }
        }
    }
    let stolen = [TcpState::Listen, TcpState::SynReceived, TcpState::Closed];
    all.into_iter()
        .filter(|(r, overlapping)| !(*overlapping && r[..] == stolen))
        .map(|(r, _)| r)
        .collect()
}

/// Did this run end as a timewait sock does (FIN_WAIT2 or CLOSING → CLOSE)?
fn ends_as_time_wait(run: &[TcpState]) -> bool {
    let n = run.len();
    n >= 2
        && run[n - 1] == TcpState::Closed
        && matches!(run[n - 2], TcpState::FinWait2 | TcpState::Closing)
}

/// Compare every endpoint of every connection in `events` with the kernel's trace.
///
/// The trace never shows TIME_WAIT (a timewait minisock takes over, and the socket reports
/// FIN_WAIT2 → CLOSE). Such an end reads as TIME_WAIT when `/proc/net/tcp` shows the socket
/// in TIME_WAIT at the end, and as TIME_WAIT → CLOSED when a later connection on the same
/// 4-tuple started within TIME_WAIT's 60 s: Linux lets a SYN reuse the 4-tuple of a
/// TIME_WAIT socket only by ending it (tcp_timewait_state_process's TCP_TW_SYN).
pub fn compare(
    events: &[Event],
    kernel: &[KernelTransition],
    time_wait: &HashSet<(SocketAddr, SocketAddr)>,
) -> Vec<EndpointCheck> {
    // Each 4-tuple's connections in synfin's order (connection ids follow their starts).
    let mut conns_of: HashMap<(SocketAddr, SocketAddr), Vec<ConnId>> = HashMap::new();
    for e in events {
        if let Event::Connection(v) = e {
            let key = (v.client.addr(), v.server.addr());
            conns_of.entry(key).or_default().push(v.conn);
        }
    }
    for v in conns_of.values_mut() {
        v.sort_unstable();
    }
    let mut out = Vec::new();
    for e in events {
        let Event::Connection(v) = e else { continue };
        let sides: Vec<(Endpoint, Endpoint, Role)> = if v.client == v.server {
            vec![(v.client, v.server, Role::Client)]
        } else {
            vec![
                (v.client, v.server, Role::Client),
                (v.server, v.client, Role::Server),
            ]
        };
        let siblings = &conns_of[&(v.client.addr(), v.server.addr())];
        let nth = siblings.iter().position(|c| *c == v.conn).unwrap_or(0);
        for (local, remote, role) in sides {
            let mut synfin = Vec::new();
            for e in events {
                if let Event::State(s) = e {
                    if s.conn == v.conn && s.endpoint == local && !s.projected {
                        if synfin.is_empty() {
                            synfin.push(s.from);
                        }
                        synfin.push(s.to);
                    }
                }
            }
            let all = runs(kernel, local.addr(), remote.addr());
            let later = all.len() > nth + 1;
            let mut kern = all.into_iter().nth(nth).unwrap_or_default();
            if ends_as_time_wait(&kern) {
                let n = kern.len();
                if later {
                    kern[n - 1] = TcpState::TimeWait;
                    kern.push(TcpState::Closed);
                } else if time_wait.contains(&(local.addr(), remote.addr())) {
                    kern[n - 1] = TcpState::TimeWait;
                }
            }
            out.push(EndpointCheck {
                conn: v.conn,
                endpoint: local,
                role,
                both_active: v.simultaneous_open,
                synfin,
                kernel: kern,
            });
        }
    }
    out
}

/// `kernel check: N endpoints agree` (then how many the kernel cannot record), or each
/// disagreement, then every endpoint side by side.
pub fn report(checks: &[EndpointCheck]) -> String {
    let mut s = String::new();
    let bad = checks.iter().filter(|c| !c.passes()).count();
    let unrecorded = checks.iter().filter(|c| c.unrecorded()).count();
    let agree = checks.iter().filter(|c| c.agrees()).count();
    if bad == 0 {
        let _ = writeln!(s, "kernel check: {agree} endpoints agree");
    } else {
        let _ = writeln!(
            s,
            "kernel check: {bad} of {} endpoints disagree",
            checks.len()
        );
    }
    if unrecorded > 0 {
        let _ = writeln!(
            s,
            "kernel check: {unrecorded} not compared: request sockets the kernel's trace does not record (inet_sock_set_state sees full sockets only)"
        );
    }
    for c in checks {
        let mark = if c.agrees() {
            "="
        } else if c.unrecorded() {
            "?"
        } else {
            "≠"
        };
        let kernel = if c.agrees() {
            String::new()
        } else if c.unrecorded() {
            "; kernel: no record (a request socket)".to_string()
        } else {
            format!("; kernel {}", names(&c.kernel))
        };
        let _ = writeln!(
            s,
            "  {mark} conn {} {} ({}): synfin {}{kernel}",
            c.conn,
            c.endpoint,
            if c.both_active {
                "active"
            } else {
                c.role.as_str()
            },
            names(&c.synfin),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use TcpState::*;

    fn check(role: Role, synfin: &[TcpState], kernel: &[TcpState]) -> EndpointCheck {
        EndpointCheck {
            conn: 1,
            endpoint: Endpoint::new("127.0.0.9:8899".parse().unwrap()),
            role,
            both_active: false,
            synfin: synfin.to_vec(),
            kernel: kernel.to_vec(),
        }
    }

    #[test]
    fn a_request_socket_without_a_record_is_not_compared_and_not_counted_as_agreeing() {
        let req = check(Role::Server, &[Listen, SynReceived, Closed], &[]);
        assert!(req.unrecorded() && req.passes() && !req.agrees());
        let ok = check(
            Role::Client,
            &[Closed, SynSent, Closed],
            &[Closed, SynSent, Closed],
        );
        let text = report(&[ok, req]);
        assert!(
            text.starts_with("kernel check: 1 endpoints agree\n"),
            "{text}"
        );
        assert!(text.contains("1 not compared"), "{text}");
        assert!(text.contains("? conn 1 127.0.0.9:8899 (server)"), "{text}");
    }

    fn kt(local: &str, remote: &str, from: TcpState, to: TcpState) -> KernelTransition {
        KernelTransition {
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            from,
            to,
        }
    }

    /// Seen on late-syn-ack: the client ACKed two SYN,ACKs, the two ACKs raced, and a
    /// second child was made and closed at once. Its transitions interleave with the real
    /// child's on the same 4-tuple.
    #[test]
    fn a_child_that_lost_the_race_for_its_request_is_left_out() {
        let (l, r) = ("127.0.0.9:8899", "127.0.0.1:40000");
        let kernel = [
            kt(l, r, Listen, SynReceived),
            kt(l, r, Listen, SynReceived),
            kt(l, r, SynReceived, Established),
            kt(l, r, SynReceived, Closed),
            kt(l, r, Established, CloseWait),
            kt(l, r, CloseWait, LastAck),
            kt(l, r, LastAck, Closed),
        ];
        let got = runs(&kernel, l.parse().unwrap(), r.parse().unwrap());
        assert_eq!(
            got,
            [vec![
                Listen,
                SynReceived,
                Established,
                CloseWait,
                LastAck,
                Closed
            ]]
        );
    }

    #[test]
    fn a_missing_record_is_a_disagreement_once_synfin_has_a_full_socket() {
        // Established is a full socket: the trace must have it.
        let full = check(
            Role::Server,
            &[Listen, SynReceived, Established, Closed],
            &[],
        );
        assert!(!full.passes());
        // A client never is a request socket.
        let client = check(Role::Client, &[Closed, SynSent, Closed], &[]);
        assert!(!client.passes());
        assert!(report(&[full, client]).starts_with("kernel check: 2 of 2 endpoints disagree"));
    }
}
