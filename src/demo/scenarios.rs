//! The lesson's scenarios, each a short play of the echo server and client on loopback.

use super::calls::{now, CallLog, ObservedCall};
use super::sockets::Sock;
use crate::cli::ScenarioId;
use crate::events::{CallName, CallResult};
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// What a scenario gets.
pub struct Ctx {
    /// Where the echo server listens.
    pub addr: SocketAddr,
    /// The calls made.
    pub log: CallLog,
    /// The client's messages.
    pub messages: Vec<String>,
    /// Lines explaining what happened, printed after the drawing.
    pub notes: Vec<String>,
}

/// A scenario: name, one-line description, and the play.
pub struct Scenario {
    /// Its `--scenario` value.
    pub id: ScenarioId,
    /// One line for `--list-scenarios`.
    pub about: &'static str,
    /// The play.
    pub run: fn(&mut Ctx) -> io::Result<()>,
    /// Runs in a private network namespace of its own (with its own capture).
    pub private_netns: bool,
}

impl Scenario {
    /// Its `--scenario` name.
    pub fn name(&self) -> &'static str {
        self.id.name()
    }
}

/// Every scenario, in the lesson's order.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { id: ScenarioId::Basic, about: "the client sends each message and reads it back upper-cased, then closes first (TIME_WAIT on the client)", run: basic , private_netns: false },
    Scenario { id: ScenarioId::Loop, about: "several messages, then three clients one after another on the same server", run: loop_clients , private_netns: false },
    Scenario { id: ScenarioId::Empty, about: "send(b\"\") puts nothing on the wire: the server's recv() waits (bounded here by 1 s)", run: empty , private_netns: false },
    Scenario { id: ScenarioId::ClientCrash, about: "a client process is killed without close() while the echo waits unread: its kernel sends RST (not FIN); the server survives and serves the next client", run: client_crash , private_netns: false },
    Scenario { id: ScenarioId::ServerFirst, about: "the server closes first (TIME_WAIT on the server); restart fails with EADDRINUSE without SO_REUSEADDR", run: server_first , private_netns: false },
    Scenario { id: ScenarioId::HalfClose, about: "shutdown(SHUT_WR): the client stops sending but still receives the reply", run: half_close , private_netns: false },
    Scenario { id: ScenarioId::Refused, about: "connect() to a port with no listener: RST, ECONNREFUSED", run: refused , private_netns: false },
    Scenario { id: ScenarioId::Abort, about: "SO_LINGER 0 then close(): RST instead of FIN, no TIME_WAIT", run: abort , private_netns: false },
    Scenario { id: ScenarioId::Unread, about: "close() with unread data in the receive buffer: RST", run: unread , private_netns: false },
    Scenario { id: ScenarioId::Backlog, about: "listen(1) and no accept(): extra clients' SYNs are dropped and retransmitted", run: backlog , private_netns: false },
    Scenario { id: ScenarioId::SimultaneousClose, about: "both ends close at once: crossed FINs, CLOSING on both ends (private netns + tc tbf)", run: simultaneous_close, private_netns: true },
    Scenario { id: ScenarioId::SimultaneousOpen, about: "two sockets connect() to each other at once: crossed SYNs, SYN_RECEIVED on both ends, no listen() (private netns + tc tbf)", run: simultaneous_open, private_netns: true },
    Scenario { id: ScenarioId::SelfConnect, about: "a socket bound to a port connects to itself: Linux's simultaneous-open path", run: self_connect , private_netns: false },
    Scenario { id: ScenarioId::LateSynAck, about: "the first SYN,ACK is lost after the capture point: the client stays SYN_SENT until the one answering its SYN retransmission, 1 s later (private netns + nftables)", run: late_syn_ack, private_netns: true },
    Scenario { id: ScenarioId::LostFin, about: "the client's first FIN is lost after the capture point: the server stays ESTABLISHED until the retransmitted FIN (private netns + nftables)", run: lost_fin, private_netns: true },
    Scenario { id: ScenarioId::FinBeforeData, about: "the client's data is lost after the capture point and overtaken by its FIN: the server keeps the FIN out of order, CLOSE_WAIT only when the data is resent (private netns + nftables)", run: fin_before_data, private_netns: true },
    Scenario { id: ScenarioId::OrphanLateData, about: "the server sends data after the client's close(): the orphan answers with RST and is gone (private netns)", run: orphan_late_data, private_netns: true },
    Scenario { id: ScenarioId::OrphanTimeout, about: "a FIN_WAIT_2 orphan outlives tcp_fin_timeout (1 s here): the server's late FIN meets the kernel's RST (private netns)", run: orphan_timeout, private_netns: true },
    Scenario { id: ScenarioId::AbandonedConnect, about: "connect() abandoned in SYN_SENT (its SYN,ACK lost after the capture point): the retransmitted SYN,ACK meets an RST (private netns + nftables)", run: abandoned_connect, private_netns: true },
    Scenario { id: ScenarioId::FastOpen, about: "TCP Fast Open (tcp_fastopen=3): a cookie on the first connection, data on the second one's SYN (private netns)", run: fast_open, private_netns: true },
    Scenario { id: ScenarioId::SynToTimeWait, about: "the server closes first (TIME_WAIT on the server), then the client connects again from the same port: its SYN ends the TIME_WAIT and opens a new connection (private netns)", run: syn_to_time_wait, private_netns: true },
    Scenario { id: ScenarioId::RstChallenge, about: "a forged RST (raw socket) in the server's window but not at RCV.NXT: the server answers with a challenge ACK and the connection goes on (RFC 5961; private netns, IPv4)", run: rst_challenge, private_netns: true },
    Scenario { id: ScenarioId::AcceptOverflow, about: "listen(0): a final ACK lost after the capture point is sent again when the accept queue is full, and dropped: the request stays SYN_RECEIVED (resending its SYN,ACK) while its client is ESTABLISHED, until accept() makes room (private netns + nftables)", run: accept_overflow, private_netns: true },
];

