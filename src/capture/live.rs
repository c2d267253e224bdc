//! Live capture with pnet's datalink channel, on a packet socket we open ourselves.
//!
//! The only file that imports pnet. On `lo`, AF_PACKET delivers every segment twice (outgoing
//! and incoming copies) and pnet's `next()` drops the packet type that would tell them apart,
//! so we set `PACKET_IGNORE_OUTGOING` on our own socket and hand it to pnet through
//! `Config::socket_fd`: each segment arrives exactly once. pnet also has no timestamps, so we
//! ask the kernel for each frame's (`SIOCGSTAMPNS`), no drop counter, so we read
//! `PACKET_STATISTICS`, and a 4 KiB default read buffer, which would cut lo's 64 KiB frames.

use super::CaptureError;
use crate::frame::{Frame, LinkType};
use crate::timestamp::Timestamp;
use pnet::datalink::{self, Channel, DataLinkReceiver};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `SOL_PACKET` option: do not deliver our host's outgoing packets (Linux 4.20+).
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
/// `SOL_PACKET` option: `struct tpacket_stats`, reset on every read.
const PACKET_STATISTICS: libc::c_int = 6;
/// ioctl: the kernel timestamp of the last packet read, as a `timespec`.
const SIOCGSTAMPNS: libc::c_ulong = 0x8907;
/// Receive buffer asked for: a loopback flood must not overflow it.
const RCVBUF: libc::c_int = 32 << 20;
/// Largest frame on lo is 65,549 bytes; leave room.
const READ_BUFFER: usize = 262_144;
/// How long a read may block before the stop flag and deadline are checked again.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

#[repr(C)]
#[derive(Default)]
struct TpacketStats {
    tp_packets: libc::c_uint,
    tp_drops: libc::c_uint,
}

/// How frames are read.
enum Rx {
    /// One interface, through pnet (which owns the socket).
    Pnet(Box<dyn DataLinkReceiver>),
    /// Every interface (`-i any`): a cooked (SOCK_DGRAM) socket read here, each packet given
    /// a Linux cooked-capture (SLL) header as `tcpdump -i any` does.
    Cooked,
}

/// The length of a Linux cooked-capture (LINKTYPE_LINUX_SLL) header.
const SLL_LEN: usize = 16;

/// A live capture on one interface, or on all of them (`any`).
pub struct LiveSource {
    iface: String,
    fd: libc::c_int,
    rx: Rx,
    link: LinkType,
    stop: Arc<AtomicBool>,
    deadline: Option<Instant>,
    next_number: u64,
    drops: u64,
    /// The last frame, copied out of pnet's buffer, and its kernel timestamp.
    frame: Vec<u8>,
    frame_ts: Timestamp,
}

impl std::fmt::Debug for LiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSource")
            .field("iface", &self.iface)
            .finish()
    }
}

