//! One connection: both endpoints' inferred states, the calls behind them, and the verdict.
//!
//! A segment is applied in RFC 9293 order: first what its sender must have done to send it
//! (a SYN means connect(), a FIN close() or shutdown()), then, for its receiver, the RST
//! check, the ACK field, and the SYN or FIN bit. A SYN or FIN is only *delivered* to its
//! receiver once the receiver's next segment shows whether it had seen it when it sent
//! (its ACK covers it) or had not (its own SYN or FIN crossed it): the ack numbers, not the
//! arrival order, decide. Meanwhile the queue holds later events back (see `queue`).

use super::queue::{EventQueue, HoldKind, Kind};
mod calls;
mod delivery;
mod reset;
mod tcb;
mod verdict;

use super::seq::SeqNum;
use super::side::{PerSide, Side};
use super::state::{next_state, Input, TcpState};
use super::zeek::history::ZeekHistory;
use crate::events::{
    AnomalyEvent, AnomalyKind, CallEvent, CallName, CallResult, CallSource, ConnId,
    ConnectionEvent, Dir, Endpoint, Errno, Event, FinalStates, Initiator, Note, Outcome, Phase,
    SegmentEvent, StateEvent,
};
use crate::segment::Segment;
use crate::timestamp::Timestamp;
use std::net::SocketAddr;
use tcb::{FinCall, Pending, Tcb};
use verdict::Ending;

/// One tracked connection.
#[derive(Debug, Clone)]
pub(super) struct Conn {
    pub id: ConnId,
    /// This connection's key in the tracker's table (`FlowKey::compact`).
    pub key: u128,
    sides: PerSide<Tcb>,
    self_connect: bool,
    roles_guessed: bool,
    /// A SYN reached a side in SYN_SENT: both sides are active (no listen()).
    simultaneous_open: bool,
    start: Timestamp,
    pub last: Timestamp,
    syn_t: Option<Timestamp>,
    rtt_ns: Option<i64>,
    packets: PerSide<u64>,
    bytes: PerSide<u64>,
    history: ZeekHistory,
    /// What ended it, as far as the outcome goes.
    ending: Ending,
    first_closer: Option<Side>,
    crossed_fins: bool,
    anomalies: u32,
    retransmissions: u32,
    resets: u32,
    states_entered: u16,
    tw_since: Option<Timestamp>,
    /// Ended by an RST and kept a little longer for the segments still in flight (Zeek
    /// keeps such a connection too: a FIN after the RST still counts in its history).
    pub lingering: bool,
    /// The TIME-WAIT start the tracker has scheduled an end for.
    pub tw_scheduled: Option<Timestamp>,
    /// When each side last changed state (a late delivery is never dated before it).
    last_change: PerSide<Option<Timestamp>>,
}

/// What the tracker needs back after a segment.
pub(super) struct Effects {
    pub done: bool,
}

