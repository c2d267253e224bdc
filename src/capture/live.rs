//! Live capture on a packet socket we open ourselves, read through a TPACKET_V3 ring.
//!
//! On `lo`, AF_PACKET delivers every segment twice (outgoing and incoming copies), so the
//! socket of one interface has `PACKET_IGNORE_OUTGOING`: each segment arrives exactly once.
//! Frames come from a memory-mapped receive ring (`rx_ring`), each with its kernel timestamp in
//! nanoseconds and its `sockaddr_ll`, so reading a frame costs no system call; `poll(2)` waits
//! only when the ring is empty. Drops come from `PACKET_STATISTICS`.

use super::rx_ring::{RxRing, Slot, RETIRE_MS};
use super::CaptureError;
use crate::frame::{Frame, LinkType};
use crate::timestamp::Timestamp;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a read may block before the stop flag and deadline are checked again.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How long `set_filter` waits for the block the kernel was filling to be handed over.
const FILTER_SETTLE: Duration = Duration::from_millis(200);
/// At the end, how long to wait for the block the kernel is filling to be handed over (it is
/// within `RETIRE_MS`), so that no frame captured before the end is left unread.
const END_SETTLE: Duration = Duration::from_millis(4 * RETIRE_MS as u64);

/// The length of a Linux cooked-capture (LINKTYPE_LINUX_SLL) header.
const SLL_LEN: usize = 16;

/// A live capture on one interface, or on all of them (`any`).
pub struct LiveSource {
    iface: String,
    /// Declared before `fd`: the ring is unmapped before the socket is closed.
    ring: RxRing,
    fd: OwnedFd,
    /// `-i any`: a cooked (SOCK_DGRAM) socket, each packet given a Linux cooked-capture (SLL)
    /// header as `tcpdump -i any` does.
    cooked: bool,
    link: LinkType,
    stop: Arc<AtomicBool>,
    deadline: Option<Instant>,
    /// Once stopped: the frames captured until then are still read.
    ending: Option<Ending>,
    next_number: u64,
    drops: u64,
    /// The last frame: where it lies in the ring (and, cooked, a copy behind its SLL header).
    slot: Option<Slot>,
    cooked_frame: Vec<u8>,
}

impl std::fmt::Debug for LiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSource")
            .field("iface", &self.iface)
            .finish()
    }
}

