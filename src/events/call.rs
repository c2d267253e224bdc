//! Socket calls: which call, entering or returning, observed or inferred, and its result as
//! a value (serialised as the schema's strings).

use super::{ConnId, Endpoint};
use crate::timestamp::Timestamp;
use serde::{Serialize, Serializer};
use std::fmt;

/// A socket call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CallName {
    /// bind()
    Bind,
    /// listen()
    Listen,
    /// connect()
    Connect,
    /// accept()
    Accept,
    /// send()
    Send,
    /// recv()
    Recv,
    /// shutdown()
    Shutdown,
    /// close()
    Close,
}

impl CallName {
    /// Every call.
    pub const ALL: [CallName; 8] = [
        CallName::Bind,
        CallName::Listen,
        CallName::Connect,
        CallName::Accept,
        CallName::Send,
        CallName::Recv,
        CallName::Shutdown,
        CallName::Close,
    ];

    /// The call's name.
    pub fn as_str(self) -> &'static str {
        match self {
            CallName::Bind => "bind",
            CallName::Listen => "listen",
            CallName::Connect => "connect",
            CallName::Accept => "accept",
            CallName::Send => "send",
            CallName::Recv => "recv",
            CallName::Shutdown => "shutdown",
            CallName::Close => "close",
        }
    }
}

/// Entering or returning from a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// The call was made.
    Enter,
    /// The call returned.
    Return,
}

/// Timed around the real syscall, or inferred from packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CallSource {
    /// Timed around the real syscall (by the demo, or from the kernel's tracepoints).
    Observed,
    /// Inferred from what is on the wire.
    Inferred,
}

/// A socket call event.
#[derive(Debug, Clone, Serialize)]
pub struct CallEvent {
    /// When.
    pub t: Timestamp,
    /// Connection (0 for calls on no connection, such as listen()).
    pub conn: ConnId,
    /// The socket's endpoint.
    pub endpoint: Endpoint,
    /// Which call.
    pub call: CallName,
    /// Enter or return.
    pub phase: Phase,
    /// Result (`ok`, `ECONNREFUSED`, `0 bytes`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<CallResult>,
    /// Observed or inferred.
    pub source: CallSource,
    /// The process that made it (observed calls traced in the kernel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
}

/// The process (and thread) that made a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    /// Process id (the kernel's tgid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// The thread's name (the kernel's comm, at most 15 bytes).
    pub comm: String,
}

impl fmt::Display for Owner {
    /// `python3[4242]` (the thread's id too when it is not the main thread: `python3[4242/4243]`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let comm = crate::text::printable(&self.comm);
        if self.tid == self.pid {
            write!(f, "{comm}[{}]", self.pid)
        } else {
            write!(f, "{comm}[{}/{}]", self.pid, self.tid)
        }
    }
}

/// An errno a socket call returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// Connection refused.
    pub const ECONNREFUSED: Errno = Errno(111);
    /// Connection reset by peer.
    pub const ECONNRESET: Errno = Errno(104);
    /// Address already in use.
    pub const EADDRINUSE: Errno = Errno(98);
    /// Try again.
    pub const EAGAIN: Errno = Errno(11);
    /// Connection timed out.
    pub const ETIMEDOUT: Errno = Errno(110);
    /// Broken pipe.
    pub const EPIPE: Errno = Errno(32);
    /// Transport endpoint is not connected.
    pub const ENOTCONN: Errno = Errno(107);
    /// Operation now in progress.
    pub const EINPROGRESS: Errno = Errno(115);

    const NAMES: [(Errno, &'static str); 8] = [
        (Self::ECONNREFUSED, "ECONNREFUSED"),
        (Self::ECONNRESET, "ECONNRESET"),
        (Self::EADDRINUSE, "EADDRINUSE"),
        (Self::EAGAIN, "EAGAIN"),
        (Self::ETIMEDOUT, "ETIMEDOUT"),
        (Self::EPIPE, "EPIPE"),
        (Self::ENOTCONN, "ENOTCONN"),
        (Self::EINPROGRESS, "EINPROGRESS"),
    ];

    /// The symbolic name, when synfin knows it.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMES
            .iter()
            .find(|(e, _)| *e == self)
            .map(|(_, n)| *n)
    }
}

