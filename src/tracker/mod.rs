//! The connection tracker: a sans-IO state machine that turns decoded segments into the
//! timeline's events. No clock, no I/O, no pnet or etherparse: time comes in with each
//! segment (`handle_segment`) or is pushed explicitly (`handle_timeout`), and events go out
//! through `poll_event`.
//!
//! ```
//! use synfin::tracker::{Tracker, TrackerConfig};
//! let mut tracker = Tracker::new(TrackerConfig::default());
//! // for seg in segments { tracker.handle_segment(&seg); while let Some(e) = tracker.poll_event() { … } }
//! tracker.finish();
//! while let Some(event) = tracker.poll_event() {
//!     println!("{}", serde_json::to_string(&event).unwrap());
//! }
//! ```

mod conn;
mod ended;
mod flow;
mod hold_list;
mod queue;
mod rivals;
mod seq;
mod sharded;
mod side;
mod state;
mod state_change;
mod time_wait;
mod timers;
mod zeek;

use crate::events::{
    AnomalyEvent, AnomalyKind, ConnId, ConnectionEvent, Endpoint, Event, Note, TcpState,
};
use crate::segment::Segment;
use crate::timestamp::Timestamp;
use conn::{Conn, Effects};
use ended::{Ended, EndedTable};
pub use flow::FlowKey;
pub use queue::Wanted;
use queue::{EventQueue, HoldKey};
use rustc_hash::FxHashMap;
use seq::SeqNum;
use side::Side;
use state_change::{segment_event, state_event, Cause};
use std::collections::VecDeque;
use timers::{Timer, TimerKind, Timers};

/// Linux's TCP_TIMEWAIT_LEN: 60 s (not 2×MSL).
pub const LINUX_TIME_WAIT_NS: i64 = 60_000_000_000;

/// Tracker settings.
#[derive(Debug, Clone, Copy)]
pub struct TrackerConfig {
    /// How long TIME-WAIT lasts (Linux: 60 s).
    pub time_wait_ns: i64,
    /// How many connections may be tracked at once; the oldest is evicted beyond it.
    pub max_connections: usize,
    /// How long (capture time) a SYN, FIN or RST in flight may hold output back while it
    /// waits for evidence of delivery (a memory and latency bound). Past it, a SYN, or a FIN
    /// its receiver went on without acknowledging, stays undecided and later evidence still
    /// settles it; a FIN or RST met by silence is taken as delivered.
    pub delivery_limit_ns: i64,
    /// How long (capture time) a FIN's close-or-shutdown question may stay open.
    pub fin_call_limit_ns: i64,
    /// How long (capture time) an RST in flight may hold output back waiting to see whether
    /// its receiver goes on as if it never came (silence is what an RST usually meets, so
    /// this is short: it bounds how much output waits behind every abort). 250 ms: a
    /// receiver with data in flight retransmits after Linux's minimum RTO (200 ms).
    pub rst_limit_ns: i64,
    /// How long (capture time) a request sock's ACK of its SYN may wait to be shown dropped
    /// by a full accept queue: the request resends its SYN,ACK one TCP_TIMEOUT_INIT (1 s)
    /// after sending it, plus the timer's slack (seen 16 ms late on lo), so 1.5 s.
    pub accept_limit_ns: i64,
    /// How many events may wait behind unsettled inferences before the oldest is settled
    /// early (bounds memory when a port scan or a half-close holds the stream).
    pub max_queued: usize,
    /// How long a closed connection's 4-tuple keeps stray segments (after TIME-WAIT, if any).
    pub closed_grace_ns: i64,
    /// Live: hand events on as they are made instead of in time order (inferences settled
    /// later come later, dated at their own times).
    pub live: bool,
    /// Which events to produce (a summary needs only the verdicts).
    pub wanted: Wanted,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            time_wait_ns: LINUX_TIME_WAIT_NS,
            max_connections: 100_000,
            delivery_limit_ns: 1_000_000_000,
            fin_call_limit_ns: 10_000_000_000,
            rst_limit_ns: 250_000_000,
            accept_limit_ns: 1_500_000_000,
            max_queued: 20_000,
            closed_grace_ns: 2_000_000_000,
            wanted: Wanted::ALL,
            live: false,
        }
    }
}

