//! What the demo prints: every --message sent in order, one line per call (an observed call
//! replaces its inferred twin; none invented for calls never made), each scenario under its
//! heading with its note. Live capture: needs root (fails under SYNFIN_REQUIRE_LIVE=1
//! without it, skips elsewhere).

use std::process::Command;

fn live_allowed() -> bool {
    // SAFETY: geteuid(2) cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert!(
        std::env::var_os("SYNFIN_REQUIRE_LIVE").is_none(),
        "SYNFIN_REQUIRE_LIVE is set but the demo needs root for live capture"
    );
    eprintln!("skipping the demo output tests: live capture needs root");
    false
}

fn demo(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_synfin"))
        .arg("demo")
        .args(args)
        .args(["--addr", "127.0.0.1:0", "--width", "120"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_message_is_sent_in_order_and_each_call_drawn_once() {
    if !live_allowed() {
        return;
    }
    let out = demo(&[
        "--scenario",
        "basic",
        "--message",
        "one",
        "--message",
        "two",
        "--message",
        "three",
    ]);
    let at = |s: &str| out.find(s).unwrap_or_else(|| panic!("no {s}: {out}"));
    assert!(at("\"one\"") < at("\"ONE\""));
    assert!(at("\"ONE\"") < at("\"two\""));
    assert!(at("\"two\"") < at("\"TWO\""));
    assert!(at("\"TWO\"") < at("\"three\""));
    assert!(at("\"three\"") < at("\"THREE\""));
    // Each call once: observed, so no inferred twin.
    assert_eq!(out.matches("» send() = ").count(), 6, "{out}");
    let inferred = out
        .lines()
        .filter(|l| l.trim_start().contains("  ~ ") || l.trim_start().starts_with("~ "));
    assert_eq!(
        inferred.count(),
        0,
        "an inferred call beside its observed one: {out}"
    );
    assert!(out.contains("note: The client closed first"), "{out}");
}

#[test]
fn a_server_that_never_accepts_is_never_said_to_accept() {
    if !live_allowed() {
        return;
    }
    let out = demo(&["--scenario", "backlog"]);
    assert!(out.contains("SYN_RECEIVED"), "{out}");
    assert!(
        !out.contains("» accept") && !out.contains("~ accept"),
        "{out}"
    );
}

#[test]
fn the_scenario_list_says_what_each_does() {
    let out = Command::new(env!("CARGO_BIN_EXE_synfin"))
        .args(["demo", "--list-scenarios"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let crash = text
        .lines()
        .find(|l| l.starts_with("client-crash"))
        .unwrap();
    assert!(crash.contains("RST (not FIN)"), "{crash}");
}

#[test]
fn each_scenario_comes_under_its_heading_with_its_note_in_the_listed_order() {
    if !live_allowed() || Command::new("nft").arg("--version").output().is_err() {
        return;
    }
    let out = demo(&["--scenario", "all", "-f", "summary"]);
    let list = Command::new(env!("CARGO_BIN_EXE_synfin"))
        .args(["demo", "--list-scenarios"])
        .output()
        .unwrap();
    let names: Vec<String> = String::from_utf8(list.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    let mut last = 0;
    for n in &names {
        let h = out
            .find(&format!("━━ {n}: "))
            .unwrap_or_else(|| panic!("no heading for {n}: {out}"));
        assert!(h >= last, "{n} out of order");
        last = h;
    }
    // A note right under its section: the basic note before the loop heading.
    let note = out.find("note: The client closed first").unwrap();
    assert!(note < out.find("━━ loop: ").unwrap());
}

#[test]
fn the_demos_pcapng_replays_with_its_observed_calls() {
    if !live_allowed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("demo.pcapng");
    let shown = demo(&["--scenario", "half-close", "-w", saved.to_str().unwrap()]);
    let out = Command::new(env!("CARGO_BIN_EXE_synfin"))
        .args([
            "replay",
            saved.to_str().unwrap(),
            "--payload",
            "--width",
            "120",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let replayed = String::from_utf8(out.stdout).unwrap();
    let drawing = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.starts_with("note: "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(replayed.contains("» shutdown()"), "{replayed}");
    assert_eq!(drawing(&replayed), drawing(&shown));
}
