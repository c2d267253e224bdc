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
}
