//! A running synfin under a deadline, for the live tests.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running synfin with a deadline set when it was spawned: its stdout is read line by line
/// and its stderr whole on threads, so no wait here can block past the deadline. A child
/// still running at the deadline is killed and the test fails; dropped (a failing test),
/// it is killed too.
pub struct Deadlined {
    child: Child,
    what: String,
    deadline: Instant,
    lines: mpsc::Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

/// The end of a `Deadlined` run.
pub struct Finished {
    pub status: ExitStatus,
    /// The stdout lines not taken with `next_line`.
    pub rest: Vec<String>,
    pub stderr: String,
}

impl Deadlined {
    /// Spawn `synfin ARGS`; it must have exited within `limit` from now.
    pub fn spawn(args: &[&str], limit: Duration) -> Deadlined {
        let mut child = Command::new(env!("CARGO_BIN_EXE_synfin"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + limit;
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        Deadlined {
            child,
            what: format!("synfin {}", args.join(" ")),
            deadline,
            lines,
            stderr: Some(stderr),
        }
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Ctrl-C, as a person would stop it (then `finish`).
    pub fn interrupt(&self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
    }

    /// Kill the child and fail the test.
    pub fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        panic!("{}: {why}; killed. stderr: {stderr}", self.what);
    }

    /// The next stdout line, before the deadline.
    pub fn next_line(&mut self, what: &str) -> String {
        let left = self.deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => self.fail(&format!("no {what} in time")),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                self.fail(&format!("stdout ended before the {what}"))
            }
        }
    }

    /// The next stdout line if one comes within `wait` (and before the deadline).
    pub fn line_within(&mut self, wait: Duration) -> Option<String> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        self.lines.recv_timeout(wait.min(left)).ok()
    }

    /// Wait for the exit (polling, so a hang fails at the deadline instead of blocking),
    /// then take the rest of stdout and all of stderr.
    pub fn finish(mut self) -> Finished {
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= self.deadline {
                self.fail("still running at its deadline");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The child is gone, so its pipes close (unless a grandchild holds them: the
        // deadline still bounds the wait).
        let mut rest = Vec::new();
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left.max(Duration::from_secs(1))) {
                Ok(line) => rest.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("{}: stdout still open after exiting", self.what)
                }
            }
        }
        let stderr = self.stderr.take().unwrap().join().unwrap();
        Finished {
            status,
            rest,
            stderr,
        }
    }
}

impl Drop for Deadlined {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