/// Where the demo's clients bind: loopback of the server's family, any port.
pub fn client_addr(server: SocketAddr) -> SocketAddr {
    match server {
        SocketAddr::V4(_) => SocketAddr::from(([127, 0, 0, 1], 0)),
        SocketAddr::V6(_) => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 0)),
    }
}

/// One turn of the lesson's server: recv(1024), send(upper); false when recv returned 0.
fn echo_once(conn: &Sock) -> io::Result<bool> {
    let data = conn.recv(1024)?;
    if data.is_empty() {
        return Ok(false);
    }
    conn.send(&data.to_ascii_uppercase())?;
    Ok(true)
}

/// The lesson's server loop on an accepted connection: echo until recv returns 0.
fn echo_until_eof(conn: &Sock) -> io::Result<()> {
    while echo_once(conn)? {}
    Ok(())
}

/// Send each of the client's messages in order, reading each reply (the lesson's client loop).
fn exchange_all(c: &Sock, messages: &[String]) -> io::Result<()> {
    for m in messages {
        c.send(m.as_bytes())?;
        c.recv(1024)?;
    }
    Ok(())
}

/// Run `server` in a thread once the listener is up; returns its join handle.
fn serve(
    ctx: &Ctx,
    reuse: bool,
    backlog: i32,
    server: impl FnOnce(Sock) -> io::Result<()> + Send + 'static,
) -> io::Result<thread::JoinHandle<io::Result<()>>> {
    let (tx, rx) = mpsc::channel();
    let log = ctx.log.clone();
    let addr = ctx.addr;
    let h = thread::spawn(move || {
        let l = match Sock::listen(&log, addr, reuse, backlog) {
            Ok(l) => {
                let _ = tx.send(Ok(()));
                l
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                return Ok(());
            }
        };
        server(l)
    });
    rx.recv()
        .map_err(|_| io::Error::other("server thread died"))??;
    Ok(h)
}

/// The lesson's server: accept `clients` connections one after another, echo each until the
/// client closes (a reset ends one too: the server survives it), close it; then close.
pub fn start_echo_server(
    ctx: &Ctx,
    clients: usize,
) -> io::Result<thread::JoinHandle<io::Result<()>>> {
    serve(ctx, true, 5, move |l| {
        for _ in 0..clients {
            let conn = l.accept()?;
            let _ = echo_until_eof(&conn);
            conn.close();
        }
        l.close();
        Ok(())
    })
}

fn join(h: thread::JoinHandle<io::Result<()>>) -> io::Result<()> {
    h.join()
        .map_err(|_| io::Error::other("server thread panicked"))?
}

fn one_client(ctx: &Ctx, messages: &[String]) -> io::Result<()> {
    let mut c = Sock::client(&ctx.log, client_addr(ctx.addr))?;
    c.connect(ctx.addr)?;
    exchange_all(&c, messages)?;
    c.close();
    Ok(())
}

fn basic(ctx: &mut Ctx) -> io::Result<()> {
    let h = start_echo_server(ctx, 1)?;
    one_client(ctx, &ctx.messages)?;
    join(h)?;
    ctx.notes.push("The client closed first, so the client's end waits in TIME_WAIT (60 s on Linux); the server's ends in LAST_ACK → CLOSED.".into());
    Ok(())
}