impl LiveSource {
    /// Open a capture on `iface` (`any`: every interface). It ends when `stop` is set or
    /// `duration` has passed.
    ///
    /// The socket is opened for no protocol, given its ring, then bound to the interface for
    /// every protocol: no frame of another interface is queued in between. On `any`, outgoing
    /// copies are kept (a host's own sends on other interfaces are seen only so), except on
    /// loopback, where each packet would otherwise come twice.
    pub fn open(
        iface: &str,
        stop: Arc<AtomicBool>,
        duration: Option<Duration>,
    ) -> Result<LiveSource, CaptureError> {
        let cooked = iface == "any";
        let ifindex = if cooked {
            0
        } else {
            // The interface by name, as pnet lists them (getifaddrs).
            let found = pnet::datalink::interfaces()
                .into_iter()
                .find(|i| i.name == iface)
                .ok_or_else(|| no_such(iface))?;
            libc::c_int::try_from(found.index).map_err(|_| no_such(iface))?
        };
        let live_err = |what: &'static str, source: io::Error| CaptureError::Live {
            iface: iface.into(),
            what,
            source,
        };
        let kind = if cooked {
            libc::SOCK_DGRAM
        } else {
            libc::SOCK_RAW
        };
        // SAFETY: plain socket(2), protocol 0 (nothing delivered until bind); checked below.
        let raw = unsafe { libc::socket(libc::AF_PACKET, kind | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            let e = io::Error::last_os_error();
            return Err(match e.kind() {
                io::ErrorKind::PermissionDenied => CaptureError::PermissionDenied {
                    iface: iface.into(),
                },
                _ => live_err("socket(AF_PACKET)", e),
            });
        }
        // SAFETY: a descriptor socket(2) just gave us, owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        if !cooked {
            setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_IGNORE_OUTGOING,
                1,
            )
            .map_err(|e| live_err("PACKET_IGNORE_OUTGOING", e))?;
        }
        let ring = RxRing::attach(fd.as_raw_fd())
            .map_err(|e| live_err("PACKET_RX_RING (TPACKET_V3)", e))?;
        // SAFETY: zeroed sockaddr_ll is a valid value; the fields that matter are set below.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = ifindex;
        // SAFETY: binds our socket to an address we own, of the size we say.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(live_err("bind", io::Error::last_os_error()));
        }
        let mut src = LiveSource {
            iface: iface.into(),
            ring,
            fd,
            cooked,
            link: if cooked {
                LinkType::LINUX_SLL
            } else {
                link_type_of(iface)
            },
            stop,
            deadline: duration.map(|d| Instant::now() + d),
            ending: None,
            next_number: 1,
            drops: 0,
            slot: None,
            cooked_frame: Vec::new(),
        };
        src.read_drops();
        src.drops = 0;
        Ok(src)
    }

    /// The link type frames carry (`lo` and Ethernet devices: EN10MB; `any`: LINUX_SLL).
    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// Install a classic BPF program on the socket (SO_ATTACH_FILTER): the kernel then
    /// drops what it rejects before it is copied. No frame the program rejects is read after
    /// this returns.
    pub fn set_filter(&mut self, prog: &[libc::sock_filter]) -> Result<(), CaptureError> {
        // As libpcap does: reject everything, drop what was queued before, then filter. The
        // ring's handed-over blocks are given back unread, and so is the block the kernel was
        // filling, once the retire timeout hands it over.
        let reject_all = [libc::sock_filter {
            code: 0x06, // BPF_RET | BPF_K
            jt: 0,
            jf: 0,
            k: 0,
        }];
        self.attach(&reject_all)?;
        self.slot = None;
        let until = Instant::now() + FILTER_SETTLE;
        loop {
            self.ring.discard_ready();
            if !self.ring.filling() || Instant::now() >= until {
                break;
            }
            self.wait(10).map_err(|e| self.live_err("poll", e))?;
        }
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
                self.fd.as_raw_fd(),
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

    /// Frames the kernel dropped so far (the ring was full).
    pub fn kernel_drops(&mut self) -> u64 {
        self.read_drops();
        self.drops
    }

    fn read_drops(&mut self) {
        let mut st = libc::tpacket_stats_v3 {
            tp_packets: 0,
            tp_drops: 0,
            tp_freeze_q_cnt: 0,
        };
        let mut len = std::mem::size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `st`, a tpacket_stats_v3 (what
        // a TPACKET_V3 socket reports; the counters reset on every read).
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats_v3).cast(),
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
    /// frame, then read it with `frame`. A frame already in the ring is returned without a
    /// system call. A signal ends the wait at once (poll(2) is never restarted), so a long
    /// wait costs no promptness. Once stopped, the frames captured until then come first
    /// (waiting up to `END_SETTLE` for the last block, whatever `timeout` says), then `Stopped`.
    pub fn poll_for(&mut self, timeout: Option<Duration>) -> Result<Polled, CaptureError> {
        let now = Instant::now();
        if self.ending.is_none()
            && (self.stop.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| now >= d))
        {
            self.ending = Some(Ending {
                at: capture_clock(),
                settle_until: now + END_SETTLE,
                done: false,
            });
        }
        if self.ending.is_some() {
            return self.drain();
        }
        if self.take_frame() {
            return Ok(Polled::Frame);
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
        if ms == 0 {
            return Ok(Polled::Idle);
        }
        self.wait(ms).map_err(|e| self.live_err("poll", e))?;
        Ok(if self.take_frame() {
            Polled::Frame
        } else {
            Polled::Idle
        })
    }

    /// Stopped: the frames captured until the stop are read, the block the kernel is still
    /// filling included (it is handed over within `RETIRE_MS`, rounded up to the kernel's
    /// tick); then `Stopped`, from then on. Frames stamped after the stop are passed over (one
    /// may lie before an earlier-stamped one from another CPU); past `END_SETTLE`, the first
    /// of them ends it (under a steady load the ring never empties).
    fn drain(&mut self) -> Result<Polled, CaptureError> {
        let Some(end) = self.ending else {
            return Ok(Polled::Stopped);
        };
        loop {
            if end.done {
                self.slot = None;
                return Ok(Polled::Stopped);
            }
            let now = Instant::now();
            if self.take_frame() {
                if self.slot.as_ref().is_some_and(|s| s.ts <= end.at) {
                    return Ok(Polled::Frame);
                }
                if now >= end.settle_until {
                    break;
                }
                continue;
            }
            if !self.ring.filling() || now >= end.settle_until {
                break;
            }
            let left = end.settle_until - now;
            let ms = libc::c_int::try_from(left.as_millis() + 1).unwrap_or(libc::c_int::MAX);
            self.wait(ms).map_err(|e| self.live_err("poll", e))?;
        }
        self.slot = None;
        if let Some(e) = &mut self.ending {
            e.done = true;
        }
        Ok(Polled::Stopped)
    }

    /// Block in poll(2) until the ring has a block for us, `ms` pass (-1: no limit), or a
    /// signal comes (not an error).
    fn wait(&self, ms: libc::c_int) -> io::Result<()> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the socket we own for the lifetime of `self`.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Move to the next frame in the ring, if there is one (cooked: behind its SLL header;
    /// loopback's outgoing copies skipped).
    fn take_frame(&mut self) -> bool {
        self.slot = None;
        while let Some(slot) = self.ring.next() {
            if self.cooked {
                // Loopback: each packet is seen leaving and arriving; keep the arrival.
                if slot.pkttype == libc::PACKET_OUTGOING && slot.hatype == libc::ARPHRD_LOOPBACK {
                    continue;
                }
                self.cooked_frame.clear();
                self.cooked_frame.extend_from_slice(&sll_header(&slot));
                self.cooked_frame.extend_from_slice(self.ring.data(&slot));
            }
            self.slot = Some(slot);
            self.next_number += 1;
            return true;
        }
        false
    }

    /// The frame the last `poll` returned (empty if it returned none).
    pub fn frame(&self) -> Frame<'_> {
        let (data, orig_len, ts) = match &self.slot {
            None => (&[][..], 0, Timestamp(0)),
            Some(slot) if self.cooked => (
                &self.cooked_frame[..],
                slot.wire_len.saturating_add(SLL_LEN as u32),
                slot.ts,
            ),
            Some(slot) => (self.ring.data(slot), slot.wire_len, slot.ts),
        };
        Frame {
            number: self.next_number - 1,
            ts,
            link: self.link,
            orig_len,
            data,
        }
    }
}

/// A Linux cooked-capture header for a frame of the `any` socket, from its `sockaddr_ll`.
fn sll_header(slot: &Slot) -> [u8; SLL_LEN] {
    let mut h = [0u8; SLL_LEN];
    h[0..2].copy_from_slice(&u16::from(slot.pkttype).to_be_bytes());
    h[2..4].copy_from_slice(&slot.hatype.to_be_bytes());
    h[4..6].copy_from_slice(&u16::from(slot.halen).to_be_bytes());
    h[6..14].copy_from_slice(&slot.addr);
    h[14..16].copy_from_slice(&slot.protocol.to_ne_bytes());
    h
}

fn no_such(iface: &str) -> CaptureError {
    let mut names: Vec<String> = pnet::datalink::interfaces()
        .into_iter()
        .map(|i| i.name)
        .collect();
    names.sort_unstable();
    names.dedup();
    CaptureError::NoSuchInterface {
        iface: iface.into(),
        available: names.join(", "),
    }
}

/// Where a stopped capture ends.
#[derive(Debug, Clone, Copy)]
struct Ending {
    /// The capture clock when the stop was seen: frames stamped later are not read.
    at: Timestamp,
    /// How long to wait for the block being filled to be handed over.
    settle_until: Instant,
    /// Everything up to `at` has been read.
    done: bool,
}

/// The clock the kernel stamps frames with (CLOCK_REALTIME), now.
pub fn capture_clock() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_secs_nanos(d.as_secs() as i64, i64::from(d.subsec_nanos()))
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
    fd: RawFd,
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
