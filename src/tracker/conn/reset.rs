//! RSTs: is one acceptable to its receiver (RFC 9293 §3.10.7, RFC 5961), and what it ends.

use super::*;

/// A state whose socket is a full TCB past the handshake (tcp_validate_incoming applies):
/// not a request sock (SYN-RECEIVED), not TIME-WAIT (tcp_timewait_state_process).
pub(super) fn synchronized(st: TcpState) -> bool {
    matches!(
        st,
        TcpState::Established
            | TcpState::FinWait1
            | TcpState::FinWait2
            | TcpState::CloseWait
            | TcpState::Closing
            | TcpState::LastAck
    )
}

/// What an RST does to its receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RstCheck {
    /// It resets the connection.
    Accept,
    /// In the window but not at RCV.NXT: a challenge ACK answers it; nothing changes.
    Challenge,
    /// Outside the window: dropped.
    OutOfWindow,
}

impl Conn {
    /// What `seg`, an RST from `s`, does to its receiver `r` (RFC 9293 §3.10.7, RFC 5961 §3
    /// as tcp_validate_incoming applies it).
    pub(super) fn rst_check(&self, seg: &Segment, s: Side, r: Side) -> RstCheck {
        let rcv = &self.sides[r];
        let seq = SeqNum(seg.seq);
        match rcv.state {
            // §3.10.7.3: in SYN-SENT an RST is acceptable if its ACK acknowledges the SYN.
            TcpState::SynSent => {
                let ok = seg.flags.ack() && rcv.isn.is_some_and(|isn| SeqNum(seg.ack) == isn + 1);
                if ok {
                    RstCheck::Accept
                } else {
                    RstCheck::OutOfWindow
                }
            }
            _ => {
                // §3.10.7.4 / RFC 5961: RCV.NXT <= SEG.SEQ < RCV.NXT + RCV.WND. RCV.NXT is
                // what the receiver acknowledged, or failing that what the sender sent.
                let Some(nxt) = rcv.max_ack.or(self.sides[s].next_seq) else {
                    return RstCheck::Accept;
                };
                // tcp_reset_check: after the peer's FIN (CLOSE-WAIT, CLOSING, LAST-ACK) an RST
                // at RCV.NXT − 1, the FIN's own number, resets too (RFC 5961 §3.2 extended by
                // Linux, for stacks that reset with the FIN's sequence number).
                let after_fin = matches!(
                    rcv.state,
                    TcpState::CloseWait | TcpState::Closing | TcpState::LastAck
                );
                if after_fin && self.sides[s].fin_seq == Some(seq) {
                    return RstCheck::Accept;
                }
                let wnd = rcv.window.max(1);
                let exact = seq == nxt || self.sides[s].next_seq == Some(seq);
                let in_window = seq == nxt || (seq > nxt && seq < nxt + wnd);
                // A synchronized socket resets only at exactly RCV.NXT; elsewhere in the
                // window it sends a challenge ACK and carries on (RFC 5961 §3.2). A request
                // sock (SYN-RECEIVED, tcp_check_req) and TIME-WAIT take any in-window RST.
                let strict = synchronized(rcv.state);
                match (in_window || exact, strict && !exact) {
                    (false, _) => RstCheck::OutOfWindow,
                    (true, true) => RstCheck::Challenge,
                    (true, false) => RstCheck::Accept,
                }
            }
        }
    }

    pub(super) fn apply_rst(&mut self, q: &mut EventQueue, seg: &Segment, s: Side, r: Side) {
        let t = seg.ts;
        let frame = seg.frame;
        // The sender: an ABORT, unless no socket existed there (the kernel answers for a
        // port with no socket) or it is a TIME-WAIT socket answering.
        let sender_state = self.sides[s].state;
        let synchronized = !matches!(
            sender_state,
            TcpState::Closed | TcpState::Listen | TcpState::SynSent | TcpState::TimeWait
        );
        if sender_state == TcpState::TimeWait && s != r && self.no_tcb_answers(seg, r) {
            // Its TIME-WAIT had ended (or never was): it is CLOSED, its 60 s cut short.
            self.set_state(q, s, TcpState::Closed, Cause::Timer(t, Some(frame)));
        }
        let gone = s != r && self.socket_gone(seg, s, r);
        if gone {
            // No socket was left to send it: the kernel answered for the port
            // (tcp_v4_send_reset). The socket had gone before, without a segment: a connect()
            // abandoned in SYN-SENT (tcp_close sends nothing there), or a FIN-WAIT-2 orphan
            // whose tcp_fin_timeout (TCP_LINGER2) ran out (tcp_keepalive_timer's tcp_done).
            // Its CLOSED is told at this RST, the first sign of it; no call made the RST.
            self.record.first_closer.get_or_insert(s);
            self.set_state(q, s, TcpState::Closed, Cause::Timer(t, Some(frame)));
        }
        let synchronized = synchronized && !gone;
        if synchronized && s != r {
            if sender_state == TcpState::SynReceived {
                self.end_with(Ending::AbortedInHandshake);
            }
            self.record.first_closer.get_or_insert(s);
            self.transition(q, s, Input::SendRst, t, frame);
            self.call(
                q,
                t,
                s,
                CallName::Close,
                Phase::Enter,
                Some(CallResult::RstSent),
            );
            self.decide_fin_call(q, s, false);
        }
        // The receiver.
        let rstate = self.sides[r].state;
        let mut defer = false;
        match rstate {
            TcpState::SynSent => {
                self.end_with(Ending::Refused);
                self.transition(q, r, Input::RecvRst, t, frame);
                self.call(
                    q,
                    t,
                    r,
                    CallName::Connect,
                    Phase::Return,
                    Some(CallResult::Errno(Errno::ECONNREFUSED)),
                );
            }
            TcpState::Closed | TcpState::Listen => {}
            _ => {
                if rstate == TcpState::SynReceived {
                    self.end_with(Ending::AbortedInHandshake);
                } else {
                    self.end_with(Ending::Reset);
                }
                self.record.first_closer.get_or_insert(s);
                // A TIME-WAIT (RFC 1337) and a self-connect take it at once; any other
                // receiver may not get it (lost after the capture point): its next segment
                // tells (see `delivery`).
                if rstate == TcpState::TimeWait || s == r {
                    self.rst_reaches(q, r, t, frame);
                } else {
                    defer = true;
                }
            }
        }
        if synchronized && s != r {
            self.end_with(Ending::Reset);
        }
        self.drop_pending(q, r);
        self.drop_pending(q, s);
        if defer {
            let p = Pending {
                t,
                frame,
                syn: false,
                fin: false,
                rst: true,
                ack: None,
                ctrl_end: SeqNum(seg.seq),
                synack: None,
                held: true,
                crossed: None,
                unacked_after: false,
                missing_from: None,
                refill: None,
            };
            self.sides[s].pending = Some(p);
            q.hold_rst((t, self.id, HoldKind::Delivery(s)), self.key);
        }
    }

