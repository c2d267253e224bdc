//! `watch`'s traced calls and kernel states, joined to the tracker's connections as they come:
//! a call is filed under the connection of its 4-tuple (a connect() that enters before its SYN
//! waits for that connection's first segment); an inferred call of a socket whose calls are
//! traced is left out (its observed twin says it); `--pid`/`--comm` keep the connections a
//! matching process holds an end of; `--kernel-check` compares each ended connection's states
//! with the kernel's.

use crate::events::{
    CallEvent, CallName, CallNote, CallSource, ConnId, Endpoint, Event, Owner, Phase, Role,
    StateEvent, TcpState,
};
use crate::kernel::check::{compare, EndpointCheck};
use crate::kernel::KernelTransition;
use crate::timestamp::Timestamp;
use crate::tracker::FlowKey;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::VecDeque;
use std::net::SocketAddr;

/// Which processes' connections to show.
#[derive(Debug, Clone, Default)]
pub struct OwnerFilter {
    /// `--pid`.
    pub pids: Vec<u32>,
    /// `--comm`.
    pub comms: Vec<String>,
}

impl OwnerFilter {
    /// No filter.
    pub fn is_empty(&self) -> bool {
        self.pids.is_empty() && self.comms.is_empty()
    }

    fn matches(&self, o: &Owner) -> bool {
        self.pids.contains(&o.pid) || self.comms.contains(&o.comm)
    }
}

/// How long a call may wait for its connection's first segment.
const WAIT_NS: i64 = 2_000_000_000;
/// How long an ended connection stays decided under the owner filter (its late events).
const KEEP_NS: i64 = 10_000_000_000;
/// How long the kernel's changes of a 4-tuple no connection claimed are kept.
const KERNEL_KEEP_NS: i64 = 120_000_000_000;
/// How long a verdict waits for the calls that end a connection after its last segment (the
/// close() after recv() = 0), so they are drawn before it.
const VERDICT_HOLD_NS: i64 = 500_000_000;

/// The state of the join.
#[derive(Default)]
pub struct LiveCalls {
    ended: VecDeque<(Timestamp, ConnId)>,
    pending: FxHashMap<FlowKey, Vec<CallEvent>>,
    pending_since: VecDeque<(Timestamp, FlowKey)>,
    /// Local endpoints with traced calls (their inferred calls are left out).
    traced: FxHashSet<SocketAddr>,
    /// The owner of each local endpoint (listeners included), as last seen.
    owners: FxHashMap<SocketAddr, Owner>,
    /// The owners of sockets that existed before the trace (kept whatever the bound on
    /// `owners` lets go).
    seeded: FxHashMap<SocketAddr, Owner>,
    filter: OwnerFilter,
    /// Connections shown under the filter.
    wanted: FxHashSet<ConnId>,
    /// Connections looked at under the filter.
    decided: FxHashSet<ConnId>,
    /// `--kernel-check`: the kernel's changes per (local, remote), and synfin's states per
    /// open connection.
    check: Option<Check>,
    /// Verdicts waiting for their connection's last calls: (release time, verdict).
    verdicts: VecDeque<(Timestamp, Event)>,
    /// The output shows calls (a summary does not: no call events are made).
    show_calls: bool,
    /// Ends whose traced connect() returned EINPROGRESS.
    in_progress: FxHashSet<SocketAddr>,
}

#[derive(Default)]
struct Check {
    kernel: FxHashMap<(SocketAddr, SocketAddr), Vec<(Timestamp, KernelTransition)>>,
    /// Changes taken so far (the table is trimmed every few thousand).
    added: u64,
    states: FxHashMap<ConnId, Vec<Event>>,
    /// Show the kernel's changes as events too (JSON Lines).
    show: bool,
}

impl LiveCalls {
    /// A join with an owner filter, comparing with the kernel's states if `kernel_check`.
    /// `show_kernel`: the kernel's changes go out as events too (before each verdict).
    /// `show_calls`: the output draws calls (else they only name owners).
    pub fn new(
        filter: OwnerFilter,
        kernel_check: bool,
        show_kernel: bool,
        show_calls: bool,
    ) -> LiveCalls {
        LiveCalls {
            filter,
            show_calls,
            check: kernel_check.then(|| Check {
                show: show_kernel,
                ..Check::default()
            }),
            ..Default::default()
        }
    }

    /// The owners of sockets that existed before the trace started.
    pub fn seed_owner(&mut self, local: SocketAddr, owner: Owner) {
        self.seeded.insert(local, owner);
    }

