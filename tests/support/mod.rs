//! Builds pcap files in code (etherparse's PacketBuilder, synfin's own pcap writer), for the
//! adversarial and large-capture tests. Nothing here is committed as a capture.

#![allow(dead_code)]

pub mod cdp;
pub mod deadlined;

use etherparse::PacketBuilder;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use synfin::capture::pcap_writer::PcapWriter;
use synfin::frame::{Frame, LinkType};
use synfin::timestamp::Timestamp;

/// TCP flag bits.
pub const FIN: u8 = 0x01;
/// SYN
pub const SYN: u8 = 0x02;
/// RST
pub const RST: u8 = 0x04;
/// PSH
pub const PSH: u8 = 0x08;
/// ACK
pub const ACK: u8 = 0x10;

/// A pcap being generated (raw IPv4 frames), with its own clock.
pub struct Gen {
    w: PcapWriter,
    /// Current capture time, ns.
    pub t: i64,
    buf: Vec<u8>,
    number: u64,
}

impl Gen {
    /// Start a file.
    pub fn create(path: &Path) -> Gen {
        Gen {
            w: PcapWriter::create(path, LinkType::RAW).unwrap(),
            t: 1_700_000_000_000_000_000,
            buf: Vec::with_capacity(2048),
            number: 0,
        }
    }

    /// One segment, `step_ns` after the previous one.
    #[allow(clippy::too_many_arguments)]
    pub fn seg(
        &mut self,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        flags: u8,
        seq: u32,
        ack: u32,
        payload: &[u8],
        step_ns: i64,
    ) {
        self.t += step_ns;
        let mut b = PacketBuilder::ipv4(src.ip().octets(), dst.ip().octets(), 64).tcp(
            src.port(),
            dst.port(),
            seq,
            65535,
        );
        if flags & SYN != 0 {
            b = b.syn();
        }
        if flags & FIN != 0 {
            b = b.fin();
        }
        if flags & RST != 0 {
            b = b.rst();
        }
        if flags & PSH != 0 {
            b = b.psh();
        }
        if flags & ACK != 0 {
            b = b.ack(ack);
        }
        self.buf.clear();
        b.write(&mut self.buf, payload).unwrap();
        self.raw_frame(self.t);
    }

    /// Write the last built frame again (a duplicate), at time `t`.
    pub fn raw_frame(&mut self, t: i64) {
        self.number += 1;
        let frame = Frame {
            number: self.number,
            ts: Timestamp(t),
            link: LinkType::RAW,
            orig_len: self.buf.len() as u32,
            data: &self.buf,
        };
        self.w.write(&frame).unwrap();
    }

    /// A whole connection: handshake, `n` data segments of `len` bytes each way's ACKs, and a
    /// client-first close. Sequence numbers start at the given ISNs (they may wrap).
    pub fn connection(
        &mut self,
        c: SocketAddrV4,
        s: SocketAddrV4,
        isn_c: u32,
        isn_s: u32,
        n: usize,
        len: usize,
    ) {
        let data = vec![b'x'; len];
        let us = 1_000;
        self.seg(c, s, SYN, isn_c, 0, &[], us);
        self.seg(s, c, SYN | ACK, isn_s, isn_c.wrapping_add(1), &[], us);
        let mut cs = isn_c.wrapping_add(1);
        let ss = isn_s.wrapping_add(1);
        self.seg(c, s, ACK, cs, ss, &[], us);
        for _ in 0..n {
            self.seg(c, s, ACK | PSH, cs, ss, &data, us);
            cs = cs.wrapping_add(len as u32);
            self.seg(s, c, ACK, ss, cs, &[], us);
        }
        self.seg(c, s, FIN | ACK, cs, ss, &[], us);
        self.seg(s, c, FIN | ACK, ss, cs.wrapping_add(1), &[], us);
        self.seg(c, s, ACK, cs.wrapping_add(1), ss.wrapping_add(1), &[], us);
    }

    /// Flush the file.
    pub fn finish(mut self) {
        self.w.flush().unwrap();
    }
}

/// `10.a.b.c:port` for client number `i`.
pub fn client(i: u32) -> SocketAddrV4 {
    let ip = Ipv4Addr::from(0x0a00_0000 | (i >> 14));
    SocketAddrV4::new(ip, 1024 + (i & 0x3fff) as u16)
}

/// The server everybody talks to.
pub fn server() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 255, 0, 1), 80)
}

/// The peak RSS of a process started by one that exec'd a small program, not by this test:
/// Linux records the memory of the process that execs into its peak (`exec_mmap` keeps the
/// old mm's high-water mark in `signal->maxrss`), so a child of this big, busy test process
/// would report the test's own peak. python3 forks a fresh child and reports its rusage.
const MEASURE: &str = "import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, ru = os.wait4(pid, 0)
sys.stderr.write('\\n%d %d' % (ru.ru_maxrss, os.waitstatus_to_exitcode(status)))
";

/// Run synfin; (stdout, exit code or -signal, its peak RSS in KiB).
pub fn run_synfin(args: &[&str]) -> (String, i32, i64) {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(MEASURE)
        .arg(env!("CARGO_BIN_EXE_synfin"))
        .args(args)
        .output()
        .expect("python3 runs");
    let measured = String::from_utf8_lossy(&out.stderr);
    let (rss, code) = measured
        .trim()
        .rsplit('\n')
        .next()
        .and_then(|l| l.split_once(' '))
        .and_then(|(r, c)| Some((r.parse().ok()?, c.parse().ok()?)))
        .unwrap_or_else(|| panic!("no measurement: {measured}"));
    (String::from_utf8_lossy(&out.stdout).into_owned(), code, rss)
}

/// The rows of a one-line-per-connection summary (`--width 170` or more): its words.
pub fn summary_rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .skip(2) // the date line and the column headings
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// A whole connection to `listener` (3 bytes, the client closing first), over when it returns.
pub fn one_connection(listener: std::net::TcpListener) {
    use std::io::{Read, Write};
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let mut buf = [0u8; 16];
        while c.read(&mut buf).unwrap() > 0 {}
    });
    let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    client.write_all(b"bye").unwrap();
    drop(client);
    server.join().unwrap();
}

/// An SVG line without the room `--format svg` keeps after each height in its head (for
/// the height written in at the end when it streams into a file): spaces after a closing
/// quote, down to one.
pub fn unpadded(line: &str) -> String {
    if !(line.starts_with("<svg ") || line.starts_with("<rect x=\"0\" y=\"0\" ")) {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len());
    for part in line.split("\"  ") {
        if !out.is_empty() {
            out.push_str("\" ");
        }
        out.push_str(part.trim_start_matches(' '));
    }
    out
}