/// Counters for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackerStats {
    /// Segments handled.
    pub segments: u64,
    /// Connections seen.
    pub connections: u64,
    /// Connections evicted by `max_connections`.
    pub evicted: u64,
    /// The most events held back at once (waiting for a later segment to settle them).
    pub peak_queued: u64,
}

/// Tracks every connection of a capture.
pub struct Tracker {
    cfg: TrackerConfig,
    /// Open connections, boxed: the table then moves 8 bytes a slot when it grows, not 700.
    conns: FxHashMap<u128, Box<Conn>>,
    /// Creation order, for eviction (entries of ended connections are dropped lazily).
    order: VecDeque<(u128, ConnId)>,
    ended: EndedTable,
    /// Deadlines: RST-ended connections' lingering, TIME-WAITs of connections not yet ended.
    timers: Timers,
    next_id: ConnId,
    queue: EventQueue,
    stats: TrackerStats,
    now: Timestamp,
    /// Nothing is due before this: no hold runs out of time, no timer or TIME-WAIT ends
    /// (lowered by each that begins; found again once `handle_timeout` has done what was due).
    due_from: Timestamp,
    /// The input has ended (`finish` was called).
    finishing: bool,
    /// The sequence ranges every connection's Zeek reassembly model may hold together.
    ranges: zeek::reassembly::RangeBudget,
    /// Boxes of ended connections, for the next ones (a `Conn` is past the allocator's
    /// per-thread cache: allocating and freeing one took ~500 instructions a connection).
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Conn>>,
    /// Verdicts' boxes handed back once drawn ([`Tracker::reuse_verdicts`]), for the next.
    spare_verdicts: crate::events::SpentVerdicts,
    /// Connections set aside by a rival SYN on their 4-tuple (see `rivals`), boxed as in
    /// `conns` since they move between the two.
    #[allow(clippy::vec_box)]
    aside: FxHashMap<u128, Vec<Box<Conn>>>,
    /// SYNs sent to an end in TIME-WAIT, waiting for its answer (see `time_wait`).
    tw_probes: FxHashMap<u128, time_wait::TwProbe>,
    /// Endpoints seen answering a SYN (listeners), so a later refusal can say it had one.
    listeners: rustc_hash::FxHashSet<std::net::SocketAddr>,
    /// What the host's kernel said of sockets that existed before the capture began (`seed`),
    /// by 4-tuple: used when such a connection is picked up mid-stream.
    seeds: FxHashMap<u128, Vec<Seed>>,
}

/// One socket of this host as its kernel had it before the capture began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seed {
    /// The socket's own address.
    pub local: std::net::SocketAddr,
    /// Its state then.
    pub state: TcpState,
    /// It was accepted from a listener on its address (it is the server).
    pub serves: bool,
}

/// The timer ending connection `key` with its TIME-WAIT, if a side of `conn` entered one not
/// yet scheduled.
fn time_wait_timer(cfg: &TrackerConfig, key: u128, conn: &mut Conn) -> Option<Timer> {
    let since = conn.time_wait_to_schedule()?;
    Some(Timer {
        at: since.plus_nanos(cfg.time_wait_ns),
        kind: TimerKind::TimeWait(since),
        key,
        id: conn.id,
    })
}

/// What a segment's step on its connection leaves to do.
enum Step {
    /// No rival to settle and not done: perhaps a TIME-WAIT to schedule.
    InHand(Option<Timer>),
    /// Rivals to settle, or the connection is done.
    Settle(Effects),
}

/// `seg` on `conn` (table key `key`), and what it leaves to do (`no_rivals`: no connection
/// waits aside for a 4-tuple).
fn step(
    conn: &mut Conn,
    seg: &Segment,
    q: &mut EventQueue,
    cfg: &TrackerConfig,
    key: u128,
    no_rivals: bool,
) -> Step {
    let fx = conn.handle(seg, q);
    if no_rivals && !fx.done {
        Step::InHand(time_wait_timer(cfg, key, conn))
    } else {
        Step::Settle(fx)
    }
}

/// A step back of the capture's clock larger than this starts the tracker's clock again
/// (smaller ones are reordering: the clock stays at the latest time seen).
const CLOCK_STEP_NS: i64 = 5_000_000_000;

/// How many listening endpoints are remembered (a scan of many answering hosts stays bounded).
const MAX_LISTENERS: usize = 1 << 16;

