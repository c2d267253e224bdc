//! `watch` traces any program's socket calls in the kernel: a Python client and server (not
//! synfin's) make known calls — bind, listen, connect and accept, send/recv,
//! shutdown(SHUT_WR), recv() = 0, close, a refused connect, a bind that fails with EADDRINUSE
//! — and each must come out as an observed call with Python's pid, the right thread and comm,
//! in the right order against the segments, with the kernel's states equal to the inferred
//! ones on every endpoint; `-w x.pcapng` keeps them for `replay`. Needs root (tracefs, live
//! capture) and python3; skips with a message elsewhere, fails under SYNFIN_REQUIRE_LIVE=1.

mod support;

use serde_json::Value;
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;
use support::deadlined::Deadlined;

fn live_allowed() -> bool {
    let root = unsafe { libc::geteuid() } == 0;
    let python = Command::new("python3")
        .arg("-c")
        .arg("")
        .status()
        .is_ok_and(|s| s.success());
    if root && python {
        return true;
    }
    assert!(
        std::env::var_os("SYNFIN_REQUIRE_LIVE").is_none(),
        "SYNFIN_REQUIRE_LIVE is set but this test needs root and python3"
    );
    eprintln!("skipping the call tracing test: it needs root (tracefs) and python3");
    false
}

/// The tests here take free ports, let them go, and hand them to Python: run one at a time,
/// so that one test's refused port is not the other's server.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Two ports nothing listens on now.
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

/// `key value` lines of the Python script's output.
fn fact(out: &str, key: &str) -> u64 {
    out.lines()
        .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {out}"))
}

/// `synfin watch -i lo -f jsonl ARGS...` past its meta line (capture and tracing are on
/// from then on), to be done within 60 s.
fn watch(args: &[&str]) -> Deadlined {
    let args = [
        &["watch", "-i", "lo", "-f", "jsonl", "--duration", "60"][..],
        args,
    ]
    .concat();
    let mut child = Deadlined::spawn(&args, Duration::from_secs(60));
    assert!(child.next_line("meta line").contains("\"type\":\"meta\""));
    child
}

/// tests/calls/echo_calls.py on `port` (and `refused`): what it printed.
fn python_echo(port: u16, refused: u16) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/calls/echo_calls.py");
    let py = Command::new("python3")
        .arg(script)
        .args([port.to_string(), refused.to_string()])
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    String::from_utf8_lossy(&py.stdout).into_owned()
}

/// Ctrl-C, as a person would stop it: watch reads the trace up to now, then writes everything
/// and its verdicts. Its exit status, stdout and stderr.
fn interrupt(child: Deadlined) -> (std::process::ExitStatus, String, String) {
    child.interrupt();
    let end = child.finish();
    (end.status, end.rest.join("\n"), end.stderr)
}

fn t(v: &Value) -> f64 {
    v["t"].as_f64().expect("a time")
}

