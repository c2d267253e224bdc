//! Delivery decisions: a SYN or FIN is in flight until the receiver's next segment shows
//! whether it had arrived (its ACK covers it) or not (its own SYN or FIN crossed it).

use super::*;

impl Conn {
    pub(super) fn set_pending(&mut self, q: &mut EventQueue, s: Side, seg: &Segment) {
        let peer_isn = self.sides[s.peer()].isn;
        if let Some(p) = &mut self.sides[s].pending {
            // A SYN,ACK answering a crossed SYN while our own SYN is still in flight: its ACK
            // field reaches the peer after that SYN.
            let f = seg.flags;
            if p.syn
                && p.ack.is_none()
                && p.synack.is_none()
                && f.syn()
                && f.ack()
                && p.ctrl_end == SeqNum(seg.seq) + 1
                && peer_isn.is_some_and(|isn| SeqNum(seg.ack) == isn + 1)
            {
                p.synack = Some((seg.ts, seg.frame, SeqNum(seg.ack)));
            }
            // A FIN or SYN,ACK sent again: that copy is the one its receiver may get (the
            // first was lost, or its ACK was), with its newer ACK field (tcp_retransmit_skb;
            // a request sock's inet_rtx_syn_ack). A receiver that had the first would have
            // answered it, and the answer would have settled it already.
            let fin_again =
                p.fin && f.fin() && !p.syn && SeqNum(seg.seq) + seg.seq_len() == p.ctrl_end;
            let syn_ack_again = p.syn
                && p.ack.is_some()
                && p.synack.is_none()
                && f.syn()
                && f.ack()
                && SeqNum(seg.seq) + 1 == p.ctrl_end;
            if fin_again || syn_ack_again {
                let old = (p.t, self.id, HoldKind::Delivery(s));
                p.t = seg.ts;
                p.frame = seg.frame;
                p.ack = f.ack().then_some(SeqNum(seg.ack));
                p.crossed = None;
                p.unacked_after = false;
                p.refill = None;
                let held = std::mem::replace(&mut p.held, true);
                let new = (p.t, self.id, HoldKind::Delivery(s));
                if held {
                    q.release(old);
                }
                q.hold(new, self.key);
            }
            return; // otherwise a retransmission of what is already in flight
        }
        let p = Pending {
            t: seg.ts,
            frame: seg.frame,
            syn: seg.flags.syn(),
            fin: seg.flags.fin(),
            rst: false,
            ack: seg.flags.ack().then_some(SeqNum(seg.ack)),
            // A SYN is delivered once its SYN is acknowledged: data on it (TCP Fast Open)
            // may be dropped by a server without a cookie, whose SYN,ACK then acknowledges
            // the SYN only (tcp_fastopen_check_cookie fails, tcp_conn_request goes on).
            ctrl_end: SeqNum(seg.seq) + if seg.flags.syn() { 1 } else { seg.seq_len() },
            synack: None,
            held: true,
            crossed: None,
            unacked_after: false,
            missing_from: self.sides[s]
                .hole_from
                .filter(|h| seg.flags.fin() && *h < SeqNum(seg.seq)),
            refill: None,
        };
        self.sides[s].pending = Some(p);
        q.hold((p.t, self.id, HoldKind::Delivery(s)), self.key);
    }

    pub(super) fn drop_pending(&mut self, q: &mut EventQueue, s: Side) {
        if let Some(p) = self.sides[s].pending.take() {
            q.release((p.t, self.id, HoldKind::Delivery(s)));
        }
    }

    /// Side `x`'s control segment reaches its peer at `t`: ACK field first, then SYN or FIN.
    pub fn deliver(&mut self, q: &mut EventQueue, x: Side, t: Timestamp, frame: u64) {
        let Some(p) = self.sides[x].pending.take() else {
            return;
        };
        q.release((p.t, self.id, HoldKind::Delivery(x)));
        let y = self.peer(x);
        // What reaches a request sock after an ACK of its SYN finds the child that ACK made.
        self.settle_accept(q, y);
        // A FIN the receiver's own FIN crossed arrived after that FIN was sent.
        let t = match p.crossed {
            Some(c) if c > t => c,
            _ => t,
        };
        if p.crossed.is_some() {
            self.record.crossed_fins = true;
        }
        // A FIN that waited out of order is taken when what was missing below it came.
        let (t, frame) = match p.refill {
            Some((rt, rf)) if p.fin && rt > t => (rt, rf),
            _ => (t, frame),
        };
        // Evidence that came after the hold ran out: the delivery is told at the evidence.
        let t = if p.held || self.last < t {
            t
        } else {
            self.last
        };
        if p.rst {
            self.rst_reaches(q, y, t, frame);
            return;
        }
        // A receiver's states stay in time order: a delivery settled late (the segment that
        // proved it came after the receiver had already changed on another ACK) is dated no
        // earlier than that change.
        let t = match self.last_change[y] {
            Some(last) if last > t => last,
            _ => t,
        };
        if p.syn && p.ack.is_none() {
            // The passive side was listening: its first state (no change is emitted, as no
            // segment shows when the listen() happened). Only a side that never had a state.
            if self.sides[y].state == TcpState::Closed
                && self.last_change[y].is_none()
                && !self.self_connect
            {
                self.set_state(q, y, TcpState::Listen, Cause::Found);
                self.sides[y].passive = true;
            }
            if self.sides[y].state == TcpState::SynSent {
                self.simultaneous_open = true;
            }
            self.transition(q, y, Input::RecvSyn, t, frame);
            if let Some((t2, frame2, ack)) = p.synack {
                let t2 = if t2 > t { t2 } else { t };
                self.recv_syn_ack(q, y, Some(ack), t2, frame2);
            }
            return;
        }
        if p.syn {
            self.recv_syn_ack(q, y, p.ack, t, frame);
            return;
        }
        if let Some(a) = p.ack {
            self.apply_ack(q, y, a, t, frame);
        }
        if p.fin {
            let was = self.sides[y].state;
            if self.transition(q, y, Input::RecvFin, t, frame)
                && matches!(
                    was,
                    TcpState::Established
                        | TcpState::SynReceived
                        | TcpState::Unknown
                        | TcpState::FinWait2
                        | TcpState::FinWait1
                )
            {
                self.call(
                    q,
                    t,
                    y,
                    CallName::Recv,
                    Phase::Return,
                    Some(CallResult::Bytes(0)),
                );
            }
        }
    }