impl Tracker {
    /// A tracker with no connections.
    pub fn new(cfg: TrackerConfig) -> Tracker {
        let mut queue = EventQueue::default();
        queue.set_wanted(cfg.wanted);
        queue.set_live(cfg.live);
        queue.set_room(cfg.max_queued);
        Tracker {
            cfg,
            conns: FxHashMap::default(),
            order: VecDeque::new(),
            ended: EndedTable::default(),
            timers: Timers::default(),
            next_id: 1,
            queue,
            stats: TrackerStats::default(),
            now: Timestamp(i64::MIN),
            due_from: Timestamp(i64::MIN),
            finishing: false,
            ranges: zeek::reassembly::RangeBudget::new(zeek::reassembly::TOTAL_RANGES),
            listeners: Default::default(),
            aside: FxHashMap::default(),
            spare: Vec::new(),
            spare_verdicts: Vec::new(),
            tw_probes: FxHashMap::default(),
            seeds: FxHashMap::default(),
        }
    }

    /// A socket of this host that existed before the capture began, as its kernel has it (its
    /// state; whether it is the server end): a connection picked up mid-stream on its 4-tuple
    /// starts from that state, with that role, instead of UNKNOWN and a guess.
    pub fn seed(&mut self, remote: std::net::SocketAddr, seed: Seed) {
        let key = FlowKey::new(seed.local, remote).compact();
        self.seeds.entry(key).or_default().push(seed);
    }

    /// Counters so far.
    pub fn stats(&self) -> TrackerStats {
        TrackerStats {
            peak_queued: self.queue.peak() as u64,
            ..self.stats
        }
    }

    /// Connections currently tracked (open, or ended but still in TIME-WAIT/grace).
    pub fn tracked(&self) -> (usize, usize) {
        (self.conns.len(), self.ended.len())
    }

    /// Which kinds of event it makes (its consumer's wish).
    pub fn wanted(&self) -> Wanted {
        self.cfg.wanted
    }

    /// The connection between `a` and `b` (either way round) and when it started: the open
    /// one, else the last one that ended on that 4-tuple while it is remembered (in
    /// TIME-WAIT, or lingering; its start is not kept: `Timestamp(i64::MIN)`).
    pub fn conn_between(
        &self,
        a: std::net::SocketAddr,
        b: std::net::SocketAddr,
    ) -> Option<(ConnId, Timestamp)> {
        let flow = FlowKey::new(a, b);
        match self.conns.get(&flow.compact()) {
            Some(c) => Some((c.id, c.started())),
            None => self.ended.get(&flow).map(|e| (e.id, Timestamp(i64::MIN))),
        }
    }

    /// Feed one decoded segment, observed at its own timestamp.
    pub fn handle_segment(&mut self, seg: &Segment) {
        self.handle_timeout(seg.ts);
        self.stats.segments += 1;
        let key = FlowKey::compact_of(seg.src, seg.dst);
        let f = seg.flags;
        let new_syn = f.syn() && !f.ack();
        if f.syn() && f.ack() && self.listeners.len() < MAX_LISTENERS {
            self.listeners.insert(seg.src);
        }

        if !self.tw_probes.is_empty()
            && self.probe_segment(key, &FlowKey::new(seg.src, seg.dst), seg)
        {
            return;
        }
        if new_syn || (f.ack() && !self.aside.is_empty()) {
            self.pick_among_rivals(key, seg);
        }
        if let Some(conn) = self.conns.get_mut(&key) {
            // A new SYN with a new ISN on a 4-tuple whose connection has closed on both
            // sides starts a new connection.
            let closed_enough = conn.is_done() || conn.both_ended() || conn.side_ended(seg.src);
            if !(new_syn && closed_enough && conn.client_isn() != Some(SeqNum(seg.seq))) {
                // The common case: one lookup.
                let no_rivals = self.aside.is_empty();
                let step = step(conn, seg, &mut self.queue, &self.cfg, key, no_rivals);
                return self.after_step(key, seg, step);
            }
            self.end_connection(key);
        }
        let flow = FlowKey::new(seg.src, seg.dst);
        if let Some(old) = self.ended.get(&flow) {
            let reuse = new_syn && old.client_isn != Some(SeqNum(seg.seq));
            if reuse {
                // The SYN reuses the 4-tuple: a TIME-WAIT ends now or on its answer.
                if !self.syn_meets_time_wait(key, &old, seg) {
                    self.ended.remove(&flow);
                }
            } else {
                self.stray_segment(&old, seg);
                return;
            }
        }
        self.open_connection(key, seg);
        let conn = self.conns.get_mut(&key).expect("inserted above");
        let no_rivals = self.aside.is_empty();
        let step = step(conn, seg, &mut self.queue, &self.cfg, key, no_rivals);
        self.after_step(key, seg, step)
    }

