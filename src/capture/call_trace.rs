//! `watch`'s call tracing: a private tracefs instance recording the socket syscalls of every
//! process, `sock:inet_sock_set_state` and `sock:sock_{send,recv}_length`, read by a thread
//! from `trace_pipe`. The lines are handed on as they come, with a watermark: the capture
//! clock's time up to which everything recorded has been read (the buffer was empty then).

use super::tracefs::{EventSpec, Instance, TraceError};
use crate::timestamp::Timestamp;
use std::io::{ErrorKind, Read};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

/// What the reader thread sends.
#[derive(Debug)]
pub enum TraceMsg {
    /// Whole lines of the trace, in order.
    Lines(String),
    /// Everything recorded up to this time (capture clock) has been sent.
    Watermark(Timestamp),
}

/// A running call trace; dropping it stops the thread and removes the instance.
pub struct CallTrace {
    instance: Arc<Instance>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// The messages.
    pub rx: Receiver<TraceMsg>,
    /// The capture clock (CLOCK_REALTIME) minus the trace clock (CLOCK_MONOTONIC), in ns.
    pub offset: i64,
}

fn clock_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// CLOCK_REALTIME − CLOCK_MONOTONIC, from the closest of a few paired readings.
fn clock_offset() -> i64 {
    (0..5)
        .map(|_| {
            let a = clock_ns(libc::CLOCK_MONOTONIC);
            let r = clock_ns(libc::CLOCK_REALTIME);
            let b = clock_ns(libc::CLOCK_MONOTONIC);
            (b - a, r - (a + (b - a) / 2))
        })
        .min_by_key(|x| x.0)
        .map(|x| x.1)
        .unwrap_or(0)
}

impl CallTrace {
    /// Start recording, with the given syscalls' enter and exit events.
    pub fn start(syscalls: &[&str]) -> Result<CallTrace, TraceError> {
        let mut events = vec![
            EventSpec::new("sock/inet_sock_set_state", Some("protocol == 6")),
            EventSpec::new("sock/sock_send_length", Some("protocol == 6")),
            EventSpec::new("sock/sock_recv_length", Some("protocol == 6")),
        ];
        for s in syscalls {
            events.push(EventSpec::new(format!("syscalls/sys_enter_{s}"), None));
            events.push(EventSpec::new(format!("syscalls/sys_exit_{s}"), None));
        }
        let instance = Arc::new(Instance::create(
            "calls",
            "mono",
            &[("record-tgid", "1"), ("hash-ptr", "0"), ("fields", "1")],
            &events,
        )?);
        let mut pipe = instance.open_pipe()?;
        let offset = clock_offset();
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 20];
                let mut partial: Vec<u8> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let before = clock_ns(libc::CLOCK_MONOTONIC);
                    match pipe.read(&mut buf) {
                        Ok(0) => {}
                        Ok(n) => {
                            partial.extend_from_slice(&buf[..n]);
                            if let Some(end) = partial.iter().rposition(|&b| b == b'\n') {
                                let rest = partial.split_off(end + 1);
                                let lines = String::from_utf8_lossy(&partial).into_owned();
                                partial = rest;
                                if tx.send(TraceMsg::Lines(lines)).is_err() {
                                    return;
                                }
                            }
                            continue;
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(_) => return,
                    }
                    // Empty: all that was recorded before `before` has been read (less a
                    // millisecond for events being written on another CPU meanwhile).
                    let mark = Timestamp(before + offset - 1_000_000);
                    if tx.send(TraceMsg::Watermark(mark)).is_err() {
                        return;
                    }
                    let mut pfd = libc::pollfd {
                        fd: pipe.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd; trace_pipe's poll wakes on new data.
                    unsafe { libc::poll(&mut pfd, 1, 5) };
                }
            })
        };
        Ok(CallTrace {
            instance,
            stop,
            thread: Some(thread),
            rx,
            offset,
        })
    }

    /// Events the kernel lost because the buffer was full.
    pub fn lost_events(&self) -> u64 {
        self.instance.lost_events()
    }
}

impl Drop for CallTrace {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // The instance goes when its last holder (this, now the thread has ended) drops it.
    }
}