impl LiveSource {
    /// Open a capture on `iface`. It ends when `stop` is set or `duration` has passed.
    pub fn open(
        iface: &str,
        stop: Arc<AtomicBool>,
        duration: Option<Duration>,
    ) -> Result<LiveSource, CaptureError> {
        if iface == "any" {
            return Self::open_any(stop, duration);
        }
        let interfaces = datalink::interfaces();
        let Some(ni) = interfaces.iter().find(|i| i.name == iface) else {
            let mut names: Vec<&str> = interfaces.iter().map(|i| i.name.as_str()).collect();
            names.sort_unstable();
            return Err(CaptureError::NoSuchInterface {
                iface: iface.into(),
                available: names.join(", "),
            });
        };
        let live_err = |what: &'static str, source: io::Error| CaptureError::Live {
            iface: iface.into(),
            what,
            source,
        };
        // SAFETY: plain socket(2); the result is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW,
                i32::from((libc::ETH_P_ALL as u16).to_be()),
            )
        };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return Err(match e.kind() {
                io::ErrorKind::PermissionDenied => CaptureError::PermissionDenied {
                    iface: iface.into(),
                },
                _ => live_err("socket(AF_PACKET)", e),
            });
        }
        let setup = || -> Result<(), CaptureError> {
            setsockopt(fd, libc::SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
                .map_err(|e| live_err("PACKET_IGNORE_OUTGOING", e))?;
            // SO_RCVBUFFORCE needs CAP_NET_ADMIN; fall back to what the limit allows.
            if setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, RCVBUF).is_err() {
                setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, RCVBUF)
                    .map_err(|e| live_err("SO_RCVBUF", e))?;
            }
            // The first SIOCGSTAMPNS turns on per-packet stamps (SOCK_TIMESTAMP) and fails
            // with ENOENT; later ones return each frame's. (SO_TIMESTAMPNS would instead send
            // the stamp as a control message, which pnet's recvfrom never reads.)
            let _ = kernel_timestamp(fd);
            Ok(())
        };
        if let Err(e) = setup() {
            // SAFETY: fd is ours and not yet handed to pnet.
            unsafe { libc::close(fd) };
            return Err(e);
        }
        let config = datalink::Config {
            read_buffer_size: READ_BUFFER,
            read_timeout: Some(POLL_INTERVAL),
            socket_fd: Some(fd),
            ..Default::default()
        };
        // pnet binds the socket to the interface and owns (and closes) it from here on.
        let rx = match datalink::channel(ni, config) {
            Ok(Channel::Ethernet(_tx, rx)) => rx,
            Ok(_) => {
                return Err(live_err(
                    "datalink channel",
                    io::Error::other("not an Ethernet-like channel"),
                ))
            }
            Err(e) => return Err(live_err("datalink channel", e)),
        };
        let link = link_type_of(iface);
        let mut src = LiveSource {
            iface: iface.into(),
            fd,
            rx: Rx::Pnet(rx),
            link,
            stop,
            deadline: duration.map(|d| Instant::now() + d),
            next_number: 1,
            drops: 0,
            frame: Vec::with_capacity(READ_BUFFER),
            frame_ts: Timestamp(0),
        };
        // Packets queued between socket() and bind() may come from any interface: discard.
        src.read_drops();
        src.drops = 0;
        Ok(src)
    }

    /// `-i any`: every interface, cooked. Outgoing copies are kept (a host's own sends on
    /// other interfaces are seen only so), except on loopback, where each packet would
    /// otherwise come twice.
    fn open_any(
        stop: Arc<AtomicBool>,
        duration: Option<Duration>,
    ) -> Result<LiveSource, CaptureError> {
        let live_err = |what: &'static str, source: io::Error| CaptureError::Live {
            iface: "any".into(),
            what,
            source,
        };
        // SAFETY: plain socket(2); the result is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_DGRAM,
                i32::from((libc::ETH_P_ALL as u16).to_be()),
            )
        };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return Err(match e.kind() {
                io::ErrorKind::PermissionDenied => CaptureError::PermissionDenied {
                    iface: "any".into(),
                },
                _ => live_err("socket(AF_PACKET)", e),
            });
        }
        if setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, RCVBUF).is_err() {
            if let Err(e) = setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, RCVBUF) {
                // SAFETY: fd is ours.
                unsafe { libc::close(fd) };
                return Err(live_err("SO_RCVBUF", e));
            }
        }
        let _ = kernel_timestamp(fd);
        Ok(LiveSource {
            iface: "any".into(),
            fd,
            rx: Rx::Cooked,
            link: LinkType::LINUX_SLL,
            stop,
            deadline: duration.map(|d| Instant::now() + d),
            next_number: 1,
            drops: 0,
            frame: vec![0; SLL_LEN + READ_BUFFER],
            frame_ts: Timestamp(0),
        })
    }

    /// One packet from the cooked socket into `frame`, behind its SLL header; `Ok(false)`
    /// when none is waiting.
    fn read_cooked(&mut self) -> io::Result<bool> {
        loop {
            self.frame.resize(SLL_LEN + READ_BUFFER, 0);
            // SAFETY: zeroed sockaddr_ll is a valid value; recvfrom gets its true size.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: the buffer and the address are ours and as large as we say.
            let n = unsafe {
                libc::recvfrom(
                    self.fd,
                    self.frame[SLL_LEN..].as_mut_ptr().cast(),
                    READ_BUFFER,
                    libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                    (&mut sll as *mut libc::sockaddr_ll).cast(),
                    &mut len,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(false),
                    _ => Err(e),
                };
            }
            // Loopback: each packet is seen leaving and arriving; keep the arrival.
            if sll.sll_pkttype == libc::PACKET_OUTGOING && sll.sll_hatype == libc::ARPHRD_LOOPBACK {
                continue;
            }
            let n = (n as usize).min(READ_BUFFER);
            let mut h = [0u8; SLL_LEN];
            h[0..2].copy_from_slice(&u16::from(sll.sll_pkttype).to_be_bytes());
            h[2..4].copy_from_slice(&sll.sll_hatype.to_be_bytes());
            h[4..6].copy_from_slice(&u16::from(sll.sll_halen).to_be_bytes());
            h[6..14].copy_from_slice(&sll.sll_addr);
            h[14..16].copy_from_slice(&sll.sll_protocol.to_ne_bytes());
            self.frame[..SLL_LEN].copy_from_slice(&h);
            self.frame.truncate(SLL_LEN + n);
            return Ok(true);
        }
    }

    /// The link type frames carry (`lo` and Ethernet devices: EN10MB).
    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// Install a classic BPF program on the socket (SO_ATTACH_FILTER): the kernel then
    /// drops what it rejects before it is copied. Frames queued before it are still read;
    /// the caller filters them too.
    pub fn set_filter(&mut self, prog: &[libc::sock_filter]) -> Result<(), CaptureError> {
        // As libpcap does: reject everything, drop what was queued before, then filter. So
        // no frame the program rejects is read after this returns.
        let reject_all = [libc::sock_filter {
            code: 0x06, // BPF_RET | BPF_K
            jt: 0,
            jf: 0,
            k: 0,
        }];
        self.attach(&reject_all)?;
        let mut buf = [0u8; 64];
        // SAFETY: recv into a local buffer on our own socket, without blocking.
        while unsafe {
            libc::recv(
                self.fd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        } >= 0
        {}
        self.attach(prog)
    }

    fn attach(&self, prog: &[libc::sock_filter]) -> Result<(), CaptureError> {
        let fprog = libc::sock_fprog {
            len: u16::try_from(prog.len()).map_err(|_| {
                self.live_err("SO_ATTACH_FILTER", io::Error::other("program too long"))
            })?,
            filter: prog.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: fprog points at `prog`, alive for the call; the kernel copies it.
        let r = unsafe {
            libc::setsockopt(
                self.fd,
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&fprog as *const libc::sock_fprog).cast(),
                std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(self.live_err("SO_ATTACH_FILTER", io::Error::last_os_error()));
        }
        Ok(())
    }

    fn live_err(&self, what: &'static str, source: io::Error) -> CaptureError {
        CaptureError::Live {
            iface: self.iface.clone(),
            what,
            source,
        }
    }

    /// The interface name.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// Frames the kernel dropped so far.
    pub fn kernel_drops(&mut self) -> u64 {
        self.read_drops();
        self.drops
    }

    fn read_drops(&mut self) {
        let mut st = TpacketStats::default();
        let mut len = std::mem::size_of::<TpacketStats>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `st`, a repr(C) tpacket_stats.
        let rc = unsafe {
            libc::getsockopt(
                self.fd,
                libc::SOL_PACKET,
                PACKET_STATISTICS,
                (&mut st as *mut TpacketStats).cast(),
                &mut len,
            )
        };
        if rc == 0 {
            self.drops += u64::from(st.tp_drops);
        }
    }

    /// Ask the source to stop at its next poll (also what Ctrl-C does).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// The next frame; `None` once stopped (flag or deadline), checked every `POLL_INTERVAL`.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        loop {
            match self.poll()? {
                Polled::Idle => continue,
                Polled::Stopped => return Ok(None),
                Polled::Frame => return Ok(Some(self.frame())),
            }
        }
    }

    /// Wait up to `POLL_INTERVAL` for a frame (then read it with `frame`).
    pub fn poll(&mut self) -> Result<Polled, CaptureError> {
        self.poll_for(Some(POLL_INTERVAL))
    }

    /// Wait up to `timeout` (`None`: until a frame comes, Ctrl-C, or `--duration` ends) for a
    /// frame, then read it with `frame`. A signal ends the wait at once (poll(2) is never
    /// restarted), so a long wait costs no promptness.
    pub fn poll_for(&mut self, timeout: Option<Duration>) -> Result<Polled, CaptureError> {
        let now = Instant::now();
        if self.stop.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| now >= d) {
            return Ok(Polled::Stopped);
        }
        let until_end = self.deadline.map(|d| d - now);
        let wait = match (timeout, until_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let ms = wait.map_or(-1, |w| {
            libc::c_int::try_from(w.as_millis() + u128::from(w.subsec_nanos() % 1_000_000 != 0))
                .unwrap_or(libc::c_int::MAX)
        });
        let mut pfd = libc::pollfd {
            fd: self.fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the socket we own for the lifetime of `self`.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n == 0 || (n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted) {
            return Ok(Polled::Idle);
        }
        let got = match &mut self.rx {
            Rx::Cooked => self.read_cooked().map(|got| got.then_some(())),
            Rx::Pnet(rx) => rx.next().map(|data| {
                self.frame.clear();
                self.frame.extend_from_slice(data);
                Some(())
            }),
        };
        match got {
            Ok(None) => Ok(Polled::Idle),
            Ok(Some(())) => {
                self.frame_ts = kernel_timestamp(self.fd);
                self.next_number += 1;
                Ok(Polled::Frame)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                        | io::ErrorKind::WouldBlock
                ) =>
            {
                Ok(Polled::Idle)
            }
            Err(e) => Err(CaptureError::Live {
                iface: self.iface.clone(),
                what: "read",
                source: e,
            }),
        }
    }

    /// The frame the last `poll` returned.
    pub fn frame(&self) -> Frame<'_> {
        Frame {
            number: self.next_number - 1,
            ts: self.frame_ts,
            link: self.link,
            orig_len: self.frame.len() as u32,
            data: &self.frame,
        }
    }
}