    /// What follows a segment's step on its connection: a TIME-WAIT to schedule on the
    /// connection in hand (the common case), or rivals to settle and an end to see to.
    #[inline]
    fn after_step(&mut self, key: u128, seg: &Segment, step: Step) {
        match step {
            Step::InHand(Some(t)) => self.add_timer(t),
            Step::InHand(None) => {}
            Step::Settle(fx) => self.settle_step(key, seg, fx),
        }
        // Memory stays bounded: settle the oldest waiting inference early if too much waits.
        if self.queue.len() > self.cfg.max_queued {
            self.bound_queue();
        }
    }

    #[inline(never)]
    fn settle_step(&mut self, key: u128, seg: &Segment, fx: Effects) {
        self.settle_rivals(key);
        if fx.done {
            self.done(key, seg.ts);
        } else {
            self.schedule_time_wait(key);
        }
    }

    /// Settle the oldest waiting inferences early while too much waits.
    #[cold]
    fn bound_queue(&mut self) {
        while self.queue.len() > self.cfg.max_queued && self.queue.blocked() {
            let Some((hold, key)) = self.queue.oldest_hold() else {
                break;
            };
            self.expire(hold, key, false);
        }
    }

    /// Connection `key` has nothing more to wait for as of `at`: end it, or, if an RST ended
    /// it, a moment later: segments in flight after an RST (a FIN the peer sent before it got
    /// the RST) still belong to it.
    fn done(&mut self, key: u128, at: Timestamp) {
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        if conn.ended_by_rst() {
            if conn.start_lingering() {
                let id = conn.id;
                self.add_timer(Timer {
                    at: at.plus_nanos(self.cfg.closed_grace_ns),
                    kind: TimerKind::Linger,
                    key,
                    id,
                });
            }
        } else {
            self.end_connection(key);
        }
    }

    /// A connection not yet ended with a side in TIME-WAIT ends when that TIME-WAIT does.
    fn schedule_time_wait(&mut self, key: u128) {
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        if let Some(t) = time_wait_timer(&self.cfg, key, conn) {
            self.add_timer(t);
        }
    }

