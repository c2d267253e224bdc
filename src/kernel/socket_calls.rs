//! Socket calls of any process, from the kernel's tracepoints: the syscall events
//! (`sys_enter_connect` … `sys_exit_close`) say who called what on which fd, when, and what
//! it returned; `sock:inet_sock_set_state` and `sock:sock_{send,recv}_length` name the socket
//! (its kernel address) and its 4-tuple. A thread is in one syscall at a time, so a socket
//! event recorded in process context between a thread's enter and exit belongs to that call:
//! that ties the fd to the socket. Events recorded in interrupt context (a segment's arrival)
//! carry whatever task was interrupted, so they never name an owner.
//!
//! accept() takes the oldest connection of its listener's queue: the children that reached
//! ESTABLISHED, in order. A socket whose address is not known yet (a connect() before the
//! kernel chose the port) keeps its calls until it is.

use super::trace_line::Record;
use super::{state_number, KernelTransition};
use crate::events::{CallName, CallNote, CallResult, Errno, Owner, Phase, TcpState};
use crate::timestamp::Timestamp;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// What the trace tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// One side of a call (each call gives its enter, then its return).
    Call(CallNote),
    /// A socket changed state (from == to is left out).
    State {
        /// When (the capture's clock).
        t: Timestamp,
        /// Which socket, and how.
        change: KernelTransition,
    },
}

/// The syscalls whose events synfin enables, the call each one is, and whether its exit is
/// needed: a send or recv on a TCP socket ends with `sock_{send,recv}_length` (its result),
/// so their exits (the most frequent events of all) are not recorded.
pub const SYSCALLS: [(&str, CallName, bool); 11] = [
    ("connect", CallName::Connect, true),
    ("accept", CallName::Accept, true),
    ("accept4", CallName::Accept, true),
    ("listen", CallName::Listen, true),
    ("bind", CallName::Bind, true),
    ("shutdown", CallName::Shutdown, true),
    ("close", CallName::Close, true),
    ("sendto", CallName::Send, false),
    ("sendmsg", CallName::Send, false),
    ("recvfrom", CallName::Recv, false),
    ("recvmsg", CallName::Recv, false),
];

fn syscall(name: &str) -> Option<CallName> {
    SYSCALLS.iter().find(|s| s.0 == name).map(|s| s.1)
}

/// A thread inside a syscall.
#[derive(Debug)]
struct InCall {
    call: CallName,
    fd: u32,
    enter: i64,
    /// The socket, once known (from the fd, or from a socket event during the call).
    sk: Option<u64>,
    /// shutdown()'s `how`.
    how: i64,
    /// A socket event of this thread during the call named its socket (else it came from the
    /// fd's last known socket).
    confirmed: bool,
}

/// One kernel socket.
#[derive(Debug, Default)]
struct Sock {
    local: Option<SocketAddr>,
    remote: Option<SocketAddr>,
    state: Option<TcpState>,
    /// AF_INET or AF_INET6 (a listener takes children of its own family only).
    family: Option<i64>,
    /// When it was last told of (trace clock): a socket whose address never came is
    /// forgotten, its waiting calls with it.
    touched: i64,
    /// Calls (and state changes) waiting for the address.
    waiting: Vec<Observation>,
    /// When it closed (trace clock), to forget it later.
    closed_at: Option<i64>,
}

/// Where an fd of a process leads: its socket's (local, remote) addresses, asked of the OS
/// for sockets that existed before the trace began (their addresses never went by).
pub type Lookup = Box<dyn FnMut(u32, u32) -> Option<(SocketAddr, SocketAddr)> + Send>;

/// Turns trace records into calls and state changes.
pub struct SocketCalls {
    offset: i64,
    socks: FxHashMap<u64, Sock>,
    fds: FxHashMap<(u32, u32), u64>,
    threads: FxHashMap<u32, InCall>,
    /// Each listener's children that reached ESTABLISHED, oldest first.
    queues: FxHashMap<u64, VecDeque<u64>>,
    /// The fd a socket was last known by (tgid, fd): a send or recv whose thread's last
    /// traced call was on another fd is a read() or write() (not traced) on this one.
    fd_of: FxHashMap<u64, (u32, u32)>,
    /// Calls on an fd whose socket is not known yet (a bind() before listen or connect), and
    /// when they were made (trace clock).
    by_fd: FxHashMap<(u32, u32), (i64, Vec<Observation>)>,
    /// The latest record's time (trace clock).
    clock: i64,
    out: VecDeque<Observation>,
    last_prune: i64,
    /// The addresses of listeners older than the trace, by their fd.
    old_listeners: FxHashMap<(u32, u32), SocketAddr>,
    /// The listening sockets by port (so a child finds its listener without a scan).
    listening: FxHashMap<u16, Vec<u64>>,
    /// Children ready to be accepted from a listener the trace never saw, by their address.
    orphans: FxHashMap<SocketAddr, VecDeque<(i64, u64)>>,
    lookup: Option<Lookup>,
}

