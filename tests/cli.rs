//! The binary on bad input, bad flags and closed pipes: one-line errors, the right exit
//! codes, never a panic (101) or a signal.

use assert_cmd::Command;
use predicates::prelude::*;
use std::io::Write;

fn synfin() -> Command {
    let mut c = Command::cargo_bin("synfin").unwrap();
    c.env_remove("NO_COLOR").env_remove("TERM");
    c
}

fn temp_with(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f
}

#[track_caller]
fn fails_with(args: &[&str], code: i32, needle: &str) {
    let out = synfin().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
}

fn pcap_header(link: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend(0xa1b2c3d4u32.to_le_bytes());
    h.extend(2u16.to_le_bytes());
    h.extend(4u16.to_le_bytes());
    h.extend([0u8; 8]);
    h.extend(262144u32.to_le_bytes());
    h.extend(link.to_le_bytes());
    h
}

#[test]
fn missing_file_directory_empty_text() {
    fails_with(
        &["replay", "/nonexistent/x.pcap"],
        1,
        "cannot open /nonexistent/x.pcap",
    );
    fails_with(&["replay", "captures"], 1, "is a directory");
    let empty = temp_with(b"");
    fails_with(
        &["replay", empty.path().to_str().unwrap()],
        1,
        "is empty (0 bytes)",
    );
    let text = temp_with(b"# this is not a capture\n");
    fails_with(
        &["replay", text.path().to_str().unwrap()],
        1,
        "not a pcap or pcapng file (byte offset 0 holds 23 20 74 68",
    );
}

#[test]
fn a_bad_second_file_fails_before_any_output() {
    let text = temp_with(b"# not a capture either\n");
    let t = text.path().to_str().unwrap();
    for (second, needle) in [
        ("/nonexistent/y.pcap", "cannot open /nonexistent/y.pcap"),
        (t, "not a pcap or pcapng file"),
    ] {
        // -r: the temporary file has no capture extension (a bare word would be a filter).
        let args = [
            "replay",
            "captures/basic.pcap",
            "-r",
            second,
            "--format",
            "jsonl",
        ];
        fails_with(&args, 1, needle);
        let out = synfin().args(args).output().unwrap();
        assert!(out.stdout.is_empty(), "{second}: printed before failing");
    }
}

#[test]
fn stdin_may_follow_a_file() {
    let bytes = std::fs::read("captures/refused.pcap").unwrap();
    let out = synfin()
        .args(["replay", "captures/basic.pcap", "-", "-f", "summary"])
        .write_stdin(bytes)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("2 connections"), "{text}");
}

#[test]
fn wrong_magic_cut_header_and_unknown_link_type() {
    let mut wrong = pcap_header(1);
    wrong[0] = 0x00;
    let f = temp_with(&wrong);
    fails_with(
        &["replay", f.path().to_str().unwrap()],
        1,
        "not a pcap or pcapng file",
    );
    let cut = temp_with(&pcap_header(1)[..10]);
    fails_with(
        &["replay", cut.path().to_str().unwrap()],
        1,
        "cut short at byte offset 0",
    );
    let odd = temp_with(&pcap_header(147));
    fails_with(
        &["replay", odd.path().to_str().unwrap()],
        1,
        "unsupported link type 147 (synfin decodes",
    );
}

#[test]
fn header_only_pcap_warns_and_succeeds() {
    let f = temp_with(&pcap_header(1));
    synfin()
        .args(["replay", f.path().to_str().unwrap(), "-f", "summary"])
        .assert()
        .success()
        .stderr(predicate::str::contains("no packets in this capture"));
}

