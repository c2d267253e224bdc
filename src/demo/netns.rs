//! A private network namespace for the scenarios whose segments must cross, and the two ways
//! used in it to get two segments in flight at once (this kernel has no netem): an nftables
//! rule that drops FINs for a moment (both ends retransmit in the same timer tick), and a
//! token-bucket qdisc so slow that every segment waits in it. Nothing here touches the
//! host's own network.

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

/// While this lives, every TCP FIN leaving this namespace is dropped.
pub struct FinDrop(());

impl FinDrop {
    /// Install the rule (in the calling thread's namespace).
    pub fn install() -> io::Result<FinDrop> {
        nft("table inet synfin_demo {\n  chain out {\n    type filter hook output priority 0; policy accept;\n    tcp flags & fin == fin drop\n  }\n}\n")?;
        Ok(FinDrop(()))
    }
}

impl Drop for FinDrop {
    fn drop(&mut self) {
        let _ = nft("delete table inet synfin_demo\n");
    }
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