/// How long a closed socket is remembered (for calls that return after its last change).
const FORGET_NS: i64 = 2_000_000_000;

impl SocketCalls {
    /// `offset`: the capture clock minus the trace clock, in nanoseconds.
    pub fn new(offset: i64) -> SocketCalls {
        SocketCalls {
            offset,
            socks: FxHashMap::default(),
            fds: FxHashMap::default(),
            threads: FxHashMap::default(),
            queues: FxHashMap::default(),
            by_fd: FxHashMap::default(),
            fd_of: FxHashMap::default(),
            clock: i64::MIN,
            out: VecDeque::new(),
            last_prune: i64::MIN,
            orphans: FxHashMap::default(),
            listening: FxHashMap::default(),
            old_listeners: FxHashMap::default(),
            lookup: None,
        }
    }

    /// The capture clock minus the trace clock, now (a clock set while tracing).
    pub fn set_offset(&mut self, offset: i64) {
        self.offset = offset;
    }

    /// Ask `lookup` for the addresses of sockets older than the trace.
    pub fn with_lookup(mut self, lookup: Lookup) -> SocketCalls {
        self.lookup = Some(lookup);
        self
    }

    /// Give a socket the trace never saw change state its addresses, from its fd.
    fn locate(&mut self, sk: u64, tgid: u32, fd: u32) {
        let known = self
            .socks
            .get(&sk)
            .is_some_and(|s| s.local.is_some() || s.state.is_some());
        if known {
            return;
        }
        if let Some((local, remote)) = self.lookup.as_mut().and_then(|l| l(tgid, fd)) {
            let sock = self.socks.entry(sk).or_default();
            sock.local = Some(local);
            sock.remote = Some(remote);
        }
    }

    /// When the earliest connect() still in progress entered (trace clock, ns), if one is: its
    /// entry is told only when it returns (its socket's address is known then), so what it sent
    /// meanwhile (the SYN) is not yet known to be a traced program's.
    pub fn connect_in_progress_since(&self) -> Option<i64> {
        self.threads
            .values()
            .filter(|c| c.call == CallName::Connect)
            .map(|c| c.enter)
            .min()
    }

    /// The next observation, in the order they were settled.
    pub fn poll(&mut self) -> Option<Observation> {
        self.out.pop_front()
    }

    /// Take one record.
    pub fn record(&mut self, r: &Record<'_>) {
        self.clock = self.clock.max(r.t_ns);
        if let Some(name) = r.event.strip_prefix("sys_enter_") {
            match name {
                // The fd now names something else: what it named is no longer reached by it.
                "dup2" | "dup3" => {
                    if let Some(fd) = r.int("newfd").and_then(|f| u32::try_from(f).ok()) {
                        self.unmap_fd(Self::tgid(r), fd);
                    }
                }
                "close_range" => {
                    let (from, to) = (r.int("fd").unwrap_or(0), r.int("max_fd").unwrap_or(0));
                    let tgid = Self::tgid(r);
                    let gone: Vec<(u32, u32)> = self
                        .fds
                        .keys()
                        .chain(self.by_fd.keys())
                        .filter(|(g, fd)| *g == tgid && (from..=to).contains(&i64::from(*fd)))
                        .copied()
                        .collect();
                    for (g, fd) in gone {
                        self.unmap_fd(g, fd);
                    }
                }
                _ => self.enter(r, name),
            }
        } else if let Some(name) = r.event.strip_prefix("sys_exit_") {
            self.exit(r, name);
        } else {
            match r.event {
                "sock_send_length" | "sock_recv_length" => self.moved(r),
                "inet_sock_set_state" => self.state(r),
                // exec closes the close-on-exec fds (sockets, in most languages): what the
                // process's fds named is forgotten (a socket it kept is found again by its
                // next event).
                "sched_process_exec" => self.forget_process(Self::tgid(r)),
                "sched_process_exit" => {
                    self.threads.remove(&r.tid);
                    if r.int("group_dead").unwrap_or(1) != 0 {
                        self.forget_process(Self::tgid(r));
                    }
                }
                _ => {}
            }
        }
        if r.t_ns > self.last_prune.saturating_add(FORGET_NS) {
            self.last_prune = r.t_ns;
            let before = r.t_ns - FORGET_NS;
            self.socks.retain(|_, s| {
                s.closed_at.is_none_or(|t| t > before) && (s.local.is_some() || s.touched > before)
            });
            self.by_fd.retain(|_, w| w.0 > before);
            let socks = &self.socks;
            self.fd_of.retain(|sk, _| socks.contains_key(sk));
            let socks = &self.socks;
            self.queues.retain(|l, _| socks.contains_key(l));
            for q in self.orphans.values_mut() {
                q.retain(|c| socks.contains_key(&c.1));
            }
            self.orphans.retain(|_, q| !q.is_empty());
            for l in self.listening.values_mut() {
                l.retain(|x| socks.contains_key(x));
            }
            self.listening.retain(|_, l| !l.is_empty());
        }
    }