fn loop_clients(ctx: &mut Ctx) -> io::Result<()> {
    let h = start_echo_server(ctx, 3)?;
    let mut msgs = ctx.messages.clone();
    if msgs.len() < 2 {
        msgs = vec!["hello".into(), "how are you".into(), "bye".into()];
    }
    for _ in 0..3 {
        one_client(ctx, &msgs)?;
    }
    join(h)?;
    ctx.notes.push("One server, three connections one after another: the accept loop (outer) and the recv/send loop (inner).".into());
    Ok(())
}

fn empty(ctx: &mut Ctx) -> io::Result<()> {
    let h = serve(ctx, true, 5, |l| {
        let conn = l.accept()?;
        conn.read_timeout(Duration::from_secs(1))?;
        // The lesson's hang: this recv() would wait forever; here it gives up after 1 s.
        let _ = conn.recv(1024);
        let _ = echo_until_eof(&conn);
        conn.close();
        l.close();
        Ok(())
    })?;
    let mut c = Sock::client(&ctx.log, client_addr(ctx.addr))?;
    c.connect(ctx.addr)?;
    c.send(b"")?;
    // The client would now block in recv() for a reply that never comes; it waits as long
    // as the server does, then closes.
    c.read_timeout(Duration::from_millis(1200))?;
    let _ = c.recv(1024);
    c.close();
    join(h)?;
    ctx.notes.push("send(b\"\") returned 0 and put no segment on the wire, so the server's recv() had nothing to return: it blocked (EAGAIN after the demo's 1 s timeout). In the lesson, both sides hang forever.".into());
    Ok(())
}

fn client_crash(ctx: &mut Ctx) -> io::Result<()> {
    let h = serve(ctx, true, 5, |l| {
        // The try/except fix: a crashed client must not take the server down.
        for _ in 0..2 {
            let conn = l.accept()?;
            let _ = echo_until_eof(&conn);
            conn.close();
        }
        l.close();
        Ok(())
    })?;
    // A child process connects and sends, then is killed without close().
    let addr = ctx.addr;
    let local = client_addr(addr);
    let enter = now();
    let sa: socket2::SockAddr = addr.into();
    let la: socket2::SockAddr = local.into();
    // SAFETY: after fork() the child only makes async-signal-safe syscalls (socket, bind,
    // connect, send, pause) on memory prepared before it, and never returns: it is killed.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: see the fork above; the addresses outlive the child.
        unsafe {
            let fam = if addr.is_ipv4() {
                libc::AF_INET
            } else {
                libc::AF_INET6
            };
            let fd = libc::socket(fam, libc::SOCK_STREAM, 0);
            libc::bind(fd, la.as_ptr().cast(), la.len());
            if libc::connect(fd, sa.as_ptr().cast(), sa.len()) == 0 {
                let msg = b"hello from a doomed client";
                libc::send(fd, msg.as_ptr().cast(), msg.len(), 0);
            }
            loop {
                libc::pause();
            }
        }
    }
    thread::sleep(Duration::from_millis(200));
    // SAFETY: pid is our child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    let ret = now();
    ctx.log.push(ObservedCall {
        enter,
        ret,
        local,
        peer: Some(addr),
        call: CallName::Close,
        result: CallResult::Killed,
    });
    // The server is still serving: a second client gets its echo.
    one_client(ctx, &ctx.messages)?;
    join(h)?;
    ctx.notes.push("The killed client never called close(); its kernel closed the socket for it, and since the server's echo was still unread there, it sent RST, not FIN (it sends FIN when nothing is unread). The server's recv() failed with ECONNRESET, and the server went on to serve the next client.".into());
    Ok(())
}

fn server_first(ctx: &mut Ctx) -> io::Result<()> {
    let turns = ctx.messages.len();
    let h = serve(ctx, true, 5, move |l| {
        let conn = l.accept()?;
        for _ in 0..turns {
            echo_once(&conn)?;
        }
        conn.close();
        l.close();
        Ok(())
    })?;
    let mut c = Sock::client(&ctx.log, client_addr(ctx.addr))?;
    c.connect(ctx.addr)?;
    exchange_all(&c, &ctx.messages)?;
    c.recv(1024)?; // 0: the server closed
    c.close();
    join(h)?;
    // Restart the server on the same address while its old connection is in TIME_WAIT.
    let first = Sock::listen(&ctx.log, ctx.addr, false, 5);
    let second = Sock::listen(&ctx.log, ctx.addr, true, 5)?;
    second.close();
    match first {
        Ok(s) => {
            s.close();
            ctx.notes.push("Restart without SO_REUSEADDR succeeded here (unexpected: the TIME_WAIT did not block bind).".into());
        }
        Err(_) => ctx.notes.push("The server closed first, so TIME_WAIT is on the server's side: a restart without SO_REUSEADDR fails with EADDRINUSE; with setsockopt(SO_REUSEADDR) it binds.".into()),
    }
    Ok(())
}

