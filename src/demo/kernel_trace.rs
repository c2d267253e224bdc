//! The kernel's own TCP state changes, for `demo --kernel-check`: tracefs's
//! `sock/inet_sock_set_state` in a private instance, and the TIME_WAIT sockets of
//! `/proc/net/tcp{,6}` (the trace never shows TIME_WAIT: a timewait minisock takes over and
//! the socket reports FIN_WAIT2→CLOSE).

use crate::events::TcpState;
use std::collections::HashSet;
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

const TRACEFS: &str = "/sys/kernel/tracing";

/// Why the kernel's trace cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("kernel check: {what}: {source} (needs root and tracefs: mount -t tracefs nodev /sys/kernel/tracing)")]
pub struct KernelTraceError {
    what: String,
    #[source]
    source: io::Error,
}

fn err(what: impl Into<String>) -> impl FnOnce(io::Error) -> KernelTraceError {
    let what = what.into();
    move |source| KernelTraceError { what, source }
}

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

/// A running trace; stop it with `finish` (the instance is removed on drop too).
pub struct KernelTrace {
    dir: PathBuf,
}

impl KernelTrace {
    /// Start tracing the state changes of TCP sockets with one of `ports` at either end, in
    /// a private tracefs instance. The filter runs in the kernel: the instance's ring buffer
    /// overwrites its oldest events when full, and a busy machine's other TCP traffic would
    /// push the demo's out of it.
    pub fn start(ports: &[u16]) -> Result<KernelTrace, KernelTraceError> {
        let root = Path::new(TRACEFS);
        if !root.join("instances").is_dir() {
            // Mount it if this kernel has it but nobody mounted it.
            let status = std::process::Command::new("mount")
                .args(["-t", "tracefs", "nodev", TRACEFS])
                .status()
                .map_err(err("cannot run mount"))?;
            if !status.success() || !root.join("instances").is_dir() {
                return Err(KernelTraceError {
                    what: format!("tracefs is not available at {TRACEFS}"),
                    source: io::Error::from(io::ErrorKind::NotFound),
                });
            }
        }
        let dir = root.join(format!("instances/synfin-{}", std::process::id()));
        fs::create_dir(&dir).map_err(err(format!("cannot create {}", dir.display())))?;
        let trace = KernelTrace { dir };
        let ev = trace.dir.join("events/sock/inet_sock_set_state");
        let ours: Vec<String> = ports
            .iter()
            .map(|p| format!("sport == {p} || dport == {p}"))
            .collect();
        let filter = if ours.is_empty() {
            "protocol == 6".to_string()
        } else {
            format!("protocol == 6 && ({})", ours.join(" || "))
        };
        fs::write(ev.join("filter"), filter).map_err(err("cannot set the event filter"))?;
        let _ = fs::write(trace.dir.join("buffer_size_kb"), "8192");
        fs::write(ev.join("enable"), "1").map_err(err("cannot enable sock/inet_sock_set_state"))?;
        Ok(trace)
    }

    /// Stop, and return every traced change in order.
    pub fn finish(self) -> Result<Vec<KernelTransition>, KernelTraceError> {
        let ev = self.dir.join("events/sock/inet_sock_set_state");
        let _ = fs::write(ev.join("enable"), "0");
        let text =
            fs::read_to_string(self.dir.join("trace")).map_err(err("cannot read the trace"))?;
        Ok(text.lines().filter_map(parse_line).collect())
    }
}

impl Drop for KernelTrace {
    fn drop(&mut self) {
        let _ = fs::write(self.dir.join("events/sock/inet_sock_set_state/enable"), "0");
        let _ = fs::remove_dir(&self.dir);
    }
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {name}="))? + name.len() + 2;
    let rest = &line[start..];
    Some(rest.split_whitespace().next().unwrap_or(""))
}

/// A kernel state name (`TCP_FIN_WAIT1`) as ours.
pub fn kernel_state(name: &str) -> Option<TcpState> {
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

/// One `trace` line: `… inet_sock_set_state: family=AF_INET … oldstate=X newstate=Y`.
pub fn parse_line(line: &str) -> Option<KernelTransition> {
    if !line.contains("inet_sock_set_state:") {
        return None;
    }
    let v6 = field(line, "family")? == "AF_INET6";
    let (s, d) = if v6 {
        (field(line, "saddrv6")?, field(line, "daddrv6")?)
    } else {
        (field(line, "saddr")?, field(line, "daddr")?)
    };
    let ip = |a: &str| -> Option<IpAddr> { a.parse().ok() };
    let port = |p: &str| -> Option<u16> { p.parse().ok() };
    Some(KernelTransition {
        local: SocketAddr::new(ip(s)?, port(field(line, "sport")?)?),
        remote: SocketAddr::new(ip(d)?, port(field(line, "dport")?)?),
        from: kernel_state(field(line, "oldstate")?)?,
        to: kernel_state(field(line, "newstate")?)?,
    })
}

/// The (local, remote) pairs of sockets in TIME_WAIT now, from `/proc/net/tcp` and `tcp6`
/// of the calling thread's network namespace.
pub fn time_wait_sockets() -> HashSet<(SocketAddr, SocketAddr)> {
    let mut out = HashSet::new();
    for (path, v6) in [
        ("/proc/thread-self/net/tcp", false),
        ("/proc/thread-self/net/tcp6", true),
    ] {
        let Ok(text) = fs::read_to_string(path) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 4 || cols[3] != "06" {
                continue;
            }
            if let (Some(l), Some(r)) = (proc_addr(cols[1], v6), proc_addr(cols[2], v6)) {
                out.insert((l, r));
            }
        }
    }
    out
}

/// `0100007F:9383` (the address in host-order 32-bit words, the port in hex).
fn proc_addr(s: &str, v6: bool) -> Option<SocketAddr> {
    let (a, p) = s.split_once(':')?;
    let port = u16::from_str_radix(p, 16).ok()?;
    let words: Vec<u32> = (0..a.len() / 8)
        .map(|i| u32::from_str_radix(&a[i * 8..i * 8 + 8], 16).map(u32::from_be))
        .collect::<Result<_, _>>()
        .ok()?;
    let ip: IpAddr = if v6 {
        let mut b = [0u8; 16];
        for (i, w) in words.iter().enumerate().take(4) {
            b[i * 4..i * 4 + 4].copy_from_slice(&w.to_be_bytes());
        }
        Ipv6Addr::from(b).into()
    } else {
        Ipv4Addr::from(words.first()?.to_be_bytes()).into()
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_trace_lines_and_proc_addresses() {
        let line = "  synfin-5579 [001] ..s2.  2465.295270: inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP sport=8897 dport=37763 saddr=127.0.0.9 daddr=127.0.0.1 saddrv6=::ffff:127.0.0.9 daddrv6=::ffff:127.0.0.1 oldstate=TCP_LISTEN newstate=TCP_SYN_RECV";
        let t = parse_line(line).unwrap();
        assert_eq!(t.local, "127.0.0.9:8897".parse().unwrap());
        assert_eq!(t.remote, "127.0.0.1:37763".parse().unwrap());
        assert_eq!((t.from, t.to), (TcpState::Listen, TcpState::SynReceived));
        assert_eq!(
            proc_addr("0100007F:9383", false),
            Some("127.0.0.1:37763".parse().unwrap())
        );
        assert_eq!(
            proc_addr("00000000000000000000000001000000:22B8", true),
            Some("[::1]:8888".parse().unwrap())
        );
    }
}
