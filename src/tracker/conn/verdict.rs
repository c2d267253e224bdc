//! The verdict on a connection (outcome, who closed first, final states, Zeek's history and
//! conn_state), and what the tracker asks of a connection's progress.

use super::*;
use smallvec::SmallVec;

/// What ended a connection, as far as its outcome goes. The strongest evidence wins
/// (`Evicted` > `Refused` > `AbortedInHandshake` > `Reset`), except that a refusal is
/// overtaken once a later try of the same connect() got through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Ending {
    /// Nothing but FINs, or nothing yet: the outcome follows the states.
    Natural,
    /// An RST after the connection was established.
    Reset,
    /// An RST while an end was in SYN-RECEIVED.
    AbortedInHandshake,
    /// An RST answered the SYN: nothing listened (ECONNREFUSED).
    Refused,
    /// Dropped from memory: more connections at once than `--max-connections`.
    Evicted,
}

/// The evidence a connection's verdict is made of: counts, who closed first, how it ended,
/// the states entered, the handshake's timing, and Zeek's history.
#[derive(Debug, Clone)]
pub(super) struct Record {
    /// When the first SYN was sent.
    pub syn_t: Option<Timestamp>,
    /// SYN to the ACK of the SYN,ACK.
    pub rtt_ns: Option<i64>,
    /// Segments sent by each side, capture duplicates included (as Zeek's orig_pkts and
    /// tshark's conversations count them).
    pub packets: PerSide<u64>,
    /// Payload bytes sent by each side (capture duplicates excluded).
    pub bytes: PerSide<u64>,
    /// Zeek's history letters and endpoint states.
    pub history: ZeekHistory,
    /// What ended it, as far as the outcome goes.
    pub ending: Ending,
    /// Who sent the first FIN or RST.
    pub first_closer: Option<Side>,
    /// Both FINs crossed in flight.
    pub crossed_fins: bool,
    /// Anomalies raised.
    pub anomalies: u32,
    /// Retransmitted segments.
    pub retransmissions: u32,
    /// RST segments acted on.
    pub resets: u32,
    /// Every state either endpoint entered, as `TcpState::bit`s.
    pub states_entered: u16,
}

impl Record {
    /// Nothing recorded yet.
    pub fn new(history: ZeekHistory) -> Record {
        Record {
            syn_t: None,
            rtt_ns: None,
            packets: PerSide([0; 2]),
            bytes: PerSide([0; 2]),
            history,
            ending: Ending::Natural,
            first_closer: None,
            crossed_fins: false,
            anomalies: 0,
            retransmissions: 0,
            resets: 0,
            states_entered: 0,
        }
    }
}

impl Conn {
    /// Record evidence of how the connection ended.
    pub(super) fn end_with(&mut self, e: Ending) {
        let retried = self.record.ending == Ending::Refused
            && self.established()
            && matches!(e, Ending::Reset | Ending::AbortedInHandshake);
        if e > self.record.ending || retried {
            self.record.ending = e;
        }
    }

    /// Dropped from memory (`--max-connections`).
    pub fn evict(&mut self) {
        self.end_with(Ending::Evicted);
    }

    /// Was it evicted?
    pub fn is_evicted(&self) -> bool {
        self.record.ending == Ending::Evicted
    }

    /// Did an end reach ESTABLISHED?
    fn established(&self) -> bool {
        self.record.states_entered & TcpState::Established.bit() != 0
    }

