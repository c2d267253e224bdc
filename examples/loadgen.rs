//! Loopback TCP load for the benchmarks (`benches/make-captures.sh`, `benches/live-load.sh`):
//! an upper-casing echo server and client workers in one process, talking only to 127.0.0.1.
//!
//! ```text
//! cargo run --release --example loadgen -- gen 20000      # 20k connections, then exit
//! cargo run --release --example loadgen -- live 10        # flat out for 10 s
//! cargo run --release --example loadgen -- stats x.pcap   # packets, flags, 4-tuples
//! cargo run --release --example loadgen -- plan 10        # the first 10 connections' plan
//! ```
//!
//! Connection mix, drawn per connection index from a fixed seed (the same on every run; the
//! packets' timing and coalescing vary a little):
//!   ~65% normal    connect, 1–5 short messages each echoed back, close() (client first)
//!   ~20% halfclose send every message, shutdown(SHUT_WR), read the replies to EOF
//!   ~10% abort     echo exchange, then SO_LINGER 0 + close() → RST
//!   ~5%  refused   connect to a port nothing listens on → SYN, RST/ACK
//!
//! The plan of connection `i` (kind, port, messages) is drawn exactly as the original Python
//! generator drew it (`random.Random(seed * 1000003 + i)`: Mersenne Twister, `random()`,
//! `randint`, `randrange`), so both make the same connections with the same bytes.
//!
//! Listeners: 127.0.0.1 ports `port_base .. port_base + nports`; the `nports` ports after them
//! are closed (refused connections). Connection `i` goes to port index `i % nports` and, unless
//! `--sport-low 0`, binds source port `sport_low + (i / nports) % (65536 - sport_low)`, so every
//! connection has its own 4-tuple (for up to `nports * (65536 - sport_low)` connections).

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const HOST: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// `live` runs at most this long.
const MAX_LIVE_SECS: u64 = 600;

#[derive(Parser, Debug)]
#[command(about = "Loopback TCP load (127.0.0.1 only) and capture statistics for the benchmarks")]
struct Args {
    /// First listening port.
    #[arg(long, default_value_t = 27000)]
    port_base: u16,
    /// Listening ports (the same number after them stay closed).
    #[arg(long, default_value_t = 512)]
    nports: u16,
    /// Client worker threads.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Echo server threads.
    #[arg(long, default_value_t = 2)]
    servers: usize,
    /// Seed of the connection plan.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Lowest client source port (0: the kernel picks, and reuses 4-tuples within seconds).
    #[arg(long, default_value_t = 61000)]
    sport_low: u16,
    /// At most this many connections per second over all workers (0: flat out).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// N connections, then exit; prints the rate.
    Gen {
        /// Connections.
        n: u64,
    },
    /// Flat out for SECS seconds (1..=600); prints the rate and the packets sent.
    Live {
        /// Seconds.
        secs: u64,
    },
    /// Packet, flag and connection counts of a classic pcap file.
    Stats {
        /// The capture.
        file: std::path::PathBuf,
        /// Warn unless it holds exactly this many SYNs and distinct SYN 4-tuples.
        #[arg(long)]
        expect: Option<u64>,
    },
    /// Print the plan of the first N connections: index, kind, port index, message sizes,
    /// FNV-1a of the messages.
    Plan {
        /// Connections.
        n: u64,
    },
}