/// What one poll of a live source gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polled {
    /// A frame: read it with `LiveSource::frame`.
    Frame,
    /// Nothing within the poll interval.
    Idle,
    /// The stop flag was set or the duration has passed.
    Stopped,
}

fn setsockopt(
    fd: libc::c_int,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: passes a pointer to a live c_int and its size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The kernel's receive timestamp of the last frame read on `fd`.
fn kernel_timestamp(fd: libc::c_int) -> Timestamp {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: SIOCGSTAMPNS writes one timespec into `ts`.
    let rc = unsafe { libc::ioctl(fd, SIOCGSTAMPNS as _, &mut ts as *mut libc::timespec) };
    if rc == 0 {
        Timestamp::from_secs_nanos(ts.tv_sec, ts.tv_nsec)
    } else {
        Timestamp(0)
    }
}

/// `lo` and Ethernet-like devices give Ethernet headers; ARPHRD_NONE devices (tun) raw IP.
fn link_type_of(iface: &str) -> LinkType {
    let path = format!("/sys/class/net/{iface}/type");
    match std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
    {
        Some(65534) => LinkType::RAW,
        _ => LinkType::EN10MB,
    }
}

impl Drop for LiveSource {
    fn drop(&mut self) {
        // pnet owns (and closes) its socket; the cooked one is ours.
        if let Rx::Cooked = self.rx {
            // SAFETY: fd is ours and closed once.
            unsafe { libc::close(self.fd) };
        }
    }
}