impl Conn {
    /// A connection whose first captured segment is `seg`.
    pub fn new(
        id: ConnId,
        seg: &Segment,
        now: Timestamp,
        q: &mut EventQueue,
        ranges: &super::zeek::reassembly::RangeBudget,
    ) -> Conn {
        let f = seg.flags;
        let self_connect = seg.src == seg.dst;
        // Roles: the sender of a SYN without ACK is the client; of a SYN,ACK the server;
        // otherwise guess as Zeek does: a well-known (<1024) or else the lower port serves.
        let (client, server, guessed, flipped) = if f.syn() && !f.ack() {
            (seg.src, seg.dst, false, false)
        } else if f.syn() && f.ack() {
            (seg.dst, seg.src, false, true)
        } else {
            let (sp, dp) = (seg.src.port(), seg.dst.port());
            let src_serves = match (sp < 1024, dp < 1024) {
                (true, false) => true,
                (false, true) => false,
                _ => sp < dp,
            };
            if src_serves {
                (seg.dst, seg.src, true, true)
            } else {
                (seg.src, seg.dst, true, false)
            }
        };
        let init = if f.syn() {
            TcpState::Closed
        } else {
            TcpState::Unknown
        };
        let init_server = if f.syn() && f.ack() {
            TcpState::Unknown
        } else {
            init
        };
        let init_client = if f.syn() && f.ack() {
            TcpState::Unknown
        } else {
            init
        };
        let mut c = Conn {
            id,
            key: super::flow::FlowKey::new(seg.src, seg.dst).compact(),
            sides: PerSide([Tcb::new(client, init_client), Tcb::new(server, init_server)]),
            self_connect,
            roles_guessed: guessed,
            simultaneous_open: false,
            start: now,
            last: now,
            syn_t: None,
            rtt_ns: None,
            packets: PerSide([0; 2]),
            bytes: PerSide([0; 2]),
            history: ZeekHistory::new(flipped, ranges),
            ending: Ending::Natural,
            first_closer: None,
            crossed_fins: false,
            anomalies: 0,
            retransmissions: 0,
            resets: 0,
            states_entered: 0,
            tw_since: None,
            lingering: false,
            tw_scheduled: None,
            last_change: PerSide([None; 2]),
        };
        if !f.syn() || f.ack() {
            let detail = if guessed {
                format!(
                    "picked up mid-stream: no handshake captured; roles guessed ({} serves: {})",
                    server,
                    if server.port() < 1024 && client.port() >= 1024 {
                        "well-known port"
                    } else {
                        "lower port"
                    }
                )
            } else {
                "picked up mid-handshake: the SYN was not captured".to_string()
            };
            c.anomaly(q, now, Some(seg.frame), AnomalyKind::Midstream, detail);
        }
        c
    }

    pub(super) fn side_of(&self, src: SocketAddr) -> Side {
        Side::from_is_server(!self.self_connect && src != self.sides[Side::Client].addr)
    }

    /// The end that receives what `s` sends (itself, in a self-connect).
    pub(super) fn peer(&self, s: Side) -> Side {
        if self.self_connect {
            s
        } else {
            s.peer()
        }
    }

    pub(super) fn ep(&self, s: Side) -> Endpoint {
        Endpoint(self.sides[s].addr)
    }

    pub(super) fn rel(isn: Option<SeqNum>, raw: u32) -> u32 {
        isn.map_or(raw, |i| raw.wrapping_sub(i.0))
    }

    pub(super) fn anomaly(
        &mut self,
        q: &mut EventQueue,
        t: Timestamp,
        frame: Option<u64>,
        kind: AnomalyKind,
        detail: String,
    ) {
        self.anomalies += 1;
        q.push(Event::Anomaly(AnomalyEvent {
            t,
            conn: self.id,
            frame,
            kind,
            detail,
        }));
    }

    /// The one place an endpoint's state changes.
    pub(super) fn set_state(
        &mut self,
        q: &mut EventQueue,
        s: Side,
        to: TcpState,
        t: Timestamp,
        frame: Option<u64>,
        projected: bool,
    ) {
        let from = self.sides[s].state;
        if from == to {
            return;
        }
        self.sides[s].state = to;
        self.last_change[s] = Some(t);
        self.states_entered |= to.bit() | from.bit();
        if to == TcpState::TimeWait {
            self.tw_since = Some(t);
        }
        q.push(Event::State(StateEvent {
            t,
            conn: self.id,
            endpoint: self.ep(s),
            role: s.role(),
            from,
            to,
            frame,
            projected,
        }));
        // Once it is closed or in TIME-WAIT, a FIN sender can no longer show a half-close.
        if matches!(to, TcpState::TimeWait | TcpState::Closed) {
            self.decide_fin_call(q, s, false);
        }
    }

    /// Apply `input` to side `s` through the transition table.
    pub(super) fn transition(
        &mut self,
        q: &mut EventQueue,
        s: Side,
        input: Input,
        t: Timestamp,
        frame: u64,
    ) -> bool {
        let from = self.sides[s].state;
        match next_state(from, input) {
            Some(to) => {
                self.set_state(q, s, to, t, Some(frame), false);
                to != from
            }
            None => {
                let detail = format!(
                    "{} ({}) in {}: no RFC 9293 rule for {:?}; state kept",
                    self.ep(s),
                    s.role().as_str(),
                    from,
                    input
                );
                self.anomaly(q, t, Some(frame), AnomalyKind::IllegalTransition, detail);
                false
            }
        }
    }

