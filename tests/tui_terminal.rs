//! The full-screen view in a real pseudo-terminal (tmux's): keys typed, the screen read
//! back, and the terminal as it was afterwards: the alternate screen left, the cursor
//! shown, the line settings (raw mode) restored, after `q` and after SIGTERM. Skips with a
//! message where tmux is missing, unless SYNFIN_REQUIRE_LIVE=1 (CI), where it fails.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux session of its own, killed when dropped.
struct Tmux {
    name: String,
}

impl Tmux {
    /// `cmd` in a new `w`×`h` session that stays after it exits.
    fn start(tag: &str, cmd: &str) -> Tmux {
        let name = format!("synfin-test-{tag}-{}", std::process::id());
        let ok = Command::new("tmux")
            .args(["new-session", "-d", "-s", &name, "-x", "80", "-y", "24"])
            .arg(cmd)
            .env("TERM", "xterm-256color")
            .status()
            .expect("tmux runs")
            .success();
        assert!(ok, "tmux new-session");
        let t = Tmux { name };
        t.tmux(&["set-option", "-t", &t.name, "remain-on-exit", "on"]);
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").args(args).output().expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.name])
    }

    /// A pane variable (`alternate_on`, `cursor_flag`, `pane_pid`, …).
    fn var(&self, v: &str) -> String {
        self.tmux(&[
            "display-message",
            "-p",
            "-t",
            &self.name,
            &format!("#{{{v}}}"),
        ])
        .trim()
        .to_string()
    }