    fn open_connection(&mut self, key: u128, seg: &Segment) {
        if self.conns.len() >= self.cfg.max_connections {
            self.evict_oldest(seg.ts);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.stats.connections += 1;
        let seed = self.seeds.remove(&key);
        let new = Conn::new(id, seg, seg.ts, &self.ranges, seed.as_deref());
        let mut conn = match self.spare.pop() {
            Some(mut b) => {
                *b = new;
                b
            }
            None => Box::new(new),
        };
        conn.note_midstream(&mut self.queue, seg, seed.as_deref());
        self.conns.insert(key, conn);
        // Drop the ended connections at the front, so this stays about as long as `conns`.
        while let Some((k, i)) = self.order.front() {
            if self.conns.get(k).is_some_and(|c| c.id == *i) {
                break;
            }
            self.order.pop_front();
        }
        self.order.push_back((key, id));
        // A long-lived connection at the front keeps ended ones behind it: compact.
        if self.order.len() > 2 * self.conns.len() + 1024 {
            let conns = &self.conns;
            self.order
                .retain(|(k, i)| conns.get(k).is_some_and(|c| c.id == *i));
        }
    }

    fn evict_oldest(&mut self, now: Timestamp) {
        while let Some((key, id)) = self.order.pop_front() {
            let Some(conn) = self.conns.get_mut(&key) else {
                continue;
            };
            if conn.id != id {
                continue;
            }
            conn.evict();
            self.stats.evicted += 1;
            let detail = format!(
                "evicted: more than {} connections open at once (--max-connections)",
                self.cfg.max_connections
            );
            self.queue.push(Event::Anomaly(AnomalyEvent {
                t: now,
                conn: id,
                frame: None,
                kind: AnomalyKind::Evicted,
                detail,
            }));
            self.end_connection(key);
            return;
        }
    }

    /// A segment for a connection that has ended: attribute it, and let an RST end a
    /// TIME-WAIT (RFC 1337's assassination, which Linux allows).
    fn stray_segment(&mut self, old: &Ended, seg: &Segment) {
        let s = Side::from_is_server(seg.src != old.addrs[0]);
        let e = segment_event(old.id, seg, s, (seg.seq, seg.ack), Note::AfterClose.into());
        self.queue.push(e);
        let r = s.peer();
        if seg.flags.rst() && old.time_wait[r.index()] {
            self.close_time_wait(old, r, Cause::Timer(seg.ts, Some(seg.frame)));
            self.ended
                .clear_time_wait(&FlowKey::new(seg.src, seg.dst), r.index());
        } else if seg.flags.rst() && !seg.flags.ack() && old.time_wait[s.index()] {
            // A bare RST from the side held in TIME-WAIT: a TIME-WAIT socket answers with
            // ACKs (tcp_timewait_state_process), so no TCB is left there: it is CLOSED.
            self.close_time_wait(old, s, Cause::Timer(seg.ts, Some(seg.frame)));
            self.ended
                .clear_time_wait(&FlowKey::new(seg.src, seg.dst), s.index());
        }
    }

    /// An ended connection's TIME-WAIT end: side `s` goes TIME-WAIT → CLOSED (its connection
    /// is gone from the table, so the change is told here, not by `Conn::set_state`).
    fn close_time_wait(&mut self, old: &Ended, s: Side, cause: Cause) {
        let Some(change) = cause.change() else {
            return;
        };
        let ep = Endpoint::new(old.addrs[s.index()]);
        let e = state_event(old.id, ep, s, TcpState::TimeWait, TcpState::Closed, change);
        self.queue.push(e);
    }

    /// Emit the verdict and keep only what TIME-WAIT and stray segments need.
    fn end_connection(&mut self, key: u128) {
        self.end_connection_at(key, None);
    }

    /// End a connection; its verdict is ordered at `at` (default: its last segment).
    fn end_connection_at(&mut self, key: u128, at: Option<Timestamp>) {
        let Some(mut conn) = self.conns.remove(&key) else {
            return;
        };
        if let Some(list) = self.aside.remove(&key) {
            for c in list {
                self.end_aside(c);
            }
        }
        let addrs = conn.addrs();
        let old_time_wait_stays =
            !self.tw_probes.is_empty() && self.drop_probe(key, &FlowKey::new(addrs[0], addrs[1]));
        for kind in conn.open_holds() {
            conn.expire_hold(&mut self.queue, kind, true);
        }
        let mut verdict = conn.verdict(self.cfg.time_wait_ns);
        verdict.server_listened = self.listeners.contains(&verdict.server.addr());
        let (tw_sides, tw_since) = conn.time_wait();
        let order_at = at.unwrap_or(verdict.end);
        let verdict = self.boxed_verdict(verdict);
        self.queue.push_at(order_at, Event::Connection(verdict));
        let deadline = match (tw_sides.is_empty(), tw_since) {
            (false, Some(since)) => since.plus_nanos(self.cfg.time_wait_ns),
            _ => conn.last.plus_nanos(self.cfg.closed_grace_ns),
        };
        let mut time_wait = [false; 2];
        for s in tw_sides {
            time_wait[s.index()] = true;
        }
        let ended = Ended {
            id: conn.id,
            addrs: conn.addrs(),
            time_wait,
            deadline,
            client_isn: conn.client_isn(),
        };
        // An evicted connection keeps nothing (that is the point of evicting it), unless an
        // endpoint is in TIME_WAIT and its end must still be told.
        if (!conn.is_evicted() || ended.time_wait.contains(&true)) && !old_time_wait_stays {
            self.due_from = self.due_from.min(ended.deadline);
            self.ended.insert(FlowKey::new(addrs[0], addrs[1]), ended);
        }
        self.recycle(conn);
    }

    /// `v` in a box, one handed back if there is one.
    fn boxed_verdict(&mut self, v: ConnectionEvent) -> Box<ConnectionEvent> {
        match self.spare_verdicts.pop() {
            Some(mut b) => {
                *b = v;
                b
            }
            None => Box::new(v),
        }
    }

    /// Verdicts' boxes the consumer is done with (drawn on another thread, handed back to be
    /// freed here, where they were made): the next verdicts are put in them (a few hundred
    /// instructions less a connection than the allocator, which has none of them at hand).
    pub fn reuse_verdicts(&mut self, spent: &mut crate::events::SpentVerdicts) {
        const SPARE: usize = 1024;
        let room = SPARE.saturating_sub(self.spare_verdicts.len());
        let keep = spent.len().min(room);
        self.spare_verdicts.extend(spent.drain(..keep));
        spent.clear();
    }

    /// How many verdicts' boxes wait to be reused.
    #[cfg(test)]
    pub(crate) fn spare_verdicts(&self) -> usize {
        self.spare_verdicts.len()
    }

    /// Keep an ended connection's box for the next (what it holds is let go now, as a drop
    /// would: Zeek's model gives its ranges back to the budget the others draw on).
    fn recycle(&mut self, mut conn: Box<Conn>) {
        const SPARE: usize = 64;
        conn.let_go();
        if self.spare.len() < SPARE {
            self.spare.push(conn);
        }
    }

    /// Advance time to `now`: deliveries that waited too long, TIME-WAITs that ran out.
    /// This never reads a clock: `now` is a capture timestamp (or the live clock, passed in).
    #[inline]
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if now > self.now {
            self.now = now;
        } else if self.now.since(now) > CLOCK_STEP_NS && self.now != Timestamp(i64::MIN) {
            self.clock_stepped_back(now);
        }
        // Most segments: nothing is due before the next deadline known (holds begun since it
        // was found are due no sooner than the shortest limit after them).
        if let Some(t) = self.queue.take_begun() {
            self.due_from = self.due_from.min(t.plus_nanos(self.shortest_limit() + 1));
        }
        if self.now < self.due_from {
            debug_assert!(
                self.poll_timeout().is_none_or(|t| t > self.now),
                "a deadline at {:?} was due at {:?}, hidden behind {:?}",
                self.poll_timeout(),
                self.now,
                self.due_from
            );
            return;
        }
        self.run_due();
    }

