//! Golden snapshots of every capture in `captures/` (ladder without and with colour, at
//! widths 100 and 60; JSONL; summary; Mermaid; timeline at widths 100 and 60 and
//! log-scaled; SVG; the report's data), and the facts tcpdump/tshark report for the
//! same files (segment counts, first and last timestamps), written in as numbers.

use assert_cmd::Command;
use std::path::Path;

mod support;
use support::unpadded;

fn synfin(args: &[&str]) -> String {
    let out = Command::cargo_bin("synfin")
        .unwrap()
        .args(args)
        .env_remove("NO_COLOR")
        .env_remove("TERM")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "synfin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One test per capture and format, so that one mismatch hides no other: `basic_pcap::jsonl`,
/// `loop_pcap::ladder_color_60`, … The snapshot names (and files) are the helpers' below,
/// taken at the crate's root: `replay__jsonl_basic.pcap.snap` and so on.
macro_rules! capture_tests {
    ($($module:ident: $file:literal,)*) => {
        /// Every capture in `captures/`.
        const CAPTURES: &[&str] = &[$($file),*];
        $(
            mod $module {
                #[test]
                fn ladder_100() {
                    super::ladder($file, "100");
                }
                #[test]
                fn ladder_60() {
                    super::ladder($file, "60");
                }
                #[test]
                fn ladder_color_100() {
                    super::ladder_color($file, "100");
                }
                #[test]
                fn ladder_color_60() {
                    super::ladder_color($file, "60");
                }
                #[test]
                fn jsonl() {
                    super::jsonl($file);
                }
                #[test]
                fn summary() {
                    super::summary($file);
                }
                #[test]
                fn mermaid() {
                    super::mermaid($file);
                }
                #[test]
                fn timeline_100() {
                    super::timeline($file, "100");
                }
                #[test]
                fn timeline_60() {
                    super::timeline($file, "60");
                }
                #[test]
                fn timeline_log() {
                    super::timeline_log($file);
                }
                #[test]
                fn svg() {
                    super::svg($file);
                }
                #[test]
                fn stream() {
                    super::stream($file);
                }
                #[test]
                fn report() {
                    super::report($file);
                }
            }
        )*
    };
}

capture_tests! {
    basic_pcap: "basic.pcap",
    loop_pcap: "loop.pcap",
    empty_pcap: "empty.pcap",
    client_crash_pcap: "client-crash.pcap",
    server_first_pcap: "server-first.pcap",
    half_close_pcap: "half-close.pcap",
    refused_pcap: "refused.pcap",
    abort_pcap: "abort.pcap",
    unread_pcap: "unread.pcap",
    backlog_pcap: "backlog.pcap",
    self_connect_pcap: "self-connect.pcap",
    simultaneous_close_pcap: "simultaneous-close.pcap",
    simultaneous_open_pcap: "simultaneous-open.pcap",
    ipv6_pcap: "ipv6.pcap",
    any_sll2_pcap: "any-sll2.pcap",
    basic_pcapng: "basic.pcapng",
    late_syn_ack_pcap: "late-syn-ack.pcap",
    lost_fin_pcap: "lost-fin.pcap",
    fin_before_data_pcap: "fin-before-data.pcap",
    orphan_late_data_pcap: "orphan-late-data.pcap",
    rst_challenge_pcap: "rst-challenge.pcap",
    accept_overflow_pcap: "accept-overflow.pcap",
}

#[test]
fn every_capture_has_its_snapshot_tests() {
    let mut on_disk: Vec<String> = std::fs::read_dir("captures")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<&str> = CAPTURES.to_vec();
    listed.sort();
    assert_eq!(on_disk, listed, "captures/ and capture_tests! differ");
}

/// `captures/NAME`, which must exist.
fn capture(name: &str) -> String {
    let path = format!("captures/{name}");
    assert!(Path::new(&path).exists(), "{path} is missing");
    path
}

/// The plain ladder with payloads at `width`.
fn plain_ladder(name: &str, width: &str) -> String {
    synfin(&[
        "replay",
        &capture(name),
        "-f",
        "ladder",
        "--color",
        "never",
        "--width",
        width,
        "--payload",
    ])
}

fn ladder(name: &str, width: &str) {
    insta::assert_snapshot!(format!("ladder_{name}_{width}"), plain_ladder(name, width));
}

fn ladder_color(name: &str, width: &str) {
    let painted = synfin(&[
        "replay",
        &capture(name),
        "-f",
        "ladder",
        "--color",
        "always",
        "--width",
        width,
        "--payload",
    ]);
    // Colour adds paint, never text: stripped of its escapes it is the plain ladder.
    assert_eq!(
        strip_ansi(&painted),
        plain_ladder(name, width),
        "{name} at {width}"
    );
    insta::assert_snapshot!(format!("ladder_color_{name}_{width}"), painted);
}

fn jsonl(name: &str) {
    let jsonl = synfin(&["replay", &capture(name), "-f", "jsonl"]);
    insta::assert_snapshot!(format!("jsonl_{name}"), jsonl);
}

fn summary(name: &str) {
    let summary = synfin(&[
        "replay",
        &capture(name),
        "-f",
        "summary",
        "--color",
        "never",
    ]);
    insta::assert_snapshot!(format!("summary_{name}"), summary);
}

fn stream(name: &str) {
    let stream = synfin(&["replay", &capture(name), "-f", "stream", "--color", "never"]);
    insta::assert_snapshot!(format!("stream_{name}"), stream);
}

fn mermaid(name: &str) {
    let mermaid = synfin(&["replay", &capture(name), "-f", "mermaid"]);
    insta::assert_snapshot!(format!("mermaid_{name}"), mermaid);
}

fn timeline(name: &str, width: &str) {
    let timeline = synfin(&[
        "replay",
        &capture(name),
        "-f",
        "timeline",
        "--color",
        "never",
        "--width",
        width,
        "--linear-time",
    ]);
    assert_fits(&timeline, width.parse().unwrap());
    insta::assert_snapshot!(format!("timeline_{name}_{width}"), timeline);
}

fn timeline_log(name: &str) {
    let log = synfin(&[
        "replay",
        &capture(name),
        "-f",
        "timeline",
        "--color",
        "never",
        "--width",
        "100",
        "--log-time",
    ]);
    assert_fits(&log, 100);
    insta::assert_snapshot!(format!("timeline_log_{name}"), log);
}

fn svg(name: &str) {
    let svg = synfin(&["replay", &capture(name), "-f", "svg"]);
    assert!(svg.starts_with("<?xml") && svg.trim_end().ends_with("</svg>"));
    insta::assert_snapshot!(format!("svg_{name}"), svg);
}

/// The report's data (its rows and its totals) as a snapshot, and what must hold of it: the
/// rows and totals are the summary's, each kept ladder is `--format svg`'s drawing of that
/// connection, and the page asks for nothing over the network.
fn report(name: &str) {
    let path = capture(name);
    let page = synfin(&["replay", &path, "-f", "report"]);
    assert!(page.starts_with("<!doctype html>") && page.trim_end().ends_with("</html>"));
    // No network at view time: no scripts, styles or images from anywhere, no links out
    // (the SVG namespace is a name, never fetched).
    let outside = page
        .replace("xmlns=\"http://www.w3.org/2000/svg\"", "")
        .to_ascii_lowercase();
    for bad in ["http:", "https:", " src=", "<link", "@import", "url("] {
        assert!(!outside.contains(bad), "{name}: the page has {bad}");
    }
    let between = |s: &str, a: &str, b: &str| -> Vec<String> {
        s.split(a)
            .skip(1)
            .map(|x| x[..x.find(b).expect("the element ends")].to_string())
            .collect()
    };
    let rows: String = between(
        &page,
        "<script type=\"text/plain\" class=\"rows\">\n",
        "</script>",
    )
    .concat();
    let meta: serde_json::Value = serde_json::from_str(
        &between(
            &page,
            "<script type=\"application/json\" id=\"meta\">",
            "</script>",
        )[0],
    )
    .unwrap();
    let totals = &meta["totals"];
    // The summary's rows and totals.
    let summary = synfin(&["replay", &path, "-f", "summary", "--width", "170"]);
    let lines: Vec<&str> = summary.lines().collect();
    let n_rows = lines.iter().skip(2).take_while(|l| !l.is_empty()).count();
    let n_rows = if lines
        .first()
        .is_some_and(|l| l.starts_with("connections of"))
    {
        n_rows
    } else {
        0
    };
    assert_eq!(rows.lines().count(), n_rows, "{name}: rows");
    assert_eq!(totals["connections"], n_rows as u64);
    let mut outcomes = Vec::new();
    for o in totals["outcomes"].as_array().unwrap() {
        if o[1].as_u64().unwrap() > 0 {
            outcomes.push(format!("{} {}", o[0].as_str().unwrap(), o[1]));
        }
    }
    let outcomes = if outcomes.is_empty() {
        "none".to_string()
    } else {
        outcomes.join(", ")
    };
    assert!(
        summary.contains(&format!("({outcomes}), ")),
        "{name}: {outcomes} against {summary}"
    );
    assert!(summary.contains(&format!(
        "ended in TIME_WAIT: {} on the client side, {} on the server side",
        totals["time_wait_client"], totals["time_wait_server"]
    )));
    // Each kept ladder is the SVG's drawing of that connection (but for its title, and the
    // room `--format svg` keeps after its heights).
    let drawing = |svg: &str| -> Vec<String> {
        svg.lines()
            .filter(|l| !l.starts_with("<?xml") && !l.starts_with("<title>"))
            .filter(|l| *l != "<g transform=\"translate(0,0)\">" && *l != "</g>")
            .map(unpadded)
            .collect()
    };
    for row in rows.lines() {
        let f: Vec<&str> = row.split('\t').collect();
        assert_eq!(f.len(), 17, "{row}");
        if f[16] == "1" {
            let id = format!("<script type=\"image/svg+xml\" id=\"l{}\">", f[0]);
            let kept = &between(&page, &id, "</script>")[0];
            let svg = synfin(&["replay", &path, "-f", "svg", "--conn", f[0]]);
            assert_eq!(drawing(kept), drawing(&svg), "{name}: conn {}", f[0]);
        }
    }
    let snapshot = format!(
        "{rows}\ntotals {}\nladders {}\n",
        serde_json::to_string_pretty(totals).unwrap(),
        meta["ladders"]
    );
    insta::assert_snapshot!(format!("report_{name}"), snapshot);
}

/// Remove ANSI SGR sequences (`ESC [ … m`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[track_caller]
fn assert_fits(text: &str, width: usize) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= width,
            "line wider than {width}: {line:?}"
        );
    }
}

