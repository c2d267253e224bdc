//! What the output is without asking: the ladder everywhere (also piped, as tcpdump keeps
//! text), `-o FILE` picking the format from its extension, connections in start order, and
//! the summary within its width.

use assert_cmd::Command;

fn synfin(args: &[&str]) -> String {
    let out = Command::cargo_bin("synfin")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn cap(name: &str) -> String {
    format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn piped_output_is_the_ladder_without_colour() {
    let out = synfin(&["replay", &cap("basic.pcap")]);
    assert!(out.starts_with("conn 1  127.0.0.1:"), "{out}");
    assert!(out.contains("SYN_SENT") && !out.contains('\u{1b}'));
    assert!(!out.contains("\"type\""));
}

#[test]
fn the_output_file_extension_picks_the_format() {
    let dir = tempfile::tempdir().unwrap();
    let f = cap("basic.pcap");
    type Check<'a> = &'a dyn Fn(&str) -> bool;
    let cases: &[(&str, Check)] = &[
        ("x.svg", &|s| s.starts_with("<?xml") && s.contains("<svg")),
        // The report; `--format html` gives the SVG in a page (below).
        ("x.html", &|s| {
            s.to_ascii_lowercase().starts_with("<!doctype html>")
                && s.contains("<script type=\"application/json\" id=\"meta\">")
                && s.contains("<svg")
        }),
        ("x.jsonl", &|s| s.starts_with("{\"type\":\"meta\"")),
        ("x.md", &|s| {
            s.starts_with("# synfin replay") && s.contains("```mermaid")
        }),
        ("x.mmd", &|s| {
            s.starts_with("%% conn 1") && s.contains("sequenceDiagram")
        }),
        ("x.txt", &|s| s.starts_with("conn 1  ")),
        ("x.out", &|s| s.starts_with("conn 1  ")),
    ];
    for (name, ok) in cases {
        let path = dir.path().join(name);
        synfin(&["replay", &f, "-o", path.to_str().unwrap()]);
        let s = std::fs::read_to_string(&path).unwrap();
        assert!(ok(&s), "{name}: {}", &s[..s.len().min(200)]);
    }
    // --format html: the SVG alone in a page.
    let path = dir.path().join("z.html");
    synfin(&["replay", &f, "-f", "html", "-o", path.to_str().unwrap()]);
    let s = std::fs::read_to_string(&path).unwrap();
    assert!(s.starts_with("<!doctype html>") && s.contains("<svg") && !s.contains("id=\"meta\""));
    // --format wins over the extension.
    let path = dir.path().join("y.svg");
    synfin(&["replay", &f, "-f", "jsonl", "-o", path.to_str().unwrap()]);
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .starts_with("{\"type\":\"meta\""));
}

#[test]
fn a_single_mermaid_file_refuses_a_second_connection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.mmd");
    let out = Command::cargo_bin("synfin")
        .unwrap()
        .args(["replay", &cap("loop.pcap"), "-o", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-o DIR/"));
}

#[test]
fn grouped_formats_draw_connections_in_start_order() {
    // In client-crash.pcap connection 2 ends first (the crashed client's connection lingers).
    for format in ["ladder", "mermaid", "timeline", "svg"] {
        let out = synfin(&["replay", &cap("client-crash.pcap"), "-f", format]);
        let one = out
            .find("conn 1")
            .unwrap_or_else(|| panic!("{format}: {out}"));
        let two = out
            .find("conn 2")
            .unwrap_or_else(|| panic!("{format}: {out}"));
        assert!(one < two, "{format}: conn 2 before conn 1");
    }
    let summary = synfin(&["replay", &cap("client-crash.pcap"), "-f", "summary"]);
    let rows: Vec<&str> = summary
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()) && l.contains(" → "))
        .collect();
    assert!(rows[0].trim_start().starts_with("1 ") && rows[1].trim_start().starts_with("2 "));
}