#[test]
fn file_cut_in_a_record_keeps_what_was_read() {
    let bytes = std::fs::read("captures/basic.pcap").unwrap();
    // Cut in the middle of the third record.
    let cut = temp_with(&bytes[..bytes.len() - 300]);
    let out = synfin()
        .args(["replay", cut.path().to_str().unwrap(), "-f", "jsonl"])
        .output()
        .unwrap();
    // What was read is shown, and the exit says the capture was not whole (as tcpdump's).
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the file ends inside a record (truncated capture) at byte offset"),
        "{err}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\"type\":\"segment\""));
    // Cut inside the first record: nothing decoded, so it is an error.
    let early = temp_with(&bytes[..40]);
    fails_with(
        &["replay", early.path().to_str().unwrap()],
        1,
        "at byte offset 24",
    );
}

#[test]
fn absurd_caplen_is_reported_with_its_offset() {
    let mut bytes = pcap_header(1);
    bytes.extend([0u8; 8]);
    bytes.extend(u32::MAX.to_le_bytes());
    bytes.extend(u32::MAX.to_le_bytes());
    bytes.extend([0u8; 64]);
    let f = temp_with(&bytes);
    fails_with(
        &["replay", f.path().to_str().unwrap()],
        1,
        "at byte offset 24",
    );
}

#[test]
fn bad_flag_values_exit_2() {
    for args in [
        &["replay", "x", "--width", "3"][..],
        &["replay", "x", "--format", "pdf"],
        &["replay", "x", "--state", "SLEEPING"],
        &["replay", "x", "--color", "sometimes"],
        &["demo", "--scenario", "nope"],
    ] {
        synfin().args(args).assert().code(2);
    }
}

#[test]
fn watch_rejects_a_duration_that_is_not_a_positive_number() {
    // `--duration=-1`, not `--duration -1` (which clap takes for a flag): synfin's own
    // check, before any capture is opened.
    for (arg, shown) in [
        ("--duration=-1", "-1"),
        ("--duration=0", "0"),
        ("--duration=nan", "NaN"),
        ("--duration=inf", "inf"),
    ] {
        fails_with(
            &["watch", "-i", "lo", arg],
            2,
            &format!("synfin: --duration {shown}: give a positive number of seconds"),
        );
    }
}

#[test]
fn help_lists_commands_and_exit_codes() {
    synfin()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("replay").and(predicate::str::contains("Exit codes")));
    synfin()
        .args(["demo", "--list-scenarios"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("server-first")
                .and(predicate::str::contains("simultaneous-close")),
        );
}

#[test]
fn watch_on_a_missing_interface_lists_the_real_ones() {
    fails_with(
        &["watch", "-i", "nosuch0"],
        2,
        "no interface named nosuch0 (interfaces here: ",
    );
}