/// Everything the peer sends, until its FIN (recv() = 0).
fn read_to_eof(conn: &Sock) -> io::Result<Vec<u8>> {
    let mut all = Vec::new();
    loop {
        let d = conn.recv(1024)?;
        if d.is_empty() {
            return Ok(all);
        }
        all.extend(d);
    }
}

fn half_close(ctx: &mut Ctx) -> io::Result<()> {
    let h = serve(ctx, true, 5, |l| {
        let conn = l.accept()?;
        let all = read_to_eof(&conn)?;
        // EOF seen; the server still sends its reply on the half-open connection.
        conn.send(&all.to_ascii_uppercase())?;
        conn.close();
        l.close();
        Ok(())
    })?;
    let mut c = Sock::client(&ctx.log, client_addr(ctx.addr))?;
    c.connect(ctx.addr)?;
    for m in &ctx.messages {
        c.send(m.as_bytes())?;
    }
    c.shutdown_write()?;
    c.recv(1024)?;
    c.recv(1024)?;
    c.close();
    join(h)?;
    ctx.notes.push("shutdown(SHUT_WR) sent the client's FIN but left its read side open: data kept flowing to the FIN_WAIT_2 side, and the CLOSE_WAIT side sent before closing.".into());
    Ok(())
}

fn refused(ctx: &mut Ctx) -> io::Result<()> {
    let mut c = Sock::client(&ctx.log, client_addr(ctx.addr))?;
    let r = c.connect(ctx.addr);
    c.close();
    ctx.notes.push(match r {
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => format!("No socket listens on {}: the kernel answers the SYN with RST,ACK and connect() fails with ECONNREFUSED. The server side never had a state.", ctx.addr),
        Err(e) => format!("connect() failed with {e}"),
        Ok(()) => format!("Something listens on {}: connect() succeeded.", ctx.addr),
    });
    Ok(())
}

fn abort(ctx: &mut Ctx) -> io::Result<()> {
    let h = start_echo_server(ctx, 1)?;
    let mut c = Sock::client(&ctx.log, client_addr(ctx.addr))?;
    c.connect(ctx.addr)?;
    exchange_all(&c, &ctx.messages)?;
    c.linger_zero()?;
    c.close();
    join(h)?;
    ctx.notes.push("With SO_LINGER {on, 0}, close() aborts: an RST instead of a FIN, both ends go straight to CLOSED and nobody waits in TIME_WAIT; the server's recv() fails with ECONNRESET.".into());
    Ok(())
}

fn unread(ctx: &mut Ctx) -> io::Result<()> {
    let h = serve(ctx, true, 5, |l| {
        let conn = l.accept()?;
        conn.send(b"unsolicited data the client never reads")?;
        let _ = echo_until_eof(&conn);
        conn.close();
        l.close();
        Ok(())
    })?;
    let mut c = Sock::client(&ctx.log, client_addr(ctx.addr))?;
    c.connect(ctx.addr)?;
    thread::sleep(Duration::from_millis(100));
    c.close();
    join(h)?;
    ctx.notes.push("The client closed with bytes still unread in its receive buffer: Linux sends RST (RFC 2525), not FIN.".into());
    Ok(())
}

fn backlog(ctx: &mut Ctx) -> io::Result<()> {
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let h = serve(ctx, true, 1, move |l| {
        // Never accept: the accept queue (backlog + 1 on Linux) fills up.
        let _ = stop_rx.recv();
        l.close();
        Ok(())
    })?;
    let mut clients = Vec::new();
    for _ in 0..4 {
        let log = ctx.log.clone();
        let addr = ctx.addr;
        clients.push(thread::spawn(move || -> io::Result<Sock> {
            let mut c = Sock::client(&log, client_addr(addr))?;
            c.sock.set_nonblocking(false)?;
            let _ = c.connect(addr);
            Ok(c)
        }));
        thread::sleep(Duration::from_millis(20));
    }
    // Long enough for the first SYN retransmissions (about 1 s and 3 s after the SYN).
    thread::sleep(Duration::from_millis(3300));
    let _ = stop_tx.send(());
    join(h)?;
    for c in clients {
        if let Ok(Ok(c)) = c.join() {
            c.close();
        }
    }
    ctx.notes.push("listen(1) and no accept(): once the accept queue is full, the kernel drops further SYNs silently; the clients retransmit them (see the intervals), and connect() returns only when a SYN is finally answered.".into());
    Ok(())
}

