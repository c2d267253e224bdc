//! How `replay` reads its inputs: several files merged by time (or concatenated), `-r`, and a
//! filter expression after the files that selects what `--port`/`--host` select.

use assert_cmd::Command;

fn synfin() -> Command {
    Command::cargo_bin("synfin").unwrap()
}

fn cap(name: &str) -> String {
    format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The output without the meta line (which names the inputs).
fn events(args: &[&str]) -> String {
    let out = synfin().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("\"type\":\"meta\""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn count(s: &str, what: &str) -> usize {
    s.matches(what).count()
}

#[test]
fn files_merge_by_time_whatever_their_order() {
    let (a, b) = (cap("abort.pcap"), cap("basic.pcap"));
    let ab = events(&["replay", &a, &b, "--format", "jsonl"]);
    let ba = events(&["replay", &b, &a, "--format", "jsonl"]);
    assert_eq!(ab, ba);
    // basic.pcap is earlier: its server was listening, nothing is illegal.
    assert_eq!(count(&ab, "illegal_transition"), 0, "{ab}");
    assert_eq!(count(&ab, "\"type\":\"connection\""), 2);
}

#[test]
fn every_capture_together_has_only_the_anomalies_each_has_alone() {
    let dir = format!("{}/captures", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".pcap"))
        .collect();
    files.sort();
    let alone: usize = files
        .iter()
        .map(|f| {
            count(
                &events(&["replay", f, "--format", "jsonl"]),
                "\"type\":\"anomaly\"",
            )
        })
        .sum();
    let mut args = vec!["replay", "--format", "jsonl"];
    args.extend(files.iter().map(String::as_str));
    let together = events(&args);
    assert_eq!(count(&together, "\"type\":\"anomaly\""), alone);
}

#[test]
fn concatenate_keeps_file_order() {
    let (a, b) = (cap("abort.pcap"), cap("basic.pcap"));
    let out = events(&["replay", &a, &b, "--concatenate", "--format", "jsonl"]);
    // abort's segments first, then basic's (3.4 s earlier): time runs backwards at the join,
    // which is what --concatenate asks for.
    let merged = events(&["replay", &a, &b, "--format", "jsonl"]);
    assert_ne!(out, merged);
    let t = |s: &str| -> Vec<f64> {
        s.lines()
            .filter(|l| l.contains("\"type\":\"segment\""))
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["t"].as_f64().unwrap()
            })
            .collect()
    };
    let (tc, tm) = (t(&out), t(&merged));
    assert!(
        tm.windows(2).all(|w| w[0] <= w[1]),
        "merged is in time order"
    );
    assert!(
        tc.windows(2).any(|w| w[0] > w[1]),
        "concatenated is in file order"
    );
}

#[test]
fn read_option_takes_files_as_tcpdump_does() {
    let f = cap("basic.pcap");
    assert_eq!(
        events(&["replay", "-r", &f, "--format", "jsonl"]),
        events(&["replay", &f, "--format", "jsonl"])
    );
}

#[test]
fn an_expression_selects_what_port_and_host_select() {
    let f = cap("loop.pcap");
    let by_expr = events(&["replay", &f, "tcp", "port", "8888", "--format", "jsonl"]);
    let by_flag = events(&["replay", &f, "--port", "8888", "--format", "jsonl"]);
    assert_eq!(by_expr, by_flag);
    assert!(count(&by_expr, "\"type\":\"segment\"") > 0);
    let none = events(&["replay", &f, "port 9", "--format", "jsonl"]);
    assert_eq!(count(&none, "\"type\":\"segment\""), 0);
    let host = events(&["replay", &f, "host 127.0.0.9", "--format", "jsonl"]);
    let cidr = events(&["replay", &f, "--host", "127.0.0.0/24", "--format", "jsonl"]);
    assert_eq!(host, cidr);
    // Only SYNs and FINs and RSTs: fewer segments than all of them, and none without.
    let ctl = events(&[
        "replay",
        &f,
        "tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0",
        "--format",
        "jsonl",
    ]);
    let all = events(&["replay", &f, "--format", "jsonl"]);
    assert!(count(&ctl, "\"type\":\"segment\"") < count(&all, "\"type\":\"segment\""));
    assert_eq!(count(&ctl, "\"flags\":[\"ACK\"]"), 0);
}

#[test]
fn a_bad_expression_names_the_word() {
    let out = synfin()
        .args(["replay", &cap("basic.pcap"), "tcp prot 80"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'prot'") && err.contains("word 2"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_missing_capture_is_reported_as_a_file() {
    let out = synfin()
        .args(["replay", &cap("basic.pcap"), "captures/nosuch.pcap"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open"));
}

#[test]
fn compressed_captures_are_read_transparently() {
    use std::io::Write;
    let raw = std::fs::read(cap("loop.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&raw).unwrap();
        e.finish().unwrap()
    };
    let zst = zstd::stream::encode_all(&raw[..], 3).unwrap();
    let xz = {
        let mut e = xz2::write::XzEncoder::new(Vec::new(), 6);
        e.write_all(&raw).unwrap();
        e.finish().unwrap()
    };
    let plain = events(&["replay", &cap("loop.pcap"), "--format", "jsonl"]);
    for (name, bytes) in [("x.pcap.gz", gz), ("x.pcap.zst", zst), ("x.pcap.xz", xz)] {
        let p = dir.path().join(name);
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(
            events(&["replay", p.to_str().unwrap(), "--format", "jsonl"]),
            plain,
            "{name}"
        );
        // Cut short: what was decompressed is shown, and the exit says the file was cut.
        let cut = dir.path().join(format!("cut-{name}"));
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let out = synfin()
            .args(["replay", cut.to_str().unwrap(), "-f", "summary"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).lines().count(),
            1,
            "{name}"
        );
    }
}

#[test]
fn only_capture_names_after_the_first_file_are_files() {
    let f = cap("basic.pcap");
    // A quoted expression with a slash is an expression, not a file.
    let net = events(&["replay", &f, "net 127.0.0.0/8", "--format", "jsonl"]);
    assert!(count(&net, "\"type\":\"segment\"") > 0, "{net}");
    // A word that names a file without a capture's extension starts the expression, as in
    // tcpdump (a file named `tcp` here is not read as a capture).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tcp"), b"not a capture").unwrap();
    let out = synfin()
        .current_dir(dir.path())
        .args(["replay", &f, "tcp", "--format", "jsonl"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // stdin once only.
    let out = synfin().args(["replay", "-", "-"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // --host takes one address, network or name, not an expression.
    let out = synfin()
        .args(["replay", &f, "--host", "127.0.0.1 or port 1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
