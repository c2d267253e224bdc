//! Observed socket calls: each one timed around the real syscall with `CLOCK_REALTIME`
//! (the clock of the capture's kernel timestamps), with its result or errno.

use crate::events::{CallName, CallResult, Errno, Phase};
use crate::pipeline::observed::CallNote;
use crate::timestamp::Timestamp;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// `CLOCK_REALTIME` now.
pub fn now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_secs_nanos(d.as_secs() as i64, i64::from(d.subsec_nanos()))
}

/// One call, as made.
#[derive(Debug, Clone)]
pub struct ObservedCall {
    /// Just before the syscall.
    pub enter: Timestamp,
    /// Just after it returned.
    pub ret: Timestamp,
    /// The socket's own address.
    pub local: SocketAddr,
    /// Its peer, if connected.
    pub peer: Option<SocketAddr>,
    /// Which call.
    pub call: CallName,
    /// `ok`, `5 bytes`, `ECONNREFUSED`, …
    pub result: CallResult,
}

impl ObservedCall {
    /// Its enter and its return, as notes (`pipeline::observed`).
    pub fn notes(&self) -> [CallNote; 2] {
        let mk = |t, phase, result| CallNote {
            t,
            local: self.local,
            peer: self.peer,
            call: self.call,
            phase,
            result,
            owner: None,
        };
        [
            mk(self.enter, Phase::Enter, None),
            mk(self.ret, Phase::Return, Some(self.result)),
        ]
    }
}

/// The errno of a failed call (`errno 0` for an error that carries none).
pub fn errno_of(e: &io::Error) -> CallResult {
    CallResult::Errno(Errno(e.raw_os_error().unwrap_or(0)))
}

/// A shared, append-only log of observed calls.
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<ObservedCall>>>);

impl CallLog {
    /// Make the call `f`, timing it, and record it with `describe(result)`.
    pub fn record<T>(
        &self,
        call: CallName,
        local: SocketAddr,
        peer: Option<SocketAddr>,
        f: impl FnOnce() -> io::Result<T>,
        describe: impl FnOnce(&T) -> CallResult,
    ) -> io::Result<T> {
        let enter = now();
        let r = f();
        let ret = now();
        let result = match &r {
            Ok(v) => describe(v),
            Err(e) => errno_of(e),
        };
        self.push(ObservedCall {
            enter,
            ret,
            local,
            peer,
            call,
            result,
        });
        r
    }

    /// Record a call made elsewhere.
    pub fn push(&self, c: ObservedCall) {
        self.0.lock().expect("call log lock").push(c);
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<ObservedCall> {
        self.0.lock().expect("call log lock").clone()
    }
}
