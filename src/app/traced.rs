//! `watch` with call tracing: frames and the kernel's trace merged on one clock. A frame is
//! handed on once the trace has been read past its time (the reader's watermark), so a call
//! that entered before a segment is shown before it; traced calls and state changes go to the
//! pipeline in between, in time order.

use crate::capture::call_trace::{CallTrace, TraceMsg};
use crate::capture::live::{LiveSource, Polled};
use crate::capture::proc_net;
use crate::capture::tracefs::TraceError;
use crate::events::{Owner, TcpState};
use crate::frame::Frame;
use crate::kernel::socket_calls::{Observation, SYSCALLS};
use crate::pipeline::live_calls::LiveCalls;
use crate::pipeline::{wall_clock, Pipeline};
use crate::timestamp::Timestamp;
use crate::tracker::{Seed, Tracker};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long a frame waits for the trace to catch up, at most.
const HOLD_NS: i64 = 250_000_000;
/// How many frames may wait for the trace at once.
const HOLD_FRAMES: usize = 100_000;

/// A frame waiting for the trace to catch up.
struct Held {
    ts: Timestamp,
    orig_len: u32,
    data: Vec<u8>,
    number: u64,
    link: crate::frame::LinkType,
}

/// The trace.
pub struct Traced {
    trace: CallTrace,
    /// procfs's TIME_WAIT sockets as last read, and when.
    time_wait: (
        Instant,
        std::collections::HashSet<(std::net::SocketAddr, std::net::SocketAddr)>,
    ),
}

impl Traced {
    /// Start tracing every process's socket calls.
    pub fn start() -> Result<Traced, TraceError> {
        let names: Vec<(&str, bool)> = SYSCALLS.iter().map(|s| (s.0, s.2)).collect();
        let trace = CallTrace::start(&names)?;
        Ok(Traced {
            trace,
            time_wait: (Instant::now(), Default::default()),
        })
    }

    /// The sockets that exist now (before any call was traced): their owners named, and the
    /// tracker told their states and which end serves (sock tables of procfs).
    pub fn seed(&self, live: &mut LiveCalls, tracker: &mut Tracker) {
        let holders = proc_net::socket_holders();
        let sockets = proc_net::tcp_sockets();
        let listening: Vec<std::net::SocketAddr> = sockets
            .iter()
            .filter(|s| s.state == 10)
            .map(|s| s.local)
            .collect();
        for s in &sockets {
            if let Some((pid, comm)) = holders.get(&s.inode) {
                live.seed_owner(
                    s.local,
                    Owner {
                        pid: *pid,
                        tid: *pid,
                        comm: comm.clone(),
                    },
                );
            }
            let Some(state) = crate::kernel::state_number(i64::from(s.state)) else {
                continue;
            };
            if s.remote.port() == 0 || state == TcpState::Listen {
                continue;
            }
            let serves = listening.iter().any(|l| {
                l.port() == s.local.port() && (l.ip() == s.local.ip() || l.ip().is_unspecified())
            });
            tracker.seed(
                s.remote,
                Seed {
                    local: s.local,
                    state,
                    serves,
                },
            );
        }
    }

