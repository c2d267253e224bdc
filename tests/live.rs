//! Live capture on `lo` (needs root or CAP_NET_RAW). Skips with a message where capture is
//! not allowed, unless SYNFIN_REQUIRE_LIVE=1 (set in CI), where it fails instead.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;
use support::deadlined::Deadlined;

fn can_capture() -> bool {
    // SAFETY: a plain socket(2) probe, closed at once.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
    if fd >= 0 {
        unsafe { libc::close(fd) };
        return true;
    }
    false
}

fn live_allowed(test: &str) -> bool {
    if can_capture() {
        return true;
    }
    if std::env::var("SYNFIN_REQUIRE_LIVE").is_ok_and(|v| v == "1") {
        panic!("{test}: live capture is required (SYNFIN_REQUIRE_LIVE=1) but not permitted here");
    }
    eprintln!(
        "skipping {test}: no CAP_NET_RAW (run as root, or set SYNFIN_REQUIRE_LIVE=1 to fail)"
    );
    false
}

/// The demo's namespace scenarios need `nft` (a first copy lost after the capture point) and
/// `tc` (simultaneous open and close). Where they are missing the demo test skips with a message, unless
/// SYNFIN_REQUIRE_LIVE=1 (CI, whose `.ci/run` installs them), where it fails.
fn namespace_tools_present(test: &str) -> bool {
    let missing: Vec<&str> = ["nft", "tc"]
        .into_iter()
        .filter(|tool| {
            !std::env::var_os("PATH")
                .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()))
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "{test}: needs {} (Debian packages nftables, iproute2)",
        missing.join(" and ")
    );
    if std::env::var("SYNFIN_REQUIRE_LIVE").is_ok_and(|v| v == "1") {
        panic!("{why}");
    }
    eprintln!("skipping {why}");
    false
}

/// `synfin watch -i lo --port PORT -f jsonl EXTRA...`, with a deadline of `limit`.
fn watch_lo(port: u16, extra: &[&str], limit: Duration) -> Deadlined {
    let port = port.to_string();
    let args = [
        &["watch", "-i", "lo", "--port", &port, "-f", "jsonl"][..],
        extra,
    ]
    .concat();
    Deadlined::spawn(&args, limit)
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[test]
fn watch_sees_each_loopback_segment_exactly_once_with_kernel_timestamps() {
    if !live_allowed("watch_sees_each_loopback_segment_exactly_once") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // -c 10 ends it after the connection; --duration 20 bounds it; the test gives it 30 s.
    let mut child = watch_lo(
        port,
        &["--duration", "20", "-c", "10"],
        Duration::from_secs(30),
    );
    // Wait for the meta line: the capture socket is open from then on.
    assert!(child.next_line("meta line").contains("\"type\":\"meta\""));
    let server = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        loop {
            let n = c.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            c.write_all(&buf[..n].to_ascii_uppercase()).unwrap();
        }
    });
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client.write_all(b"hello").unwrap();
    let mut reply = [0u8; 5];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"HELLO");
    drop(client);
    server.join().unwrap();
    let end = child.finish();
    assert!(end.status.success(), "{}", end.stderr);
    let rest = end.rest.join("\n");
    let lines: Vec<serde_json::Value> = end.rest.iter().map(|l| json(l)).collect();
    let segs: Vec<&serde_json::Value> = lines.iter().filter(|l| l["type"] == "segment").collect();
    // SYN, SYN-ACK, ACK, data, ACK, data, ACK, FIN, FIN, ACK: 10, each once (-c 10 stops there).
    assert_eq!(segs.len(), 10, "{rest}");
    let mut seen = std::collections::HashSet::new();
    for s in &segs {
        let key = (
            s["src"].to_string(),
            s["seq_raw"].as_u64(),
            s["ack_raw"].as_u64(),
            s["flags"].to_string(),
            s["len"].as_u64(),
        );
        assert!(seen.insert(key), "a segment arrived twice: {s}");
    }
    let times: Vec<f64> = segs.iter().map(|s| s["t"].as_f64().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "timestamps go backwards: {times:?}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (now - times[0]).abs() < 60.0,
        "kernel timestamps are wall-clock: {}",
        times[0]
    );
    let conn = lines
        .iter()
        .find(|l| l["type"] == "connection")
        .expect("a verdict");
    assert_eq!(conn["history"], "ShADadFf", "{conn}");
}