impl fmt::Display for Errno {
    /// `ECONNREFUSED`, or `errno 71` for one synfin has no name for.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "errno {}", self.0),
        }
    }
}

/// What a call returned, or (for an inferred call's enter) what the wire showed of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallResult {
    /// Success: `ok`.
    Ok,
    /// shutdown(SHUT_WR) succeeded: `ok (SHUT_WR)`.
    OkShutWr,
    /// shutdown(SHUT_RD) succeeded: `ok (SHUT_RD)`.
    OkShutRd,
    /// shutdown(SHUT_RDWR) succeeded: `ok (SHUT_RDWR)`.
    OkShutRdWr,
    /// socket → [SO_REUSEADDR] → bind → listen(backlog) succeeded.
    Listening {
        /// SO_REUSEADDR was set first.
        reuse: bool,
        /// listen()'s backlog.
        backlog: i32,
    },
    /// send()/recv() moved this many bytes: `5 bytes` (recv: `0 bytes` is the peer's FIN).
    Bytes(u64),
    /// Failed with an errno: `ECONNREFUSED`.
    Errno(Errno),
    /// A FIN was sent and nothing showed whether by close() or shutdown(SHUT_WR).
    FinSent,
    /// A FIN was sent and the sender kept acknowledging data: shutdown(SHUT_WR).
    ShutWrSent,
    /// close() sent an RST (SO_LINGER 0, or unread data).
    RstSent,
    /// The process was killed; the kernel closed the socket.
    Killed,
}

impl CallResult {
    /// The schema's string.
    pub fn as_text(self) -> std::borrow::Cow<'static, str> {
        use std::borrow::Cow::{Borrowed, Owned};
        match self {
            CallResult::Ok => Borrowed("ok"),
            CallResult::OkShutWr => Borrowed("ok (SHUT_WR)"),
            CallResult::OkShutRd => Borrowed("ok (SHUT_RD)"),
            CallResult::OkShutRdWr => Borrowed("ok (SHUT_RDWR)"),
            CallResult::Listening { reuse, backlog } => Owned(format!(
                "ok (bind+listen with{} SO_REUSEADDR, backlog {backlog})",
                if reuse { "" } else { "out" }
            )),
            CallResult::Bytes(n) => Owned(format!("{n} bytes")),
            CallResult::Errno(e) => match e.name() {
                Some(n) => Borrowed(n),
                None => Owned(e.to_string()),
            },
            CallResult::FinSent => {
                Borrowed("FIN (or shutdown(SHUT_WR): nothing came back to tell)")
            }
            CallResult::ShutWrSent => Borrowed("SHUT_WR: it kept ACKing data after its FIN"),
            CallResult::RstSent => Borrowed("RST: close() with SO_LINGER 0, or with unread data"),
            CallResult::Killed => Borrowed("killed by SIGKILL: the kernel closes the socket"),
        }
    }
}

impl CallResult {
    /// The result whose schema string is `text` (the inverse of `as_text`).
    pub fn from_text(text: &str) -> Option<CallResult> {
        let fixed = [
            CallResult::Ok,
            CallResult::OkShutWr,
            CallResult::OkShutRd,
            CallResult::OkShutRdWr,
            CallResult::FinSent,
            CallResult::ShutWrSent,
            CallResult::RstSent,
            CallResult::Killed,
        ];
        if let Some(r) = fixed.into_iter().find(|r| r.as_text() == text) {
            return Some(r);
        }
        if let Some(n) = text.strip_suffix(" bytes") {
            return n.parse().ok().map(CallResult::Bytes);
        }
        if let Some(n) = text.strip_prefix("errno ") {
            return n.parse().ok().map(|n| CallResult::Errno(Errno(n)));
        }
        if let Some((e, _)) = Errno::NAMES.iter().find(|(_, name)| *name == text) {
            return Some(CallResult::Errno(*e));
        }
        let rest = text.strip_prefix("ok (bind+listen with")?;
        let (reuse, rest) = match rest.strip_prefix("out") {
            Some(r) => (false, r),
            None => (true, rest),
        };
        let backlog = rest
            .strip_prefix(" SO_REUSEADDR, backlog ")?
            .strip_suffix(')')?
            .parse()
            .ok()?;
        Some(CallResult::Listening { reuse, backlog })
    }
}

impl fmt::Display for CallResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.as_text())
    }
}

impl Serialize for CallResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_text())
    }
}