    /// Side `y` receives a SYN,ACK whose ACK field is `ack`.
    pub(super) fn recv_syn_ack(
        &mut self,
        q: &mut EventQueue,
        y: Side,
        ack: Option<SeqNum>,
        t: Timestamp,
        frame: u64,
    ) {
        let acks_our_syn = match (ack, self.sides[y].isn) {
            (Some(a), Some(isn)) => a > isn,
            (Some(_), None) => true,
            _ => false,
        };
        let was = self.sides[y].state;
        // A synchronized socket takes a SYN,ACK again as a duplicate (tcp_validate_incoming
        // answers it with an ACK): the request sock resent it, its ACK not taken or lost.
        if !acks_our_syn || super::reset::synchronized(was) {
            return;
        }
        let active = self.sides[y].active;
        if self.transition(q, y, Input::RecvSynAck, t, frame)
            && (was == TcpState::SynSent || (was == TcpState::SynReceived && active))
        {
            self.call(
                q,
                t,
                y,
                CallName::Connect,
                Phase::Return,
                Some(CallResult::Ok),
            );
        }
    }

    /// Side `y` receives an ACK of `ack` (sent by `x`).
    #[inline]
    pub(super) fn apply_ack(
        &mut self,
        q: &mut EventQueue,
        y: Side,
        ack: SeqNum,
        t: Timestamp,
        frame: u64,
    ) {
        // Most ACKs reach an endpoint that no ACK moves (ESTABLISHED, CLOSE-WAIT, ...).
        if matches!(
            self.sides[y].state,
            TcpState::SynReceived | TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck
        ) {
            self.ack_moves(q, y, ack, t, frame);
        }
    }

    /// `apply_ack` for an endpoint an ACK may move.
    fn ack_moves(&mut self, q: &mut EventQueue, y: Side, ack: SeqNum, t: Timestamp, frame: u64) {
        let side = &self.sides[y];
        match side.state {
            TcpState::SynReceived if side.isn.is_some_and(|isn| ack > isn) => {
                let passive = side.passive;
                self.transition(q, y, Input::RecvAckOfSyn, t, frame);
                if self.record.rtt_ns.is_none() {
                    if let Some(s0) = self.record.syn_t {
                        self.record.rtt_ns = Some(t.since(s0));
                    }
                }
                if passive {
                    self.call(
                        q,
                        t,
                        y,
                        CallName::Accept,
                        Phase::Return,
                        Some(CallResult::Ok),
                    );
                } else if self.sides[y].active && !self.self_connect {
                    // A simultaneous open: connect() returns once the socket is established.
                    self.call(
                        q,
                        t,
                        y,
                        CallName::Connect,
                        Phase::Return,
                        Some(CallResult::Ok),
                    );
                }
            }
            TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck
                if side.fin_seq.is_some_and(|fs| ack > fs) =>
            {
                self.transition(q, y, Input::RecvAckOfFin, t, frame);
                let st = self.sides[y].state;
                if matches!(st, TcpState::TimeWait | TcpState::Closed) {
                    self.decide_fin_call(q, y, false);
                }
            }
            _ => {}
        }
    }

