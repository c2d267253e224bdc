//! `--kernel-check`: each endpoint's inferred state sequence beside the kernel's own.
//! Pure: the trace and the TIME_WAIT sockets are read by `capture::tracefs` and
//! `capture::proc_net`.

use super::KernelTransition;
use crate::events::{ConnId, Endpoint, Event, Role, TcpState};
use std::collections::HashSet;
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
    /// The kernel's, with a final FIN_WAIT_2/CLOSING→CLOSE read as TIME_WAIT when
    /// /proc/net/tcp shows the socket in TIME_WAIT.
    pub kernel: Vec<TcpState>,
}

impl EndpointCheck {
    /// Same sequence?
    pub fn agrees(&self) -> bool {
        self.synfin == self.kernel
    }
}

fn names(v: &[TcpState]) -> String {
    if v.is_empty() {
        return "(no socket)".into();
    }
    v.iter().map(|s| s.name()).collect::<Vec<_>>().join(" → ")
}

/// Compare every endpoint of every connection in `events` with the kernel's trace.
pub fn compare(
    events: &[Event],
    kernel: &[KernelTransition],
    time_wait: &HashSet<(SocketAddr, SocketAddr)>,
) -> Vec<EndpointCheck> {
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
            let mut kern = Vec::new();
            for k in kernel {
                if k.local == local.0 && k.remote == remote.0 {
                    if kern.is_empty() {
                        kern.push(k.from);
                    }
                    kern.push(k.to);
                }
            }
            let n = kern.len();
            if n >= 2
                && kern[n - 1] == TcpState::Closed
                && matches!(kern[n - 2], TcpState::FinWait2 | TcpState::Closing)
                && time_wait.contains(&(local.0, remote.0))
            {
                kern[n - 1] = TcpState::TimeWait;
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

/// `kernel check: N endpoints agree`, or each disagreement, then every endpoint side by side.
pub fn report(checks: &[EndpointCheck]) -> String {
    let mut s = String::new();
    let bad: Vec<&EndpointCheck> = checks.iter().filter(|c| !c.agrees()).collect();
    if bad.is_empty() {
        let _ = writeln!(s, "kernel check: {} endpoints agree", checks.len());
    } else {
        let _ = writeln!(
            s,
            "kernel check: {} of {} endpoints disagree",
            bad.len(),
            checks.len()
        );
    }
    for c in checks {
        let _ = writeln!(
            s,
            "  {} conn {} {} ({}): synfin {}{}",
            if c.agrees() { "=" } else { "≠" },
            c.conn,
            c.endpoint,
            if c.both_active {
                "active"
            } else {
                c.role.as_str()
            },
            names(&c.synfin),
            if c.agrees() {
                String::new()
            } else {
                format!("; kernel {}", names(&c.kernel))
            }
        );
    }
    s
}