#[test]
fn log_timeline_gives_the_handshake_room_beside_time_wait() {
    let timeline = |extra: &[&str]| {
        let base = [
            "replay",
            "captures/basic.pcap",
            "-f",
            "timeline",
            "--color",
            "never",
        ];
        synfin(&[&base[..], &["--width", "100"], extra].concat())
    };
    let linear = timeline(&["--linear-time"]);
    let log = timeline(&[]);
    assert_eq!(log, timeline(&["--log-time"]), "log-scaled by default");
    assert_fits(&log, 100);
    // Linear: TIME_WAIT's 60 s leaves the handshake no room; log-scaled: every state shows.
    assert!(!linear.contains("│ESTABLISHED"), "{linear}");
    assert!(linear.contains("drop --linear-time"), "{linear}");
    for state in ["│ESTABLISHED", "│TIME_WAIT", "│SYN_RECEIVED"] {
        assert!(log.contains(state), "{state} missing:\n{log}");
    }
    let color = synfin(&[
        "replay",
        "captures/basic.pcap",
        "-f",
        "timeline",
        "--color",
        "always",
        "--log-time",
    ]);
    assert!(color.contains("\u{1b}["), "--color always paints");
}

#[test]
fn html_wraps_the_same_svg() {
    let svg = synfin(&["replay", "captures/basic.pcap", "-f", "svg"]);
    let html = synfin(&["replay", "captures/basic.pcap", "-f", "html"]);
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(html.trim_end().ends_with("</html>"));
    let body: String = svg
        .split_once('\n')
        .unwrap()
        .1
        .lines()
        .map(|l| unpadded(l) + "\n")
        .collect();
    assert!(html.contains(&body), "the page holds the SVG document");
}