    /// The capture's clock stepped back (a clock set back while live; the next of
    /// concatenated captures): what waited for evidence was of the old timeline and is
    /// settled now; the clock starts again from here, so that what follows waits its own time
    /// rather than finding every limit long past.
    #[cold]
    fn clock_stepped_back(&mut self, now: Timestamp) {
        let all = [Timestamp(i64::MAX); 4];
        for (hold, key) in self.queue.holds_before(all) {
            self.expire(hold, key, false);
        }
        self.now = now;
    }

    /// The shortest of the holds' four limits.
    #[inline]
    fn shortest_limit(&self) -> i64 {
        let c = &self.cfg;
        c.delivery_limit_ns
            .min(c.fin_call_limit_ns)
            .min(c.rst_limit_ns)
            .min(c.accept_limit_ns)
    }

    /// What is due at `self.now`: holds past their limits, timers, ended connections'
    /// deadlines; then the next deadline.
    #[inline(never)]
    fn run_due(&mut self) {
        let c = &self.cfg;
        let [delivery, fin_call, rst, accept] = [
            c.delivery_limit_ns,
            c.fin_call_limit_ns,
            c.rst_limit_ns,
            c.accept_limit_ns,
        ];
        let shortest = self.shortest_limit();
        if self.queue.holds_any_before(self.now.plus_nanos(-shortest)) {
            let limits = [delivery, fin_call, rst, accept].map(|l| self.now.plus_nanos(-l));
            for (hold, key) in self.queue.holds_before(limits) {
                self.expire(hold, key, false);
            }
        }
        while let Some(timer) = self.timers.pop_due(self.now) {
            let Some(conn) = self.conns.get(&timer.key).filter(|c| c.id == timer.id) else {
                continue; // ended or replaced since
            };
            match timer.kind {
                // Only if nothing revived it since (a refused SYN retried and answered).
                TimerKind::Linger if conn.is_done() => {
                    self.end_connection_at(timer.key, Some(timer.at))
                }
                TimerKind::Linger => {
                    if let Some(c) = self.conns.get_mut(&timer.key) {
                        c.stop_lingering();
                    }
                }
                // A side in TIME-WAIT whose peer never finished (its last ACK was not
                // captured): the connection ends when the TIME-WAIT does.
                TimerKind::TimeWait(since) => {
                    if conn.time_wait_since() == Some(since) {
                        self.end_connection(timer.key);
                    }
                }
            }
        }
        while let Some(old) = self.ended.pop_due(self.now) {
            self.expire_ended(&old, false);
        }
        // What was due is done: the next deadline, holds begun meanwhile included.
        self.queue.take_begun();
        self.due_from = self.poll_timeout().unwrap_or(Timestamp(i64::MAX));
    }