    /// A traced call: the events to show now (its connection known, or given up waiting).
    /// `conn_of` gives the tracker's connection on a 4-tuple, if it has one.
    pub fn call(
        &mut self,
        n: CallNote,
        conn_of: impl Fn(SocketAddr, SocketAddr) -> Option<(ConnId, Timestamp)>,
        out: &mut Vec<Event>,
    ) -> Vec<EndpointCheck> {
        let checks = self.release(n.t, out);
        // Bounded: past this many ends, start again (an end's first calls may then show
        // their inferred twins too).
        if self.traced.len() > 1 << 16 {
            self.traced.clear();
            self.in_progress.clear();
            self.owners.clear();
        }
        self.traced.insert(n.local);
        if n.call == CallName::Connect
            && n.result
                == Some(crate::events::CallResult::Errno(
                    crate::events::Errno::EINPROGRESS,
                ))
        {
            self.in_progress.insert(n.local);
        }
        if let Some(o) = &n.owner {
            if self.owners.get(&n.local) != Some(o) {
                self.owners.insert(n.local, o.clone());
            }
        }
        if !self.show_calls {
            // A summary: the calls only name owners (for --pid, --comm).
            return checks;
        }
        let (t_call, local, peer) = (n.t, n.local, n.peer);
        let mut ev = n.into_event(0);
        // Calls that waited too long for a segment: on no connection.
        while let Some(&(t, key)) = self.pending_since.front() {
            if t_call.since(t) < WAIT_NS {
                break;
            }
            self.pending_since.pop_front();
            for e in self.pending.remove(&key).unwrap_or_default() {
                self.keep(Event::Call(e), out);
            }
        }
        let Some(peer) = peer else {
            self.keep(Event::Call(ev), out);
            return checks;
        };
        let key = FlowKey::new(local, peer);
        // A connect() that enters opens a new connection (its SYN comes next): it belongs to
        // a connection that started after it, not to one that ended on that 4-tuple before
        // (it waits for its SYN); so does what follows it.
        let opening = ev.call == CallName::Connect && ev.phase == Phase::Enter;
        match conn_of(local, peer) {
            Some((id, start))
                if (!opening || start >= t_call) && !self.pending.contains_key(&key) =>
            {
                ev.conn = id;
                self.keep(Event::Call(ev), out);
            }
            _ => {
                if !self.pending.contains_key(&key) {
                    self.pending_since.push_back((t_call, key));
                }
                self.pending.entry(key).or_default().push(ev);
            }
        }
        checks
    }

    /// Let out the verdicts held until `now` (the end of input: `Timestamp(i64::MAX)`).
    pub fn release(&mut self, now: Timestamp, out: &mut Vec<Event>) -> Vec<EndpointCheck> {
        let mut checks = Vec::new();
        while self.verdicts.front().is_some_and(|v| v.0 <= now) {
            let (_, v) = self.verdicts.pop_front().expect("checked");
            checks.extend(self.judge(v, out));
        }
        checks
    }

    /// A kernel state change (kept for `--kernel-check`).
    pub fn kernel_state(&mut self, t: Timestamp, change: KernelTransition) {
        if let Some(c) = &mut self.check {
            c.kernel
                .entry((change.local, change.remote))
                .or_default()
                .push((t, change));
            // Bounded: changes of sockets no connection of the capture claimed (another
            // interface, a filtered port) are let go after a while.
            c.added += 1;
            if c.added % 4096 == 0 {
                let before = Timestamp(t.0 - KERNEL_KEEP_NS);
                c.kernel
                    .retain(|_, l| l.last().is_some_and(|x| x.0 > before));
            }
        }
    }

    /// The end of input: the calls that still wait for their connection go out under the
    /// connection the tracker has on their 4-tuple, or on none.
    pub fn finish(
        &mut self,
        conn_of: impl Fn(SocketAddr, SocketAddr) -> Option<(ConnId, Timestamp)>,
        out: &mut Vec<Event>,
    ) {
        self.pending_since.clear();
        let mut all: Vec<CallEvent> = Vec::new();
        for (key, calls) in std::mem::take(&mut self.pending) {
            let id = conn_of(key.lo, key.hi).map_or(0, |c| c.0);
            all.extend(calls.into_iter().map(|mut c| {
                c.conn = id;
                c
            }));
        }
        all.sort_by_key(|c| c.t);
        for c in all {
            self.keep(Event::Call(c), out);
        }
    }

    /// Whether calls wait for a connection on the 4-tuple of `a` and `b` (checked for each
    /// segment, before its events).
    pub fn waiting_for(&self, a: SocketAddr, b: SocketAddr) -> bool {
        !self.pending.is_empty() && self.pending.contains_key(&FlowKey::new(a, b))
    }

    /// The calls that waited for the connection on the 4-tuple of `a` and `b`: it is `id`.
    pub fn opened(&mut self, a: SocketAddr, b: SocketAddr, id: ConnId, out: &mut Vec<Event>) {
        for mut c in self.pending.remove(&FlowKey::new(a, b)).unwrap_or_default() {
            c.conn = id;
            self.keep(Event::Call(c), out);
        }
    }

    /// Is this inferred call one a traced call says instead?
    pub fn replaces(&self, c: &CallEvent) -> bool {
        // A non-blocking connect() returned EINPROGRESS: when it connected is the wire's
        // (the inferred return stays).
        let completion = c.call == CallName::Connect
            && c.phase == Phase::Return
            && self.in_progress.contains(&c.endpoint.addr());
        c.source == CallSource::Inferred && self.traced.contains(&c.endpoint.addr()) && !completion
    }

