//! A private network namespace for the scenarios whose segments must cross or be lost, and
//! the ways used in it (this kernel has no netem): a token-bucket qdisc so slow that every
//! segment waits in it (crossed SYNs, crossed FINs), an nftables rule on the input hook that drops the first copy
//! of one segment after the capture point (the capture sees it, its receiver never does),
//! and the namespace's own TCP sysctls. Nothing here touches the host's own network.

use std::io::{self, Write};
use std::process::{Command, Stdio};

/// Move the calling thread (and the threads it starts later) into a new network namespace
/// with its loopback up. Needs CAP_SYS_ADMIN.
pub fn enter_private_netns() -> io::Result<()> {
    // SAFETY: unshare(2) on the calling thread only; no memory is shared with the kernel.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    loopback_up()
}

/// `ip link set lo up`, by ioctl.
fn loopback_up() -> io::Result<()> {
    // SAFETY: a datagram socket used only for the two interface ioctls below, then closed.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: ifreq is plain old data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in b"lo\0".iter().enumerate() {
        req.ifr_name[i] = *b as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write `req`, which lives across both calls.
    let rc = unsafe {
        if libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req) != 0 {
            -1
        } else {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &mut req)
        }
    };
    let e = io::Error::last_os_error();
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    if rc != 0 {
        return Err(e);
    }
    Ok(())
}

/// Run `tool` (from Debian package `package`) with `args`, `input` on its stdin.
fn run(tool: &str, package: &str, args: &[&str], input: &str) -> io::Result<()> {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot run {tool} (Debian package {package}): {e}"),
            )
        })?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{tool} {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn tc(args: &[&str]) -> io::Result<()> {
    run("tc", "iproute2", args, "")
}

fn nft(script: &str) -> io::Result<()> {
    run("nft", "nftables", &["-f", "-"], script)
}

/// The token bucket's size in bytes: a SYN fits.
const BUCKET: usize = 128;
/// Frames sent to empty it: together more than the bucket holds (whatever rounding tc and
/// the kernel apply to its size), each far smaller than it.
const DRAIN: [usize; 4] = [64; 4];

/// While this lives, everything leaving loopback (in this namespace) passes a token bucket
/// of 8 kbit/s (`tc qdisc … tbf`): a SYN waits about 75 ms in it, so two sockets that
/// connect() to each other at once both have their SYN in flight before either arrives.
pub struct SlowLoopback {
    /// Receives the datagrams that empty the bucket; it lives as long as the qdisc, so that
    /// none of them meets a closed port (its ICMP answer would queue behind the SYNs).
    _sink: std::net::UdpSocket,
}

impl SlowLoopback {
    /// Install the qdisc and empty its bucket (it starts full, and would let the first SYN
    /// through at once): a few datagrams to a socket of our own (no ICMP answer to queue)
    /// leave the bucket empty and a short queue in it, which every later frame waits behind.
    pub fn install() -> io::Result<SlowLoopback> {
        let sink = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let udp = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let to = sink.local_addr()?;
        let burst = BUCKET.to_string();
        tc(&[
            "qdisc", "add", "dev", "lo", "root", "tbf", "rate", "8kbit", "burst", &burst, "limit",
            "8192",
        ])?;
        let guard = SlowLoopback { _sink: sink };
        for frame in DRAIN {
            // Ethernet 14 + IPv4 20 + UDP 8 + payload = `frame` bytes.
            udp.send_to(&vec![0u8; frame - 42], to)?;
        }
        Ok(guard)
    }
}

impl Drop for SlowLoopback {
    fn drop(&mut self) {
        let _ = tc(&["qdisc", "del", "dev", "lo", "root"]);
    }
}

/// The one segment an `InputDrop` loses, by the demo server's port.
#[derive(Debug, Clone, Copy)]
pub enum FirstCopy {
    /// The server's SYN,ACK (the client never gets the first one).
    SynAckFrom(u16),
    /// A FIN sent to the server.
    FinTo(u16),
    /// A data segment sent to the server (PSH, no SYN, FIN or RST).
    DataTo(u16),
    /// A bare ACK sent to the server (no data, SYN, FIN, RST or PSH): a final ACK.
    AckTo(u16),
}

/// While this lives, the first copy of one kind of segment is dropped on the input hook:
/// after `lo`'s capture tap (a frame is captured on its way out and again on its way in,
/// before IP takes it), so the capture shows a segment its receiver never got.
pub struct InputDrop(());

impl InputDrop {
    /// Install the rule (in the calling thread's namespace). `quota until 100 bytes` lets the
    /// rule match while fewer than 100 bytes have passed it, counting the one at hand: the
    /// first copy (a SYN,ACK is 60 bytes over IPv4, 80 over IPv6; a FIN 52 or 72; the
    /// scenarios' data segments under 96) matches, the second pushes the count past 100 and
    /// every later one passes.
    pub fn install(what: FirstCopy) -> io::Result<InputDrop> {
        let m = match what {
            FirstCopy::SynAckFrom(p) => format!("tcp sport {p} tcp flags & (syn|ack) == syn|ack"),
            FirstCopy::FinTo(p) => format!("tcp dport {p} tcp flags & fin == fin"),
            FirstCopy::DataTo(p) => {
                format!("tcp dport {p} tcp flags & (fin|syn|rst|psh) == psh")
            }
            FirstCopy::AckTo(p) => {
                format!("tcp dport {p} tcp flags & (fin|syn|rst|psh|ack) == ack")
            }
        };
        nft(&format!(
            "table inet synfin_loss {{\n  chain in {{\n    type filter hook input priority 0; policy accept;\n    {m} quota until 100 bytes drop\n  }}\n}}\n"
        ))?;
        Ok(InputDrop(()))
    }
}

impl Drop for InputDrop {
    fn drop(&mut self) {
        let _ = nft("delete table inet synfin_loss\n");
    }
}

/// While this lives, a TCP sysctl of the calling thread's namespace (`net.ipv4.NAME`) has
/// another value; the old one comes back on drop.
pub struct Sysctl {
    path: String,
    old: String,
}

impl Sysctl {
    /// Set `net.ipv4.NAME` to `value`.
    pub fn set(name: &str, value: &str) -> io::Result<Sysctl> {
        // Net sysctls are looked up in the opening thread's namespace.
        let path = format!("/proc/sys/net/ipv4/{name}");
        let old = std::fs::read_to_string(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot read {path}: {e}")))?;
        std::fs::write(&path, value)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot write {path}: {e}")))?;
        Ok(Sysctl {
            path,
            old: old.trim().to_string(),
        })
    }
}

impl Drop for Sysctl {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.path, &self.old);
    }
}