    /// The pid of the pane's command (the pane's shell runs it as its one child).
    fn command_pid(&self) -> i32 {
        let shell: u32 = self.var("pane_pid").parse().expect("a pid");
        let children =
            std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap();
        children.split_whitespace().next().unwrap().parse().unwrap()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", self.name.as_str()];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Wait (up to a deadline) until `ok` holds for the screen; the screen.
    #[track_caller]
    fn wait_until(&self, what: &str, ok: impl Fn(&Tmux, &str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if ok(self, &s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "never: {what}; alternate_on={} cursor_flag={}; the screen:\n{s}",
                self.var("alternate_on"),
                self.var("cursor_flag")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[track_caller]
    fn wait_for(&self, text: &str) -> String {
        self.wait_until(text, |_, s| s.contains(text))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .status();
    }
}

fn have_tmux() -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("SYNFIN_REQUIRE_LIVE").as_deref() != Ok("1"),
            "tmux is missing and SYNFIN_REQUIRE_LIVE=1"
        );
        eprintln!("skipped: tmux is not installed");
    }
    found
}

fn capture(name: &str) -> String {
    format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn keys_move_open_the_ladder_and_help_and_q_restores_the_terminal() {
    if !have_tmux() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_synfin");
    let cmd = format!(
        "echo stty=$(stty -g | cksum); {bin} replay --tui {} {}; echo exit=$?; \
         echo stty=$(stty -g | cksum); sleep 600",
        capture("basic.pcap"),
        capture("refused.pcap")
    );
    let t = Tmux::start("keys", &cmd);
    let s = t.wait_for("end of input");
    assert!(
        s.contains("synfin · FOLLOW") && s.contains("refused"),
        "{s}"
    );
    assert_eq!(
        t.var("alternate_on"),
        "1",
        "the view is on the alternate screen"
    );
    // Up: the selection moves to the first connection (basic's), following stops.
    t.keys(&["Up"]);
    t.wait_for("synfin · PAUSED");
    t.keys(&["Enter"]);
    let s = t.wait_for("conn 1 · lines 1–");
    assert!(s.contains("SYN seq=0") && s.contains("ESTABLISHED"), "{s}");
    assert!(s.contains("closed · SF"), "basic.pcap's connection: {s}");
    t.keys(&["?"]);
    let s = t.wait_for("any key closes this help");
    assert!(s.contains("open the connection's ladder"), "{s}");
    t.keys(&["x"]);
    t.wait_until("the help closed", |_, s| !s.contains("any key closes"));
    t.keys(&["q"]);
    let s = t.wait_until("exit=0 and a second stty line", |_, s| {
        s.contains("exit=0") && s.matches("stty=").count() == 2
    });
    assert_eq!(t.var("alternate_on"), "0", "the alternate screen was left");
    assert_eq!(t.var("cursor_flag"), "1", "the cursor is shown");
    assert!(!s.contains("synfin · "), "the main screen is back: {s}");
    // The line settings printed before and after are the same: raw mode is off.
    let settings: Vec<&str> = s.lines().filter(|l| l.starts_with("stty=")).collect();
    assert_eq!(settings.len(), 2, "{s}");
    assert_eq!(settings[0], settings[1], "stty -g before and after");
}

#[test]
fn a_panic_restores_the_terminal_before_its_message() {
    if !have_tmux() {
        return;
    }
    if !cfg!(debug_assertions) {
        eprintln!("skipped: only a debug build of synfin has the switch that panics on purpose");
        return;
    }
    // The test binary is a debug build, which panics on purpose after its first screen when
    // told to (a release build has no such switch).
    let bin = env!("CARGO_BIN_EXE_synfin");
    let cmd = format!(
        "echo stty=$(stty -g | cksum); SYNFIN_TEST_TUI_PANIC=1 RUST_BACKTRACE=0 {bin} replay --tui {}; \
         echo exit=$?; echo stty=$(stty -g | cksum); sleep 600",
        capture("basic.pcap")
    );
    let t = Tmux::start("panic", &cmd);
    let s = t.wait_until("exit=101 and a second stty line", |_, s| {
        s.contains("exit=101") && s.matches("stty=").count() == 2
    });
    assert_eq!(t.var("alternate_on"), "0", "the alternate screen was left");
    assert_eq!(t.var("cursor_flag"), "1", "the cursor is shown");
    assert!(
        s.contains("a panic on purpose"),
        "the panic's message is on the main screen: {s}"
    );
    assert!(!s.contains("synfin · "), "the main screen is back: {s}");
    let settings: Vec<&str> = s.lines().filter(|l| l.starts_with("stty=")).collect();
    assert_eq!(
        settings[0], settings[1],
        "stty -g before and after: raw mode is off"
    );
}

#[test]
fn sigterm_leaves_the_view_and_restores_the_terminal() {
    if !have_tmux() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_synfin");
    let t = Tmux::start(
        "term",
        &format!(
            "{bin} replay --tui {}; echo exit=$?; sleep 600",
            capture("basic.pcap")
        ),
    );
    t.wait_for("end of input");
    assert_eq!(t.var("alternate_on"), "1");
    let pid = t.command_pid();
    // SAFETY: kill(2) on the pid of a process this test started (the pane's command).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    t.wait_for("exit=0");
    t.wait_until("the alternate screen left, the cursor shown", |t, s| {
        t.var("alternate_on") == "0" && t.var("cursor_flag") == "1" && !s.contains("synfin · ")
    });
}

#[test]
fn sigterm_right_after_the_last_segment_still_saves_it() {
    if !have_tmux() {
        return;
    }
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var("SYNFIN_REQUIRE_LIVE").as_deref() != Ok("1"),
            "SYNFIN_REQUIRE_LIVE=1 but not root: watch --tui cannot capture"
        );
        eprintln!("skipped: watch --tui needs root (live capture)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("view.pcap");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bin = env!("CARGO_BIN_EXE_synfin");
    let t = Tmux::start(
        "save",
        &format!(
            "{bin} watch --tui -i lo --port {port} -w {}; echo exit=$?; sleep 600",
            file.display()
        ),
    );
    // The view is up, so the capture is open.
    t.wait_for("synfin · ");
    let pid = t.command_pid();
    support::one_connection(listener);
    // Stopped at once: the last frames are still in the capture ring (the block the kernel
    // is filling is handed over only within its retire timeout), and must reach the file.
    // SAFETY: kill(2) on the pid of a process this test started (the pane's command).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    t.wait_for("exit=0");
    let out = Command::new(bin)
        .args(["replay", file.to_str().unwrap(), "-f", "jsonl"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let fins = text
        .lines()
        .filter(|l| l.contains("\"type\":\"segment\"") && l.contains("\"FIN\""))
        .count();
    assert!(
        out.status.success() && text.contains("[\"SYN\"]") && fins == 2,
        "the whole connection in the file, both FINs included:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