fn self_connect(ctx: &mut Ctx) -> io::Result<()> {
    // Bind, then connect to that very address: the port after the demo's (the kernel
    // check's trace keeps the demo's port and that one only; SO_REUSEADDR, as an earlier
    // run's self-connect may be in TIME_WAIT there), else any port.
    let next = SocketAddr::new(client_addr(ctx.addr).ip(), ctx.addr.port().wrapping_add(1));
    let mut c = match Sock::bound_reusing(&ctx.log, next) {
        Ok(c) => c,
        Err(_) => Sock::client(&ctx.log, client_addr(ctx.addr))?,
    };
    let me = c.local;
    c.connect(me)?;
    exchange_all(&c, &ctx.messages)?;
    c.close();
    ctx.notes.push(format!("{me} connected to itself: its own SYN arrived while it was in SYN_SENT, so Linux took the simultaneous-open path (SYN_SENT → SYN_RECEIVED → ESTABLISHED) and the socket echoes to itself."));
    Ok(())
}

fn simultaneous_close(ctx: &mut Ctx) -> io::Result<()> {
    use super::netns::SlowLoopback;
    let (tx, rx) = mpsc::channel::<Sock>();
    let turns = ctx.messages.len();
    let h = serve(ctx, true, 5, move |l| {
        let conn = l.accept()?;
        for _ in 0..turns {
            echo_once(&conn)?;
        }
        let _ = tx.send(conn);
        l.close();
        Ok(())
    })?;
    let mut c = Sock::client(&ctx.log, client_addr(ctx.addr))?;
    c.connect(ctx.addr)?;
    exchange_all(&c, &ctx.messages)?;
    let server_side = rx
        .recv()
        .map_err(|_| io::Error::other("server thread died"))?;
    join(h)?;
    // Both close while every segment waits ~70 ms in a token bucket: each end's FIN is on its
    // way before the other's arrives, so they cross whatever the timers do. (Dropping the
    // first FINs and letting the retransmissions cross depended on both retransmission timers
    // firing in the same tick; one tick apart, the later FIN acknowledged the earlier, and the
    // capture could not show that its sender had closed first.) The queue is left to empty
    // before the qdisc goes (deleting it drops what waits in it).
    let slow = SlowLoopback::install()?;
    c.close();
    server_side.close();
    thread::sleep(Duration::from_millis(900));
    drop(slow);
    ctx.notes.push("Both ends closed at once (every segment waited ~70 ms in a token bucket in a private network namespace, so each FIN was on its way before the other arrived): each FIN reached an end that had sent its own, so both went FIN_WAIT_1 → CLOSING → TIME_WAIT, and both wait in TIME_WAIT.".into());
    Ok(())
}

fn simultaneous_open(ctx: &mut Ctx) -> io::Result<()> {
    use super::netns::SlowLoopback;
    // One socket on the demo's address (bound, never listening), one on any port.
    let a = Sock::bound_reusing(&ctx.log, ctx.addr)?;
    let b = Sock::bound_reusing(&ctx.log, client_addr(ctx.addr))?;
    let (a_addr, b_addr) = (a.local, b.local);
    // Both connect() at once while every segment waits ~75 ms in the token bucket: each SYN
    // is still in flight when the other socket sends its own.
    let slow = SlowLoopback::install()?;
    let together = std::sync::Arc::new(std::sync::Barrier::new(2));
    let connect = |mut s: Sock, to: SocketAddr| {
        let together = std::sync::Arc::clone(&together);
        thread::spawn(move || -> io::Result<Sock> {
            together.wait();
            s.connect(to)?;
            Ok(s)
        })
    };
    let ha = connect(a, b_addr);
    let hb = connect(b, a_addr);
    let a = ha
        .join()
        .map_err(|_| io::Error::other("connect thread panicked"))??;
    let b = hb
        .join()
        .map_err(|_| io::Error::other("connect thread panicked"))??;
    drop(slow);
    for m in &ctx.messages {
        a.send(m.as_bytes())?;
        echo_once(&b)?;
        a.recv(1024)?;
    }
    a.close();
    b.recv(1024)?;
    b.close();
    ctx.notes.push(format!("{a_addr} and {b_addr} connect()ed to each other at the same moment (a token-bucket qdisc in a private network namespace held each segment ~75 ms, so both SYNs were in flight at once): each SYN reached a socket in SYN_SENT, so both went SYN_SENT → SYN_RECEIVED → ESTABLISHED, answered with SYN,ACK, and no one called listen() or accept()."));
    Ok(())
}