#[test]
fn broken_pipe_exits_quietly() {
    // A reader that closes after one line: synfin must exit 0 without a message.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("synfin"))
        .args([
            "replay",
            "captures/loop.pcap",
            "captures/backlog.pcap",
            "-f",
            "jsonl",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());
}

#[test]
fn filters_pick_connections() {
    let out = synfin()
        .args([
            "replay",
            "captures/backlog.pcap",
            "-f",
            "summary",
            "--outcome",
            "refused",
            "--color",
            "never",
        ])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("2 connections (refused 2)"), "{s}");
    let out = synfin()
        .args(["replay", "captures/loop.pcap", "-f", "jsonl", "--conn", "2"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let conns: Vec<&serde_json::Value> = lines.iter().filter_map(|l| l.get("conn")).collect();
    assert!(conns.len() >= 10, "conn 2's events are shown: {lines:?}");
    assert!(conns.iter().all(|c| *c == 2), "only conn 2: {conns:?}");
    for kind in ["segment", "state", "connection"] {
        assert!(
            lines.iter().any(|l| l["type"] == kind && l["conn"] == 2),
            "conn 2 has no {kind} line"
        );
    }
    let out = synfin()
        .args([
            "replay",
            "captures/loop.pcap",
            "captures/server-first.pcap",
            "-f",
            "summary",
            "--state",
            "TIME_WAIT",
            "--port",
            "8888",
            "--color",
            "never",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("4 connections"));
}

#[test]
fn payload_escape_sequences_never_reach_the_terminal() {
    // A capture whose payload is a terminal attack: clear screen, set title.
    let payload = b"\x1b[2J\x1b]0;pwned\x07";
    let mut frame = Vec::new();
    etherparse::PacketBuilder::ipv4([127, 0, 0, 1], [127, 0, 0, 2], 64)
        .tcp(40000, 80, 1, 100)
        .ack(1)
        .psh()
        .write(&mut frame, payload)
        .unwrap();
    let mut bytes = pcap_header(101);
    bytes.extend(1u32.to_le_bytes());
    bytes.extend(0u32.to_le_bytes());
    bytes.extend((frame.len() as u32).to_le_bytes());
    bytes.extend((frame.len() as u32).to_le_bytes());
    bytes.extend(&frame);
    let f = temp_with(&bytes);
    // The same frame in a pcapng file whose packet comment is an attack too.
    let ng = tempfile::Builder::new()
        .suffix(".pcapng")
        .tempfile()
        .unwrap();
    {
        use synfin::capture::pcap_writer::PcapNgWriter;
        use synfin::frame::{Frame, LinkType};
        let mut w = PcapNgWriter::create(ng.path(), LinkType::RAW).unwrap();
        let fr = Frame {
            number: 1,
            ts: synfin::timestamp::Timestamp(1_000_000_000),
            link: LinkType::RAW,
            orig_len: frame.len() as u32,
            data: &frame,
        };
        w.write(&fr, &["\x1b]0;owned\x07\x1b[31mred".to_string()])
            .unwrap();
        w.flush().unwrap();
    }
    for (file, format) in ["ladder", "jsonl", "mermaid", "summary"]
        .into_iter()
        .flat_map(|fm| [(f.path(), fm), (ng.path(), fm)])
    {
        let out = synfin()
            .args([
                "replay",
                file.to_str().unwrap(),
                "-f",
                format,
                "--payload",
                "--color",
                "never",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stdout.contains(&0x1b), "{format} leaked ESC");
        assert!(!out.stdout.contains(&0x07), "{format} leaked BEL");
        assert!(!out.stderr.contains(&0x1b), "{format} leaked ESC on stderr");
    }
}

#[test]
fn watch_and_demo_without_privileges_say_how_to_fix_it() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // As root, drop to `nobody` for the child; as anyone else, there is nothing to drop.
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    // `nobody` may not reach the build directory (a clone in a private temporary directory):
    // it runs a copy from a directory anyone can enter.
    let bin = assert_cmd::cargo::cargo_bin("synfin");
    let copy = std::env::temp_dir().join(format!("synfin-nobody-{}", std::process::id()));
    let bin = if root {
        std::fs::create_dir_all(&copy).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
        let to = copy.join("synfin");
        std::fs::copy(&bin, &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
        to
    } else {
        bin
    };
    let as_nobody = |args: &[&str]| {
        let mut c = std::process::Command::new(&bin);
        c.args(args);
        if root {
            c.uid(65534).gid(65534);
        }
        // The copy was just written: a child another test thread forks meanwhile may still
        // hold it open for writing, and exec then fails with ETXTBSY until that child execs.
        let mut tries = 0;
        loop {
            match c.output() {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                r => break r.unwrap(),
            }
        }
    };
    let out = as_nobody(&["watch", "-i", "lo", "--duration", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    // The command as it was run (this binary's real path), and how to grant it for good.
    let path = bin.display().to_string();
    assert_eq!(
        err.trim_end(),
        format!(
            "synfin: capturing on lo needs root or CAP_NET_RAW: run `sudo {path} watch -i lo \
             --duration 1`, or once `sudo setcap cap_net_raw,cap_net_admin=eip {path}`"
        )
    );
    let out = as_nobody(&["demo", "--addr", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("run `sudo {path} demo --addr 127.0.0.1:0`")),
        "{err}"
    );
    // The kernel check needs root before anything else: one line, no mount(8) noise.
    let out = as_nobody(&["demo", "--kernel-check", "--addr", "127.0.0.1:0"]);
    // With CAP_NET_RAW but not root, watch captures and says in one line why calls are only
    // inferred; what needs the trace stops.
    let with_caps = if root {
        let granted = std::process::Command::new("setcap")
            .args(["cap_net_raw,cap_net_admin=eip"])
            .arg(&bin)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            granted || std::env::var_os("SYNFIN_REQUIRE_LIVE").is_none(),
            "setcap (Debian's libcap2-bin) is needed here"
        );
        granted.then(|| {
            (
                as_nobody(&["watch", "-i", "lo", "--duration", "0.2", "port 9"]),
                as_nobody(&["watch", "-i", "lo", "--duration", "0.2", "--kernel-check"]),
            )
        })
    } else {
        None
    };
    let _ = std::fs::remove_dir_all(&copy);
    if let Some((plain, check)) = with_caps {
        let err = String::from_utf8_lossy(&plain.stderr);
        assert!(plain.status.success(), "{err}");
        let note: Vec<&str> = err.lines().filter(|l| l.contains("socket calls")).collect();
        assert_eq!(note.len(), 1, "{err}");
        assert!(
            note[0].contains("inferred from packets only") && note[0].contains("needs root"),
            "{err}"
        );
        let err = String::from_utf8_lossy(&check.stderr);
        assert!(!check.status.success(), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("needs root"), "{err}");
    }
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("--kernel-check") && err.contains("needs root"),
        "{err}"
    );
}

#[test]
fn output_flags_change_what_is_drawn() {
    let run = |args: &[&str]| {
        let out = synfin().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    // --max-segments elides the middle of a long exchange.
    let full = run(&[
        "replay",
        "captures/loop.pcap",
        "-f",
        "ladder",
        "--color",
        "never",
        "--conn",
        "1",
    ]);
    let short = run(&[
        "replay",
        "captures/loop.pcap",
        "-f",
        "ladder",
        "--color",
        "never",
        "--conn",
        "1",
        "--max-segments",
        "6",
    ]);
    assert!(short.contains("… 8 segments elided …"), "{short}");
    assert!(short.lines().count() < full.lines().count());
    // --payload shows escaped previews; without it, none.
    assert!(
        run(&["replay", "captures/basic.pcap", "-f", "ladder", "--payload"]).contains("\"hello\"")
    );
    assert!(!run(&["replay", "captures/basic.pcap", "-f", "ladder"]).contains("\"hello\""));
    // --width bounds every line.
    for w in ["60", "140"] {
        let out = run(&[
            "replay",
            "captures/backlog.pcap",
            "-f",
            "ladder",
            "--width",
            w,
            "--payload",
        ]);
        let max = out.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(max <= w.parse().unwrap(), "width {w}: a line of {max}");
    }
    // --host and --anomalies select connections.
    let s = run(&[
        "replay",
        "captures/loop.pcap",
        "captures/backlog.pcap",
        "-f",
        "summary",
        "--anomalies",
    ]);
    assert!(s.contains("2 connections (refused 2)"), "{s}");
    let s = run(&[
        "replay",
        "captures/ipv6.pcap",
        "captures/basic.pcap",
        "-f",
        "summary",
        "--host",
        "::1",
    ]);
    assert!(s.contains("1 connection (") && s.contains("[::1]"), "{s}");
    // -o writes the same bytes to a file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.jsonl");
    run(&[
        "replay",
        "captures/basic.pcap",
        "-f",
        "jsonl",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        run(&["replay", "captures/basic.pcap", "-f", "jsonl"])
    );
    // `always` paints into a pipe too (auto on a terminal: `auto_colour_…` below).
    let painted = run(&[
        "replay",
        "captures/basic.pcap",
        "-f",
        "ladder",
        "--color",
        "always",
    ]);
    assert!(painted.contains('\u{1b}'));
}

/// Run synfin with its stdout on a pseudo-terminal of 100 columns (stdin empty, stderr
/// piped, NO_COLOR and TERM removed, then `env` set): what the terminal received, with the
/// terminal's CR LF turned back into LF.
fn on_a_terminal(args: &[&str], env: &[(&str, &str)]) -> String {
    use std::io::Read;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::fs::OpenOptionsExt;
    // SAFETY: posix_openpt returns a new descriptor (or -1), owned from here on.
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY) };
    assert!(
        master >= 0,
        "posix_openpt: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: `master` is a fresh descriptor nothing else owns.
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    let fd = master.as_raw_fd();
    let mut name = [0 as libc::c_char; 128];
    let ws = libc::winsize {
        ws_row: 50,
        ws_col: 100,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `fd` is an open pty master; `name` and `ws` outlive the calls.
    unsafe {
        assert_eq!(libc::grantpt(fd), 0, "grantpt");
        assert_eq!(libc::unlockpt(fd), 0, "unlockpt");
        assert_eq!(libc::ptsname_r(fd, name.as_mut_ptr(), name.len()), 0);
        assert_eq!(libc::ioctl(fd, libc::TIOCSWINSZ, &ws), 0, "TIOCSWINSZ");
    }
    // SAFETY: ptsname_r wrote a NUL-terminated path into `name`.
    let path = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) };
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path.to_str().unwrap())
        .unwrap();
    let child = {
        // The command holds the terminal's other end until it is dropped: only the child may
        // keep it, so that reading ends when the child does.
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("synfin"));
        c.args(args)
            .env_remove("NO_COLOR")
            .env_remove("TERM")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::from(slave))
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut master = std::fs::File::from(master);
        let mut shown = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match master.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => shown.extend_from_slice(&buf[..n]),
                // EIO: the last holder of the other end (the child) has gone.
                Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
                Err(e) => panic!("reading the terminal: {e}"),
            }
        }
        let _ = tx.send(shown);
    });
    let shown = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("synfin {args:?} on a terminal did not end within 60 s"));
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "synfin {args:?} {env:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(shown).unwrap().replace("\r\n", "\n")
}