    /// Resolve what waits on side `s` because time ran out (`last`: the connection ends, so
    /// nothing more can come).
    ///
    /// A SYN is delivered by evidence only (tcp_rcv_state_process: the SYN,ACK or the ACK
    /// that acknowledges it shows the receiver got it, whenever it comes): when its hold runs
    /// out it only stops holding output back; it is taken as lost when the connection ends
    /// with no answer.
    pub fn expire_hold(&mut self, q: &mut EventQueue, kind: HoldKind, last: bool) {
        match kind {
            HoldKind::Delivery(x) => {
                match self.sides[x].pending {
                    // An unanswered SYN reached nobody we can see; but one its sender
                    // already answered with a SYN,ACK (crossed SYNs) did arrive.
                    Some(p) if p.syn && p.ack.is_none() && p.synack.is_none() => {
                        if last {
                            self.drop_pending(q, x);
                        } else if let Some(p) = &mut self.sides[x].pending {
                            p.held = false;
                            q.release((p.t, self.id, HoldKind::Delivery(x)));
                        }
                    }
                    // A SYN,ACK too is settled by the answer (its ACK, data, or the RST of
                    // a port whose connect() was abandoned), whenever it comes; silence to
                    // the end delivers it.
                    Some(p) if p.syn && p.ack.is_some() && p.synack.is_none() && !last => {
                        if let Some(p) = &mut self.sides[x].pending {
                            p.held = false;
                            q.release((p.t, self.id, HoldKind::Delivery(x)));
                        }
                    }
                    // A FIN its receiver went on without acknowledging (and did not cross
                    // with its own) is undecided: later evidence may still deliver it; if
                    // none comes before the connection ends, it never reached it. A FIN
                    // met by silence is taken as delivered (its ACK was not captured).
                    // So is one whose receiver lacks data below it that never came.
                    Some(p)
                        if p.fin
                            && !p.syn
                            && p.crossed.is_none()
                            && (p.unacked_after
                                || (p.missing_from.is_some() && p.refill.is_none())) =>
                    {
                        if last {
                            self.drop_pending(q, x);
                        } else if let Some(p) = &mut self.sides[x].pending {
                            p.held = false;
                            q.release((p.t, self.id, HoldKind::Delivery(x)));
                        }
                    }
                    Some(p) => self.deliver(q, x, p.t, p.frame),
                    None => {}
                }
            }
            HoldKind::FinCall(x) => self.decide_fin_call(q, x, false),
            // Its SYN,ACK was not resent: the ACK was taken.
            HoldKind::Accept(x) => self.settle_accept(q, x),
        }
    }

    /// Side `x`'s FIN in flight was crossed by its peer's FIN at `t`.
    pub(super) fn fin_crossed(&mut self, x: Side, t: Timestamp) {
        if let Some(p) = &mut self.sides[x].pending {
            p.crossed.get_or_insert(t);
        }
    }

    /// Side `x`'s peer sent a segment that does not acknowledge `x`'s FIN in flight; `ack`
    /// is its ACK field. An ACK short of the FIN's own number is the peer's RCV.NXT: the
    /// data from there on is missing, and the FIN cannot be taken before it comes.
    pub(super) fn fin_unacknowledged(&mut self, x: Side, ack: Option<SeqNum>) {
        if let Some(p) = &mut self.sides[x].pending {
            if p.fin && !p.syn {
                p.unacked_after = true;
                let fin_seq = SeqNum(p.ctrl_end.0.wrapping_sub(1));
                if let Some(a) = ack.filter(|a| *a < fin_seq) {
                    if p.missing_from.is_none_or(|m| a > m) {
                        p.missing_from = Some(a);
                    }
                }
            }
        }
    }

    /// Side `x` sent `seg` while its FIN waits out of order at the peer: if it carries what
    /// was missing below the FIN, the FIN is taken once it arrives (tcp_ofo_queue).
    pub(super) fn fin_refilled(&mut self, x: Side, seg: &Segment) {
        let Some(p) = &mut self.sides[x].pending else {
            return;
        };
        let Some(missing) = p.missing_from else {
            return;
        };
        let (seq, end) = (SeqNum(seg.seq), SeqNum(seg.seq) + seg.payload_len);
        if p.fin
            && !p.syn
            && seg.payload_len > 0
            && seq < SeqNum(p.ctrl_end.0.wrapping_sub(1))
            && end > missing
        {
            p.refill = Some((seg.ts, seg.frame));
        }
    }

    /// Side `x`'s RST in flight meets a segment its receiver sent at `t`: another RST shows
    /// nothing; anything else sent later than a round trip after the RST (so not crossing
    /// it) shows the receiver never got it and went on (tcp_validate_incoming never saw it).
    /// True if the RST was settled as lost. Silence settles it as delivered after
    /// `TrackerConfig::rst_limit_ns` (250 ms: a receiver with data in flight retransmits
    /// after Linux's minimum RTO, 200 ms), or sooner when output waits past `max_queued`.
    pub(super) fn rst_answered(&mut self, q: &mut EventQueue, x: Side, seg: &Segment) -> bool {
        let Some(p) = self.sides[x].pending.filter(|p| p.rst) else {
            return false;
        };
        if seg.flags.rst() {
            return false;
        }
        let in_flight = self.record.rtt_ns.unwrap_or(0);
        if seg.ts.since(p.t) > in_flight {
            self.drop_pending(q, x);
            let d = format!(
                "{} goes on after the RST of frame {}: it never got it (lost after the \
                 capture point)",
                self.ep(self.peer(x)),
                p.frame
            );
            self.anomaly(q, seg.ts, Some(seg.frame), AnomalyKind::RstOutOfWindow, d);
            return true;
        }
        false
    }
}