/// Connect, exchange the messages, close: the client of the lossy scenarios.
fn client_run(ctx: &Ctx) -> io::Result<()> {
    one_client(ctx, &ctx.messages)
}

fn late_syn_ack(ctx: &mut Ctx) -> io::Result<()> {
    use super::netns::{FirstCopy, InputDrop};
    let h = start_echo_server(ctx, 1)?;
    let lost = InputDrop::install(FirstCopy::SynAckFrom(ctx.addr.port()))?;
    // connect() waits for the SYN,ACK that answers its SYN retransmission (1 s).
    client_run(ctx)?;
    drop(lost);
    join(h)?;
    ctx.notes.push("The server's first SYN,ACK was dropped on the client's input (after the capture point), so the capture shows an answer the client never got: it stayed SYN_SENT, resent its SYN after 1 s, and connect() returned only with the SYN,ACK that answered it. The server's request socket was SYN_RECEIVED all along.".into());
    Ok(())
}

fn lost_fin(ctx: &mut Ctx) -> io::Result<()> {
    use super::netns::{FirstCopy, InputDrop};
    let h = start_echo_server(ctx, 1)?;
    let mut c = Sock::client(&ctx.log, client_addr(ctx.addr))?;
    c.connect(ctx.addr)?;
    exchange_all(&c, &ctx.messages)?;
    let lost = InputDrop::install(FirstCopy::FinTo(ctx.addr.port()))?;
    c.close();
    // The server's recv() returns 0 only once the retransmitted FIN arrives (one RTO).
    join(h)?;
    drop(lost);
    ctx.notes.push("The client's first FIN was dropped on the server's input (after the capture point): the server never acknowledged it and stayed ESTABLISHED; the client resent it one RTO later, and that copy, acknowledged, took the server to CLOSE_WAIT.".into());
    Ok(())
}

/// The data of `fin-before-data`: small enough that its segment (under 96 bytes with IPv6)
/// matches `FirstCopy::DataTo`'s quota.
const HELD_UP: &[u8] = b"held up behind the FIN";

fn fin_before_data(ctx: &mut Ctx) -> io::Result<()> {
    use super::netns::{FirstCopy, InputDrop};
    let h = serve(ctx, true, 5, |l| {
        let conn = l.accept()?;
        let all = read_to_eof(&conn)?;
        conn.send(&all.to_ascii_uppercase())?;
        conn.close();
        l.close();
        Ok(())
    })?;
    let mut c = Sock::client(&ctx.log, client_addr(ctx.addr))?;
    c.connect(ctx.addr)?;
    let lost = InputDrop::install(FirstCopy::DataTo(ctx.addr.port()))?;
    c.send(HELD_UP)?;
    c.shutdown_write()?;
    c.recv(1024)?;
    c.recv(1024)?;
    c.close();
    drop(lost);
    join(h)?;
    ctx.notes.push("The client's data was dropped on the server's input (after the capture point), so its FIN arrived first, above a hole: the server kept it in the out-of-order queue (its duplicate ACK shows it) and went to CLOSE_WAIT only when the resent data filled the hole.".into());
    Ok(())
}

fn orphan_late_data(ctx: &mut Ctx) -> io::Result<()> {
    let h = serve(ctx, true, 5, |l| {
        let conn = l.accept()?;
        echo_once(&conn)?;
        // 0: the client closed. Data now goes to an orphan that reads nothing more.
        conn.recv(1024)?;
        conn.send(b"too late")?;
        conn.read_timeout(Duration::from_secs(1))?;
        let _ = conn.recv(1024); // ECONNRESET
        conn.close();
        l.close();
        Ok(())
    })?;
    client_run(ctx)?;
    join(h)?;
    ctx.notes.push("The client closed (an orphan in FIN_WAIT_2, which reads nothing more); the server sent data anyway: the orphan answered with RST and was gone (Linux's TCPAbortOnData), and the RST closed the server in CLOSE_WAIT.".into());
    Ok(())
}

