//! A small Chrome DevTools Protocol client over `--remote-debugging-pipe` (the browser reads
//! commands on fd 3 and writes replies and events on fd 4, each message a JSON text ended by
//! a NUL byte): no websocket, no crate beyond serde_json and libc. Enough to load a page,
//! evaluate script in it, click and type through real input events, and collect console
//! errors. Waits are bounded by a deadline (a guard against a hung browser, not a timing).

use serde_json::{json, Value};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Where Chromium is.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Chromium without a screen, a sandbox, a network of its own or first-run chores.
pub const HEADLESS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// Whether to skip a browser test: Chromium is missing and SYNFIN_REQUIRE_BROWSER is not 1
/// (where it is, a missing browser fails the test).
pub fn skip_without_browser() -> bool {
    if Path::new(CHROMIUM).exists() {
        return false;
    }
    let msg = format!("{CHROMIUM} is missing (apt-get install chromium)");
    if std::env::var("SYNFIN_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!("SYNFIN_REQUIRE_BROWSER=1 but {msg}");
    }
    eprintln!("skipping the browser test: {msg}");
    true
}

/// A headless Chromium with one page attached.
pub struct Browser {
    child: Child,
    to: File,
    from: Receiver<Value>,
    next: u64,
    session: String,
    /// Events received while waiting for replies, not yet looked at.
    events: Vec<Value>,
    /// Console errors and uncaught exceptions, as text.
    pub errors: Vec<String>,
    deadline: Duration,
}

/// A pipe whose ends are closed on exec (the child gets its ends by dup2).
fn pipe() -> (RawFd, RawFd) {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints for pipe2 to fill.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2");
    (fds[0], fds[1])
}

