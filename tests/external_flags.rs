//! Flags against tshark on real captures (../shared/captures/external, never copied here):
//! for every TCP frame in a capture's tshark dump, synfin's flags, AccECN's AE included,
//! equal the 9 low bits of `tcp.flags.str` (`RRRACEUAPRSF`: AE, CWR, ECE, URG, ACK, PSH, RST,
//! SYN, FIN). Skips loudly where ../shared is absent, unless SYNFIN_REQUIRE_SHARED=1.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use synfin::capture::pcap_reader::PcapSource;
use synfin::decode::decode;

fn dir() -> Option<PathBuf> {
    let shared = std::env::var_os("SYNFIN_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let d = shared.join("captures/external");
    if d.is_dir() {
        return Some(d);
    }
    assert!(
        !std::env::var("SYNFIN_REQUIRE_SHARED").is_ok_and(|v| v == "1"),
        "SYNFIN_REQUIRE_SHARED=1 but {} is not a directory",
        d.display()
    );
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {} not found: flags_equal_tshark checked nothing \
         (set SYNFIN_REQUIRE_SHARED=1 to fail instead)",
        d.display()
    );
    None
}

/// Frame number → flags (9 bits) of every segment synfin decodes in `p`.
fn synfin_flags(p: &Path) -> HashMap<u64, u16> {
    let mut flags = HashMap::new();
    let Ok(mut src) = PcapSource::open(p, 1) else {
        return flags;
    };
    while let Ok(Some(f)) = src.next_frame() {
        if let Ok(seg) = decode(&f) {
            flags.insert(f.number, seg.flags.0);
        }
    }
    flags
}

/// `RRRACEUAPRSF` (a `·` for a clear bit) → the 9 low bits.
fn tshark_flags(s: &str) -> Option<u16> {
    let chars: Vec<char> = s.chars().collect();
    (chars.len() == 12).then(|| {
        chars[3..]
            .iter()
            .fold(0u16, |acc, c| (acc << 1) | u16::from(*c != '·'))
    })
}

#[test]
fn flags_equal_tshark_on_every_external_capture() {
    let Some(d) = dir() else { return };
    let (mut frames, mut with_ae) = (0, 0);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    entries.sort();
    for p in entries {
        let Ok(dump) = std::fs::read_to_string(format!("{}.tshark.txt", p.display())) else {
            continue;
        };
        let ours = synfin_flags(&p);
        for line in dump
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let cols: Vec<&str> = line.split(',').collect();
            let (Ok(n), Some(want)) = (
                cols[0].parse::<u64>(),
                cols.get(8).and_then(|c| tshark_flags(c)),
            ) else {
                continue;
            };
            let got = ours.get(&n).copied();
            assert_eq!(got, Some(want), "{} frame {n}: {line}", p.display());
            frames += 1;
            with_ae += usize::from(want & 0x100 != 0);
        }
    }
    assert!(frames > 1000, "only {frames} frames compared");
    assert!(with_ae >= 1, "no frame with AE set was compared");
}