    /// One of the tracker's events, before it is shown: the calls that waited for its
    /// connection go out first; then `e` itself if the filter keeps it. Disagreements with
    /// the kernel, when a connection ends, are returned.
    pub fn event(&mut self, e: Event, out: &mut Vec<Event>) -> Vec<EndpointCheck> {
        let checks = self.release(e.t(), out);
        match &e {
            Event::State(st) if self.check.is_some() && !st.projected => {
                if let Some(c) = &mut self.check {
                    c.states.entry(st.conn).or_default().push(e.clone());
                }
            }
            Event::Connection(v) => {
                self.verdicts
                    .push_back((Timestamp(v.end.0.saturating_add(VERDICT_HOLD_NS)), e));
                return checks;
            }
            _ => {}
        }
        self.keep(e, out);
        checks
    }

    /// A verdict let out: compare its connection with the kernel, then show it.
    fn judge(&mut self, e: Event, out: &mut Vec<Event>) -> Vec<EndpointCheck> {
        let mut checks = Vec::new();
        let Event::Connection(v) = &e else {
            return checks;
        };
        self.ended.push_back((v.end, v.conn));
        while let Some(&(t, id)) = self.ended.front() {
            if v.end.since(t) < KEEP_NS {
                break;
            }
            self.ended.pop_front();
            self.wanted.remove(&id);
            self.decided.remove(&id);
        }
        if let Some(c) = &mut self.check {
            let mut events = c.states.remove(&v.conn).unwrap_or_default();
            events.push(e.clone());
            let mut timed = Vec::new();
            for pair in [
                (v.client.addr(), v.server.addr()),
                (v.server.addr(), v.client.addr()),
            ] {
                if let Some(list) = c.kernel.get_mut(&pair) {
                    // This connection's changes: from its start on (a 4-tuple used
                    // again has its own).
                    let from = Timestamp(v.start.0 - 1_000_000_000);
                    timed.extend(list.iter().filter(|(t, _)| *t >= from).cloned());
                    list.retain(|(t, _)| *t > v.end);
                    if list.is_empty() {
                        c.kernel.remove(&pair);
                    }
                }
            }
            if c.show {
                let mut shown: Vec<Event> = timed
                    .iter()
                    .map(|(t, k)| {
                        let role = if k.local == v.client.addr() {
                            Role::Client
                        } else {
                            Role::Server
                        };
                        kernel_state_event(*t, v.conn, role, k)
                    })
                    .collect();
                shown.sort_by_key(|e| e.t());
                out.extend(shown);
            }
            let kernel: Vec<KernelTransition> = timed.into_iter().map(|x| x.1).collect();
            let mut kernel_tw = std::collections::HashSet::new();
            for k in &kernel {
                if k.to == TcpState::TimeWait {
                    kernel_tw.insert((k.local, k.remote));
                }
            }
            // Only the ends the kernel traced are this host's.
            for ch in compare(&events, &kernel, &kernel_tw) {
                if !ch.kernel.is_empty() {
                    checks.push(ch);
                }
            }
        }
        self.keep(e, out);
        checks
    }

    /// Show `e` unless the owner filter hides its connection.
    fn keep(&mut self, e: Event, out: &mut Vec<Event>) {
        if self.filter.is_empty() {
            out.push(e);
            return;
        }
        let id = e.conn();
        if !self.decided.contains(&id) {
            let owners: Vec<Option<&Owner>> = match &e {
                Event::Segment(s) => {
                    vec![self.owner_of(&s.src.addr()), self.owner_of(&s.dst.addr())]
                }
                Event::Connection(v) => {
                    vec![
                        self.owner_of(&v.client.addr()),
                        self.owner_of(&v.server.addr()),
                    ]
                }
                Event::Call(c) => vec![c.owner.as_ref()],
                _ => vec![],
            };
            if owners.iter().flatten().any(|o| self.filter.matches(o)) {
                self.wanted.insert(id);
            }
            if id != 0 && matches!(e, Event::Segment(_)) {
                self.decided.insert(id);
            }
        }
        let keep = match &e {
            Event::Call(c) if c.conn == 0 => {
                c.owner.as_ref().is_some_and(|o| self.filter.matches(o))
            }
            _ => self.wanted.contains(&id),
        };
        if keep {
            out.push(e);
        }
    }

    /// The owner of a local endpoint, if known.
    pub fn owner_of(&self, local: &SocketAddr) -> Option<&Owner> {
        self.owners.get(local).or_else(|| self.seeded.get(local))
    }
}

/// A kernel state change as an event (JSON Lines shows both views).
fn kernel_state_event(t: Timestamp, conn: ConnId, role: Role, k: &KernelTransition) -> Event {
    Event::State(StateEvent {
        t,
        conn,
        endpoint: Endpoint::new(k.local),
        role,
        from: k.from,
        to: k.to,
        frame: None,
        projected: false,
        source: crate::events::StateSource::Kernel,
    })
}