impl Browser {
    /// Start Chromium (profile in `profile`, a window of `w`×`h`) and open a blank page.
    pub fn start(profile: &Path, w: u32, h: u32) -> Browser {
        let (cmd_r, cmd_w) = pipe();
        let (ev_r, ev_w) = pipe();
        let mut command = Command::new(CHROMIUM);
        command
            .args(HEADLESS)
            .args(["--remote-debugging-pipe", "--force-device-scale-factor=1"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--window-size={w},{h}"))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork and exec. The ends
        // are first moved above 10 so that dup2 onto 3 and 4 cannot close one another.
        unsafe {
            command.pre_exec(move || {
                let r = libc::fcntl(cmd_r, libc::F_DUPFD, 10);
                let w = libc::fcntl(ev_w, libc::F_DUPFD, 10);
                if r < 0 || w < 0 || libc::dup2(r, 3) < 0 || libc::dup2(w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("chromium starts");
        // SAFETY: each fd is ours, open, and owned by exactly one File from here on.
        let (to, mut from_file) = unsafe {
            libc::close(cmd_r);
            libc::close(ev_w);
            (File::from_raw_fd(cmd_w), File::from_raw_fd(ev_r))
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 1 << 16];
            loop {
                let n = match from_file.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                while let Some(end) = buf.iter().position(|b| *b == 0) {
                    let msg: Value = serde_json::from_slice(&buf[..end]).expect("CDP sends JSON");
                    buf.drain(..=end);
                    if tx.send(msg).is_err() {
                        return;
                    }
                }
            }
        });
        let mut b = Browser {
            child,
            to,
            from: rx,
            next: 0,
            session: String::new(),
            events: Vec::new(),
            errors: Vec::new(),
            deadline: Duration::from_secs(120),
        };
        let target = b.call("Target.createTarget", json!({"url": "about:blank"}));
        let target = target["targetId"]
            .as_str()
            .expect("a target id")
            .to_string();
        let attached = b.call(
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        );
        b.session = attached["sessionId"]
            .as_str()
            .expect("a session")
            .to_string();
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            b.call(domain, json!({}));
        }
        b
    }

    /// The next message, or a panic past the deadline.
    fn recv(&mut self, until: Instant) -> Value {
        let left = until.saturating_duration_since(Instant::now());
        match self.from.recv_timeout(left) {
            Ok(v) => {
                self.note_error(&v);
                v
            }
            Err(RecvTimeoutError::Timeout) => panic!("chromium did not answer in time"),
            Err(RecvTimeoutError::Disconnected) => panic!("chromium went away"),
        }
    }

    /// Keep console errors and exceptions.
    fn note_error(&mut self, v: &Value) {
        let p = &v["params"];
        match v["method"].as_str() {
            Some("Runtime.exceptionThrown") => self.errors.push(format!(
                "exception: {}",
                p["exceptionDetails"]["exception"]["description"]
                    .as_str()
                    .or(p["exceptionDetails"]["text"].as_str())
                    .unwrap_or("?")
            )),
            Some("Runtime.consoleAPICalled")
                if matches!(p["type"].as_str(), Some("error" | "assert")) =>
            {
                self.errors
                    .push(format!("console.{}: {}", p["type"], p["args"]))
            }
            Some("Log.entryAdded") if p["entry"]["level"] == "error" => self.errors.push(format!(
                "log: {}",
                p["entry"]["text"].as_str().unwrap_or("?")
            )),
            _ => {}
        }
    }

    /// Send a command (to the page's session once attached) and wait for its reply.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).expect("chromium reads commands");
        let until = Instant::now() + self.deadline;
        loop {
            let v = self.recv(until);
            if v["id"] == id {
                if let Some(e) = v.get("error") {
                    panic!("{method}: {e}");
                }
                return v["result"].clone();
            }
            if v.get("method").is_some() {
                self.events.push(v);
            }
        }
    }

    /// Wait for an event named `method` (one already received counts).
    pub fn wait_event(&mut self, method: &str) -> Value {
        if let Some(i) = self.events.iter().position(|e| e["method"] == method) {
            return self.events.remove(i);
        }
        let until = Instant::now() + self.deadline;
        loop {
            let v = self.recv(until);
            if v["method"] == method {
                return v;
            }
            if v.get("method").is_some() {
                self.events.push(v);
            }
        }
    }

    /// Load `url` and wait for its load event.
    pub fn navigate(&mut self, url: &str) {
        self.events.clear();
        self.call("Page.navigate", json!({"url": url}));
        self.wait_event("Page.loadEventFired");
    }

    /// Evaluate `expr` in the page (awaiting a promise) and return its value.
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expr}: {e}");
        }
        r["result"]["value"].clone()
    }

    /// A real left click at page coordinates (CSS px of the viewport).
    pub fn click_at(&mut self, x: f64, y: f64) {
        for (kind, buttons) in [("mouseMoved", 0), ("mousePressed", 1), ("mouseReleased", 0)] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "buttons": buttons,
                       "clickCount": 1}),
            );
        }
    }

    /// Scroll the element `selector` into view and click its centre.
    pub fn click(&mut self, selector: &str) {
        let sel = serde_json::to_string(selector).unwrap();
        // Scrolled first, then measured once the page has painted after the scroll (a
        // scroll may redraw what is under the pointer).
        let r = self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return null; \
             e.scrollIntoView({{block: 'center'}}); \
             return new Promise(ok => requestAnimationFrame(() => requestAnimationFrame(() => {{ \
             const e = document.querySelector({sel}); if (!e) return ok(null); \
             const r = e.getBoundingClientRect(); \
             ok([r.left + r.width / 2, r.top + r.height / 2]); }}))); }})()"
        ));
        let xy = r
            .as_array()
            .unwrap_or_else(|| panic!("no element {selector}"));
        self.click_at(xy[0].as_f64().unwrap(), xy[1].as_f64().unwrap());
    }

    /// Type `text` into the focused element (an input event, as a keyboard would make).
    pub fn type_text(&mut self, text: &str) {
        self.call("Input.insertText", json!({"text": text}));
    }

    /// A PNG of the page as shown.
    pub fn screenshot(&mut self) -> Vec<u8> {
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        decode_base64(r["data"].as_str().expect("PNG data"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Our own child, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard base64 (with padding) to bytes.
fn decode_base64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    for q in s.as_bytes().chunks(4) {
        let n = q.iter().filter(|c| **c != b'=').count();
        let mut acc = 0u32;
        for (i, c) in q.iter().enumerate() {
            if *c != b'=' {
                acc |= val(*c) << (18 - 6 * i);
            }
        }
        out.extend_from_slice(&acc.to_be_bytes()[1..n]);
    }
    out
}