    /// Read frames and the trace until the source stops or `count` segments matched.
    pub fn run(
        mut self,
        source: &mut LiveSource,
        p: &mut Pipeline,
        count: Option<u64>,
        kernel_check: bool,
    ) -> anyhow::Result<u64> {
        let mut held: VecDeque<Held> = VecDeque::new();
        let mut obs: VecDeque<Observation> = VecDeque::new();
        let mut watermark = Timestamp(i64::MIN);
        let mut matched = 0u64;
        // Frames are read in time order: every frame up to `seen` is in.
        let mut seen = Timestamp(i64::MIN);
        let mut last_flush = Instant::now();
        let (mut last_loss_check, mut told_lost) = (Instant::now(), 0u64);
        'outer: loop {
            self.take(&mut obs, &mut watermark, kernel_check);
            let idle = match source.poll_for(Some(Duration::from_millis(5)))? {
                Polled::Stopped => break,
                Polled::Frame => {
                    let f = source.frame();
                    seen = seen.max(f.ts);
                    held.push_back(Held {
                        ts: f.ts,
                        orig_len: f.orig_len,
                        data: f.data.to_vec(),
                        number: f.number,
                        link: f.link,
                    });
                    false
                }
                Polled::Idle => {
                    // Nothing to read: every frame captured until a moment ago is in.
                    seen = seen.max(Timestamp(wall_clock().0 - 1_000_000));
                    true
                }
            };
            if self.release(&mut held, &mut obs, watermark, seen, p, &mut matched, count)? {
                // -c: the frames after the last one counted are not shown.
                held.clear();
                break 'outer;
            }
            if held.is_empty() {
                let now = wall_clock();
                if p.tracker.poll_timeout().is_some_and(|at| at <= now) {
                    p.tick(now)?;
                }
                if idle && obs.is_empty() {
                    p.release_verdicts(now.min(watermark))?;
                }
            }
            // Say it when it happens, not only at the end: calls may be missing from here on.
            if last_loss_check.elapsed() > Duration::from_secs(1) {
                last_loss_check = Instant::now();
                let lost = self.trace.lost_events();
                if lost > told_lost {
                    eprintln!(
                        "synfin: warning: the kernel's trace lost {} events (calls may be missing)",
                        lost - told_lost
                    );
                    told_lost = lost;
                }
            }
            // Idle: what is being drawn is written (waiting for it); busy, only flushed (what
            // is drawn is written as it comes).
            if idle {
                p.settle()?;
                last_flush = Instant::now();
            } else if last_flush.elapsed() > Duration::from_millis(50) {
                p.flush()?;
                last_flush = Instant::now();
            }
        }
        // The end: what the trace recorded until now, then everything in time order.
        let (end, target) = (
            Instant::now() + Duration::from_secs(1),
            Timestamp(wall_clock().0 - 2_000_000),
        );
        while watermark < target && Instant::now() < end {
            self.take(&mut obs, &mut watermark, kernel_check);
            std::thread::sleep(Duration::from_millis(2));
        }
        self.take(&mut obs, &mut watermark, kernel_check);
        self.release(
            &mut held,
            &mut obs,
            Timestamp(i64::MAX),
            Timestamp(i64::MAX),
            p,
            &mut matched,
            None,
        )?;
        let lost = self.trace.lost_events();
        if lost > told_lost {
            eprintln!(
                "synfin: warning: the kernel's trace lost {} events (calls may be missing)",
                lost - told_lost
            );
        }
        Ok(matched)
    }

    /// Hand on what the trace has told, as it comes (the full-screen view: its ladders sort
    /// by time, so nothing waits for the trace).
    pub fn feed(&mut self, p: &mut Pipeline) -> anyhow::Result<()> {
        let mut obs = VecDeque::new();
        let mut watermark = Timestamp(i64::MIN);
        self.take(&mut obs, &mut watermark, false);
        for o in obs {
            p.observed(o)?;
        }
        Ok(())
    }

    /// Is this socket in TIME_WAIT (procfs, read again at most every 20 ms: a busy host has
    /// tens of thousands)?
    fn in_time_wait(&mut self, local: std::net::SocketAddr, remote: std::net::SocketAddr) -> bool {
        if self.time_wait.1.contains(&(local, remote)) {
            return true;
        }
        if self.time_wait.0.elapsed() > Duration::from_millis(20) {
            self.time_wait = (Instant::now(), proc_net::time_wait_sockets());
        }
        self.time_wait.1.contains(&(local, remote))
    }

    /// Take what the reader thread sent.
    fn take(&mut self, obs: &mut VecDeque<Observation>, watermark: &mut Timestamp, tw: bool) {
        while let Ok(m) = self.trace.rx.try_recv() {
            match m {
                TraceMsg::Observed(list) => {
                    for mut o in list {
                        // The kernel reports FIN_WAIT2→CLOSE where a socket enters TIME_WAIT
                        // (a timewait minisock takes over): procfs tells which.
                        if let Observation::State { change, .. } = &mut o {
                            if tw
                                && change.to == TcpState::Closed
                                && matches!(change.from, TcpState::FinWait2 | TcpState::Closing)
                                && self.in_time_wait(change.local, change.remote)
                            {
                                change.to = TcpState::TimeWait;
                            }
                        }
                        // In time order (an enter is told at its call's return).
                        let t = obs_time(&o);
                        let at = obs
                            .iter()
                            .rposition(|x| obs_time(x) <= t)
                            .map_or(0, |i| i + 1);
                        obs.insert(at, o);
                    }
                }
                TraceMsg::Watermark(w) => *watermark = w.max(*watermark),
                TraceMsg::Failed(why) => {
                    eprintln!("synfin: warning: socket calls are no longer traced: {why}");
                    *watermark = Timestamp(i64::MAX);
                }
            }
        }
    }

    /// Hand on, in time order, the frames the trace has caught up with and the observations
    /// before them. Returns whether `count` was reached.
    #[allow(clippy::too_many_arguments)]
    fn release(
        &mut self,
        held: &mut VecDeque<Held>,
        obs: &mut VecDeque<Observation>,
        watermark: Timestamp,
        seen: Timestamp,
        p: &mut Pipeline,
        matched: &mut u64,
        count: Option<u64>,
    ) -> anyhow::Result<bool> {
        // Bounded: a frame waits for the trace at most HOLD_NS (then a call the trace tells
        // later is shown late), and at most HOLD_FRAMES frames wait.
        let give_up = Timestamp(wall_clock().0 - HOLD_NS);
        loop {
            let frame_t = held
                .front()
                .map(|f| f.ts)
                .filter(|t| *t <= watermark || *t < give_up || held.len() > HOLD_FRAMES);
            let obs_t = obs.front().map(obs_time);
            let take_frame = match (frame_t, obs_t) {
                (Some(f), Some(o)) => f <= o,
                (Some(_), None) => true,
                (None, Some(o)) => {
                    // An observation waits for earlier frames still held or still to come.
                    if held.front().is_some_and(|f| f.ts <= o) || o > seen {
                        return Ok(false);
                    }
                    false
                }
                (None, None) => return Ok(false),
            };
            if take_frame {
                let f = held.pop_front().expect("checked");
                let frame = Frame {
                    number: f.number,
                    ts: f.ts,
                    link: f.link,
                    orig_len: f.orig_len,
                    data: &f.data,
                };
                if p.frame(&frame)? {
                    *matched += 1;
                    if count.is_some_and(|c| *matched >= c) {
                        return Ok(true);
                    }
                }
            } else {
                p.observed(obs.pop_front().expect("checked"))?;
            }
        }
    }
}

fn obs_time(o: &Observation) -> Timestamp {
    match o {
        Observation::Call(n) => n.t,
        Observation::State { t, .. } => *t,
    }
}