#[test]
fn the_summary_fits_its_width_with_wall_clock_times() {
    for w in ["60", "80", "100", "170"] {
        let out = synfin(&[
            "replay",
            &cap("client-crash.pcap"),
            "-f",
            "summary",
            "--width",
            w,
        ]);
        for l in out.lines() {
            assert!(l.chars().count() <= w.parse().unwrap(), "width {w}: {l}");
        }
        assert!(out.contains("14:42:47.348219"), "{out}");
        assert!(out.contains("2026-11-25"), "{out}");
        assert!(!out.contains("1795617767"), "raw epoch seconds: {out}");
    }
    let one = synfin(&["replay", &cap("basic.pcap"), "-f", "summary"]);
    assert!(one.contains("1 connection (closed 1)"), "{one}");
}

#[test]
fn completions_and_the_manual_are_generated() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef synfin"),
        ("fish", "complete -c synfin"),
    ] {
        let out = synfin(&["completions", shell]);
        assert!(
            out.contains(marker),
            "{shell}: {}",
            &out[..out.len().min(300)]
        );
        for sub in ["replay", "watch", "demo"] {
            assert!(out.contains(sub), "{shell} completes {sub}");
        }
    }
    let man = synfin(&["man"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH synfin"),
        "{}",
        &man[..200]
    );
    assert!(man.contains("replay") && man.contains("watch"));
}

#[test]
fn tcpdump_habits_are_accepted_or_refused_clearly() {
    // -n is accepted (synfin never resolves names).
    let plain = synfin(&["replay", &cap("basic.pcap"), "-f", "summary"]);
    assert_eq!(
        synfin(&["replay", "-n", &cap("basic.pcap"), "-f", "summary"]),
        plain
    );
    // -c 0 means nothing to capture: refused by the command line.
    let out = Command::cargo_bin("synfin")
        .unwrap()
        .args(["watch", "-c", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'0'"));
}

#[test]
fn at_80_columns_nothing_is_cut() {
    let dir = format!("{}/captures", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".pcap") || p.ends_with(".pcapng"))
        .collect();
    files.sort();
    for f in &files {
        let out = synfin(&["replay", f, "--width", "80"]);
        for l in out.lines() {
            assert!(!l.contains('…'), "{f}: cut: {l}");
            assert!(l.chars().count() <= 80, "{f}: too wide: {l}");
        }
    }
}

#[test]
fn time_wait_is_counted_from_entering_it() {
    let out = synfin(&["replay", &cap("basic.pcap"), "--time-wait", "30"]);
    let fin = out
        .lines()
        .find(|l| l.trim_start().starts_with("final"))
        .unwrap();
    assert!(fin.contains("TIME_WAIT 30.0s"), "{fin}");
    assert!(out.contains("TIME_WAIT Ns: how long it lasts once entered"));
}

#[test]
fn html_streams_one_picture_per_connection() {
    let html = synfin(&["replay", &cap("loop.pcap"), "-f", "html"]);
    assert_eq!(html.matches("<svg ").count(), 3, "{html}");
    assert_eq!(html.matches("</svg>").count(), 3);
    assert!(html.trim_end().ends_with("</html>"));
    let none = synfin(&["replay", &cap("loop.pcap"), "-f", "html", "--port", "9"]);
    assert_eq!(none.matches("<svg ").count(), 1);
    assert!(none.contains("no TCP connections"));
}

#[test]
fn names_from_outside_never_reach_the_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    let evil = dir
        .path()
        .join("evil\u{1b}]0;PWN\u{7}\u{1b}[31m\nfake.pcap");
    std::fs::copy(cap("basic.pcap"), &evil).unwrap();
    let raw = std::fs::read(cap("basic.pcap")).unwrap();
    let cut = dir.path().join("cut\u{1b}[2J.pcap");
    std::fs::write(&cut, &raw[..raw.len() - 300]).unwrap();
    for args in [
        vec!["replay", evil.to_str().unwrap(), "-f", "mermaid"],
        vec!["replay", cut.to_str().unwrap(), "-f", "summary"],
        vec!["replay", cut.to_str().unwrap()],
        vec![
            "replay",
            dir.path().join("missing\u{1b}[2J.pcap").to_str().unwrap(),
        ],
    ] {
        let out = Command::cargo_bin("synfin")
            .unwrap()
            .args(&args)
            .output()
            .unwrap();
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !stream.iter().any(|&b| b == 0x1b || b == 0x07),
                "{args:?}: {}",
                String::from_utf8_lossy(stream)
            );
        }
    }
}