    /// Fd `fd` of process `tgid` is socket `sk`.
    fn map_fd(&mut self, tgid: u32, fd: u32, sk: u64) {
        if let Some(old) = self.fds.insert((tgid, fd), sk) {
            if old != sk && self.fd_of.get(&old) == Some(&(tgid, fd)) {
                self.fd_of.remove(&old);
            }
        }
        self.fd_of.insert(sk, (tgid, fd));
    }

    /// Fd `fd` of process `tgid` no longer names what it did.
    fn unmap_fd(&mut self, tgid: u32, fd: u32) {
        if let Some(sk) = self.fds.remove(&(tgid, fd)) {
            if self.fd_of.get(&sk) == Some(&(tgid, fd)) {
                self.fd_of.remove(&sk);
            }
        }
        self.by_fd.remove(&(tgid, fd));
        self.old_listeners.remove(&(tgid, fd));
    }

    /// Process `tgid` exec'd or ended: its fds are forgotten.
    fn forget_process(&mut self, tgid: u32) {
        self.fds.retain(|(g, _), _| *g != tgid);
        self.fd_of.retain(|_, (g, _)| *g != tgid);
        self.by_fd.retain(|(g, _), _| *g != tgid);
        self.old_listeners.retain(|(g, _), _| *g != tgid);
    }

    fn owner(r: &Record<'_>) -> Owner {
        Owner {
            pid: r.tgid.unwrap_or(r.tid),
            tid: r.tid,
            comm: r.comm.to_string(),
        }
    }

    fn tgid(r: &Record<'_>) -> u32 {
        r.tgid.unwrap_or(r.tid)
    }

    fn enter(&mut self, r: &Record<'_>, name: &str) {
        let Some(call) = syscall(name) else { return };
        let Some(fd) = r.int("fd").and_then(|fd| u32::try_from(fd).ok()) else {
            return;
        };
        let sk = self.fds.get(&(Self::tgid(r), fd)).copied();
        self.threads.insert(
            r.tid,
            InCall {
                call,
                fd,
                enter: r.t_ns,
                sk,
                how: r.int("how").unwrap_or(-1),
                confirmed: false,
            },
        );
    }

    fn moved(&mut self, r: &Record<'_>) {
        if r.in_irq || r.int("protocol") != Some(6) {
            return;
        }
        let (Some(sk), Some(ret)) = (r.hex("sk"), r.int("ret")) else {
            return;
        };
        let tgid = Self::tgid(r);
        let sending = r.event == "sock_send_length";
        // The thread's last traced call is this one only if it moves data the same way and
        // its fd is not known to be another socket (else it was a send or recv on a socket
        // that is not TCP, and this is a read() or write(), not traced, on a TCP one).
        let ours = self.threads.get(&r.tid).is_some_and(|c| {
            c.call
                == if sending {
                    CallName::Send
                } else {
                    CallName::Recv
                }
                && self.fds.get(&(tgid, c.fd)).is_none_or(|k| *k == sk)
                && self.fd_of.get(&sk).is_none_or(|at| *at == (tgid, c.fd))
        });
        if !ours
            && self
                .threads
                .get(&r.tid)
                .is_some_and(|c| matches!(c.call, CallName::Send | CallName::Recv))
        {
            self.threads.remove(&r.tid);
        }
        match self.threads.get_mut(&r.tid) {
            Some(c) if ours => {
                // The call's result: it returns now.
                let (call, enter, fd) = (c.call, c.enter, c.fd);
                self.threads.remove(&r.tid);
                self.map_fd(tgid, fd, sk);
                self.locate(sk, tgid, fd);
                let notes = vec![
                    self.note(enter, call, Phase::Enter, None, r),
                    self.note(r.t_ns, call, Phase::Return, Some(bytes(ret)), r),
                ];
                self.emit(sk, notes);
            }
            // read() or write() on a socket: no enter event was asked for, so only the return.
            _ => {
                let call = if sending {
                    CallName::Send
                } else {
                    CallName::Recv
                };
                let note = self.note(r.t_ns, call, Phase::Return, Some(bytes(ret)), r);
                self.emit(sk, vec![note]);
            }
        }
    }