#[test]
fn demo_scenarios_show_the_lesson() {
    if !live_allowed("demo_scenarios_show_the_lesson")
        || !namespace_tools_present("demo_scenarios_show_the_lesson")
    {
        return;
    }
    // About 25 s here; a hung scenario fails at 120 s.
    let out = Deadlined::spawn(
        &[
            "demo",
            "--scenario",
            "all",
            "--addr",
            "127.0.0.9:8899",
            "-f",
            "jsonl",
            "--kernel-check",
        ],
        Duration::from_secs(120),
    )
    .finish();
    let stderr = &out.stderr;
    assert!(out.status.success(), "{stderr}");
    // The kernel's own trace (tracefs inet_sock_set_state, /proc/net/tcp for TIME_WAIT)
    // agrees with the inferred state sequence of every endpoint of every scenario.
    let agree = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("kernel check: ")?
                .strip_suffix(" endpoints agree")?
                .parse::<usize>()
                .ok()
        })
        .unwrap_or_else(|| panic!("no kernel check verdict in: {stderr}"));
    // 37 from the lesson's scenarios, 25 from those of traffic synfin did not make (late
    // SYN,ACK, lost FIN, FIN before its data, orphans, TCP Fast Open, a SYN meeting
    // TIME_WAIT, a forged RST, a full accept queue; see #11).
    assert!(agree >= 62, "only {agree} endpoints checked: {stderr}");
    // abandoned-connect's request socket: the kernel's trace cannot have it, and says so.
    assert!(
        stderr.contains("kernel check: 1 not compared: request sockets"),
        "{stderr}"
    );
    let lines: Vec<serde_json::Value> = out.rest.iter().map(|l| json(l)).collect();
    let verdicts: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["type"] == "connection").collect();
    let t = |v: &serde_json::Value| v["t"].as_f64().unwrap();
    // basic: the first connection. connect() returns after the SYN-ACK and before the
    // client's ACK; accept() returns after the final ACK; recv() returns 0 after the FIN.
    let c1: Vec<&serde_json::Value> = lines.iter().filter(|l| l["conn"] == 1).collect();
    let seg = |f: &dyn Fn(&serde_json::Value) -> bool| {
        *c1.iter().find(|l| l["type"] == "segment" && f(l)).unwrap()
    };
    let synack = seg(&|l| l["flags"] == serde_json::json!(["ACK", "SYN"]));
    let final_ack = seg(&|l| l["dir"] == "c2s" && l["flags"] == serde_json::json!(["ACK"]));
    let observed = |call: &str, phase: &str, ep: &serde_json::Value| {
        *c1.iter()
            .find(|l| {
                l["type"] == "call"
                    && l["source"] == "observed"
                    && l["call"] == call
                    && l["phase"] == phase
                    && &l["endpoint"] == ep
            })
            .unwrap_or_else(|| panic!("no observed {call} {phase}"))
    };
    let client = &verdicts[0]["client"];
    let server = &verdicts[0]["server"];
    let connect_ret = observed("connect", "return", client);
    assert!(
        t(connect_ret) >= t(synack),
        "connect() returned before the SYN-ACK"
    );
    let accept_ret = observed("accept", "return", server);
    assert!(
        t(accept_ret) >= t(final_ack),
        "accept() returned before the final ACK"
    );
    let client_fin = seg(&|l| l["dir"] == "c2s" && l["flags"].to_string().contains("FIN"));
    let zero = c1
        .iter()
        .find(|l| {
            l["type"] == "call"
                && l["source"] == "observed"
                && l["call"] == "recv"
                && l["result"] == "0 bytes"
                && &l["endpoint"] == server
        })
        .expect("the server's recv() returns 0");
    assert!(t(zero) >= t(client_fin));
    // TIME_WAIT on the side that closed first.
    assert_eq!(verdicts[0]["close_initiator"], "client");
    assert_eq!(
        verdicts[0]["final_states"][client.as_str().unwrap()],
        "TIME_WAIT"
    );
    let sf = verdicts
        .iter()
        .find(|v| v["close_initiator"] == "server" && v["outcome"] == "closed")
        .expect("server-first");
    assert_eq!(
        sf["final_states"][sf["server"].as_str().unwrap()],
        "TIME_WAIT"
    );
    // server-first's restart: EADDRINUSE without SO_REUSEADDR, then success with it.
    let listens: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["type"] == "call" && l["call"] == "listen" && l["phase"] == "return")
        .collect();
    let eaddr = listens
        .iter()
        .position(|l| l["result"] == "EADDRINUSE")
        .expect("EADDRINUSE");
    assert!(listens[eaddr + 1]["result"]
        .as_str()
        .unwrap()
        .starts_with("ok (bind+listen with SO_REUSEADDR"));
    // empty: send(b"") returns 0 bytes, and no data segment is on that connection.
    let empty_send = lines
        .iter()
        .find(|l| l["type"] == "call" && l["call"] == "send" && l["result"] == "0 bytes")
        .expect("the empty send");
    let conn = &empty_send["conn"];
    assert!(!lines
        .iter()
        .any(|l| l["type"] == "segment" && &l["conn"] == conn && l["len"] != 0));
    // refused, abort and unread show up as such.
    assert!(verdicts
        .iter()
        .any(|v| v["outcome"] == "refused" && v["history"] == "Sr"));
    assert!(verdicts.iter().filter(|v| v["outcome"] == "reset").count() >= 2);
    // self-connect: one endpoint, simultaneous open.
    let selfc = verdicts
        .iter()
        .find(|v| v["client"] == v["server"])
        .expect("self-connect");
    let ep = selfc["client"].clone();
    let path: Vec<String> = lines
        .iter()
        .filter(|l| {
            l["type"] == "state"
                && l["conn"] == selfc["conn"]
                && l["endpoint"] == ep
                && l["projected"] == false
        })
        .map(|l| l["to"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(&path[..3], ["SYN_SENT", "SYN_RECEIVED", "ESTABLISHED"]);
    // simultaneous-close (private netns): crossed FINs, CLOSING and TIME_WAIT on both ends.
    let both = verdicts
        .iter()
        .find(|v| v["close_initiator"] == "both")
        .expect("crossed FINs");
    for ep in [&both["client"], &both["server"]] {
        assert_eq!(both["final_states"][ep.as_str().unwrap()], "TIME_WAIT");
        assert!(lines.iter().any(|l| l["type"] == "state"
            && l["conn"] == both["conn"]
            && &l["endpoint"] == ep
            && l["to"] == "CLOSING"));
    }
    // simultaneous-open (private netns, tc tbf): two sockets, crossed SYNs, both ends
    // SYN_SENT → SYN_RECEIVED → ESTABLISHED, no LISTEN.
    let opened_together: Vec<&&serde_json::Value> = verdicts
        .iter()
        .filter(|v| v["client"] != v["server"])
        .filter(|v| {
            [&v["client"], &v["server"]].iter().all(|ep| {
                let path: Vec<&str> = lines
                    .iter()
                    .filter(|l| {
                        l["type"] == "state" && l["conn"] == v["conn"] && &&l["endpoint"] == ep
                    })
                    .map(|l| l["to"].as_str().unwrap())
                    .collect();
                path.starts_with(&["SYN_SENT", "SYN_RECEIVED", "ESTABLISHED"])
            })
        })
        .collect();
    assert_eq!(opened_together.len(), 1, "one simultaneous open");
    // backlog: SYNs retransmitted.
    assert!(lines.iter().any(|l| l["type"] == "anomaly"
        && l["detail"]
            .as_str()
            .unwrap()
            .starts_with("SYN retransmitted")));
}

#[test]
fn ctrl_c_leaves_a_valid_pcap_and_a_clean_exit() {
    if !live_allowed("ctrl_c_leaves_a_valid_pcap_and_a_clean_exit") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cut.pcap");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut child = watch_lo(
        port,
        &["-w", file.to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert!(child.next_line("meta line").contains("\"type\":\"meta\""));
    // One whole connection, then Ctrl-C while the capture is still running.
    support::one_connection(listener);
    // The connection's verdict shows it was all captured (and written to the file).
    while !child
        .next_line("connection verdict")
        .contains("\"type\":\"connection\"")
    {}
    child.interrupt();
    let end = child.finish();
    assert!(
        end.status.success(),
        "Ctrl-C is a clean stop: {:?} {}",
        end.status,
        end.stderr
    );
    let rest = end.rest;
    assert!(
        rest.last()
            .is_some_and(|l| l.contains("\"type\":\"summary\"")),
        "the summary line still comes: {rest:?}"
    );
    // The file is whole: it replays, with the segments seen.
    let out = Deadlined::spawn(
        &[
            "replay",
            file.to_str().unwrap(),
            "-f",
            "summary",
            "--color",
            "never",
        ],
        Duration::from_secs(30),
    )
    .finish();
    assert!(out.status.success(), "{}", out.stderr);
    assert!(out.rest.join("\n").contains("1 connection ("));
}

#[test]
fn ctrl_c_right_after_the_last_segment_still_shows_it() {
    if !live_allowed("ctrl_c_right_after_the_last_segment_still_shows_it") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut child = watch_lo(port, &[], Duration::from_secs(30));
    assert!(child.next_line("meta line").contains("\"type\":\"meta\""));
    support::one_connection(listener);
    // Ctrl-C at once: the frames are still in the capture ring (the block the kernel is
    // filling is handed over only within its retire timeout), and must be read, not dropped.
    child.interrupt();
    let end = child.finish();
    assert!(end.status.success(), "{:?} {}", end.status, end.stderr);
    let flags: Vec<String> = end
        .rest
        .iter()
        .map(|l| json(l))
        .filter(|v| v["type"] == "segment")
        .map(|v| v["flags"].to_string())
        .collect();
    let fins = flags.iter().filter(|f| f.contains("FIN")).count();
    assert!(
        flags.first().is_some_and(|f| f == r#"["SYN"]"#) && fins == 2,
        "the whole connection, both FINs included: {flags:?}\n{}",
        end.stderr
    );
}

/// The records of a classic pcap file with nanosecond stamps (what `-w x.pcap` writes): each
/// record's timestamp in nanoseconds, captured length and length on the wire.
fn pcap_records(bytes: &[u8]) -> Vec<(u64, u32, u32)> {
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
    assert_eq!(u32_at(0), 0xa1b2_3c4d, "a little-endian nanosecond pcap");
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let ts = u64::from(u32_at(at)) * 1_000_000_000 + u64::from(u32_at(at + 4));
        let (incl, orig) = (u32_at(at + 8), u32_at(at + 12));
        out.push((ts, incl, orig));
        at += 16 + incl as usize;
    }
    assert_eq!(at, bytes.len(), "the file ends on a record boundary");
    out
}

#[test]
fn loopback_segments_of_64_kib_arrive_whole_in_time_order_across_ring_blocks() {
    if !live_allowed("loopback_segments_of_64_kib_arrive_whole") {
        return;
    }
    const SENT: usize = 4 << 20;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.pcap");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut child = watch_lo(
        port,
        &["-w", file.to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert!(child.next_line("meta line").contains("\"type\":\"meta\""));
    let server = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0;
        loop {
            let n = c.read(&mut buf).unwrap();
            if n == 0 {
                break got;
            }
            got += n;
        }
    });
    // Large writes on lo go out as segments of up to 64 KiB (lo's MTU is 65,536): 4 MiB is
    // more than the ring's blocks hold, so reading it walks from block to block.
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client.write_all(&vec![b'x'; SENT]).unwrap();
    drop(client);
    assert_eq!(server.join().unwrap(), SENT);
    let mut segs = Vec::new();
    loop {
        let line = child.next_line("connection verdict");
        let v = json(&line);
        if v["type"] == "connection" {
            break;
        }
        if v["type"] == "segment" {
            segs.push(v);
        }
    }
    child.interrupt();
    let end = child.finish();
    assert!(end.status.success(), "{}", end.stderr);
    // Every byte sent was captured, each frame once: a copy of a segment at the same moment
    // is a frame delivered twice; one resent later (a busy loopback may resend, and cut the
    // bytes otherwise than the first time) is a segment of its own, its bytes counted once.
    let mut seen = std::collections::HashMap::new();
    let mut ranges = Vec::new();
    for s in segs.iter().filter(|s| s["len"].as_u64() > Some(0)) {
        let (t, len) = (s["t"].as_f64().unwrap(), s["len"].as_u64().unwrap());
        // `seq` counts from the ISN (the SYN's is 0): the first byte's is 1.
        let from = s["seq"].as_u64().unwrap() - 1;
        if let Some(before) = seen.insert((from, len), t) {
            assert!(t - before > 0.001, "a segment arrived twice: {s}");
        }
        ranges.push((from, from + len));
    }
    ranges.sort_unstable();
    let (mut payload, mut end) = (0, 0);
    for (from, to) in ranges {
        assert!(from <= end, "bytes {end}..{from} were not captured");
        payload += to.saturating_sub(end) as usize;
        end = end.max(to);
    }
    assert_eq!(payload, SENT, "payload bytes captured");
    let records = pcap_records(&std::fs::read(&file).unwrap());
    assert_eq!(records.len(), segs.len(), "one record a segment");
    let largest = records.iter().map(|r| r.2).max().unwrap();
    assert!(largest > 60_000, "64 KiB segments on lo: largest {largest}");
    for (ts, incl, orig) in &records {
        assert_eq!(
            incl, orig,
            "a frame was cut: {incl} of {orig} bytes at {ts}"
        );
    }
    // Blocks are read in turn: the client's data segments (sent in order, from one socket)
    // come in sequence order, but for the kernel's own swaps of neighbours (two CPUs taking
    // ring places the other way round, as below; seen once in ~30 loaded runs): a step back
    // is at most one segment, and rare. A block read out of turn would step back by a block.
    let data: Vec<u64> = segs
        .iter()
        .filter(|s| s["dir"] == "c2s" && s["len"].as_u64() > Some(0))
        .map(|s| s["seq"].as_u64().unwrap())
        .collect();
    let back: Vec<u64> = data
        .windows(2)
        .filter(|w| w[1] < w[0])
        .map(|w| w[0] - w[1])
        .collect();
    assert!(
        back.len() <= 2 && back.iter().all(|&b| b <= 65_536),
        "data out of order (steps back {back:?}): {data:?}"
    );
    // Time order, up to the kernel's own: a frame is stamped before it takes its place in the
    // ring, so frames stamped on two CPUs at nearly the same moment can take their places the
    // other way round (seen here: 0.5-5 µs). More than a millisecond back is not that.
    assert!(
        records.windows(2).all(|w| w[1].0 + 1_000_000 >= w[0].0),
        "timestamps go backwards: {:?}",
        records.iter().map(|r| r.0).collect::<Vec<_>>()
    );
}

#[test]
fn the_streaming_ladder_draws_each_connection_while_the_capture_goes_on() {
    // Each connection's ladder is drawn (on a drawing thread) and written when it ends, not
    // when the capture does: the watch runs for a minute, and each ladder must come while
    // it runs.
    if !live_allowed("the_streaming_ladder_draws_each_connection_while_the_capture_goes_on") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let p = port.to_string();
    let mut child = Deadlined::spawn(
        &[
            "watch",
            "-i",
            "lo",
            "--port",
            &p,
            "-f",
            "ladder",
            "--color",
            "never",
            "--no-calls",
            "--duration",
            "60",
        ],
        Duration::from_secs(90),
    );
    let server = std::thread::spawn(move || {
        for c in listener.incoming() {
            let mut c = c.unwrap();
            let mut buf = [0u8; 64];
            while let Ok(n) = c.read(&mut buf) {
                if n == 0 || c.write_all(&buf[..n].to_ascii_uppercase()).is_err() {
                    break;
                }
            }
        }
    });
    // One connection; its client port.
    let exchange = || {
        let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        client.write_all(b"hi").unwrap();
        let mut reply = [0u8; 2];
        client.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"HI");
        client.local_addr().unwrap().port()
    };
    // The capture opens a moment after the start (nothing is printed before a ladder):
    // connections are made until one is drawn.
    let mut seen = Vec::new();
    for _ in 0..30 {
        exchange();
        if let Some(line) = child.line_within(Duration::from_secs(1)) {
            seen.push(line);
            break;
        }
    }
    if seen.is_empty() {
        child.fail("no ladder while the capture ran");
    }
    // Then one more connection, and nothing after it: its own ladder must come (not only
    // when a later connection, or the end, pushes it out).
    let last = format!("127.0.0.1:{} → 127.0.0.1:{port}", exchange());
    while !seen
        .iter()
        .any(|l| l.starts_with("conn ") && l.contains(&last))
    {
        match child.line_within(Duration::from_secs(10)) {
            Some(l) => seen.push(l),
            None => child.fail(&format!(
                "no ladder for {last} while the capture ran: {seen:?}"
            )),
        }
    }
    child.interrupt();
    let end = child.finish();
    assert!(end.status.success(), "{}", end.stderr);
    let all = seen.join("\n");
    assert!(all.contains("SYN seq=0"), "{all}");
    assert!(all.contains("ESTABLISHED"), "{all}");
    drop(server);
}