    /// An RST reaches side `r` at `t` (tcp_reset): CLOSED, and a blocked recv() fails.
    pub(super) fn rst_reaches(&mut self, q: &mut EventQueue, r: Side, t: Timestamp, frame: u64) {
        self.settle_accept(q, r);
        let rstate = self.sides[r].state;
        if matches!(rstate, TcpState::Closed | TcpState::Listen) {
            return;
        }
        self.transition(q, r, Input::RecvRst, t, frame);
        // A request sock (passive SYN-RECEIVED) has no socket of the user's yet: no call
        // fails, it is dropped (tcp_check_req → inet_csk_reqsk_queue_drop).
        let request = rstate == TcpState::SynReceived && self.sides[r].passive;
        if rstate != TcpState::TimeWait && !request {
            self.call(
                q,
                t,
                r,
                CallName::Recv,
                Phase::Return,
                Some(CallResult::Errno(Errno::ECONNRESET)),
            );
        }
        self.decide_fin_call(q, r, false);
    }

    /// Is `seg`, an RST from `s`, the kernel's answer for a socket that is gone? A bare RST
    /// (no ACK bit) whose sequence number is the ACK `r` last sent is what tcp_v4_send_reset
    /// sends for a segment finding no socket (RFC 9293 §3.10.7.1). Two sockets go without a
    /// segment of their own:
    ///
    /// - a SYN-SENT one whose connect() was abandoned: its SYN was acknowledged by the
    ///   SYN,ACK this RST answers (a live SYN-SENT socket would take it, or reset a SYN,ACK
    ///   of another SYN with that SYN,ACK's ACK, not its own);
    /// - a FIN-WAIT-2 orphan past tcp_fin_timeout: it answers the peer's FIN (a live one
    ///   takes it, enters TIME-WAIT and ACKs it: tcp_rcv_state_process).
    pub(super) fn socket_gone(&self, seg: &Segment, s: Side, r: Side) -> bool {
        let (me, peer) = (&self.sides[s], &self.sides[r]);
        if seg.flags.ack() || !self.no_tcb_answers(seg, r) {
            return false;
        }
        match me.state {
            TcpState::SynSent => {
                peer.synack_sent
                    && me.isn.is_some_and(|isn| peer.max_ack == Some(isn + 1))
                    && SeqNum(seg.seq) == peer.max_ack.unwrap_or(SeqNum(seg.seq))
            }
            // A request sock whose ACK was not taken: the listener answers for it, after
            // dropping it (tcp_check_req's embryonic_reset with tcp_abort_on_overflow) or
            // once it has expired (reqsk_timer_handler: its SYN,ACK retries ran out).
            TcpState::SynReceived => me.passive && me.overflowed,
            // An orphan in FIN-WAIT-2: gone past tcp_fin_timeout (any FIN of the peer meets
            // the kernel's RST), or alive but closed for reading, which answers new data or
            // an out-of-order FIN with an RST and dies (tcp_rcv_state_process's
            // TCPABORTONDATA; tcp_timewait_state_process's TCP_TW_RST in its FIN-WAIT-2
            // substate). Either way the peer sent what `me` never acknowledged.
            TcpState::FinWait2 => {
                me.fin_seq.is_some_and(|fs| peer.max_ack == Some(fs + 1))
                    && peer
                        .next_seq
                        .is_some_and(|n| me.max_ack.is_none_or(|a| n > a))
            }
            _ => false,
        }
    }

    /// Is `seg`, an RST from a side held in TIME-WAIT, what an end with no TCB sends? A
    /// TIME-WAIT socket answers with ACKs, never a bare RST (tcp_timewait_state_process
    /// returns TCP_TW_RST only in its FIN-WAIT-2 substate); an RST without ACK whose sequence
    /// number is what the peer acknowledged is tcp_v4_send_reset answering for no socket
    /// (seq = the segment's ACK, RFC 9293 §3.10.7.1).
    pub(super) fn no_tcb_answers(&self, seg: &Segment, r: Side) -> bool {
        !seg.flags.ack() && self.sides[r].max_ack.is_none_or(|a| a == SeqNum(seg.seq))
    }
}