#[test]
fn svg_is_written_to_the_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("basic.svg");
    let stdout = synfin(&[
        "replay",
        "captures/basic.pcap",
        "-f",
        "svg",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(stdout.is_empty());
    let file = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        file,
        synfin(&["replay", "captures/basic.pcap", "-f", "svg"])
    );
}

#[test]
fn colour_palette_is_pinned() {
    let ladder = synfin(&[
        "replay",
        "captures/basic.pcap",
        "-f",
        "ladder",
        "--color",
        "always",
        "--width",
        "100",
    ]);
    assert!(ladder.contains("\u{1b}["), "--color always paints");
    insta::assert_snapshot!("ladder_basic_color", ladder);
    let plain = synfin(&[
        "replay",
        "captures/basic.pcap",
        "-f",
        "ladder",
        "--color",
        "never",
    ]);
    assert!(!plain.contains('\u{1b}'));
}

/// (file, TCP segments, first and last timestamp as tshark's frame.time_epoch prints them).
const TSHARK_FACTS: &[(&str, usize, &str, &str)] = &[
    (
        "simultaneous-open.pcap",
        11,
        "1795626267.704244902",
        "1795626267.929315794",
    ),
    (
        "simultaneous-close.pcap",
        11,
        "1795619242.168177511",
        "1795619242.379190507",
    ),
    (
        "abort.pcap",
        8,
        "1795617768.688453489",
        "1795617768.688696460",
    ),
    (
        "any-sll2.pcap",
        10,
        "1795617789.088156000",
        "1795617789.088355000",
    ),
    (
        "backlog.pcap",
        20,
        "1795617769.348316769",
        "1795617773.503161787",
    ),
    (
        "basic.pcap",
        10,
        "1795617765.276078594",
        "1795617765.276322015",
    ),
    (
        "client-crash.pcap",
        18,
        "1795617767.348219698",
        "1795617767.549074249",
    ),
    (
        "empty.pcap",
        6,
        "1795617765.840374338",
        "1795617767.071386107",
    ),
    (
        "half-close.pcap",
        10,
        "1795617768.131954086",
        "1795617768.132185030",
    ),
    (
        "ipv6.pcap",
        10,
        "1795617787.816209832",
        "1795617787.816705699",
    ),
    (
        "loop.pcap",
        34,
        "1795617765.564326326",
        "1795617765.565756502",
    ),
    (
        "refused.pcap",
        2,
        "1795617768.411893665",
        "1795617768.412117488",
    ),
    (
        "self-connect.pcap",
        7,
        "1795617773.779792622",
        "1795617773.779856888",
    ),
    (
        "server-first.pcap",
        10,
        "1795617767.836053045",
        "1795617767.836219673",
    ),
    (
        "unread.pcap",
        6,
        "1795617768.968117157",
        "1795617769.068446602",
    ),
    (
        "basic.pcapng",
        10,
        "1795617765.276078594",
        "1795617765.276322015",
    ),
];

