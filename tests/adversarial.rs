//! Adversarial captures, generated in code (never committed): correct summaries, bounded
//! memory (the child's peak RSS, measured by `support::run_synfin`), no panics.

mod support;

use support::*;

fn tmp(name: &str) -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join(name).to_str().unwrap().to_string();
    (d, p)
}

#[test]
fn syn_flood_of_a_million_half_open_connections_stays_bounded() {
    let (_d, path) = tmp("flood.pcap");
    let mut g = Gen::create(path.as_ref());
    for i in 0..1_000_000u32 {
        g.seg(
            client(i),
            server(),
            SYN,
            i.wrapping_mul(2_654_435_761),
            0,
            &[],
            1_000,
        );
    }
    g.finish();
    let (out, code, rss_kib) = run_synfin(&[
        "replay", &path, "-f", "summary", "--color", "never", "--width", "200",
    ]);
    assert_eq!(code, 0);
    let last = out.lines().rev().nth(1).unwrap();
    assert!(
        out.contains("1000000 connections (aborted 900000, incomplete 100000)"),
        "{last}"
    );
    // 100,000 tracked at once (the default --max-connections), the rest evicted as anomalies.
    assert!(rss_kib < 256 * 1024, "peak RSS {rss_kib} KiB");
    let rows = summary_rows(&out);
    assert_eq!(rows.len(), 1_000_000);
    assert!(rows.iter().all(|r| r[8] == "S" && r[9] == "S0"));
}

#[test]
fn eviction_is_reported_as_an_anomaly() {
    let (_d, path) = tmp("evict.pcap");
    let mut g = Gen::create(path.as_ref());
    for i in 0..5u32 {
        g.seg(client(i), server(), SYN, 7, 0, &[], 1_000);
    }
    g.finish();
    let (out, code, _) = run_synfin(&["replay", &path, "-f", "jsonl", "--max-connections", "2"]);
    assert_eq!(code, 0);
    let evicted = out
        .lines()
        .filter(|l| l.contains("\"kind\":\"evicted\""))
        .count();
    assert_eq!(evicted, 3);
}

#[test]
fn sequence_numbers_wrapping_past_2_32_mid_connection() {
    let (_d, path) = tmp("wrap.pcap");
    let mut g = Gen::create(path.as_ref());
    // 100 segments of 100 bytes from 2^32 - 5000: the client's sequence wraps at segment 51.
    g.connection(
        client(1),
        server(),
        u32::MAX - 5_000,
        u32::MAX - 10,
        100,
        100,
    );
    g.finish();
    let (out, code, _) = run_synfin(&["replay", &path, "-f", "jsonl"]);
    assert_eq!(code, 0);
    assert!(
        !out.contains("retransmission"),
        "a wrap is not a retransmission"
    );
    assert!(!out.contains("\"kind\":\"out_of_order\""));
    assert!(!out.contains("illegal_transition"));
    let conn = out
        .lines()
        .find(|l| l.contains("\"type\":\"connection\""))
        .unwrap();
    assert!(conn.contains("\"bytes\":[10000,0]"), "{conn}");
    assert!(conn.contains("\"conn_state\":\"SF\""), "{conn}");
    assert!(conn.contains("\"outcome\":\"closed\""), "{conn}");
    // Relative sequence numbers keep counting across the wrap.
    assert!(out.contains("\"seq\":5001,"), "relative seq after the wrap");
}

#[test]
fn a_connection_of_a_million_data_segments() {
    let (_d, path) = tmp("long.pcap");
    let mut g = Gen::create(path.as_ref());
    g.connection(client(2), server(), 1, 2, 500_000, 10);
    g.finish();
    let (out, code, rss_kib) = run_synfin(&[
        "replay", &path, "-f", "summary", "--color", "never", "--width", "200",
    ]);
    assert_eq!(code, 0);
    let rows = summary_rows(&out);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][6], "500004/500002", "{:?}", rows[0]);
    assert_eq!(rows[0][7], "5000000/0");
    assert_eq!(
        (rows[0][8].as_str(), rows[0][9].as_str()),
        ("ShADaFf", "SF")
    );
    assert!(
        rss_kib < 64 * 1024,
        "peak RSS {rss_kib} KiB for one long connection"
    );
}