    /// Feed one segment. `q` receives the events.
    pub fn handle(&mut self, seg: &Segment, q: &mut EventQueue) -> Effects {
        let f = seg.flags;
        let s = self.side_of(seg.src);
        let r = self.peer(s);
        let t = seg.ts;
        self.last = t;
        let seq = SeqNum(seg.seq);
        let seg_end = seq + seg.seq_len();

        // A frame captured twice: same header fields, same TCP timestamp (or same time).
        let sig = (
            seg.seq,
            seg.ack,
            f.0,
            seg.payload_len,
            seg.window,
            seg.options.ts,
            if seg.options.ts.is_some() {
                Timestamp(0)
            } else {
                t
            },
        );
        let carries = seg.payload_len > 0 || f.syn() || f.fin() || f.rst();
        if carries && self.sides[s].last_sig == Some(sig) {
            self.push_segment(q, seg, s, r, vec![Note::Duplicate]);
            self.anomaly(
                q,
                t,
                Some(seg.frame),
                AnomalyKind::Duplicate,
                format!("frame {} repeats the previous segment exactly", seg.frame),
            );
            return self.effects();
        }
        self.sides[s].last_sig = Some(sig);
        self.packets[s] += 1;
        self.bytes[s] += u64::from(seg.payload_len);
        self.history.on_segment(s.index(), seg);
        if !f.rst() || self.sides[s].state != TcpState::Closed {
            self.sides[s].exists = true;
        }

        // Classify: retransmission or a gap.
        let mut notes = Vec::new();
        let mut retrans_detail = None;
        let side = &self.sides[s];
        if f.syn() && !f.ack() && side.isn == Some(seq) {
            let gap = side.last_syn_t.map(|p| t.since(p));
            retrans_detail = Some(format!(
                "SYN retransmitted (try {}){}: {}",
                side.syn_tries + 1,
                gap.map(|g| format!(" {:.3} s after the previous one", g as f64 / 1e9))
                    .unwrap_or_default(),
                if self.ending == Ending::Refused {
                    "an RST refused the previous one and the same SYN (same ISN) comes again, as \
                     Windows retries a refused connect(); Linux fails it at once"
                } else {
                    "the SYN was not answered"
                }
            ));
        } else if f.syn() && f.ack() && side.synack_sent && side.isn == Some(seq) {
            retrans_detail = Some("SYN,ACK retransmitted: its ACK was not seen".to_string());
        } else if !f.syn() && seg.seq_len() > 0 {
            if let Some(nxt) = side.next_seq {
                if seq < nxt {
                    retrans_detail = Some(format!(
                        "{} retransmitted (relative seq {}, {} bytes)",
                        if f.fin() && seg.payload_len == 0 {
                            "FIN"
                        } else {
                            "data"
                        },
                        Self::rel(side.isn, seg.seq),
                        seg.payload_len
                    ));
                } else if seq > nxt {
                    notes.push(Note::OutOfOrder);
                }
            }
        }
        let is_retrans = retrans_detail.is_some();
        if is_retrans {
            notes.push(Note::Retransmission);
            self.retransmissions += 1;
        }

        // Is an RST acceptable to its receiver (RFC 9293 §3.10.7.3/§3.10.7.4, RFC 5961)?
        let rst_ok = f.rst() && self.rst_acceptable(seg, s, r);
        if f.rst() && !rst_ok {
            notes.push(Note::RstOutOfWindow);
        }
        self.push_segment(q, seg, s, r, notes);
        if let Some(d) = retrans_detail {
            self.anomaly(q, t, Some(seg.frame), AnomalyKind::Retransmission, d);
        }
        if f.rst() && !rst_ok {
            let d = format!(
                "RST from {} is outside {}'s window: ignored (RFC 5961)",
                self.ep(s),
                self.ep(r)
            );
            self.anomaly(q, t, Some(seg.frame), AnomalyKind::RstOutOfWindow, d);
        }
        if seq > self.sides[s].next_seq.unwrap_or(seq) && !f.syn() {
            let gap = seq - self.sides[s].next_seq.unwrap_or(seq);
            let d = format!(
                "{gap} bytes from {} were not captured (sequence gap)",
                self.ep(s)
            );
            self.anomaly(q, t, Some(seg.frame), AnomalyKind::OutOfOrder, d);
        }
        if seg.cap_len < seg.orig_len && !self.sides[s].cut_reported {
            self.sides[s].cut_reported = true;
            let d = format!(
                "frame {} was captured with {} of its {} bytes (snaplen){}; later cut frames from {} are not reported again",
                seg.frame,
                seg.cap_len,
                seg.orig_len,
                if seg.payload_cut {
                    format!(": its {} payload bytes are not all in the file", seg.payload_len)
                } else {
                    String::new()
                },
                self.ep(s)
            );
            self.anomaly(q, t, Some(seg.frame), AnomalyKind::TruncatedFrame, d);
        }

        // Sender bookkeeping.
        {
            let side = &mut self.sides[s];
            if f.syn() && side.isn.is_none() {
                side.isn = Some(seq);
            }
            if !f.rst() && side.next_seq.is_none_or(|n| seg_end > n) {
                side.next_seq = Some(seg_end);
            }
            let data_end = seq + seg.payload_len + u32::from(f.syn());
            if !f.rst() && side.data_end.is_none_or(|n| data_end > n) {
                side.data_end = Some(data_end);
            }
            if f.ack() && !f.rst() && side.max_ack.is_none_or(|a| SeqNum(seg.ack) > a) {
                side.max_ack = Some(SeqNum(seg.ack));
            }
            if f.syn() {
                side.wscale = seg.options.wscale;
            }
            side.window = u32::from(seg.window) << u32::from(side.wscale.unwrap_or(0).min(14));
        }

        // In-order delivery: a later segment from the sender reaches the receiver after the
        // sender's own SYN or FIN still in flight, so that one is delivered first.
        if !self.self_connect {
            if let Some(p) = self.sides[s].pending {
                if seq >= p.ctrl_end && !is_retrans {
                    self.deliver(q, s, p.t, p.frame);
                }
            }
        }

        // 1. What the sender had received: resolve the peer's control segment in flight.
        let mut deliver_after = None;
        if let Some(p) = self.sides[r].pending {
            let covered = f.ack() && SeqNum(seg.ack) >= p.ctrl_end;
            if f.rst() && p.syn && p.ack.is_none() {
                self.drop_pending(q, r);
            } else if covered {
                self.deliver(q, r, p.t, p.frame);
            } else if f.rst() {
                self.drop_pending(q, r);
            } else if f.syn() || f.fin() {
                if p.fin && f.fin() {
                    self.crossed_fins = true;
                }
                deliver_after = Some(p.frame);
            }
        }

        // 2. What the sender did.
        if f.rst() {
            if rst_ok {
                self.resets += 1;
                self.apply_rst(q, seg, s, r);
            }
            return self.finish_segment(q, seg, s, r, deliver_after);
        }
        if f.syn() && !f.ack() {
            if self.sides[s].state == TcpState::Closed || self.sides[s].state == TcpState::Unknown {
                self.syn_t.get_or_insert(t);
                if self.transition(q, s, Input::SendSyn, t, seg.frame) {
                    self.call(q, t, s, CallName::Connect, Phase::Enter, None);
                }
            } else if self.sides[s].isn != Some(seq) {
                self.transition(q, s, Input::SendSyn, t, seg.frame);
            }
            let side = &mut self.sides[s];
            side.active = true;
            side.syn_tries += 1;
            side.last_syn_t = Some(t);
            self.set_pending(q, s, seg);
        } else if f.syn() && f.ack() {
            // A SYN,ACK of our ISN captured after its sender is already established was sent
            // before, in SYN_RECEIVED, and held in flight (crossed SYNs on a slow path).
            let late =
                self.sides[s].state == TcpState::Established && self.sides[s].isn == Some(seq);
            if !late {
                self.transition(q, s, Input::SendSynAck, t, seg.frame);
            }
            self.sides[s].synack_sent = true;
            self.set_pending(q, s, seg);
        }
        if seg.payload_len > 0 && self.sides[s].fin_seq.is_none_or(|fs| seq < fs) {
            if !is_retrans && q.wants(Kind::Call) {
                let n = CallResult::Bytes(u64::from(seg.payload_len));
                self.call(q, t, s, CallName::Send, Phase::Return, Some(n));
            }
        } else if seg.payload_len > 0 && !is_retrans {
            let d = format!("{} sends data after its own FIN", self.ep(s));
            self.anomaly(q, t, Some(seg.frame), AnomalyKind::IllegalTransition, d);
        }
        if f.fin() {
            let fin_seq = seq + seg.payload_len;
            let first = self.sides[s].fin_seq.is_none();
            if first {
                self.sides[s].fin_seq = Some(fin_seq);
                self.first_closer.get_or_insert(s);
                if self.transition(q, s, Input::SendFin, t, seg.frame) {
                    let peer_end = self.sides[r].data_end;
                    self.sides[s].fin_call = Some(FinCall {
                        t,
                        peer_data_end: peer_end,
                    });
                    q.hold((t, self.id, HoldKind::FinCall(s)), self.key);
                }
            } else {
                self.transition(q, s, Input::SendFin, t, seg.frame);
            }
            self.set_pending(q, s, seg);
        }
        self.finish_segment(q, seg, s, r, deliver_after)
    }

