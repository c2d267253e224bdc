//! RSTs: is one acceptable to its receiver (RFC 9293 §3.10.7, RFC 5961), and what it ends.

use super::*;

impl Conn {
    pub(super) fn rst_acceptable(&self, seg: &Segment, s: Side, r: Side) -> bool {
        let rcv = &self.sides[r];
        match rcv.state {
            // §3.10.7.3: in SYN-SENT an RST is acceptable if its ACK acknowledges the SYN.
            TcpState::SynSent => {
                seg.flags.ack() && rcv.isn.is_some_and(|isn| SeqNum(seg.ack) == isn + 1)
            }
            _ => {
                // §3.10.7.4 / RFC 5961: RCV.NXT <= SEG.SEQ < RCV.NXT + RCV.WND.
                let rcv_nxt = rcv.max_ack.or(self.sides[s].next_seq);
                match rcv_nxt {
                    None => true,
                    Some(nxt) => {
                        let seq = SeqNum(seg.seq);
                        let wnd = rcv.window.max(1);
                        seq == nxt || (seq > nxt && seq < nxt + wnd)
                    }
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
                self.transition(q, r, Input::RecvRst, t, frame);
                if rstate != TcpState::TimeWait {
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
        }
        if synchronized && s != r {
            self.end_with(Ending::Reset);
        }
        self.drop_pending(q, r);
        self.drop_pending(q, s);
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