    fn state(&mut self, r: &Record<'_>) {
        let (Some(sk), Some(from), Some(to)) = (
            r.hex("skaddr"),
            r.int("oldstate").and_then(state_number),
            r.int("newstate").and_then(state_number),
        ) else {
            return;
        };
        if r.int("protocol") != Some(6) {
            return;
        }
        let sock = self.socks.entry(sk).or_default();
        // A freed socket's address used again (or one only guessed from a stale fd): a new
        // life.
        if sock.closed_at.is_some()
            || sock.state.is_none() && sock.local.is_none() && from == TcpState::Closed
        {
            *sock = Sock::default();
        }
        sock.touched = r.t_ns;
        sock.family = r.int("family");
        let sport = r.int("sport").unwrap_or(0) as u16;
        let dport = r.int("dport").unwrap_or(0) as u16;
        let ip = |v4: &str, v6: &str| -> Option<IpAddr> {
            match r.int("family") {
                Some(2) => r.ipv4(v4).map(IpAddr::V4),
                // A dual-stack socket's IPv4 peer is ::ffff:a.b.c.d; on the wire it is IPv4.
                Some(10) => r.ipv6(v6).map(|a| match a.to_ipv4_mapped() {
                    Some(v4) => IpAddr::V4(v4),
                    None => IpAddr::V6(a),
                }),
                _ => None,
            }
        };
        if let (true, Some(l), Some(d)) =
            (sport != 0, ip("saddr", "saddr_v6"), ip("daddr", "daddr_v6"))
        {
            sock.local = Some(SocketAddr::new(l, sport));
            sock.remote = Some(SocketAddr::new(d, dport));
        }
        let was = sock.state.replace(to);
        if to == TcpState::Closed {
            sock.closed_at = Some(r.t_ns);
        }
        if let Some(port) = sock.local.map(|a| a.port()) {
            if to == TcpState::Listen {
                self.listening.entry(port).or_default().push(sk);
            } else if was == Some(TcpState::Listen) {
                if let Some(l) = self.listening.get_mut(&port) {
                    l.retain(|x| *x != sk);
                }
            }
        }
        // A call of this thread changed its socket's state: that is the call's socket.
        if !r.in_irq {
            let tgid = Self::tgid(r);
            // The first such event of a call names its socket, whatever the fd was thought
            // to name before (closing a listener then closes its children: not the fd's).
            let named = self
                .threads
                .get_mut(&r.tid)
                .filter(|c| !c.confirmed)
                .map(|c| {
                    c.sk = Some(sk);
                    c.confirmed = true;
                    c.fd
                });
            if let Some(fd) = named {
                self.map_fd(tgid, fd, sk);
                if let Some((_, waiting)) = self.by_fd.remove(&(tgid, fd)) {
                    self.socks.entry(sk).or_default().waiting.extend(waiting);
                }
            }
        }
        // A child ready to be accepted joins its listener's queue.
        if from == TcpState::SynReceived && to == TcpState::Established {
            if let Some(local) = self.socks.get(&sk).and_then(|s| s.local) {
                let socks = &self.socks;
                let listener = self
                    .listening
                    .get(&local.port())
                    .into_iter()
                    .flatten()
                    .copied()
                    .find(|l| {
                        socks.get(l).is_some_and(|l| {
                            l.state == Some(TcpState::Listen)
                                && l.family == r.int("family")
                                && l.local.is_some_and(|a| {
                                    a.ip() == local.ip() || a.ip().is_unspecified()
                                })
                        })
                    });
                match listener {
                    Some(l) => self.queues.entry(l).or_default().push_back(sk),
                    // A listener older than the trace.
                    None => self
                        .orphans
                        .entry(local)
                        .or_default()
                        .push_back((r.t_ns, sk)),
                }
            }
        }
        if from != to {
            let t = Timestamp(r.t_ns + self.offset);
            let change = KernelTransition {
                local: SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
                remote: SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
                from,
                to,
            };
            self.emit(sk, vec![Observation::State { t, change }]);
        } else {
            self.emit(sk, Vec::new());
        }
    }

