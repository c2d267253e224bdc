//! The live view: rows appear as bytes arrive. A slow writer feeds a capture through a pipe
//! and the first rows are read back before it has finished (and before it closes the pipe).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The records of a classic pcap file: (header, [record]).
fn records(bytes: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push(bytes[at..at + 16 + caplen].to_vec());
        at += 16 + caplen;
    }
    (bytes[..24].to_vec(), out)
}

/// `synfin replay -` with its stdin to write to and its stdout's lines as they come.
fn replay_stdin() -> (
    std::process::Child,
    std::process::ChildStdin,
    mpsc::Receiver<String>,
    std::thread::JoinHandle<()>,
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_synfin"))
        .args(["replay", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, stdin, rx, reader)
}

/// basic.pcap's file header and records.
fn basic_records() -> (Vec<u8>, Vec<Vec<u8>>) {
    records(
        &std::fs::read(format!(
            "{}/captures/basic.pcap",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
}

#[test]
fn a_pipe_is_shown_as_it_comes() {
    let (header, recs) = basic_records();
    assert!(recs.len() >= 10);
    let (mut child, mut stdin, rx, reader) = replay_stdin();
    // The header and the handshake only; the pipe stays open.
    stdin.write_all(&header).unwrap();
    for r in &recs[..3] {
        stdin.write_all(r).unwrap();
    }
    stdin.flush().unwrap();
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !seen.iter().any(|l: &String| l.contains("ACK seq=1 ack=1")) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => seen.push(l),
            Err(_) => {
                let _ = child.kill();
                panic!("no rows while the writer still writes: {seen:?}");
            }
        }
    }
    // The handshake's rows are out, with both ends' states, before the rest is written.
    let all = seen.join("\n");
    assert!(all.contains("conn 1  127.0.0.1:"), "{all}");
    assert!(
        all.contains("SYN_SENT") && all.contains("SYN_RECEIVED"),
        "{all}"
    );
    for r in &recs[3..] {
        stdin.write_all(r).unwrap();
    }
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(status.success());
    let rest = rest.join("\n");
    assert!(rest.contains("── closed · SF"), "{rest}");
    assert!(rest.contains("1 connection seen"), "{rest}");
}

#[test]
fn ctrl_c_on_a_pipe_still_gives_the_verdicts_of_what_was_seen() {
    let (header, recs) = basic_records();
    let (mut child, mut stdin, rx, reader) = replay_stdin();
    stdin.write_all(&header).unwrap();
    for r in &recs[..3] {
        stdin.write_all(r).unwrap();
    }
    stdin.flush().unwrap();
    // The first row shows the capture is being read; then Ctrl-C, the writer still alive.
    let first = rx.recv_timeout(Duration::from_secs(20));
    assert!(first.is_ok(), "no rows");
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("replay of a pipe did not stop on SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    reader.join().unwrap();
    let out: Vec<String> = rx.try_iter().collect();
    let out = out.join("\n");
    assert!(status.success(), "{status:?}\n{out}");
    assert!(
        out.contains("── open"),
        "the verdict of the open connection: {out}"
    );
    assert!(out.contains("1 connection seen"), "{out}");
}