fn main() -> Result<()> {
    let a = Args::parse();
    if a.nports == 0 || u32::from(a.port_base) + 2 * u32::from(a.nports) > 65536 {
        bail!(
            "ports {}+2*{} do not fit below 65536",
            a.port_base,
            a.nports
        );
    }
    match a.cmd {
        Cmd::Gen { n } => run_load(&a, n, None),
        Cmd::Live { secs } => {
            if !(1..=MAX_LIVE_SECS).contains(&secs) {
                bail!("SECS must be 1..={MAX_LIVE_SECS}");
            }
            run_load(&a, u64::MAX, Some(Duration::from_secs(secs)))
        }
        Cmd::Stats { ref file, expect } => stats(file, expect),
        Cmd::Plan { n } => {
            let mut out = std::io::stdout().lock();
            for i in 0..n {
                let p = plan(a.seed, i, a.nports);
                let sizes: Vec<String> = p.msgs.iter().map(|m| m.len().to_string()).collect();
                // FNV-1a of every message's bytes, to compare plans without printing them.
                let hash = p.msgs.iter().flatten().fold(0x811c_9dc5u32, |h, &b| {
                    (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
                });
                writeln!(
                    out,
                    "{i} {} {} {} {hash:08x}",
                    p.kind.name(),
                    p.port,
                    sizes.join(",")
                )?;
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The plan: Python's `random.Random(seed)` re-implemented (CPython's _randommodule.c, random.py).

/// MT19937 as CPython seeds and draws it.
struct PyRandom {
    mt: [u32; 624],
    index: usize,
}

impl PyRandom {
    /// `random.Random(seed)` for a non-negative integer seed.
    fn new(seed: u64) -> Self {
        // init_by_array with the seed's 32-bit words, least significant first.
        let key: Vec<u32> = if seed >> 32 == 0 {
            vec![seed as u32]
        } else {
            vec![seed as u32, (seed >> 32) as u32]
        };
        let mut r = PyRandom {
            mt: [0; 624],
            index: 624,
        };
        r.init_genrand(19_650_218);
        let mt = &mut r.mt;
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..624.max(key.len()) {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= 624 {
                mt[0] = mt[623];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..623 {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_566_083_941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= 624 {
                mt[0] = mt[623];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        r
    }

    fn init_genrand(&mut self, s: u32) {
        self.mt[0] = s;
        for i in 1..624 {
            let p = self.mt[i - 1];
            self.mt[i] = 1_812_433_253u32
                .wrapping_mul(p ^ (p >> 30))
                .wrapping_add(i as u32);
        }
        self.index = 624;
    }

    fn next_u32(&mut self) -> u32 {
        const MAG01: [u32; 2] = [0, 0x9908_b0df];
        let mt = &mut self.mt;
        if self.index >= 624 {
            for kk in 0..624 {
                let y = (mt[kk] & 0x8000_0000) | (mt[(kk + 1) % 624] & 0x7fff_ffff);
                mt[kk] = mt[(kk + 397) % 624] ^ (y >> 1) ^ MAG01[(y & 1) as usize];
            }
            self.index = 0;
        }
        let mut y = mt[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `random()`: 53 random bits in [0, 1).
    fn random(&mut self) -> f64 {
        let a = self.next_u32() >> 5;
        let b = self.next_u32() >> 6;
        (f64::from(a) * 67_108_864.0 + f64::from(b)) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `_randbelow(n)` for 0 < n < 2^32: rejection sampling on `getrandbits(n.bit_length())`.
    fn below(&mut self, n: u32) -> u32 {
        let k = 32 - n.leading_zeros();
        loop {
            let r = self.next_u32() >> (32 - k);
            if r < n {
                return r;
            }
        }
    }

    /// `randint(a, b)`.
    fn randint(&mut self, a: u32, b: u32) -> u32 {
        a + self.below(b - a + 1)
    }
}

const TEXT1: &[u8] = b"the quick brown fox jumps over the lazy dog; pack my box with five dozen \
liquor jugs. sphinx of black quartz, judge my vow! how vexingly quick daft zebras jump. ";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Normal,
    HalfClose,
    Abort,
    Refused,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Normal, Kind::HalfClose, Kind::Abort, Kind::Refused];
    fn name(self) -> &'static str {
        match self {
            Kind::Normal => "normal",
            Kind::HalfClose => "halfclose",
            Kind::Abort => "abort",
            Kind::Refused => "refused",
        }
    }
}

struct Plan {
    kind: Kind,
    /// Port index: the listener `port_base + port`, or the closed `port_base + nports + port`.
    port: u16,
    msgs: Vec<Vec<u8>>,
}

/// The plan of connection `i`, as the Python generator's `plan(seed, i, nports)`.
fn plan(seed: u64, i: u64, nports: u16) -> Plan {
    let text = TEXT1.repeat(8);
    let mut r = PyRandom::new(seed.wrapping_mul(1_000_003).wrapping_add(i));
    let x = r.random();
    let kind = if x < 0.05 {
        Kind::Refused
    } else if x < 0.15 {
        Kind::Abort
    } else if x < 0.35 {
        Kind::HalfClose
    } else {
        Kind::Normal
    };
    let count = r.randint(1, 5);
    let msgs = (0..count)
        .map(|m| {
            let n = r.randint(8, 400) as usize;
            let off = r.below((text.len() - n) as u32) as usize;
            let mut msg = format!("c{i} m{m} ").into_bytes();
            msg.extend_from_slice(&text[off..off + n]);
            msg.push(b'\n');
            msg
        })
        .collect();
    Plan {
        kind,
        port: (i % u64::from(nports)) as u16,
        msgs,
    }
}

// ---------------------------------------------------------------------------------------------
// The echo server: `servers` threads, each with its own epoll set holding every listener
// (EPOLLEXCLUSIVE: one thread wakes per connection) and the connections it accepted.

/// epoll data of a listener: its fd with this bit set.
const LISTENER: u64 = 1 << 32;

struct Server {
    stop: Arc<AtomicBool>,
    /// Connections accepted and not yet closed, over all threads.
    open: Arc<AtomicI64>,
    threads: Vec<thread::JoinHandle<Result<()>>>,
    _listeners: Arc<Vec<Socket>>,
}

fn start_server(base: u16, nports: u16, nthreads: usize) -> Result<Server> {
    let mut listeners = Vec::with_capacity(usize::from(nports));
    for p in base..base + nports {
        let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
        s.set_reuse_address(true)?;
        s.bind(&SocketAddr::from((HOST, p)).into())
            .with_context(|| format!("bind 127.0.0.1:{p}"))?;
        s.listen(4096)?;
        s.set_nonblocking(true)?;
        listeners.push(s);
    }
    let listeners = Arc::new(listeners);
    let stop = Arc::new(AtomicBool::new(false));
    let open = Arc::new(AtomicI64::new(0));
    let mut threads = Vec::new();
    for _ in 0..nthreads.max(1) {
        // SAFETY: epoll_create1 has no memory arguments; the fd is owned below.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return Err(std::io::Error::last_os_error()).context("epoll_create1");
        }
        // SAFETY: `ep` is a fresh fd nobody else owns.
        let ep = unsafe { OwnedFd::from_raw_fd(ep) };
        for l in listeners.iter() {
            let fd = l.as_raw_fd();
            epoll_add(
                &ep,
                fd,
                libc::EPOLLIN as u32 | libc::EPOLLEXCLUSIVE as u32,
                LISTENER | fd as u64,
            )?;
        }
        let (stop, open, ls) = (stop.clone(), open.clone(), listeners.clone());
        threads.push(thread::spawn(move || {
            let r = serve(&ep, &stop, &open);
            drop(ls);
            r
        }));
    }
    Ok(Server {
        stop,
        open,
        threads,
        _listeners: listeners,
    })
}

fn epoll_add(ep: &OwnedFd, fd: RawFd, events: u32, data: u64) -> Result<()> {
    let mut ev = libc::epoll_event { events, u64: data };
    // SAFETY: `ev` is a valid epoll_event for the duration of the call.
    if unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
        return Err(std::io::Error::last_os_error()).context("epoll_ctl");
    }
    Ok(())
}

/// One server thread: accept, echo upper-cased, close on EOF or error.
fn serve(ep: &OwnedFd, stop: &AtomicBool, open: &AtomicI64) -> Result<()> {
    let mut conns: HashMap<RawFd, Socket> = HashMap::new();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: `events` has room for `len` entries.
        let n = unsafe {
            libc::epoll_wait(
                ep.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                100,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e).context("epoll_wait");
        }
        for ev in &events[..n as usize] {
            let data = ev.u64;
            if data & LISTENER != 0 {
                accept_all(ep, data as RawFd, &mut conns, open)?;
                continue;
            }
            let fd = data as RawFd;
            let Some(s) = conns.get(&fd) else { continue };
            if !echo(s, &mut buf) {
                // Removing from the set first; close() would do it, but explicitly is clearer.
                // SAFETY: a null event pointer is allowed for EPOLL_CTL_DEL.
                unsafe {
                    libc::epoll_ctl(
                        ep.as_raw_fd(),
                        libc::EPOLL_CTL_DEL,
                        fd,
                        std::ptr::null_mut(),
                    )
                };
                conns.remove(&fd);
                open.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}

fn accept_all(
    ep: &OwnedFd,
    lfd: RawFd,
    conns: &mut HashMap<RawFd, Socket>,
    open: &AtomicI64,
) -> Result<()> {
    loop {
        // SAFETY: accept4 with null address pointers; the new fd is owned below.
        let fd = unsafe {
            libc::accept4(
                lfd,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) | Some(libc::ECONNABORTED) => return Ok(()),
                _ => return Err(e).context("accept4"),
            }
        }
        // SAFETY: `fd` is a fresh socket nobody else owns.
        let s = unsafe { Socket::from_raw_fd(fd) };
        epoll_add(ep, fd, libc::EPOLLIN as u32, fd as u64)?;
        conns.insert(fd, s);
        open.fetch_add(1, Ordering::Relaxed);
    }
}

/// Echo what is readable, upper-cased. False when the connection is done (EOF or error).
fn echo(s: &Socket, buf: &mut [u8]) -> bool {
    // SAFETY: `buf` is valid for `len` bytes.
    let n = unsafe {
        libc::recv(
            s.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN);
    }
    if n == 0 {
        return false;
    }
    let data = &mut buf[..n as usize];
    data.make_ascii_uppercase();
    let mut sent = 0;
    while sent < data.len() {
        // A blocking send (the socket is blocking; only recv is MSG_DONTWAIT): the replies are
        // small and every client reads them.
        // SAFETY: the slice is valid for its length.
        let m = unsafe {
            libc::send(
                s.as_raw_fd(),
                data[sent..].as_ptr().cast(),
                data.len() - sent,
                libc::MSG_NOSIGNAL,
            )
        };
        if m <= 0 {
            return false;
        }
        sent += m as usize;
    }
    true
}

impl Server {
    /// Wait (up to `grace`) for the server to close the connections it accepted, then stop.
    fn stop(self, grace: Duration) -> Result<()> {
        let t0 = Instant::now();
        while self.open.load(Ordering::Relaxed) > 0 && t0.elapsed() < grace {
            thread::sleep(Duration::from_millis(10));
        }
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join()
                .map_err(|_| anyhow::anyhow!("a server thread panicked"))??;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The clients.

#[derive(Default)]
struct Counts {
    by_kind: BTreeMap<Kind, u64>,
    errors: u64,
}

struct ClientCfg {
    seed: u64,
    base: u16,
    nports: u16,
    sport_low: u16,
    n: u64,
    workers: u64,
    start: Instant,
    deadline: Option<Instant>,
    /// Connections per second per worker (0: flat out).
    rate_per_worker: f64,
}

fn client_worker(w: u64, c: &ClientCfg) -> Counts {
    let mut counts = Counts::default();
    let span = 65536 - u64::from(c.sport_low);
    let mut i = w;
    let mut k = 0u64;
    while i < c.n {
        if c.rate_per_worker > 0.0 {
            let due = c.start + Duration::from_secs_f64(k as f64 / c.rate_per_worker);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
            k += 1;
        }
        if let Some(d) = c.deadline {
            if (i / c.workers) % 64 == 0 && Instant::now() > d {
                break;
            }
        }
        let p = plan(c.seed, i, c.nports);
        let sport =
            (c.sport_low != 0).then(|| c.sport_low + ((i / u64::from(c.nports)) % span) as u16);
        match one_connection(c, &p, sport) {
            Ok(()) => *counts.by_kind.entry(p.kind).or_default() += 1,
            Err(_) => counts.errors += 1,
        }
        i += c.workers;
    }
    counts
}

fn one_connection(c: &ClientCfg, p: &Plan, sport: Option<u16>) -> std::io::Result<()> {
    let timeout = Duration::from_secs(10);
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    if let Some(sp) = sport {
        s.set_reuse_address(true)?;
        s.bind(&SockAddr::from(SocketAddrV4::new(HOST, sp)))?;
    }
    if p.kind == Kind::Refused {
        let to = SocketAddrV4::new(HOST, c.base + c.nports + p.port);
        match s.connect_timeout(&to.into(), timeout) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
            r => r?,
        }
        return Ok(());
    }
    let to = SocketAddrV4::new(HOST, c.base + p.port);
    s.connect_timeout(&to.into(), timeout)?;
    let mut stream: std::net::TcpStream = s.into();
    let mut buf = [0u8; 65536];
    if p.kind == Kind::HalfClose {
        for m in &p.msgs {
            stream.write_all(m)?;
        }
        stream.shutdown(std::net::Shutdown::Write)?; // our FIN; keep reading
        while stream.read(&mut buf)? > 0 {}
    } else {
        for m in &p.msgs {
            stream.write_all(m)?;
            let mut got = 0;
            while got < m.len() {
                let n = stream.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                got += n;
            }
        }
        if p.kind == Kind::Abort {
            Socket::from(stream).set_linger(Some(Duration::ZERO))?; // close() → RST
            return Ok(());
        }
    }
    Ok(())
}

/// TCP segments this network namespace sent: OutSegs + RetransSegs of /proc/net/snmp.
fn tcp_out_segs() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut lines = text.lines().filter(|l| l.starts_with("Tcp:"));
    let names: Vec<&str> = lines.next()?.split_whitespace().collect();
    let values: Vec<&str> = lines.next()?.split_whitespace().collect();
    let get = |k: &str| -> Option<u64> {
        let i = names.iter().position(|n| *n == k)?;
        values.get(i)?.parse().ok()
    };
    Some(get("OutSegs")? + get("RetransSegs")?)
}

fn run_load(a: &Args, n: u64, duration: Option<Duration>) -> Result<()> {
    let server = start_server(a.port_base, a.nports, a.servers)?;
    let segs0 = tcp_out_segs();
    let t0 = Instant::now();
    let cfg = Arc::new(ClientCfg {
        seed: a.seed,
        base: a.port_base,
        nports: a.nports,
        sport_low: a.sport_low,
        n,
        workers: a.workers.max(1) as u64,
        start: t0,
        deadline: duration.map(|d| t0 + d),
        rate_per_worker: a.rate as f64 / a.workers.max(1) as f64,
    });
    let workers: Vec<_> = (0..cfg.workers)
        .map(|w| {
            let cfg = cfg.clone();
            thread::spawn(move || client_worker(w, &cfg))
        })
        .collect();
    let mut total = Counts::default();
    for w in workers {
        let c = w
            .join()
            .map_err(|_| anyhow::anyhow!("a client thread panicked"))?;
        for (k, v) in c.by_kind {
            *total.by_kind.entry(k).or_default() += v;
        }
        total.errors += c.errors;
    }
    let dt = t0.elapsed().as_secs_f64();
    server.stop(Duration::from_secs(5))?;
    let segs = tcp_out_segs().zip(segs0).map(|(b, a)| b.saturating_sub(a));
    let done: u64 = total.by_kind.values().sum::<u64>() + total.errors;
    let mut parts: Vec<String> = Kind::ALL
        .iter()
        .map(|k| {
            format!(
                "{}={}",
                k.name(),
                total.by_kind.get(k).copied().unwrap_or(0)
            )
        })
        .collect();
    parts.push(format!("error={}", total.errors));
    println!(
        "client: {done} connections in {dt:.1} s ({:.0} conn/s): {}",
        done as f64 / dt,
        parts.join(", ")
    );
    if let Some(p) = segs {
        println!(
            "packets: ~{p} sent ({:.0} pkt/s; the kernel's TCP OutSegs+RetransSegs over the run, \
             any other TCP traffic in this network namespace included)",
            p as f64 / dt
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// stats: walk a classic pcap (Ethernet, Linux cooked, raw IPv4) and count.

fn stats(path: &std::path::Path, expect: Option<u64>) -> Result<()> {
    let f = File::open(path).with_context(|| format!("open {}", path.display()))?;
    let size = f.metadata()?.len();
    let mut r = BufReader::with_capacity(1 << 20, f);
    let mut hdr = [0u8; 24];
    r.read_exact(&mut hdr).context("not a classic pcap file")?;
    let magic = u32::from_le_bytes(hdr[0..4].try_into().expect("4 bytes"));
    let (le, nanos) = match magic {
        0xa1b2_c3d4 => (true, false),
        0xa1b2_3c4d => (true, true),
        0xd4c3_b2a1 => (false, false),
        0x4d3c_b2a1 => (false, true),
        _ => bail!("not a classic pcap file"),
    };
    let u32at = |b: &[u8], o: usize| {
        let w: [u8; 4] = b[o..o + 4].try_into().expect("4 bytes");
        if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let link = u32at(&hdr, 20);
    let (mut npk, mut syn, mut synack, mut fin, mut rst) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut tuples = std::collections::HashSet::new();
    let (mut first, mut last) = (None::<f64>, 0f64);
    let mut rec = [0u8; 16];
    let mut data = Vec::new();
    loop {
        match r.read_exact(&mut rec) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e.into()),
        }
        let incl = u32at(&rec, 8) as usize;
        data.resize(incl, 0);
        if r.read_exact(&mut data).is_err() {
            break;
        }
        npk += 1;
        let frac = f64::from(u32at(&rec, 4)) / if nanos { 1e9 } else { 1e6 };
        let ts = f64::from(u32at(&rec, 0)) + frac;
        first.get_or_insert(ts);
        last = ts;
        let p = match link {
            1 if data.get(12..14) == Some(&[8, 0]) => 14,
            113 => 16,
            101 | 228 => 0,
            _ => continue,
        };
        let Some(ip) = data.get(p..) else { continue };
        if ip.len() < 20 || ip[0] >> 4 != 4 || ip[9] != 6 {
            continue;
        }
        let ihl = usize::from(ip[0] & 15) * 4;
        let Some(tcp) = ip.get(ihl..ihl + 14) else {
            continue;
        };
        let fl = tcp[13];
        if fl & 2 != 0 {
            if fl & 16 != 0 {
                synack += 1;
            } else {
                syn += 1;
                let mut t = [0u8; 12];
                t[..8].copy_from_slice(&ip[12..20]);
                t[8..].copy_from_slice(&tcp[..4]);
                tuples.insert(t);
            }
        }
        fin += u64::from(fl & 1);
        rst += u64::from(fl & 4 != 0);
    }
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    println!(
        "{name}: {npk} packets, {size} bytes, {:.1} s span; SYN={syn} SYN/ACK={synack} FIN={fin} \
         RST={rst}; distinct SYN 4-tuples={}",
        first.map_or(0.0, |f| last - f),
        tuples.len()
    );
    if let Some(e) = expect {
        if syn != e || tuples.len() as u64 != e {
            eprintln!(
                "WARNING: expected {e} SYNs and distinct 4-tuples: SYN retransmissions or \
                 someone else's traffic in the port range (change PORT_BASE)"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo test --release --example loadgen`. The values are CPython's:
    /// `r = random.Random(1000003); r.random(), r.randint(1, 5), r.randint(8, 400),
    /// r.randrange(0, 1000)` and `random.Random(2**40 + 5).random()`.
    #[test]
    fn draws_what_cpython_draws() {
        let mut r = PyRandom::new(1_000_003);
        assert_eq!(r.random(), 0.515879062279493);
        assert_eq!(r.randint(1, 5), 3);
        assert_eq!(r.randint(8, 400), 274);
        assert_eq!(r.below(1000), 177);
        assert_eq!(PyRandom::new((1 << 40) + 5).random(), 0.5043802970418443);
    }

    #[test]
    fn the_mix_is_fixed() {
        let kinds: Vec<Kind> = (0..2000).map(|i| plan(1, i, 512).kind).collect();
        let share = |k| kinds.iter().filter(|&&x| x == k).count();
        assert_eq!(
            Kind::ALL.map(share),
            [1321, 368, 193, 118],
            "normal, halfclose, abort, refused"
        );
    }
}