#[test]
fn segment_counts_and_timestamps_agree_with_tshark() {
    use synfin::capture::pcap_reader::PcapSource;
    use synfin::decode::decode;
    for (name, count, first, last) in TSHARK_FACTS {
        let mut src = PcapSource::open(Path::new(&format!("captures/{name}")), 1).unwrap();
        let mut stamps = Vec::new();
        while let Some(f) = src.next_frame().unwrap() {
            if decode(&f).is_ok() {
                stamps.push(f.ts.to_string());
            }
        }
        assert_eq!(stamps.len(), *count, "{name}: segments");
        assert_eq!(stamps.first().unwrap(), first, "{name}: first timestamp");
        assert_eq!(stamps.last().unwrap(), last, "{name}: last timestamp");
    }
}

#[test]
fn several_files_are_read_in_order_as_one_input() {
    let out = synfin(&[
        "replay",
        "captures/basic.pcap",
        "captures/refused.pcap",
        "-f",
        "jsonl",
    ]);
    let summary = out.lines().last().unwrap();
    assert!(summary.contains("\"frames\":12"), "{summary}");
    assert!(summary.contains("\"connections\":2"), "{summary}");
}

#[test]
fn stdin_is_read_with_a_dash() {
    let bytes = std::fs::read("captures/basic.pcap").unwrap();
    let out = Command::cargo_bin("synfin")
        .unwrap()
        .args(["replay", "-", "-f", "summary", "--color", "never"])
        .write_stdin(bytes)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("ShADadFf"));
}
