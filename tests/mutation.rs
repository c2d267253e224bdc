//! Malformed input: every capture in `captures/` mutated (every truncation of its first
//! 4 KiB, bit flips with a fixed seed, absurd record lengths, swapped byte order). In-process,
//! every mutant goes through the whole pipeline with every renderer (a panic fails the test);
//! a sample goes through the binary, which must exit 0 or 1 with a message, never 101 or a
//! signal, within a deadline and a memory bound.

mod support;

use std::io::{self, Cursor};
use std::path::Path;
use std::time::{Duration, Instant};
use synfin::capture::pcap_reader::PcapSource;
use synfin::cli::Format;
use synfin::decode::decode;
use synfin::events::{Meta, Summary};
use synfin::filter::ConnFilter;
use synfin::pipeline::output::renderer_for;
use synfin::render::RenderOpts;
use synfin::tracker::{Tracker, TrackerConfig};

const FORMATS: [Format; 9] = [
    Format::Jsonl,
    Format::Ladder,
    Format::Summary,
    Format::Mermaid,
    Format::Timeline,
    Format::Svg,
    Format::Html,
    Format::Report,
    Format::None,
];

fn captures() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir("captures")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    v
}

/// The whole pipeline on `bytes`, in-process, for one format. Errors are fine; panics are not.
fn pipeline(bytes: &[u8], format: Format) {
    let Ok(mut src) = PcapSource::from_reader(
        Path::new("mutant"),
        Box::new(Cursor::new(bytes.to_vec())),
        1,
    ) else {
        return;
    };
    let opts = RenderOpts {
        payload: true,
        max_segments: Some(20),
        ..RenderOpts::default()
    };
    let mut r = renderer_for(format, opts, ConnFilter::default());
    let mut out = io::sink();
    let meta = Meta {
        schema: 1,
        tool: "synfin",
        version: "0",
        source: "replay",
        input: "mutant".into(),
        linktype: "x".into(),
    };
    r.start(&meta, &mut out).unwrap();
    let mut t = Tracker::new(TrackerConfig::default());
    let mut frames = 0;
    while let Ok(Some(f)) = src.next_frame() {
        frames += 1;
        if let Ok(seg) = decode(&f) {
            t.handle_segment(&seg);
        }
        while let Some(e) = t.poll_event() {
            r.event(&e, &mut out).unwrap();
        }
        assert!(frames < 10_000_000);
    }
    t.finish();
    while let Some(e) = t.poll_event() {
        r.event(&e, &mut out).unwrap();
    }
    r.finish(&Summary::default(), &mut out).unwrap();
}

/// xorshift64*: a fixed-seed generator, so every run mutates the same way.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn mutants(bytes: &[u8], rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for cut in 0..bytes.len().min(4096) {
        v.push(bytes[..cut].to_vec());
    }
    for _ in 0..200 {
        let mut m = bytes.to_vec();
        for _ in 0..1 + rng.next() % 8 {
            let i = (rng.next() as usize) % m.len();
            m[i] ^= 1 << (rng.next() % 8);
        }
        v.push(m);
    }
    // Absurd lengths in the first records (pcap: caplen/origlen at 24+8, 24+12; pcapng: block
    // lengths), and every 4-byte word of the first 256 bytes set to 0xffffffff in turn.
    for at in (0..bytes.len().min(256)).step_by(4) {
        let mut m = bytes.to_vec();
        m[at..(at + 4).min(bytes.len())].fill(0xff);
        v.push(m);
    }
    // Swapped byte order: the magic flipped, the rest left as it was.
    if bytes.len() >= 4 {
        let mut m = bytes.to_vec();
        m[..4].reverse();
        v.push(m);
    }
    v
}

#[test]
fn every_mutant_of_every_capture_goes_through_every_renderer_without_panic() {
    let mut rng = Rng(0x5eed_f00d_1234_5678);
    let mut n = 0;
    for (name, bytes) in captures() {
        for (i, m) in mutants(&bytes, &mut rng).iter().enumerate() {
            // Every format on a stride of mutants, the cheapest on all of them.
            let formats: &[Format] = if i % 16 == 0 {
                &FORMATS
            } else {
                &[Format::Jsonl]
            };
            for &f in formats {
                let r = std::panic::catch_unwind(|| pipeline(m, f));
                assert!(r.is_ok(), "{name}: mutant {i} panicked in {f:?}");
            }
            n += 1;
        }
    }
    assert!(n > 15_000, "{n} mutants");
}