    /// Add a deadline (the next deadline known may be it).
    fn add_timer(&mut self, t: Timer) {
        self.due_from = self.due_from.min(t.at);
        self.timers.add(t);
    }

    /// When the tracker next has something to do if no segment arrives: a delivery or a
    /// close-or-shutdown inference that runs out of time, a lingering RST-ended connection, a
    /// TIME-WAIT end. A live source sleeps until then and calls `handle_timeout`.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let [delivery, fin_call, rst, accept] = self.queue.oldest_hold_times();
        let accept = accept.map(|t| t.plus_nanos(self.cfg.accept_limit_ns + 1));
        let rst = rst.map(|t| t.plus_nanos(self.cfg.rst_limit_ns + 1));
        // A hold at t is settled once now − limit > t.
        let delivery = delivery.map(|t| t.plus_nanos(self.cfg.delivery_limit_ns + 1));
        let fin_call = fin_call.map(|t| t.plus_nanos(self.cfg.fin_call_limit_ns + 1));
        [
            delivery,
            fin_call,
            rst,
            accept,
            self.timers.next_at(),
            self.ended.next_due(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn expire(&mut self, hold: HoldKey, key: u128, last: bool) {
        if let Some(conn) = self.conns.get_mut(&key) {
            conn.expire_hold(&mut self.queue, hold.2, last);
            let last = conn.last;
            if conn.is_done() {
                self.done(key, last);
            } else {
                self.schedule_time_wait(key);
            }
        }
        // Whatever its connection made of it, a hold that expired holds nothing back.
        self.queue.release(hold);
    }

    fn expire_ended(&mut self, old: &Ended, projected: bool) {
        for s in Side::BOTH {
            if old.time_wait[s.index()] {
                let cause = if projected {
                    Cause::Projected(old.deadline)
                } else {
                    Cause::Timer(old.deadline, None)
                };
                self.close_time_wait(old, s, cause);
            }
        }
    }

    /// The input has ended: settle everything in flight, emit every remaining verdict and
    /// the projected ends of TIME-WAIT.
    pub fn finish(&mut self) {
        for (hold, key) in self.queue.all_holds() {
            self.expire(hold, key, true);
        }
        let mut open: Vec<(ConnId, u128)> = self.conns.iter().map(|(k, c)| (c.id, *k)).collect();
        open.sort_unstable();
        for (_, key) in open {
            self.end_connection(key);
        }
        // The projected ends of TIME-WAIT come last, in deadline order; `poll_event` pulls
        // them one connection at a time, so they are never all in memory at once. Unwanted
        // (a summary wants verdicts only), the ended connections are forgotten at once rather
        // than walked (a tenth of a summary's tracking on a long capture): as after the walk,
        // none is found by `conn_between` any more.
        self.finishing = true;
        if !self.queue.wants(queue::Kind::State) {
            self.ended = EndedTable::default();
        }
    }

    /// No event may leave now (`poll_events` would hand out none): asked after every segment.
    pub fn nothing_ready(&self) -> bool {
        !self.finishing && self.queue.idle()
    }

    /// Events that may leave now, in time order, to the end of `out` until it holds `max` (as
    /// `poll_event` until `None`; fewer than `max` means no more for now).
    pub fn poll_events(&mut self, out: &mut Vec<Event>, max: usize) {
        self.queue.pop_ready(out, max);
        if self.finishing {
            while out.len() < max {
                let Some(old) = self.ended.pop_due(Timestamp(i64::MAX)) else {
                    break;
                };
                self.expire_ended(&old, true);
                self.queue.pop_ready(out, max);
            }
        }
    }

    /// The next event, in time order; `None` when nothing may leave yet.
    pub fn poll_event(&mut self) -> Option<Event> {
        if let Some(e) = self.queue.pop() {
            return Some(e);
        }
        if self.finishing {
            while let Some(old) = self.ended.pop_due(Timestamp(i64::MAX)) {
                self.expire_ended(&old, true);
                if let Some(e) = self.queue.pop() {
                    return Some(e);
                }
            }
        }
        None
    }
}

#[cfg(test)]
pub(crate) mod made_up;
#[cfg(test)]
mod tests;