#[test]
fn timestamps_going_backwards_and_duplicated_frames() {
    let (_d, path) = tmp("odd.pcap");
    let mut g = Gen::create(path.as_ref());
    let (c, s) = (client(3), server());
    g.seg(c, s, SYN, 100, 0, &[], 1_000);
    g.raw_frame(g.t); // the same SYN captured twice
    g.seg(s, c, SYN | ACK, 900, 101, &[], -500); // stamped before the SYN
    g.seg(c, s, ACK, 101, 901, &[], 2_000);
    g.seg(c, s, ACK | PSH, 101, 901, b"hello", 1_000);
    g.raw_frame(g.t);
    g.seg(s, c, ACK, 901, 106, &[], 1_000);
    g.seg(c, s, FIN | ACK, 106, 901, &[], 1_000);
    g.seg(s, c, FIN | ACK, 901, 107, &[], 1_000);
    g.seg(c, s, ACK, 107, 902, &[], -3_000); // backwards again
    g.finish();
    let (out, code, _) = run_synfin(&["replay", &path, "-f", "jsonl"]);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("\"kind\":\"duplicate\""))
            .count(),
        2
    );
    let conn = out
        .lines()
        .find(|l| l.contains("\"type\":\"connection\""))
        .unwrap();
    // Zeek sees both copies: the repeated payload is a T (the repeated SYN adds nothing),
    // and every copy is a packet (orig_pkts, tshark's conversations); the payload counts once.
    assert!(conn.contains("\"history\":\"ShADTaFf\""), "{conn}");
    assert!(
        conn.contains("\"packets\":[7,3]"),
        "every captured copy is a packet: {conn}"
    );
    assert!(conn.contains("\"bytes\":[5,0]"), "payload once: {conn}");
    assert!(conn.contains("\"outcome\":\"closed\""), "{conn}");
}

#[test]
fn two_connections_reusing_one_4_tuple_back_to_back() {
    let (_d, path) = tmp("reuse.pcap");
    let mut g = Gen::create(path.as_ref());
    g.connection(client(4), server(), 1000, 5000, 1, 5);
    g.connection(client(4), server(), 900_000, 700_000, 2, 5);
    g.finish();
    let (out, code, _) = run_synfin(&["replay", &path, "-f", "jsonl"]);
    assert_eq!(code, 0);
    let conns: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("\"type\":\"connection\""))
        .collect();
    assert_eq!(conns.len(), 2);
    assert!(conns[0].contains("\"conn\":1,") && conns[1].contains("\"conn\":2,"));
    // The new SYN ends the first connection's TIME_WAIT, not a projection 60 s later.
    let tw_end: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("\"from\":\"TIME_WAIT\""))
        .collect();
    assert!(
        tw_end[0].contains("\"conn\":1,") && tw_end[0].contains("\"projected\":false"),
        "{tw_end:?}"
    );
    assert!(
        tw_end[0].contains("\"frame\":"),
        "caused by the reusing SYN: {tw_end:?}"
    );
}

#[test]
fn memory_grows_with_connections_open_at_once_not_with_capture_length() {
    // The same traffic (2,000 connections a second, each closed by the client, so each client
    // end waits in TIME_WAIT), for 5 s and for 50 s. With TIME_WAIT at 1 s here, about 2,000
    // connections are remembered at any moment in both; a 10× longer capture must not need
    // more memory.
    let gen = |secs: u32, path: &str| {
        let mut g = Gen::create(path.as_ref());
        for i in 0..secs * 2_000 {
            let start = g.t;
            g.connection(client(i), server(), i.wrapping_mul(7919), 4242, 1, 10);
            g.t = start + 500_000; // the next one 0.5 ms after this one began
        }
        g.finish();
    };
    let (_d1, short) = tmp("short.pcap");
    let (_d2, long) = tmp("long.pcap");
    gen(5, &short);
    gen(50, &long);
    // Every streaming format, the ladder (a block per connection) among them.
    for format in ["summary", "jsonl", "ladder"] {
        let rss = |path: &str| {
            let (out, code, rss) = run_synfin(&[
                "replay",
                path,
                "-f",
                format,
                "--time-wait",
                "1",
                "--color",
                "never",
            ]);
            assert_eq!(code, 0);
            assert!(out.contains("TIME_WAIT"), "{format}");
            rss
        };
        let (a, b) = (rss(&short), rss(&long));
        eprintln!("{format}: peak RSS: 5 s capture {a} KiB, 50 s capture {b} KiB");
        assert!(
            b < a + a / 4,
            "{format}: 10× longer capture: {b} KiB against {a} KiB"
        );
    }
}

