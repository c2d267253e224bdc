//! A trace record (`Record`: built from `watch`'s binary ring by `event_format`, or, in tests,
//! parsed from a recorded text trace), and one line of a tracefs `trace` in the two text
//! shapes: the events' own print format (`demo --kernel-check` reads `inet_sock_set_state`
//! that way), and the `fields` option with `record-tgid` and unhashed pointers (the recorded
//! trace the tests replay), where every field is `name=0xHEX (DECIMAL)`:
//!
//! ```text
//! python3-11102 (  11059) [000] .....  9445.936177: sock_send_length: sk=0xffff8881d9c90940 (-131383690720960) family=0x2 (2) protocol=0x6 (6) ret=0x5 (5) flags=0x0 (0)
//! ```

use super::{state_name, KernelTransition};
use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// One event in the `fields` shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// The trace clock's time, in nanoseconds (the text has microseconds).
    pub t_ns: i64,
    /// The current task's name.
    pub comm: &'a str,
    /// The current task's id (a thread id).
    pub tid: u32,
    /// Its process (thread group) id, when recorded.
    pub tgid: Option<u32>,
    /// Recorded in interrupt context (softirq or hardirq): the current task is whoever was
    /// interrupted, not the socket's owner.
    pub in_irq: bool,
    /// `sock_send_length`, `sys_enter_connect`, …
    pub event: &'a str,
    fields: Cow<'a, [(&'a str, u64, i64)]>,
}

impl<'a> Record<'a> {
    /// A record from its parts (the binary trace's, decoded by `event_format`).
    pub fn new(
        t_ns: i64,
        comm: &'a str,
        tid: u32,
        tgid: Option<u32>,
        in_irq: bool,
        event: &'a str,
        fields: &'a [(&'a str, u64, i64)],
    ) -> Record<'a> {
        Record {
            t_ns,
            comm,
            tid,
            tgid,
            in_irq,
            event,
            fields: Cow::Borrowed(fields),
        }
    }

    /// A field's value as an unsigned number (its hex form: pointers, addresses).
    pub fn hex(&self, name: &str) -> Option<u64> {
        self.fields.iter().find(|f| f.0 == name).map(|f| f.1)
    }

    /// A field's value as a signed number (its decimal form: return values, fds).
    pub fn int(&self, name: &str) -> Option<i64> {
        self.fields.iter().find(|f| f.0 == name).map(|f| f.2)
    }

    /// An IPv6 address field (`__u8[16]`, decoded from the binary trace as two halves).
    pub fn ipv6(&self, name: &str) -> Option<std::net::Ipv6Addr> {
        let lo = self.hex(&format!("{name}.0"))?;
        let hi = self.hex(&format!("{name}.1"))?;
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&lo.to_le_bytes());
        b[8..].copy_from_slice(&hi.to_le_bytes());
        Some(std::net::Ipv6Addr::from(b))
    }

    /// An IPv4 address field (`__u8[4]`, printed as one little-endian number).
    pub fn ipv4(&self, name: &str) -> Option<Ipv4Addr> {
        let v = self.hex(name)?;
        Some(Ipv4Addr::from((v as u32).to_le_bytes()))
    }
}

