//! The kernel's socket tables as procfs shows them: `/proc/net/tcp{,6}` (each socket's
//! addresses, state and inode) and `/proc/PID/fd` (which process holds which socket inode).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One TCP socket of `/proc/net/tcp{,6}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcSocket {
    /// Its own address.
    pub local: SocketAddr,
    /// Its peer (port 0 for a listener).
    pub remote: SocketAddr,
    /// The kernel's state number (`include/net/tcp_states.h`).
    pub state: u8,
    /// Its inode (0 for TIME_WAIT and request sockets, which no file holds).
    pub inode: u64,
}

/// Every TCP socket of the calling thread's network namespace.
pub fn tcp_sockets() -> Vec<ProcSocket> {
    let mut out = Vec::new();
    for (path, v6) in [
        ("/proc/thread-self/net/tcp", false),
        ("/proc/thread-self/net/tcp6", true),
    ] {
        let Ok(text) = fs::read_to_string(path) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 10 {
                continue;
            }
            let (Some(local), Some(remote)) = (proc_addr(cols[1], v6), proc_addr(cols[2], v6))
            else {
                continue;
            };
            let (Ok(state), Ok(inode)) = (u8::from_str_radix(cols[3], 16), cols[9].parse()) else {
                continue;
            };
            out.push(ProcSocket {
                local,
                remote,
                state,
                inode,
            });
        }
    }
    out
}

/// The (local, remote) pairs of sockets in TIME_WAIT now.
pub fn time_wait_sockets() -> HashSet<(SocketAddr, SocketAddr)> {
    tcp_sockets()
        .into_iter()
        .filter(|s| s.state == 6)
        .map(|s| (s.local, s.remote))
        .collect()
}

/// Which process (pid, its name) holds each socket inode, from every `/proc/PID/fd`.
pub fn socket_holders() -> HashMap<u64, (u32, String)> {
    let mut out = HashMap::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return out;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        let comm = fs::read(p.path().join("comm"))
            .map(|c| String::from_utf8_lossy(&c).trim_end().to_string())
            .unwrap_or_default();
        for fd in fds.flatten() {
            let Ok(target) = fs::read_link(fd.path()) else {
                continue;
            };
            let Some(inode) = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok())
            else {
                continue;
            };
            out.entry(inode).or_insert_with(|| (pid, comm.clone()));
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
        // A dual-stack socket's IPv4 peer (::ffff:a.b.c.d) is IPv4 on the wire.
        let a = Ipv6Addr::from(b);
        a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4)
    } else {
        Ipv4Addr::from(words.first()?.to_be_bytes()).into()
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_addresses() {
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