#[test]
fn threaded_replay_prints_exactly_what_one_thread_does() {
    // The binary reads on one thread, tracks on another, and draws ladders, timelines, SVG
    // and JSON lines on worker threads, the summary (grouping, totals, rows) on a thread of its
    // own; the library's one-thread path does all of it in turn.
    use synfin::capture::pcap_reader::PcapSource;
    use synfin::cli::Format;
    use synfin::events::Meta;
    use synfin::filter::{ConnFilter, SegmentFilter};
    use synfin::pipeline::output::renderer_for;
    use synfin::pipeline::Pipeline;
    use synfin::render::RenderOpts;
    use synfin::tracker::{Tracker, TrackerConfig};
    let (d, path) = tmp("big.pcap");
    let mut g = Gen::create(path.as_ref());
    for i in 0..20_000u32 {
        let start = g.t;
        g.connection(
            client(i % 3_000),
            server(),
            i.wrapping_mul(7919),
            i,
            (i % 4) as usize,
            20,
        );
        g.t = start + 300_000;
    }
    g.finish();
    for (format, name, min_lines) in [
        (Format::Jsonl, "jsonl", 200_000),
        (Format::Ladder, "ladder", 200_000),
        (Format::Timeline, "timeline", 20_000),
        (Format::Svg, "svg", 200_000),
        (Format::Summary, "summary", 20_000),
    ] {
        let (threaded, code, _) = run_synfin(&[
            "replay", &path, "-f", name, "--color", "never", "--width", "100",
        ]);
        assert_eq!(code, 0);
        let single_path = d.path().join(format!("single.{name}"));
        let out = std::fs::File::create(&single_path).unwrap();
        let opts = RenderOpts {
            width: 100,
            log_time: true,
            ..RenderOpts::default()
        };
        let mut p = Pipeline::new(
            Tracker::new(TrackerConfig::default()),
            SegmentFilter::default(),
            renderer_for(format, opts, ConnFilter::default()),
            Box::new(out),
        );
        let meta = Meta::synfin("replay", path.clone(), "RAW".into());
        p.start(&meta).unwrap();
        let mut src = PcapSource::open(path.as_ref(), 1).unwrap();
        while let Some(f) = src.next_frame().unwrap() {
            p.frame(&f).unwrap();
        }
        p.finish().unwrap();
        let single = std::fs::read_to_string(&single_path).unwrap();
        assert!(
            threaded.lines().count() > min_lines,
            "{name}: {} lines",
            threaded.lines().count()
        );
        assert!(
            threaded == single,
            "{name}: the threaded output differs from the one-thread output"
        );
    }
}

#[test]
fn a_capture_made_of_holes_keeps_memory_bounded() {
    // 2,000 connections open at once, each client sending 600 one-byte segments with a byte
    // missing before each (600 holes a stream), acknowledged only at the end: 1.2 million
    // ranges for the Zeek gap model to keep, more than its tracker-wide budget allows.
    let (_d, path) = tmp("holes.pcap");
    let mut g = Gen::create(path.as_ref());
    let (n, holes) = (2_000u32, 600u32);
    let isn = |i: u32| i.wrapping_mul(2_654_435_761);
    for i in 0..n {
        let c = client(i);
        g.seg(c, server(), SYN, isn(i), 0, &[], 1_000);
        g.seg(server(), c, SYN | ACK, 7, isn(i) + 1, &[], 1_000);
        g.seg(c, server(), ACK, isn(i) + 1, 8, &[], 1_000);
    }
    for k in 0..holes {
        for i in 0..n {
            let seq = isn(i) + 2 + 2 * k;
            g.seg(client(i), server(), ACK | PSH, seq, 8, b"x", 1_000);
        }
    }
    for i in 0..n {
        let (c, end) = (client(i), isn(i) + 2 + 2 * holes);
        g.seg(server(), c, ACK, 8, end, &[], 1_000);
        g.seg(c, server(), FIN | ACK, end, 8, &[], 1_000);
        g.seg(server(), c, FIN | ACK, 8, end + 1, &[], 1_000);
        g.seg(c, server(), ACK, end + 1, 9, &[], 1_000);
    }
    g.finish();
    let (out, code, rss_kib) = run_synfin(&[
        "replay", &path, "-f", "summary", "--color", "never", "--width", "200",
    ]);
    assert_eq!(code, 0);
    eprintln!("peak RSS {rss_kib} KiB");
    assert!(out.contains("2000 connections (closed 2000)"), "{out}");
    let rows = summary_rows(&out);
    // The streams the budget could hold report Zeek's letters (600 gaps: G at 1, 10, 100);
    // the rest gave up their ranges, as Zeek gives up a stream, and report none.
    let full = rows.iter().filter(|r| r[8].contains("GGG")).count();
    assert!(full >= 400, "{full} streams kept their ranges");
    assert!(
        rss_kib < 48 * 1024,
        "peak RSS {rss_kib} KiB for 1.2 million holes"
    );
}