fn orphan_timeout(ctx: &mut Ctx) -> io::Result<()> {
    use super::netns::Sysctl;
    let _fin_timeout = Sysctl::set("tcp_fin_timeout", "1")?;
    let h = serve(ctx, true, 5, |l| {
        let conn = l.accept()?;
        echo_until_eof(&conn)?;
        // The client's orphan waits in FIN_WAIT_2 for 1 s only.
        thread::sleep(Duration::from_millis(1600));
        conn.close();
        l.close();
        Ok(())
    })?;
    client_run(ctx)?;
    join(h)?;
    thread::sleep(Duration::from_millis(100));
    ctx.notes.push("The client's orphan waited in FIN_WAIT_2 for tcp_fin_timeout (1 s in this namespace) and was gone when the server's FIN came 1.6 s later: the kernel answered for the port with RST, which closed the server in LAST_ACK.".into());
    Ok(())
}

fn abandoned_connect(ctx: &mut Ctx) -> io::Result<()> {
    use super::netns::{FirstCopy, InputDrop};
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let h = serve(ctx, true, 5, move |l| {
        // Never accepts: the request never completes anyway.
        let _ = stop_rx.recv();
        l.close();
        Ok(())
    })?;
    let lost = InputDrop::install(FirstCopy::SynAckFrom(ctx.addr.port()))?;
    let mut c = Sock::client(&ctx.log, client_addr(ctx.addr))?;
    c.sock.set_nonblocking(true)?;
    let _ = c.connect(ctx.addr); // EINPROGRESS
    thread::sleep(Duration::from_millis(200));
    c.close(); // in SYN_SENT: no segment
               // The server's request socket resends its SYN,ACK after 1 s: the port has no socket.
    thread::sleep(Duration::from_millis(1300));
    drop(lost);
    let _ = stop_tx.send(());
    join(h)?;
    ctx.notes.push("The client gave up its non-blocking connect() while in SYN_SENT (its SYN,ACK was dropped after the capture point); close() sent nothing. The server's SYN,ACK, resent after 1 s, found no socket: the kernel answered for the port with RST, which ended the server's request socket. The kernel's trace has no record of a request socket (it is not a full socket).".into());
    Ok(())
}