#[test]
fn auto_colour_follows_the_terminal_no_color_and_term() {
    // No -f: on a terminal the ladder is the default, and `--color auto` (the default) paints.
    let ladder = |extra: &[&str], env: &[(&str, &str)]| {
        let args = [&["replay", "captures/basic.pcap", "--payload"][..], extra].concat();
        on_a_terminal(&args, env)
    };
    let plain = ladder(&["--color", "never"], &[]);
    assert!(plain.contains("SYN seq=0"), "the ladder: {plain:?}");
    assert!(!plain.contains('\u{1b}'), "--color never paints: {plain:?}");
    for env in [
        &[][..],
        &[("TERM", "xterm-256color")],
        &[("NO_COLOR", "")], // empty is unset (no-color.org)
    ] {
        let painted = ladder(&[], env);
        assert!(
            painted.contains("\u{1b}["),
            "auto on a terminal with {env:?} does not paint: {painted:?}"
        );
        assert_ne!(painted, plain);
    }
    for env in [
        &[("NO_COLOR", "1")][..],
        &[("TERM", "dumb")],
        &[("NO_COLOR", "1"), ("TERM", "xterm")],
    ] {
        let shown = ladder(&["--color", "auto"], env);
        assert!(
            !shown.contains('\u{1b}'),
            "auto on a terminal with {env:?} paints"
        );
        assert_eq!(shown, plain);
    }
    // Into a pipe, auto stays plain.
    let piped = synfin()
        .args(["replay", "captures/basic.pcap", "-f", "ladder", "--payload"])
        .output()
        .unwrap();
    assert!(!piped.stdout.is_empty() && !piped.stdout.contains(&0x1b));
}
