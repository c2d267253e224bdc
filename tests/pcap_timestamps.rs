//! A pcap record whose sub-second field is a second or more (≥ 10⁶ µs, ≥ 10⁹ ns) is reported
//! once per file, naming the frame and its byte offset, and its time is clamped to the end of
//! its second instead of being carried into the seconds.

use etherparse::PacketBuilder;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use synfin::capture::pcap_reader::PcapSource;

/// A raw-IP TCP packet (SYN, or ACK when `n` > 0) of connection 10.0.0.1:1000 → 10.0.0.2:80.
fn packet(n: u32) -> Vec<u8> {
    let b = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).tcp(1000, 80, 100 + n, 1000);
    let b = if n == 0 { b.syn() } else { b.ack(1) };
    let mut v = Vec::new();
    b.write(&mut v, &[]).unwrap();
    v
}

/// A little-endian pcap (LINKTYPE_RAW) whose records have these (seconds, fraction) stamps.
fn pcap(nanos: bool, stamps: &[(u32, u32)]) -> Vec<u8> {
    let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    let mut f = Vec::new();
    f.extend(magic.to_le_bytes());
    f.extend(2u16.to_le_bytes());
    f.extend(4u16.to_le_bytes());
    f.extend([0u8; 8]);
    f.extend(65535u32.to_le_bytes());
    f.extend(101u32.to_le_bytes());
    for (i, (sec, frac)) in stamps.iter().enumerate() {
        let p = packet(i as u32);
        f.extend(sec.to_le_bytes());
        f.extend(frac.to_le_bytes());
        f.extend((p.len() as u32).to_le_bytes());
        f.extend((p.len() as u32).to_le_bytes());
        f.extend(p);
    }
    f
}

/// Every frame's timestamp (ns) and the warnings, read with the library's reader.
fn read(bytes: Vec<u8>) -> (Vec<i64>, Vec<String>) {
    let mut src = PcapSource::from_reader(
        Path::new("t.pcap"),
        Box::new(std::io::Cursor::new(bytes)),
        1,
    )
    .unwrap();
    let (mut ts, mut warnings) = (Vec::new(), Vec::new());
    while let Some(f) = src.next_frame().unwrap() {
        ts.push(f.ts.as_nanos());
        warnings.extend(src.take_warning());
    }
    (ts, warnings)
}

const SEC: u32 = 1_700_000_000;
const NS: i64 = 1_000_000_000;

#[test]
fn microsecond_field_of_a_second_or_more_is_clamped_and_reported_once() {
    // Each record is 16 bytes of header and 40 of packet; the file header is 24.
    let (ts, warnings) = read(pcap(
        false,
        &[
            (SEC, 5),
            (SEC, 1_000_000),
            (SEC + 1, 999_999),
            (SEC + 1, u32::MAX),
        ],
    ));
    let base = i64::from(SEC) * NS;
    assert_eq!(
        ts,
        [
            base + 5_000,
            base + 999_999_000,
            base + NS + 999_999_000,
            base + NS + 999_999_000
        ]
    );
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = &warnings[0];
    assert!(
        w.starts_with("t.pcap: frame 2 (record at byte offset 80)"),
        "{w}"
    );
    assert!(w.contains("microsecond field of 1000000"), "{w}");
    assert!(w.contains("999999 microseconds past its second"), "{w}");
}

#[test]
fn nanosecond_field_of_a_second_or_more_is_clamped() {
    let (ts, warnings) = read(pcap(true, &[(SEC, 999_999_999), (SEC, 1_000_000_000)]));
    let base = i64::from(SEC) * NS;
    assert_eq!(ts, [base + 999_999_999, base + 999_999_999]);
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0]
        .contains("frame 2 (record at byte offset 80) has a nanosecond field of 1000000000"));
    // In range everywhere: no warning.
    let (_, warnings) = read(pcap(true, &[(SEC, 0), (SEC, 999_999_999)]));
    assert!(warnings.is_empty());
}

#[test]
fn replay_warns_once_and_keeps_the_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad-usec.pcap");
    std::fs::write(&path, pcap(false, &[(SEC, 2_500_000), (SEC, 3_000_000)])).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_synfin"))
        .args(["replay", path.to_str().unwrap(), "--format", "jsonl"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.matches("synfin: warning:").count(), 1, "{stderr}");
    assert!(
        stderr.contains("frame 1 (record at byte offset 24) has a microsecond field of 2500000"),
        "{stderr}"
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let times: Vec<f64> = lines
        .iter()
        .filter(|l| l["type"] == "segment")
        .map(|l| l["t"].as_f64().unwrap())
        .collect();
    assert_eq!(
        times,
        [f64::from(SEC) + 0.999999, f64::from(SEC) + 0.999999]
    );
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["errors"].as_array().unwrap().len(), 1);
    assert_eq!(summary["tcp_segments"], 2);
}