/// sendto(MSG_FASTOPEN): connect with `data` on the SYN (when a cookie is cached).
fn fast_open_send(c: &mut Sock, to: SocketAddr, data: &[u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    c.peer = Some(to);
    let sa: socket2::SockAddr = to.into();
    let fd = c.sock.as_raw_fd();
    c.record_send(|| {
        // SAFETY: `data` and `sa` outlive the call; fd is the socket's.
        let n = unsafe {
            libc::sendto(
                fd,
                data.as_ptr().cast(),
                data.len(),
                libc::MSG_FASTOPEN,
                sa.as_ptr().cast(),
                sa.len(),
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    })
}

fn fast_open(ctx: &mut Ctx) -> io::Result<()> {
    use super::netns::Sysctl;
    use std::os::fd::AsRawFd;
    let _tfo = Sysctl::set("tcp_fastopen", "3")?;
    let (tx, rx) = mpsc::channel::<()>();
    let log = ctx.log.clone();
    let addr = ctx.addr;
    let h = thread::spawn(move || -> io::Result<()> {
        let l = Sock::listen(&log, addr, true, 5)?;
        let qlen: libc::c_int = 5;
        // SAFETY: setsockopt with a c_int that lives across the call.
        let rc = unsafe {
            libc::setsockopt(
                l.sock.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_FASTOPEN,
                (&qlen as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        let _ = tx.send(());
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        for _ in 0..2 {
            let conn = l.accept()?;
            echo_until_eof(&conn)?;
            conn.close();
        }
        l.close();
        Ok(())
    });
    rx.recv()
        .map_err(|_| io::Error::other("server thread died"))?;
    for _ in 0..2 {
        let mut c = Sock::client(&ctx.log, client_addr(ctx.addr))?;
        for (i, m) in ctx.messages.iter().enumerate() {
            if i == 0 {
                fast_open_send(&mut c, ctx.addr, m.as_bytes())?;
            } else {
                c.send(m.as_bytes())?;
            }
            c.recv(1024)?;
        }
        c.close();
    }
    join(h)?;
    ctx.notes.push("With tcp_fastopen=3 in this namespace, the first sendto(MSG_FASTOPEN) asked for a cookie (a plain handshake, the data after it); the second carried its data on the SYN with the cookie: the server's socket existed from that SYN (SYN_RECEIVED) and accept() returned before the final ACK.".into());
    Ok(())
}

fn syn_to_time_wait(ctx: &mut Ctx) -> io::Result<()> {
    let h = serve(ctx, true, 5, |l| {
        for _ in 0..2 {
            let conn = l.accept()?;
            echo_once(&conn)?;
            conn.close();
        }
        l.close();
        Ok(())
    })?;
    let mut port = client_addr(ctx.addr);
    for _ in 0..2 {
        let mut c = Sock::bound_reusing(&ctx.log, port)?;
        port = c.local;
        c.connect(ctx.addr)?;
        exchange_all(&c, &ctx.messages[..1])?;
        c.recv(1024)?; // 0: the server closed first
        c.close();
        thread::sleep(Duration::from_millis(50));
    }
    join(h)?;
    ctx.notes.push(format!("The server closed first, so its end of the 4-tuple waited in TIME_WAIT; the client connected again from the same port ({port}). Its SYN, with a higher sequence number and a newer timestamp, ended that TIME_WAIT (tcp_timewait_state_process's TCP_TW_SYN) and the listener opened a new connection on the same 4-tuple."));
    Ok(())
}

fn rst_challenge(ctx: &mut Ctx) -> io::Result<()> {
    use super::forged::RawTcp;
    let SocketAddr::V4(server) = ctx.addr else {
        ctx.notes
            .push("Skipped: the forged RST is built for IPv4 (give an IPv4 --addr).".into());
        return Ok(());
    };
    let raw = RawTcp::open()?;
    let h = start_echo_server(ctx, 1)?;
    let mut c = Sock::client(&ctx.log, client_addr(ctx.addr))?;
    c.connect(ctx.addr)?;
    exchange_all(&c, &ctx.messages)?;
    let SocketAddr::V4(client) = c.local else {
        return Err(io::Error::other("the client has no IPv4 address"));
    };
    let seen = raw
        .seen(client, server)?
        .ok_or_else(|| io::Error::other("the raw socket saw none of the client's segments"))?;
    // In the server's window (64 KiB and more), 1000 bytes past RCV.NXT.
    let forged = seen.next_seq.wrapping_add(1000);
    raw.send_rst(client, server, forged)?;
    thread::sleep(Duration::from_millis(50));
    // The connection survived: one more exchange, then the usual close.
    exchange_all(&c, &ctx.messages)?;
    c.close();
    join(h)?;
    ctx.notes.push("A raw socket sent the server an RST in the client's name with sequence number RCV.NXT + 1000: inside the window, not at RCV.NXT. Linux (tcp_validate_incoming, RFC 5961 §3.2) answered with a challenge ACK and kept the connection, and the echo went on; only an RST at exactly RCV.NXT would have reset it.".into());
    Ok(())
}

fn accept_overflow(ctx: &mut Ctx) -> io::Result<()> {
    use super::netns::{FirstCopy, InputDrop};
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let h = serve(ctx, true, 0, move |l| {
        // listen(0): one child fills the accept queue. Nothing is accepted until told.
        let _ = go_rx.recv();
        let second = l.accept()?; // the client whose handshake completed first
        let first = l.accept()?; // the request whose final ACK was dropped, once taken
        for conn in [second, first] {
            echo_until_eof(&conn)?;
            conn.close();
        }
        l.close();
        Ok(())
    })?;
    // The first client's final ACK is lost after the capture point: its request waits.
    let lost = InputDrop::install(FirstCopy::AckTo(ctx.addr.port()))?;
    let mut a = Sock::client(&ctx.log, client_addr(ctx.addr))?;
    a.connect(ctx.addr)?;
    thread::sleep(Duration::from_millis(20));
    drop(lost);
    // The second client completes at once and fills the queue.
    let mut b = Sock::client(&ctx.log, client_addr(ctx.addr))?;
    b.connect(ctx.addr)?;
    // The request resends its SYN,ACK after 1 s; the first client's new ACK finds the queue
    // full (listen_overflow) and is dropped. Then accept() makes room, and the ACK that
    // answers the next SYN,ACK (3 s) is taken.
    thread::sleep(Duration::from_millis(1500));
    let _ = go_tx.send(());
    thread::sleep(Duration::from_millis(2000));
    for c in [b, a] {
        exchange_all(&c, &ctx.messages)?;
        c.close();
    }
    join(h)?;
    ctx.notes.push("listen(0) holds one connection. The first client's final ACK was dropped after the capture point; by the time it was sent again (answering the SYN,ACK resent after 1 s), the second client's connection filled the accept queue, so the listener dropped it too (tcp_check_req → listen_overflow): the request stayed SYN_RECEIVED while its client was ESTABLISHED. Once accept() made room, the ACK answering the SYN,ACK resent at 3 s was taken.".into());
    Ok(())
}

#[cfg(test)]
mod table_tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_scenario_id_but_all_has_exactly_one_play() {
        for id in ScenarioId::value_variants() {
            let n = SCENARIOS.iter().filter(|s| s.id == *id).count();
            assert_eq!(n, usize::from(*id != ScenarioId::All), "{}", id.name());
        }
    }
}