/// Parse one `fields`-shaped line (None for headers, lost-event notices and anything else):
/// the shape of the recorded trace the tests replay (`tests/calls/echo_calls.trace`); `watch`
/// reads the binary ring (`event_format`).
#[cfg(test)]
pub fn parse_record(line: &str) -> Option<Record<'_>> {
    // "<comm>-<tid> (<tgid>) [cpu] flags secs.usecs: event: fields"
    let open = line.find(" (")?;
    let task = line[..open].trim();
    let (comm, tid) = task.rsplit_once('-')?;
    let tid = tid.parse().ok()?;
    let rest = &line[open + 2..];
    let close = rest.find(')')?;
    let tgid = rest[..close].trim().parse().ok();
    let rest = rest[close + 1..].trim_start();
    let rest = rest.strip_prefix('[')?;
    let rest = rest[rest.find(']')? + 1..].trim_start();
    let (flags, rest) = rest.split_once(' ')?;
    let in_irq = flags
        .as_bytes()
        .get(2)
        .is_some_and(|&b| matches!(b, b's' | b'h' | b'H'));
    let rest = rest.trim_start();
    let (time, rest) = rest.split_once(": ")?;
    let (secs, usecs) = time.split_once('.')?;
    if usecs.len() != 6 {
        return None;
    }
    let t_ns = secs.parse::<i64>().ok()? * 1_000_000_000 + usecs.parse::<i64>().ok()? * 1_000;
    let (event, rest) = rest
        .split_once(": ")
        .unwrap_or((rest.trim_end_matches(':'), ""));
    let mut fields = Vec::new();
    let mut tokens = rest.split_whitespace();
    while let Some(tok) = tokens.next() {
        let Some((name, value)) = tok.split_once('=') else {
            continue;
        };
        let Some(hex) = value.strip_prefix("0x") else {
            continue;
        };
        let Ok(hex) = u64::from_str_radix(hex, 16) else {
            continue;
        };
        let dec = tokens
            .next()
            .and_then(|d| d.strip_prefix('(')?.strip_suffix(')')?.parse().ok())
            .unwrap_or(hex as i64);
        fields.push((name, hex, dec));
    }
    Some(Record {
        t_ns,
        comm: comm.trim(),
        tid,
        tgid,
        in_irq,
        event,
        fields: Cow::Owned(fields),
    })
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {name}="))? + name.len() + 2;
    let rest = &line[start..];
    Some(rest.split_whitespace().next().unwrap_or(""))
}

/// One `inet_sock_set_state` line in the event's own print format: `… inet_sock_set_state:
/// family=AF_INET … oldstate=X newstate=Y`.
pub fn parse_state_line(line: &str) -> Option<KernelTransition> {
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
        from: state_name(field(line, "oldstate")?)?,
        to: state_name(field(line, "newstate")?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::TcpState;

    #[test]
    fn parses_the_print_format() {
        let line = "  synfin-5579 [001] ..s2.  2465.295270: inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP sport=8897 dport=37763 saddr=127.0.0.9 daddr=127.0.0.1 saddrv6=::ffff:127.0.0.9 daddrv6=::ffff:127.0.0.1 oldstate=TCP_LISTEN newstate=TCP_SYN_RECV";
        let t = parse_state_line(line).unwrap();
        assert_eq!(t.local, "127.0.0.9:8897".parse().unwrap());
        assert_eq!(t.remote, "127.0.0.1:37763".parse().unwrap());
        assert_eq!((t.from, t.to), (TcpState::Listen, TcpState::SynReceived));
    }

    #[test]
    fn parses_the_fields_format() {
        let line = "         python3-11059   (  11059) [000] ..s2.  9445.931968: inet_sock_set_state: skaddr=0xffff8881d9c90940 (-131383690720960) oldstate=0x3 (3) newstate=0x1 (1) sport=0x1e61 (7777) dport=0xcd5a (52570) family=0x2 (2) protocol=0x6 (6) saddr=0x100007f (16777343) daddr=0x900007f (150994815) saddr_v6=<INVALID-SIZE> daddr_v6=<INVALID-SIZE>";
        let r = parse_record(line).unwrap();
        assert_eq!((r.comm, r.tid, r.tgid), ("python3", 11059, Some(11059)));
        assert!(r.in_irq);
        assert_eq!(r.t_ns, 9_445_931_968_000);
        assert_eq!(r.event, "inet_sock_set_state");
        assert_eq!(r.hex("skaddr"), Some(0xffff_8881_d9c9_0940));
        assert_eq!(r.int("sport"), Some(7777));
        assert_eq!(r.ipv4("saddr"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(r.ipv4("daddr"), Some(Ipv4Addr::new(127, 0, 0, 9)));
        let exit = "  my-app-with-dashes-77 (  70) [001] .....  12.000001: sys_exit_connect: __syscall_nr=0x2a (42) ret=0xffffffffffffff91 (-111)";
        let r = parse_record(exit).unwrap();
        assert_eq!(
            (r.comm, r.tid, r.tgid),
            ("my-app-with-dashes", 77, Some(70))
        );
        assert!(!r.in_irq);
        assert_eq!(r.int("ret"), Some(-111));
        // The tgid is not always known.
        let r = parse_record("  kworker/0:1-12 (-------) [000] ..... 1.000000: sys_exit_close: __syscall_nr=0x3 (3) ret=0x0 (0)").unwrap();
        assert_eq!(r.tgid, None);
        assert_eq!(parse_record("# tracer: nop"), None);
        assert_eq!(parse_record("CPU:1 [LOST 12 EVENTS]"), None);
    }
}