#[test]
fn a_python_programs_calls_are_observed_with_its_pid() {
    if !live_allowed() {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (port, refused) = free_ports();
    // An instance left by a synfin that was killed (its pid ended): the next one removes it.
    let dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    let _ = { dead }.wait();
    let stale = format!("/sys/kernel/tracing/instances/synfin-{dead_pid}-calls");
    std::fs::create_dir(&stale).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("calls.pcapng");
    let filter = format!("port {port} or port {refused}");
    let child = watch(&["--kernel-check", "-w", saved.to_str().unwrap(), &filter]);
    let ours = format!("/sys/kernel/tracing/instances/synfin-{}-calls", child.id());
    assert!(
        std::path::Path::new(&ours).is_dir(),
        "no private instance {ours}"
    );
    let facts = python_echo(port, refused);
    let (pid, server_tid, client_tid, client_port) = (
        fact(&facts, "pid"),
        fact(&facts, "server"),
        fact(&facts, "client"),
        fact(&facts, "client-port"),
    );
    let (status, out, err) = interrupt(child);
    assert!(status.success(), "{err}");
    // No instance is left behind, the stale one included.
    assert!(
        !std::path::Path::new(&stale).exists(),
        "{stale} is still there"
    );
    assert!(
        !std::path::Path::new(&ours).exists(),
        "{ours} is still there"
    );
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();

    let client = format!("127.0.0.1:{client_port}");
    let server = format!("127.0.0.1:{port}");
    let observed = |endpoint: &str, call: &str, phase: &str| -> Value {
        lines
            .iter()
            .find(|v| {
                v["type"] == "call"
                    && v["source"] == "observed"
                    && v["endpoint"] == endpoint
                    && v["call"] == call
                    && v["phase"] == phase
            })
            .unwrap_or_else(|| panic!("no observed {call} {phase} on {endpoint}:\n{err}\n{out}"))
            .clone()
    };
    // Every observed call on the test's connections is Python's (a failed bind() of any
    // process has no address to filter by).
    for v in lines
        .iter()
        .filter(|v| v["source"] == "observed" && v["endpoint"] != "0.0.0.0:0")
    {
        assert_eq!(v["owner"]["pid"], pid, "{v}");
        assert_eq!(v["owner"]["comm"], "python3", "{v}");
    }
    let conn = observed(&client, "connect", "enter")["conn"].clone();
    assert_ne!(conn, 0);
    let seg = |flags: Value, src: &str| -> Value {
        lines
            .iter()
            .find(|v| v["type"] == "segment" && v["flags"] == flags && v["src"] == src)
            .unwrap_or_else(|| panic!("no {flags} from {src}:\n{out}"))
            .clone()
    };
    let syn = seg(serde_json::json!(["SYN"]), &client);
    let syn_ack = seg(serde_json::json!(["ACK", "SYN"]), &server);
    let segments: Vec<&Value> = lines
        .iter()
        .filter(|v| v["type"] == "segment" && v["conn"] == conn)
        .collect();
    let final_ack = segments[2];
    let client_fin = seg(serde_json::json!(["ACK", "FIN"]), &client);
    // connect() enters before the SYN and returns after the SYN,ACK, on the main thread.
    let c_enter = observed(&client, "connect", "enter");
    let c_ret = observed(&client, "connect", "return");
    assert_eq!(c_enter["owner"]["tid"], client_tid);
    assert!(t(&c_enter) < t(&syn), "connect() entered after the SYN");
    assert!(
        t(&c_ret) > t(&syn_ack),
        "connect() returned before the SYN,ACK"
    );
    assert_eq!(c_ret["result"], "ok");
    // accept() returns after the final ACK, on the server's thread, into the same connection.
    let a_ret = observed(&server, "accept", "return");
    assert_eq!(a_ret["conn"], conn);
    assert_eq!(a_ret["owner"]["tid"], server_tid);
    assert!(
        t(&a_ret) > t(final_ack),
        "accept() returned before the final ACK"
    );
    // Bytes moved, each way.
    for (who, call) in [(&client, "send"), (&server, "recv"), (&server, "send")] {
        let v = lines
            .iter()
            .find(|v| {
                v["source"] == "observed"
                    && v["endpoint"] == who.as_str()
                    && v["call"] == call
                    && v["result"] == "5 bytes"
            })
            .unwrap_or_else(|| panic!("no {call} = 5 on {who}:\n{out}"));
        assert_eq!(v["conn"], conn);
    }
    // shutdown(SHUT_WR), then the server's recv() = 0 after that FIN.
    assert_eq!(
        observed(&client, "shutdown", "return")["result"],
        "ok (SHUT_WR)"
    );
    let eof = lines
        .iter()
        .find(|v| {
            v["source"] == "observed"
                && v["endpoint"] == server.as_str()
                && v["call"] == "recv"
                && v["result"] == "0 bytes"
        })
        .unwrap_or_else(|| panic!("no recv() = 0 on the server:\n{out}"));
    assert!(t(eof) > t(&client_fin), "recv() = 0 before the FIN");
    // Both ends close, under the connection.
    assert_eq!(observed(&client, "close", "return")["conn"], conn);
    assert_eq!(observed(&server, "close", "return")["conn"], conn);
    // No inferred twin of a traced end's calls.
    assert!(
        !lines
            .iter()
            .any(|v| v["type"] == "call" && v["source"] == "inferred" && v["endpoint"] == client),
        "{out}"
    );
    // The refused connect() and the bind() that failed.
    assert!(
        lines.iter().any(|v| v["source"] == "observed"
            && v["call"] == "connect"
            && v["result"] == "ECONNREFUSED"),
        "{out}"
    );
    assert!(
        lines.iter().any(|v| v["source"] == "observed"
            && v["call"] == "bind"
            && v["result"] == "EADDRINUSE"
            && v["owner"]["pid"] == pid),
        "{out}"
    );
    assert!(
        lines.iter().any(|v| v["source"] == "observed"
            && v["call"] == "listen"
            && v["endpoint"] == server.as_str()
            && v["result"] == "ok"),
        "{out}"
    );
    // The kernel's own states are in the output too, and equal synfin's on every endpoint
    // (both ends of the echo, the refused client).
    assert!(lines.iter().any(|v| v["source"] == "kernel"), "{out}");
    let agree = err
        .lines()
        .find_map(|l| {
            l.strip_prefix("kernel check: ")?
                .strip_suffix(" endpoints agree")?
                .parse::<u32>()
                .ok()
        })
        .unwrap_or_else(|| panic!("no agreement: {err}"));
    assert!(agree >= 3, "{err}");

    // Saved as packet comments, drawn again by replay with the owner named.
    let replay = Command::new(env!("CARGO_BIN_EXE_synfin"))
        .args(["replay", "--color", "never"])
        .arg(&saved)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&replay.stdout);
    assert!(replay.status.success(), "{text}");
    assert!(text.contains("» connect()"), "{text}");
    assert!(text.contains(&format!("python3[{pid}]")), "{text}");
}

#[test]
fn comm_keeps_the_connections_of_that_program_only() {
    if !live_allowed() {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (port, refused) = free_ports();
    let mine = TcpListener::bind("127.0.0.1:0").unwrap();
    let my_port = mine.local_addr().unwrap().port();
    let filter = format!("port {port} or port {refused} or port {my_port}");
    let child = watch(&["--comm", "python3", &filter]);
    // A connection of this test's own process (not python3)…
    let c = std::net::TcpStream::connect(("127.0.0.1", my_port)).unwrap();
    let (s, _) = mine.accept().unwrap();
    drop((c, s));
    // …and Python's.
    python_echo(port, refused);
    let (status, out, _) = interrupt(child);
    assert!(status.success());
    let verdicts: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "connection")
        .collect();
    let servers: Vec<String> = verdicts
        .iter()
        .map(|v| v["server"].as_str().unwrap().to_string())
        .collect();
    assert!(servers.contains(&format!("127.0.0.1:{port}")), "{out}");
    assert!(servers.contains(&format!("127.0.0.1:{refused}")), "{out}");
    assert!(
        !servers.contains(&format!("127.0.0.1:{my_port}")),
        "the test's own connection is shown: {out}"
    );
}