    fn exit(&mut self, r: &Record<'_>, name: &str) {
        let Some(call) = syscall(name) else { return };
        let Some(c) = self.threads.remove(&r.tid) else {
            return;
        };
        if c.call != call {
            return;
        }
        let Some(ret) = r.int("ret") else { return };
        let tgid = Self::tgid(r);
        let mut sk = c.sk;
        let result = match call {
            // A non-blocking accept() with nothing to take: a poll, not an event.
            CallName::Accept if ret == -i64::from(Errno::EAGAIN.0) => return,
            CallName::Accept if ret >= 0 => {
                let child = match c.sk {
                    Some(_) => self.accepted(tgid, ret as u32, c.sk),
                    // A listener older than the trace: its address (from its fd, once) picks
                    // the oldest child waiting there; failing that, the new fd's own.
                    None => self
                        .child_of_old_listener(tgid, c.fd)
                        .or_else(|| self.accepted(tgid, ret as u32, None)),
                };
                let Some(child) = child else { return };
                self.map_fd(tgid, ret as u32, child);
                sk = Some(child);
                CallResult::Ok
            }
            // Told by sock_{send,recv}_length; an exit here is of a socket that is not TCP.
            CallName::Send | CallName::Recv => return,
            CallName::Shutdown if ret == 0 => match c.how {
                0 => CallResult::OkShutRd,
                1 => CallResult::OkShutWr,
                _ => CallResult::OkShutRdWr,
            },
            _ if ret >= 0 => CallResult::Ok,
            _ => CallResult::Errno(Errno((-ret) as i32)),
        };
        if let Some(sk) = sk {
            self.locate(sk, tgid, c.fd);
        }
        if call == CallName::Close {
            self.unmap_fd(tgid, c.fd);
        }
        let notes = vec![
            self.note(c.enter, call, Phase::Enter, None, r),
            self.note(r.t_ns, call, Phase::Return, Some(result), r),
        ];
        match sk {
            Some(sk) => self.emit(sk, notes),
            // A bind() before the socket has an address the trace can show: it waits for the
            // fd's socket (listen, connect); a failed one is shown with no address.
            None if call == CallName::Bind && ret == 0 => self
                .by_fd
                .entry((tgid, c.fd))
                .or_insert((r.t_ns, Vec::new()))
                .1
                .extend(notes),
            None if call == CallName::Bind => self.out.extend(notes),
            None => {}
        }
    }

    /// The oldest child waiting at the address of fd `fd` of `tgid`, a listener the trace never
    /// saw change state (its address asked of the OS once, then remembered).
    fn child_of_old_listener(&mut self, tgid: u32, fd: u32) -> Option<u64> {
        let listen = match self.old_listeners.get(&(tgid, fd)) {
            Some(a) => *a,
            None => {
                let (a, _) = self.lookup.as_mut().and_then(|l| l(tgid, fd))?;
                self.old_listeners.insert((tgid, fd), a);
                a
            }
        };
        self.orphans
            .iter_mut()
            .filter(|(a, q)| {
                a.port() == listen.port()
                    && (a.ip() == listen.ip() || listen.ip().is_unspecified())
                    && !q.is_empty()
            })
            .min_by_key(|(_, q)| q.front().map(|c| c.0))
            .and_then(|(_, q)| q.pop_front())
            .map(|c| c.1)
    }

    /// The child an accept() that returned `fd` took from `listener`: its queue's oldest,
    /// unless several listeners share the port (SO_REUSEPORT) or the listener predates the
    /// trace, when the new fd's own addresses (procfs) pick it.
    fn accepted(&mut self, tgid: u32, fd: u32, listener: Option<u64>) -> Option<u64> {
        let port = listener.and_then(|l| self.socks.get(&l)?.local.map(|a| a.port()));
        let shared = port.is_some_and(|p| {
            self.listening.get(&p).is_some_and(|ls| {
                ls.iter()
                    .filter(|l| {
                        self.socks
                            .get(l)
                            .is_some_and(|s| s.state == Some(TcpState::Listen))
                    })
                    .count()
                    > 1
            })
        });
        if listener.is_some() && !shared {
            return listener
                .and_then(|l| self.queues.get_mut(&l))
                .and_then(|q| q.pop_front());
        }
        let (local, remote) = self.lookup.as_mut().and_then(|l| l(tgid, fd))?;
        let socks = &self.socks;
        let is_it = |c: &u64| {
            socks
                .get(c)
                .is_some_and(|s| s.local == Some(local) && s.remote == Some(remote))
        };
        for q in self.queues.values_mut() {
            if let Some(i) = q.iter().position(is_it) {
                return q.remove(i);
            }
        }
        for q in self.orphans.values_mut() {
            if let Some(i) = q.iter().position(|c| is_it(&c.1)) {
                return q.remove(i).map(|c| c.1);
            }
        }
        None
    }

