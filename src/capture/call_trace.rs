//! `watch`'s call tracing: a private tracefs instance recording the socket syscalls of every
//! process, `sock:inet_sock_set_state` and `sock:sock_{send,recv}_length`. A thread reads each
//! CPU's binary ring buffer (`per_cpu/cpuN/trace_pipe_raw`: no formatting in the kernel, whole
//! pages per read), merges the CPUs' records in time order, names each task (its process and
//! comm, from procfs while it runs, else from tracefs's own tables), and turns them into calls
//! and state changes (`kernel::socket_calls`). It hands them on with a watermark: the capture
//! clock's time up to which everything recorded has been read.

use super::tracefs::{EventSpec, Instance, TraceError, TRACEFS};
use crate::kernel::event_format::{common, EventFormat};
use crate::kernel::ring_page;
use crate::kernel::socket_calls::{Observation, SocketCalls};
use crate::kernel::trace_line::Record;
use crate::timestamp::Timestamp;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// How many pages a round reads from one CPU at most.
const PAGES_PER_ROUND: usize = 64;

/// How long a connect() in progress holds the watermark back, at most (a frame waits for the
/// trace 250 ms at most anyway).
const CONNECT_HOLD_NS: i64 = 250_000_000;

/// What the reader thread sends.
#[derive(Debug)]
pub enum TraceMsg {
    /// Calls and state changes, in the order they were settled.
    Observed(Vec<Observation>),
    /// Everything recorded up to this time (capture clock) has been sent.
    Watermark(Timestamp),
    /// The trace cannot be read any more (why).
    Failed(String),
}

/// A running call trace; dropping it stops the thread and removes the instance.
pub struct CallTrace {
    instance: Arc<Instance>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// The messages.
    pub rx: Receiver<TraceMsg>,
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

/// Each task's process and name, from procfs while it runs, else from tracefs's tables of
/// recently traced tasks (read at most once a round).
#[derive(Default)]
struct Tasks {
    known: HashMap<u32, (Option<u32>, String)>,
    since: i64,
    /// `saved_tgids` and `saved_cmdlines`, when a task had ended before it was named.
    tables: Option<(HashMap<u32, u32>, HashMap<u32, String>)>,
}

/// A tracefs table of `id value` lines.
fn table(file: &str) -> HashMap<u32, String> {
    // A task may name itself with any bytes: read them, lossily.
    String::from_utf8_lossy(&fs::read(format!("{TRACEFS}/{file}")).unwrap_or_default())
        .lines()
        .filter_map(|l| {
            let (id, rest) = l.split_once(' ')?;
            Some((id.parse().ok()?, rest.trim().to_string()))
        })
        .collect()
}

impl Tasks {
    /// A new round: tracefs's tables may have changed.
    fn round(&mut self) {
        self.tables = None;
    }

    fn get(&mut self, tid: u32, now: i64) -> (Option<u32>, &str) {
        // A task id may be used again: forget names every few seconds.
        if now - self.since > 5_000_000_000 {
            self.known.clear();
            self.since = now;
        }
        if !self.known.contains_key(&tid) {
            let status = fs::read(format!("/proc/{tid}/status"))
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            let field = |name: &str| -> Option<String> {
                status
                    .as_deref()?
                    .lines()
                    .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
            };
            let (mut tgid, mut comm) =
                (field("Tgid:").and_then(|t| t.parse().ok()), field("Name:"));
            if tgid.is_none() || comm.is_none() {
                let (tgids, comms) = self.tables.get_or_insert_with(|| {
                    let tgids = table("saved_tgids")
                        .into_iter()
                        .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
                        .collect();
                    (tgids, table("saved_cmdlines"))
                });
                tgid = tgid.or_else(|| tgids.get(&tid).copied());
                comm = comm.or_else(|| comms.get(&tid).cloned());
            }
            self.known
                .insert(tid, (tgid, comm.unwrap_or_else(|| "?".into())));
        }
        let entry = &self.known[&tid];
        (entry.0, entry.1.as_str())
    }
}

impl CallTrace {
    /// Start recording, with the given syscalls' enter events, and their exit events where
    /// asked (name, exit too).
    pub fn start(syscalls: &[(&str, bool)]) -> Result<CallTrace, TraceError> {
        let mut events = vec![
            EventSpec::new("sock/inet_sock_set_state", Some("protocol == 6")),
            EventSpec::new("sock/sock_send_length", Some("protocol == 6")),
            EventSpec::new("sock/sock_recv_length", Some("protocol == 6")),
            // A task's name changes when it execs (a shell that starts python3); exec and exit
            // also close fds, as dup2, dup3 and close_range may (their enters suffice).
            EventSpec::new("sched/sched_process_exec", None),
            EventSpec::new("sched/sched_process_exit", None),
            EventSpec::new("syscalls/sys_enter_dup2", None),
            EventSpec::new("syscalls/sys_enter_dup3", None),
            EventSpec::new("syscalls/sys_enter_close_range", None),
        ];
        for (s, exit) in syscalls {
            events.push(EventSpec::new(format!("syscalls/sys_enter_{s}"), None));
            if *exit {
                events.push(EventSpec::new(format!("syscalls/sys_exit_{s}"), None));
            }
        }
        let instance = Arc::new(Instance::create(
            "calls",
            "mono",
            &[("record-tgid", "1")],
            &events,
        )?);
        let mut formats = HashMap::new();
        for ev in &events {
            let text = instance.event_format(&ev.name)?;
            if let Some(f) = EventFormat::parse(&text) {
                formats.insert(f.id, f);
            }
        }
        let pipes = instance.open_cpu_pipes()?;
        let page = instance.page_size();
        let offset = clock_offset();
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || read_loop(pipes, page, formats, offset, &stop, &tx))
        };
        Ok(CallTrace {
            instance,
            stop,
            thread: Some(thread),
            rx,
        })
    }

    /// Events the kernel lost because the buffer was full.
    pub fn lost_events(&self) -> u64 {
        self.instance.lost_events()
    }
}