#[test]
fn the_report_needs_memory_for_connections_open_at_once_and_little_file_per_connection() {
    // Batches of 2,000 connections open at once (more than the report keeps whole for its
    // ladders): every handshake of a batch, then its data, then every close. 2 batches and
    // 20: the longer capture must not need more memory, and the page grows by its rows.
    let gen = |batches: u32, path: &str| {
        let mut g = Gen::create(path.as_ref());
        for b in 0..batches {
            let ids = b * 2_000..(b + 1) * 2_000;
            let isn = |i: u32| i.wrapping_mul(7919);
            for i in ids.clone() {
                g.seg(client(i), server(), SYN, isn(i), 0, &[], 1_000);
                g.seg(server(), client(i), SYN | ACK, 4242, isn(i) + 1, &[], 1_000);
                g.seg(client(i), server(), ACK, isn(i) + 1, 4243, &[], 1_000);
            }
            for i in ids.clone() {
                g.seg(
                    client(i),
                    server(),
                    ACK | PSH,
                    isn(i) + 1,
                    4243,
                    b"0123456789",
                    1_000,
                );
                g.seg(server(), client(i), ACK, 4243, isn(i) + 11, &[], 1_000);
            }
            for i in ids {
                g.seg(
                    client(i),
                    server(),
                    FIN | ACK,
                    isn(i) + 11,
                    4243,
                    &[],
                    1_000,
                );
                g.seg(
                    server(),
                    client(i),
                    FIN | ACK,
                    4243,
                    isn(i) + 12,
                    &[],
                    1_000,
                );
                g.seg(client(i), server(), ACK, isn(i) + 12, 4244, &[], 1_000);
            }
        }
        g.finish();
    };
    let (_d1, short) = tmp("short.pcap");
    let (_d2, long) = tmp("long.pcap");
    gen(2, &short);
    gen(20, &long);
    let run = |path: &str| {
        let (page, code, rss) = run_synfin(&["replay", path, "-f", "report", "--time-wait", "1"]);
        assert_eq!(code, 0);
        (page, rss)
    };
    let (_, a) = run(&short);
    let (page, b) = run(&long);
    eprintln!("peak RSS: 4,000 connections {a} KiB, 40,000 connections {b} KiB");
    // The page's rows and ladders wait in memory up to the spill limit, then in a file: the
    // short page fits in memory, the long one reaches the limit. Past that, nothing grows.
    let spill_kib = (synfin::render::spill::DEFAULT_LIMIT / 1024) as i64;
    assert!(
        b < a + a / 4 + spill_kib,
        "10× longer capture: {b} KiB against {a} KiB"
    );
    // The rows: 40,000 lines of at most 200 bytes each.
    let rows: usize = page
        .split("<script type=\"text/plain\" class=\"rows\">\n")
        .skip(1)
        .map(|c| c.find("</script>").unwrap())
        .sum();
    let lines: usize = page
        .split("<script type=\"text/plain\" class=\"rows\">\n")
        .skip(1)
        .map(|c| c[..c.find("</script>").unwrap()].lines().count())
        .sum();
    assert_eq!(lines, 40_000);
    eprintln!("{} bytes a row, page {} bytes", rows / lines, page.len());
    assert!(rows / lines <= 200, "{} bytes a row", rows / lines);
}

/// A capture cut short by another program while synfin reads it (through its memory map) ends
/// synfin with a one-line error and exit 1, not a crash by SIGBUS.
#[test]
fn a_capture_cut_short_while_it_is_read_is_an_error() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.pcap");
    let mut g = Gen::create(&path);
    for i in 0..20_000 {
        g.connection(client(i), server(), i, !i, 2, 100);
    }
    g.finish();
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 10 << 20, "{len} bytes");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_synfin"))
        .args(["replay", path.to_str().unwrap(), "-f", "jsonl"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once output has come, synfin is reading; left unread, the pipe stops it long before the
    // end (the reading thread runs at most a few batches ahead).
    let mut out = child.stdout.take().unwrap();
    let mut first = vec![0u8; 4096];
    out.read_exact(&mut first).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(24)
        .unwrap();
    let mut rest = Vec::new();
    out.read_to_end(&mut rest).unwrap();
    let end = child.wait_with_output().unwrap();
    let (status, err) = (end.status, String::from_utf8_lossy(&end.stderr));
    assert_eq!(status.code(), Some(1), "{status:?}: {err}");
    assert!(err.contains("was cut short by another program"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
