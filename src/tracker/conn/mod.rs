//! One connection: both endpoints' inferred states, the calls behind them, and the verdict.
//!
//! A segment is applied in RFC 9293 order: first what its sender must have done to send it
//! (a SYN means connect(), a FIN close() or shutdown()), then, for its receiver, the RST
//! check, the ACK field, and the SYN or FIN bit. A SYN or FIN is only *delivered* to its
//! receiver once the receiver's next segment shows whether it had seen it when it sent
//! (its ACK covers it) or had not (its own SYN or FIN crossed it): the ack numbers, not the
//! arrival order, decide. Meanwhile the queue holds later events back (see `queue`).

use super::queue::{EventQueue, HoldKind, Kind};
mod accept;
mod calls;
mod classify;
mod delivery;
mod identity;
mod open;
mod reset;
mod steady;
mod tcb;
mod unseen;
mod verdict;

use super::seq::SeqNum;
use super::side::{PerSide, Side};
use super::state::{next_state, Input, TcpState};
use super::state_change::{state_event, Cause};
use super::zeek::history::ZeekHistory;
use crate::events::{
    AnomalyEvent, AnomalyKind, CallEvent, CallName, CallResult, CallSource, ConnId,
    ConnectionEvent, Endpoint, Errno, Event, FinalStates, Initiator, Note, Notes, Outcome, Phase,
};
use crate::segment::Segment;
use crate::timestamp::Timestamp;
use classify::Classified;
use std::net::SocketAddr;
use tcb::{FinCall, Pending, Tcb};
use verdict::{Ending, Record};

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
    /// The evidence its verdict is made of.
    record: Record,
    tw_since: Option<Timestamp>,
    /// Ended by an RST and kept a little longer for the segments still in flight (Zeek
    /// keeps such a connection too: a FIN after the RST still counts in its history).
    lingering: bool,
    /// The TIME-WAIT start the tracker has scheduled an end for.
    tw_scheduled: Option<Timestamp>,
    /// When each side last changed state (a late delivery is never dated before it).
    last_change: PerSide<Option<Timestamp>>,
}

/// What the tracker needs back after a segment.
pub(super) struct Effects {
    pub done: bool,
}

impl Conn {
    /// When its first segment was seen.
    pub(crate) fn started(&self) -> Timestamp {
        self.start
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
        Endpoint::new(self.sides[s].addr)
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
        self.record.anomalies += 1;
        q.push(Event::Anomaly(AnomalyEvent {
            t,
            conn: self.id,
            frame,
            kind,
            detail,
        }));
    }