    /// A note with no address yet (`emit` fills it in).
    fn note(
        &self,
        t: i64,
        call: CallName,
        phase: Phase,
        result: Option<CallResult>,
        r: &Record<'_>,
    ) -> Observation {
        Observation::Call(CallNote {
            t: Timestamp(t + self.offset),
            local: SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
            peer: None,
            call,
            phase,
            result,
            owner: Some(Self::owner(r)),
        })
    }

    /// Out with `obs` for socket `sk` once its address is known (with what waited before).
    fn emit(&mut self, sk: u64, obs: Vec<Observation>) {
        let sock = self.socks.entry(sk).or_default();
        if !obs.is_empty() {
            sock.touched = self.clock;
        }
        sock.waiting.extend(obs);
        let Some(local) = sock.local else { return };
        let remote = sock.remote.filter(|r| r.port() != 0);
        for mut o in sock.waiting.drain(..) {
            match &mut o {
                Observation::Call(n) => {
                    n.local = local;
                    n.peer = remote;
                }
                Observation::State { change, .. } => {
                    change.local = local;
                    change.remote =
                        remote.unwrap_or(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0));
                }
            }
            self.out.push_back(o);
        }
    }
}

/// A send/recv return value: bytes, or a negative errno.
fn bytes(ret: i64) -> CallResult {
    if ret >= 0 {
        CallResult::Bytes(ret as u64)
    } else {
        CallResult::Errno(Errno((-ret) as i32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::trace_line::parse_record;

    /// A real trace (tracefs, `fields` shape) of tests/calls/echo_calls.py run with ports
    /// 7811 and 7812: pid 11551, its server thread 11592, the client's port 39548.
    const ECHO: &str = include_str!("../../tests/calls/echo_calls.trace");

    fn observe(text: &str) -> Vec<Observation> {
        let mut sc = SocketCalls::new(0);
        let mut out = Vec::new();
        for line in text.lines() {
            if let Some(r) = parse_record(line) {
                sc.record(&r);
            }
            while let Some(o) = sc.poll() {
                out.push(o);
            }
        }
        out
    }

    fn calls(obs: &[Observation], local: &str) -> Vec<String> {
        let local: SocketAddr = local.parse().unwrap();
        obs.iter()
            .filter_map(|o| match o {
                Observation::Call(n) if n.local == local => {
                    let o = n.owner.as_ref().unwrap();
                    Some(format!(
                        "{} {:?} {} {}/{} → {}",
                        n.call.as_str(),
                        n.phase,
                        n.result.map(|r| r.to_string()).unwrap_or_default(),
                        o.pid,
                        o.tid,
                        n.peer.map(|p| p.to_string()).unwrap_or_default()
                    ))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_real_trace_gives_each_threads_calls_on_the_right_socket() {
        let obs = observe(ECHO);
        let p = "127.0.0.1:7811";
        assert_eq!(
            calls(&obs, "127.0.0.1:39548"),
            [
                format!("connect Enter  11551/11551 → {p}"),
                format!("connect Return ok 11551/11551 → {p}"),
                format!("send Enter  11551/11551 → {p}"),
                format!("send Return 5 bytes 11551/11551 → {p}"),
                format!("recv Enter  11551/11551 → {p}"),
                format!("recv Return 5 bytes 11551/11551 → {p}"),
                format!("shutdown Enter  11551/11551 → {p}"),
                format!("shutdown Return ok (SHUT_WR) 11551/11551 → {p}"),
                format!("recv Enter  11551/11551 → {p}"),
                format!("recv Return 0 bytes 11551/11551 → {p}"),
                format!("close Enter  11551/11551 → {p}"),
                format!("close Return ok 11551/11551 → {p}"),
            ]
        );
        let c = "127.0.0.1:39548";
        let server = calls(&obs, p);
        // The listener (no peer) and the accepted socket (the client as peer), by thread.
        assert_eq!(
            server,
            [
                "bind Enter  11551/11551 → ".to_string(),
                "bind Return ok 11551/11551 → ".into(),
                "listen Enter  11551/11551 → ".into(),
                "listen Return ok 11551/11551 → ".into(),
                format!("accept Enter  11551/11592 → {c}"),
                format!("accept Return ok 11551/11592 → {c}"),
                format!("recv Enter  11551/11592 → {c}"),
                format!("recv Return 5 bytes 11551/11592 → {c}"),
                format!("send Enter  11551/11592 → {c}"),
                format!("send Return 5 bytes 11551/11592 → {c}"),
                format!("recv Enter  11551/11592 → {c}"),
                format!("recv Return 0 bytes 11551/11592 → {c}"),
                format!("close Enter  11551/11592 → {c}"),
                format!("close Return ok 11551/11592 → {c}"),
                "close Enter  11551/11551 → ".into(),
                "close Return ok 11551/11551 → ".into(),
            ]
        );
        // The refused connect() and the bind() that found the port taken.
        let refused: Vec<&CallNote> = obs
            .iter()
            .filter_map(|o| match o {
                Observation::Call(n) if n.peer.is_some_and(|p| p.port() == 7812) => Some(n),
                _ => None,
            })
            .collect();
        assert_eq!(
            refused[1].result,
            Some(CallResult::Errno(Errno::ECONNREFUSED))
        );
        assert!(obs.iter().any(|o| matches!(o,
            Observation::Call(n) if n.call == CallName::Bind
                && n.result == Some(CallResult::Errno(Errno::EADDRINUSE))
                && n.local.port() == 0)));
        // The client's kernel states, from CLOSED (its port was not chosen yet) on.
        let states: Vec<TcpState> = obs
            .iter()
            .filter_map(|o| match o {
                Observation::State { change, .. } if change.local.to_string() == c => {
                    Some(change.to)
                }
                _ => None,
            })
            .collect();
        use TcpState::*;
        assert_eq!(states, [SynSent, Established, FinWait1, FinWait2, Closed]);
        // Every call returns after it entered.
        for w in obs.windows(2) {
            if let [Observation::Call(a), Observation::Call(b)] = w {
                if a.phase == Phase::Enter && b.phase == Phase::Return && a.call == b.call {
                    assert!(a.t <= b.t);
                }
            }
        }
    }

    #[test]
    fn an_interrupt_never_ties_a_socket_to_the_thread_it_interrupted() {
        // A thread waits in recvfrom() on fd 7 (not TCP: no socket event of its own); a
        // segment's softirq changes another socket's state meanwhile.
        let lines = "\
 app-10 (  10) [000] ..... 1.000000: sys_enter_recvfrom: __syscall_nr=0x2d (45) fd=0x7 (7) ubuf=0x1 (1) size=0x64 (100) flags=0x0 (0) addr=0x0 (0) addr_len=0x0 (0)
 app-10 (  10) [000] ..s2. 1.000001: inet_sock_set_state: skaddr=0xffff000000000001 (-1) oldstate=0x1 (1) newstate=0x8 (8) sport=0x1f90 (8080) dport=0x9c40 (40000) family=0x2 (2) protocol=0x6 (6) saddr=0x100007f (16777343) daddr=0x100007f (16777343) saddr_v6=<INVALID-SIZE> daddr_v6=<INVALID-SIZE>
 app-10 (  10) [000] ..... 1.000002: sys_exit_recvfrom: __syscall_nr=0x2d (45) ret=0x3 (3)
";
        let obs = observe(lines);
        assert!(
            !obs.iter().any(|o| matches!(o, Observation::Call(_))),
            "{obs:?}"
        );
        // The state change itself is told.
        assert_eq!(obs.len(), 1);
    }

    /// One record in the `fields` shape: at `us` µs, by thread `tid` of process `tgid`.
    fn line(
        us: i64,
        tid: u32,
        tgid: u32,
        irq: bool,
        event: &str,
        fields: &[(&str, i64)],
    ) -> String {
        let f: Vec<String> = fields
            .iter()
            .map(|(n, v)| format!("{n}=0x{:x} ({v})", *v as u64))
            .collect();
        format!(
            " app-{tid} ({tgid:>7}) [000] ..{}.. {}.{:06}: {event}: {}",
            if irq { 's' } else { '.' },
            us / 1_000_000,
            us % 1_000_000,
            f.join(" ")
        )
    }

    /// A state change of socket `sk` (IPv4 127.0.0.1 both ends).
    #[allow(clippy::too_many_arguments)]
    fn set_state(
        us: i64,
        tid: u32,
        irq: bool,
        sk: i64,
        from: i64,
        to: i64,
        sport: i64,
        dport: i64,
    ) -> String {
        line(
            us,
            tid,
            tid,
            irq,
            "inet_sock_set_state",
            &[
                ("skaddr", sk),
                ("oldstate", from),
                ("newstate", to),
                ("sport", sport),
                ("dport", dport),
                ("family", 2),
                ("protocol", 6),
                ("saddr", 0x0100_007f),
                ("daddr", 0x0100_007f),
            ],
        )
    }

    fn calls_on(obs: &[Observation], port: u16) -> Vec<String> {
        obs.iter()
            .filter_map(|o| match o {
                Observation::Call(n) if n.local.port() == port => Some(format!(
                    "{} {:?}{}",
                    n.call.as_str(),
                    n.phase,
                    n.result.map(|r| format!(" {r}")).unwrap_or_default()
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn an_fd_closed_by_exec_or_dup2_no_longer_names_its_socket() {
        // fd 3 connects (socket A, port 5000), then the process execs (close-on-exec), and
        // the new program closes whatever its fd 3 is: not A.
        let mut t = [
            line(1, 10, 10, false, "sys_enter_connect", &[("fd", 3)]),
            set_state(2, 10, false, 0xa, 7, 2, 0, 80),
            set_state(3, 10, true, 0xa, 2, 1, 5000, 80),
            line(4, 10, 10, false, "sys_exit_connect", &[("ret", 0)]),
            line(
                5,
                10,
                10,
                false,
                "sched_process_exec",
                &[("pid", 10), ("old_pid", 10)],
            ),
            line(6, 10, 10, false, "sys_enter_close", &[("fd", 3)]),
            line(7, 10, 10, false, "sys_exit_close", &[("ret", 0)]),
        ];
        let obs = observe(&t.join("\n"));
        assert_eq!(calls_on(&obs, 5000), ["connect Enter", "connect Return ok"]);
        // The same with dup2 over the fd instead of exec.
        t[4] = line(
            5,
            10,
            10,
            false,
            "sys_enter_dup2",
            &[("oldfd", 9), ("newfd", 3)],
        );
        let obs = observe(&t.join("\n"));
        assert_eq!(calls_on(&obs, 5000), ["connect Enter", "connect Return ok"]);
    }

    #[test]
    fn a_bind_of_a_socket_that_closed_is_not_another_sockets() {
        // fd 5 is bound (a UDP socket: no TCP event), closed, and reused for a TCP connect.
        let t = [
            line(1, 10, 10, false, "sys_enter_bind", &[("fd", 5)]),
            line(2, 10, 10, false, "sys_exit_bind", &[("ret", 0)]),
            line(3, 10, 10, false, "sys_enter_close", &[("fd", 5)]),
            line(4, 10, 10, false, "sys_exit_close", &[("ret", 0)]),
            line(5, 10, 10, false, "sys_enter_connect", &[("fd", 5)]),
            set_state(6, 10, false, 0xb, 7, 2, 0, 80),
            set_state(7, 10, true, 0xb, 2, 1, 5001, 80),
            line(8, 10, 10, false, "sys_exit_connect", &[("ret", 0)]),
        ];
        let obs = observe(&t.join("\n"));
        assert_eq!(calls_on(&obs, 5001), ["connect Enter", "connect Return ok"]);
    }

    #[test]
    fn a_read_after_a_udp_recv_is_its_own_call_on_its_own_socket() {
        // fd 4 is TCP socket C (its connect seen); the thread's recvfrom on fd 7 (UDP) never
        // gets a TCP event; then a read() (not traced) on fd 4 takes 7 bytes: a recv's return
        // on C, not the UDP recvfrom's.
        let t = [
            line(1, 10, 10, false, "sys_enter_connect", &[("fd", 4)]),
            set_state(2, 10, false, 0xc, 7, 2, 0, 80),
            set_state(3, 10, true, 0xc, 2, 1, 5002, 80),
            line(4, 10, 10, false, "sys_exit_connect", &[("ret", 0)]),
            line(5, 10, 10, false, "sys_enter_recvfrom", &[("fd", 7)]),
            line(
                6,
                10,
                10,
                false,
                "sock_recv_length",
                &[
                    ("sk", 0xc),
                    ("family", 2),
                    ("protocol", 6),
                    ("ret", 7),
                    ("flags", 0),
                ],
            ),
        ];
        let obs = observe(&t.join("\n"));
        assert_eq!(
            calls_on(&obs, 5002),
            ["connect Enter", "connect Return ok", "recv Return 7 bytes"]
        );
    }
}