/// The reader thread: rounds of reading every CPU's pipe until it is empty, then handing on
/// what every CPU has passed, in time order.
fn read_loop(
    mut pipes: Vec<File>,
    page: usize,
    formats: HashMap<u16, EventFormat>,
    offset: i64,
    stop: &AtomicBool,
    tx: &Sender<TraceMsg>,
) {
    let mut buf = vec![0u8; page];
    let mut calls = SocketCalls::new(offset).with_lookup(Box::new(socket_of_fd));
    let mut tasks = Tasks::default();
    // Records waiting for every CPU to pass their time: (time, start, length) in `arena`.
    let mut held: Vec<(i64, usize, usize)> = Vec::new();
    let mut arena: Vec<u8> = Vec::new();
    let mut values = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        // What every CPU has passed: a CPU's records come in time order, so everything
        // recorded on it before its last record read, or before a read that found it empty,
        // has been read. A busy CPU gives a few pages per round, so that no CPU waits.
        let mut passed = i64::MAX;
        let mut got = false;
        for pipe in &mut pipes {
            let mut cpu_passed = None;
            for _ in 0..PAGES_PER_ROUND {
                let before = clock_ns(libc::CLOCK_MONOTONIC);
                match pipe.read(&mut buf) {
                    Ok(0) => {
                        cpu_passed = Some(before);
                        break;
                    }
                    Ok(n) => {
                        got = true;
                        let mut raw = Vec::new();
                        // A damaged page: what it held before the damage is kept.
                        let _ = ring_page::events(&buf[..n], &mut raw);
                        if let Some(last) = raw.last() {
                            cpu_passed = Some(last.t_ns);
                        }
                        for e in &raw {
                            held.push((e.t_ns, arena.len(), e.data.len()));
                            arena.extend_from_slice(e.data);
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        cpu_passed = Some(before);
                        break;
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.send(TraceMsg::Failed(format!("reading the trace: {e}")));
                        return;
                    }
                }
            }
            passed = passed.min(cpu_passed.unwrap_or(i64::MIN));
        }
        tasks.round();
        // The wall clock may have been set or slewed: the offset is taken again each round.
        let offset = clock_offset();
        calls.set_offset(offset);
        // In time order across CPUs, up to what every CPU has passed.
        held.sort_by_key(|e| e.0);
        let ready = held.partition_point(|e| e.0 <= passed);
        for &(t, at, len) in &held[..ready] {
            let data = &arena[at..at + len];
            let Some((id, in_irq, tid)) = common(data) else {
                continue;
            };
            let Some(f) = formats.get(&id) else { continue };
            f.values(data, &mut values);
            if f.name == "sched_process_exec" {
                tasks.known.remove(&tid);
                if let Some(old) = values.iter().find(|v| v.0 == "old_pid") {
                    tasks.known.remove(&(old.2 as u32));
                }
            }
            let (tgid, comm) = if in_irq {
                (None, "")
            } else {
                tasks.get(tid, t)
            };
            let r = Record::new(t, comm, tid, tgid, in_irq, &f.name, &values);
            calls.record(&r);
            if f.name == "sched_process_exit" {
                // Its id may be given to a new task.
                tasks.known.remove(&tid);
            }
        }
        // What waits keeps its bytes; the arena starts again with them alone.
        let mut kept = Vec::with_capacity(held.len() - ready);
        let mut rest = Vec::new();
        for &(t, at, len) in &held[ready..] {
            kept.push((t, rest.len(), len));
            rest.extend_from_slice(&arena[at..at + len]);
        }
        held = kept;
        arena.clear();
        arena.extend_from_slice(&rest);
        let mut out = Vec::new();
        while let Some(o) = calls.poll() {
            out.push(o);
        }

        if !out.is_empty() && tx.send(TraceMsg::Observed(out)).is_err() {
            return;
        }
        // A connect() in progress holds the watermark just before its entry (for at most
        // CONNECT_HOLD_NS): the SYN it sent waits for the call to be told, instead of being
        // taken for an untraced program's (an inferred connect() beside the traced one).
        if let Some(enter) = calls.connect_in_progress_since() {
            if passed != i64::MAX && passed.saturating_sub(enter) < CONNECT_HOLD_NS {
                passed = passed.min(enter - 1);
            }
        }
        if passed != i64::MAX
            && tx
                .send(TraceMsg::Watermark(Timestamp(passed + offset)))
                .is_err()
        {
            return;
        }
        if !got {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}

/// The addresses of the TCP socket that fd `fd` of process `pid` holds (procfs).
fn socket_of_fd(pid: u32, fd: u32) -> Option<(std::net::SocketAddr, std::net::SocketAddr)> {
    let target = fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    let inode: u64 = target
        .to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()?;
    super::proc_net::tcp_sockets()
        .into_iter()
        .find(|s| s.inode == inode)
        .map(|s| (s.local, s.remote))
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

/// Open `path` for reading without blocking.
pub(super) fn open_nonblocking(path: &std::path::Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}