    /// The one place an endpoint's state changes. `cause` says when and why; a `Cause::Found`
    /// state (a listener's LISTEN, known only once a SYN reaches it) emits no event.
    pub(super) fn set_state(&mut self, q: &mut EventQueue, s: Side, to: TcpState, cause: Cause) {
        let from = self.sides[s].state;
        if from == to {
            return;
        }
        self.sides[s].state = to;
        self.record.states_entered |= to.bit() | from.bit();
        let Some(change) = cause.change() else {
            return;
        };
        self.last_change[s] = Some(change.t);
        if to == TcpState::TimeWait {
            self.tw_since = Some(change.t);
        }
        if q.wants(Kind::State) {
            q.push(state_event(self.id, self.ep(s), s, from, to, change));
        }
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
                self.set_state(q, s, to, Cause::Segment(t, frame));
                to != from
            }
            None => {
                let detail = format!(
                    "{} ({}) in {} {}: no RFC 9293 rule allows it; state kept",
                    self.ep(s),
                    s.role().as_str(),
                    from,
                    input.describe()
                );
                self.anomaly(q, t, Some(frame), AnomalyKind::IllegalTransition, detail);
                false
            }
        }
    }

    /// Feed one segment. `q` receives the events.
    #[inline]
    pub fn handle(&mut self, seg: &Segment, q: &mut EventQueue) -> Effects {
        if self.steady(seg, q) {
            // Both ends stay ESTABLISHED: not done.
            return Effects { done: false };
        }
        self.handle_any(seg, q)
    }

    /// Feed one segment, whatever it is (`steady` takes most of them a shorter way).
    #[inline(never)]
    pub(super) fn handle_any(&mut self, seg: &Segment, q: &mut EventQueue) -> Effects {
        let f = seg.flags;
        let s = self.side_of(seg.src);
        let r = self.peer(s);
        let t = seg.ts;
        self.last = t;
        let seq = SeqNum(seg.seq);
        let seg_end = seq + seg.seq_len();

        // An RST or SYN is judged against its receiver's state: a request sock's ACK that
        // waits is taken first (only the request sock's own segments show otherwise).
        if f.rst() || f.syn() {
            self.settle_accept(q, r);
        }
        // Which of the peer's SYN,ACKs the sender took (before its numbers are made relative).
        self.take_acknowledged_isn(seg, s, r);
        let Some(Classified {
            is_retrans,
            rst_ok,
            ignored,
        }) = self.classify(q, seg, s, r)
        else {
            return self.effects();
        };
        if ignored {
            return self.effects();
        }
        self.request_sends(q, seg, s, r);

        let prev_ack = self.sides[s].max_ack;
        // Sender bookkeeping.
        {
            let side = &mut self.sides[s];
            if f.syn() && side.isn.is_none() {
                side.isn = Some(seq);
            } else if f.syn() && f.ack() && side.isn != Some(seq) {
                side.alt_isn = Some(seq);
            }
            if !f.rst() && !f.syn() && seg_end > seq {
                // The lowest hole in what the capture saw of this side's sequence space.
                if let Some(n) = side.next_seq.filter(|n| seq > *n) {
                    side.hole_from.get_or_insert(n);
                }
                if let Some(h) = side.hole_from.filter(|h| seq <= *h && seg_end > *h) {
                    let top = side.next_seq.unwrap_or(seg_end);
                    side.hole_from = (seg_end < top && seg_end > h).then_some(seg_end);
                }
            }
            if !f.rst() {
                side.sent_to(seg_end);
                side.data_to(seq + seg.payload_len + u32::from(f.syn()));
            }
            if f.ack() && !f.rst() {
                side.acked(SeqNum(seg.ack));
            }
            if f.syn() {
                side.wscale = seg.options.wscale;
            }
            side.advertised(seg.window);
        }

        // In-order delivery: a later segment from the sender reaches the receiver after the
        // sender's own SYN or FIN still in flight, so that one is delivered first.
        if !self.self_connect {
            if let Some(p) = self.sides[s].pending {
                if seq >= p.ctrl_end && !is_retrans {
                    // Crossed FINs reach their receivers in the order they were sent.
                    let covered = |o: &Pending| f.ack() && SeqNum(seg.ack) >= o.ctrl_end;
                    if let Some(o) = self.sides[r].pending {
                        if o.crossed.is_some() && o.t < p.t && covered(&o) {
                            self.deliver(q, r, o.t, o.frame);
                        }
                    }
                    self.deliver(q, s, p.t, p.frame);
                }
            }
            self.fin_refilled(s, seg);
        }

        // 0. What the sender must have received that was never captured.
        self.infer_unseen(q, seg, s, r, prev_ack);

        // 1. What the sender had received: resolve the peer's control segment in flight.
        let mut deliver_after = None;
        self.rst_answered(q, r, seg);
        if let Some(p) = self.sides[r].pending.filter(|p| !p.rst) {
            let covered = f.ack() && SeqNum(seg.ack) >= p.ctrl_end;
            if f.rst() && p.syn && p.ack.is_none() {
                self.drop_pending(q, r);
            } else if covered {
                self.deliver(q, r, p.t, p.frame);
            } else if f.rst() {
                self.drop_pending(q, r);
            } else if p.fin && f.fin() {
                // FINs crossed, or the peer's FIN was lost after the capture point: which
                // one, the receiver's next ACK (or the FIN's retransmission) will show.
                self.fin_crossed(r, t);
            } else if f.syn() || f.fin() {
                deliver_after = Some(p.frame);
            } else if !f.rst() && !is_retrans {
                // It goes on without acknowledging it (so far).
                self.fin_unacknowledged(r, f.ack().then_some(SeqNum(seg.ack)));
            }
        }

        // 2. What the sender did.
        if f.rst() {
            if rst_ok {
                self.record.resets += 1;
                self.apply_rst(q, seg, s, r);
            }
            return self.finish_segment(q, seg, s, r, deliver_after);
        }
        if f.syn() && !f.ack() {
            if self.sides[s].state == TcpState::Closed || self.sides[s].state == TcpState::Unknown {
                self.record.syn_t.get_or_insert(t);
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
                self.record.first_closer.get_or_insert(s);
                // Close or shutdown is a question only the calls ask: with none wanted (a
                // summary), nothing waits for its answer. (Its answer never decides when a
                // connection is done: a side closed or in TIME-WAIT has it answered.)
                if self.transition(q, s, Input::SendFin, t, seg.frame) && q.wants(Kind::Call) {
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
        if f.ack() && !f.syn() && !f.fin() && !f.rst() && !self.ack_to_request(q, r, seg) {
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
}