#[test]
fn a_single_mermaid_file_is_written_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let many = dir.path().join("many.mmd");
    let out = Command::cargo_bin("synfin")
        .unwrap()
        .args(["replay", &cap("loop.pcap"), "-o", many.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&many).unwrap(), "");
    let none = dir.path().join("none.mmd");
    let out = Command::cargo_bin("synfin")
        .unwrap()
        .args([
            "replay",
            &cap("basic.pcap"),
            "--conn",
            "5",
            "-o",
            none.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no connection"));
}

/// `--format svg` into a seekable file streams the drawings and writes the height into the
/// header at the end; the document must be the one a pipe gets, wherever in the file it
/// starts (after what was there: `>>`, or a descriptor moved on), and whatever was drawn
/// (many connections, one, none).
#[test]
fn svg_to_a_file_is_the_svg_to_a_pipe() {
    use std::io::{Seek, SeekFrom, Write};
    let dir = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("synfin");
    let run_into = |args: &[&str], file: std::fs::File| {
        let st = std::process::Command::new(&bin)
            .args(args)
            .stdout(file)
            .status()
            .unwrap();
        assert!(st.success(), "{args:?}");
    };
    for (name, filter) in [
        ("basic.pcap", None),
        ("loop.pcap", None),
        ("simultaneous-close.pcap", None),
        ("basic.pcap", Some("port 1")),
    ] {
        let f = cap(name);
        let mut args = vec!["replay", &f, "--format", "svg"];
        args.extend(filter);
        let piped = synfin(&args);
        let height: u64 = piped
            .split("height=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .and_then(|s| s.parse().ok())
            .unwrap();
        assert!(height > 0, "{name}");

        let o = dir.path().join("o.svg");
        let o_str = o.to_str().unwrap().to_string();
        let mut with_o = args.clone();
        with_o.extend(["-o", &o_str]);
        synfin(&with_o);
        assert_eq!(std::fs::read_to_string(&o).unwrap(), piped, "{name} -o");

        let redirected = dir.path().join("redirected.svg");
        run_into(&args, std::fs::File::create(&redirected).unwrap());
        assert_eq!(
            std::fs::read_to_string(&redirected).unwrap(),
            piped,
            "{name} >"
        );

        // A descriptor already past a first line, not appending (`exec 3>f; echo … >&3`).
        let moved = dir.path().join("moved.svg");
        let mut m = std::fs::File::create(&moved).unwrap();
        m.write_all(b"first line\n").unwrap();
        m.seek(SeekFrom::End(0)).unwrap();
        run_into(&args, m);
        let got = std::fs::read_to_string(&moved).unwrap();
        assert_eq!(got, format!("first line\n{piped}"), "{name} moved on");

        let appended = dir.path().join("appended.svg");
        std::fs::write(&appended, "first line\n").unwrap();
        let a = std::fs::OpenOptions::new()
            .append(true)
            .open(&appended)
            .unwrap();
        run_into(&args, a);
        let got = std::fs::read_to_string(&appended).unwrap();
        assert_eq!(got, format!("first line\n{piped}"), "{name} >>");

        run_into(&args, std::fs::File::create("/dev/null").unwrap());
    }
}
