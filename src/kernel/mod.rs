//! The kernel's own view of TCP sockets, from its tracepoints: the socket calls each process
//! made and each socket's state changes (`watch`'s call tracing, `--kernel-check`). Pure:
//! tracefs is read by `capture::tracefs`; here its lines become calls and transitions.

pub mod check;
pub mod event_format;
pub mod ring_page;
pub mod socket_calls;
pub mod trace_line;

use crate::events::TcpState;
use std::net::SocketAddr;

/// One state change of one kernel socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelTransition {
    /// The socket's own address.
    pub local: SocketAddr,
    /// Its peer (port 0 for a listener).
    pub remote: SocketAddr,
    /// Before.
    pub from: TcpState,
    /// After.
    pub to: TcpState,
}

/// A kernel state number (`include/net/tcp_states.h`) as ours.
pub fn state_number(n: i64) -> Option<TcpState> {
    Some(match n {
        1 => TcpState::Established,
        2 => TcpState::SynSent,
        3 | 12 => TcpState::SynReceived,
        4 => TcpState::FinWait1,
        5 => TcpState::FinWait2,
        6 => TcpState::TimeWait,
        7 => TcpState::Closed,
        8 => TcpState::CloseWait,
        9 => TcpState::LastAck,
        10 => TcpState::Listen,
        11 => TcpState::Closing,
        _ => return None,
    })
}

/// A kernel state name (`TCP_FIN_WAIT1`) as ours.
pub fn state_name(name: &str) -> Option<TcpState> {
    Some(match name {
        "TCP_ESTABLISHED" => TcpState::Established,
        "TCP_SYN_SENT" => TcpState::SynSent,
        "TCP_SYN_RECV" | "TCP_NEW_SYN_RECV" => TcpState::SynReceived,
        "TCP_FIN_WAIT1" => TcpState::FinWait1,
        "TCP_FIN_WAIT2" => TcpState::FinWait2,
        "TCP_TIME_WAIT" => TcpState::TimeWait,
        "TCP_CLOSE" => TcpState::Closed,
        "TCP_CLOSE_WAIT" => TcpState::CloseWait,
        "TCP_LAST_ACK" => TcpState::LastAck,
        "TCP_LISTEN" => TcpState::Listen,
        "TCP_CLOSING" => TcpState::Closing,
        _ => return None,
    })
}