    /// The ends in use: both, or one in a self-connect.
    pub(super) fn ends(&self) -> &'static [Side] {
        if self.self_connect {
            &Side::BOTH[..1]
        } else {
            &Side::BOTH
        }
    }

    /// Nothing more is expected: both ends closed or in TIME-WAIT, nothing in flight.
    pub fn is_done(&self) -> bool {
        let ended = |st: TcpState| matches!(st, TcpState::Closed | TcpState::TimeWait);
        let both = self.ends().iter().all(|&s| ended(self.sides[s].state));
        let started = self.sides.iter().any(|s| s.exists);
        both && started
            && self
                .sides
                .iter()
                .all(|s| s.pending.is_none() && s.fin_call.is_none())
    }

    /// The side at `addr` has closed or is in TIME-WAIT (a new SYN from it opens a new
    /// connection, whatever its peer still waits for).
    pub fn side_ended(&self, addr: SocketAddr) -> bool {
        let s = self.side_of(addr);
        matches!(self.sides[s].state, TcpState::Closed | TcpState::TimeWait)
            && self.sides[s].isn.is_some()
    }

    /// When a side entered TIME-WAIT, if one is in it.
    pub fn time_wait_since(&self) -> Option<Timestamp> {
        self.sides
            .iter()
            .any(|s| s.state == TcpState::TimeWait)
            .then_some(self.tw_since)
            .flatten()
    }

    /// An RST ended it: keep it a little longer for segments in flight. True the first time.
    pub fn start_lingering(&mut self) -> bool {
        !std::mem::replace(&mut self.lingering, true)
    }

    /// A side entered TIME-WAIT at this time and no deadline was set for it yet.
    pub fn time_wait_to_schedule(&mut self) -> Option<Timestamp> {
        let since = self.time_wait_since()?;
        (self.tw_scheduled.replace(since) != Some(since)).then_some(since)
    }

    /// Did an RST end it?
    pub fn ended_by_rst(&self) -> bool {
        self.record.resets > 0
    }

    /// Both ends closed or in TIME-WAIT (something may still be in flight).
    pub fn both_ended(&self) -> bool {
        self.ends()
            .iter()
            .all(|&s| matches!(self.sides[s].state, TcpState::Closed | TcpState::TimeWait))
    }

    /// Let go of what it holds (it has ended; its box is kept for another): Zeek's model
    /// gives its ranges back to the budget.
    pub fn let_go(&mut self) {
        self.record.history.let_go();
    }

    /// Which sides are in TIME-WAIT, and since when.
    pub fn time_wait(&self) -> (SmallVec<[Side; 2]>, Option<Timestamp>) {
        let sides = (self.ends().iter().copied())
            .filter(|&s| self.sides[s].state == TcpState::TimeWait)
            .collect();
        (sides, self.tw_since)
    }

    /// The endpoints, client first.
    pub fn addrs(&self) -> [SocketAddr; 2] {
        [self.sides[Side::Client].addr, self.sides[Side::Server].addr]
    }

    /// The client's ISN, to tell a reusing SYN from a retransmission.
    pub fn client_isn(&self) -> Option<SeqNum> {
        self.sides[Side::Client].isn
    }

    /// Any hold still open on this connection.
    pub fn open_holds(&self) -> SmallVec<[HoldKind; 6]> {
        let mut v = SmallVec::new();
        for s in Side::BOTH {
            if self.sides[s].pending.is_some() {
                v.push(HoldKind::Delivery(s));
            }
            if self.sides[s].fin_call.is_some() {
                v.push(HoldKind::FinCall(s));
            }
            if self.sides[s].accept_ack.is_some() {
                v.push(HoldKind::Accept(s));
            }
        }
        v
    }

    /// The verdict line.
    pub fn verdict(&self, time_wait_ns: i64) -> ConnectionEvent {
        let ends = self.ends();
        let final_states = FinalStates(
            ends.iter()
                .map(|&s| (self.ep(s), self.sides[s].state))
                .collect(),
        );
        let live = |&s: &Side| {
            !matches!(
                self.sides[s].state,
                TcpState::Closed | TcpState::TimeWait | TcpState::Listen
            )
        };
        let established = self.established();
        let outcome = match self.record.ending {
            Ending::Evicted | Ending::AbortedInHandshake => Outcome::Aborted,
            Ending::Refused if !established => Outcome::Refused,
            Ending::Reset => Outcome::Reset,
            Ending::Natural | Ending::Refused => {
                if ends.iter().any(live) {
                    let unknown = ends
                        .iter()
                        .any(|&s| self.sides[s].state == TcpState::Unknown);
                    if established || unknown {
                        Outcome::Open
                    } else {
                        Outcome::Incomplete
                    }
                } else if ends.iter().all(|&s| self.sides[s].fin_seq.is_some()) {
                    Outcome::Closed
                } else {
                    Outcome::Incomplete
                }
            }
        };
        let close_initiator = if self.record.crossed_fins {
            Some(Initiator::Both)
        } else {
            self.record.first_closer.map(|s| match s {
                Side::Client => Initiator::Client,
                Side::Server => Initiator::Server,
            })
        };
        let time_wait_since = self
            .sides
            .iter()
            .any(|s| s.state == TcpState::TimeWait)
            .then_some(self.tw_since)
            .flatten();
        let time_wait_until = time_wait_since.map(|t| t.plus_nanos(time_wait_ns));
        ConnectionEvent {
            conn: self.id,
            client: self.ep(Side::Client),
            server: self.ep(Side::Server),
            start: self.start,
            end: self.last,
            handshake_rtt_ms: self
                .record
                .rtt_ns
                .map(|ns| (ns as f64 / 1_000.0).round() / 1_000.0),
            packets: self.record.packets.0,
            bytes: self.record.bytes.0,
            history: self.record.history.as_str().into(),
            conn_state: self.record.history.conn_state(),
            outcome,
            close_initiator,
            final_states,
            time_wait_since,
            time_wait_until,
            anomalies: self.record.anomalies,
            retransmissions: self.record.retransmissions,
            resets: self.record.resets,
            states_entered: self.record.states_entered,
            server_listened: false,
            roles_guessed: self.roles_guessed,
            simultaneous_open: self.simultaneous_open && !self.self_connect,
            zeek_endpoints: self.record.history.endpoints(),
        }
    }
}