/// Everything a source hands out: each frame (number, time, link, length, bytes), the
/// warnings, and how it ended (the end, or the error's words).
fn read_all(src: Result<PcapSource, synfin::capture::CaptureError>) -> Vec<String> {
    let mut src = match src {
        Ok(s) => s,
        Err(e) => return vec![format!("open: {e}")],
    };
    let mut seen = Vec::new();
    loop {
        match src.next_frame() {
            Ok(Some(f)) => seen.push(format!(
                "{} {} {} {} {:?}",
                f.number, f.ts.0, f.link.0, f.orig_len, f.data
            )),
            Ok(None) => {
                seen.push("end".into());
                break;
            }
            Err(e) => {
                seen.push(format!("error: {e}"));
                break;
            }
        }
        if let Some(w) = src.take_warning() {
            seen.push(format!("warning: {w}"));
        }
    }
    seen
}

/// A classic pcap file is read through a memory map, anything else as a stream: on every
/// capture and every mutant, both readers hand out the same frames, warnings and errors (the
/// same offsets in the same words).
#[test]
fn a_mapped_file_reads_as_the_stream_does() {
    let mut rng = Rng(0x3a9e_d00d_0000_0002);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.pcap");
    let mut n = 0;
    for (name, bytes) in captures() {
        for (i, m) in mutants(&bytes, &mut rng).iter().enumerate() {
            std::fs::write(&path, m).unwrap();
            let mapped = read_all(PcapSource::open(&path, 1));
            let streamed = read_all(PcapSource::from_reader(
                &path,
                Box::new(Cursor::new(m.clone())),
                1,
            ));
            assert_eq!(mapped, streamed, "{name}: mutant {i}");
            n += 1;
        }
    }
    assert!(n > 15_000, "{n} mutants");
}

#[test]
#[allow(clippy::zombie_processes)] // reaped by wait4, which also gives its rusage
fn the_binary_on_mutants_exits_0_or_1_with_a_message() {
    let mut rng = Rng(0x0bad_cafe_0000_0001);
    let dir = tempfile::tempdir().unwrap();
    let mut runs = 0;
    for (name, bytes) in captures() {
        let ms = mutants(&bytes, &mut rng);
        for (i, m) in ms
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 97 == 0 || *i >= ms.len() - 3)
        {
            let path = dir.path().join(format!("m{runs}.pcap"));
            std::fs::write(&path, m).unwrap();
            let start = Instant::now();
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_synfin"))
                .args([
                    "replay",
                    path.to_str().unwrap(),
                    "-f",
                    "ladder",
                    "--color",
                    "never",
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let pid = child.id() as libc::pid_t;
            // SAFETY: rusage is plain data; wait4 reaps our own child and fills it.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            let mut status = 0;
            loop {
                let rc = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
                if rc == pid {
                    break;
                }
                if start.elapsed() > Duration::from_secs(20) {
                    let _ = child.kill();
                    panic!("{name}: mutant {i} still running after 20 s");
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            assert!(
                libc::WIFEXITED(status),
                "{name}: mutant {i} killed by signal {}",
                libc::WTERMSIG(status)
            );
            let code = libc::WEXITSTATUS(status);
            assert!(
                code == 0 || code == 1,
                "{name}: mutant {i}: exit {code} {err}"
            );
            if code == 1 {
                assert!(
                    err.starts_with("synfin: ") && err.trim_end().lines().count() == 1,
                    "{name}: mutant {i}: {err:?}"
                );
            }
            assert!(
                usage.ru_maxrss < 128 * 1024,
                "{name}: mutant {i}: peak RSS {} KiB",
                usage.ru_maxrss
            );
            runs += 1;
        }
    }
    assert!(runs > 100, "{runs} runs");
}

proptest::proptest! {
    /// The reader (stable-toolchain stand-in for a cargo-fuzz target): a valid pcap or pcapng
    /// header followed by arbitrary bytes never panics and always terminates.
    #[test]
    fn reader_survives_arbitrary_records(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048), ng in proptest::prelude::any::<bool>()) {
        let head: Vec<u8> = if ng {
            // A section header and one interface, as synfin writes them.
            let f = tempfile::NamedTempFile::new().unwrap();
            let w = synfin::capture::pcap_writer::PcapNgWriter::create(f.path(), synfin::frame::LinkType::EN10MB).unwrap();
            drop(w);
            std::fs::read(f.path()).unwrap()
        } else {
            std::fs::read("captures/basic.pcap").unwrap()[..24].to_vec()
        };
        let bytes = [head, tail].concat();
        pipeline(&bytes, Format::Jsonl);
    }
}