    pub(super) fn finish_segment(
        &mut self,
        q: &mut EventQueue,
        seg: &Segment,
        s: Side,
        r: Side,
        deliver_after: Option<u64>,
    ) -> Effects {
        let t = seg.ts;
        // A control segment that crossed the sender's own: received after it was sent.
        if let Some(frame) = deliver_after {
            if self.sides[r].pending.is_some_and(|p| p.frame == frame) {
                self.deliver(q, r, t, frame);
            }
        }
        // 3. What the receiver does with the ACK field of a segment without SYN or FIN
        // (those are delivered later, ACK field first).
        let f = seg.flags;
        if f.ack() && !f.syn() && !f.fin() && !f.rst() {
            self.apply_ack(q, r, SeqNum(seg.ack), t, seg.frame);
        }
        // A FIN sender that ACKs data the peer sent after the FIN kept its read side open.
        if f.ack() && !f.rst() {
            if let Some(fc) = self.sides[s].fin_call {
                if let Some(end) = fc.peer_data_end {
                    let peer_next = self.sides[r].data_end.unwrap_or(end);
                    if peer_next > end && SeqNum(seg.ack) > end {
                        self.decide_fin_call(q, s, true);
                    }
                }
            }
        }
        self.effects()
    }

    pub(super) fn effects(&mut self) -> Effects {
        Effects {
            done: self.is_done(),
        }
    }

    pub(super) fn push_segment(
        &self,
        q: &mut EventQueue,
        seg: &Segment,
        s: Side,
        r: Side,
        notes: Vec<Note>,
    ) {
        if !q.wants(Kind::Segment) {
            return;
        }
        q.push(Event::Segment(SegmentEvent {
            frame: seg.frame,
            t: seg.ts,
            conn: self.id,
            src: Endpoint(seg.src),
            dst: Endpoint(seg.dst),
            dir: if s == Side::Client {
                Dir::C2s
            } else {
                Dir::S2c
            },
            flags: seg.flags,
            seq: Self::rel(
                self.sides[s]
                    .isn
                    .or(seg.flags.syn().then_some(SeqNum(seg.seq))),
                seg.seq,
            ),
            ack: if seg.flags.ack() {
                Self::rel(self.sides[r].isn, seg.ack)
            } else {
                0
            },
            seq_raw: seg.seq,
            ack_raw: seg.ack,
            len: seg.payload_len,
            win: seg.window,
            options: seg.options,
            notes,
            payload: seg.payload,
        }));
    }
}
