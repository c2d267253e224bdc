//! The request sock and the accept queue (tcp_check_req). A passive end in SYN-RECEIVED is
//! a request sock until an ACK of its SYN makes the child socket (tcp_v4_syn_recv_sock →
//! inet_csk_complete_hashdance); only the child is ESTABLISHED. With the listener's accept
//! queue full, the child cannot be made: tcp_check_req's listen_overflow drops the ACK
//! (inet_rsk(req)->acked) and the request sock goes on resending its SYN,ACK
//! (reqsk_timer_handler → inet_rtx_syn_ack), while the client, which took the SYN,ACK, is
//! ESTABLISHED. With tcp_abort_on_overflow the listener answers the ACK with an RST instead
//! (embryonic_reset), and a request whose SYN,ACK retries run out is dropped
//! (inet_csk_reqsk_queue_drop): the client's next segment meets the listener's RST.
//!
//! So an ACK of its SYN reaching a request sock is taken only once the server's next segment
//! shows it: anything but its SYN,ACK again (or silence) proves the child; the SYN,ACK resent
//! later than a round trip after the ACK proves the ACK dropped. After that, when the queue
//! drained is unknown: the child's own first segment is when it is known to exist.

use super::*;

impl Conn {
    /// `seg` from the client acknowledges the SYN of `y`: if `y` is a request sock, whether
    /// it takes the ACK waits for `y`'s next segment. True if it waits (the caller must not
    /// apply the ACK now).
    pub(super) fn ack_to_request(&mut self, q: &mut EventQueue, y: Side, seg: &Segment) -> bool {
        let side = &self.sides[y];
        let acks_syn = side.isn.is_some_and(|isn| SeqNum(seg.ack) > isn);
        if self.self_connect
            || side.state != TcpState::SynReceived
            || !side.passive
            || !side.synack_sent
            || !acks_syn
        {
            return false;
        }
        if side.overflowed {
            return true;
        }
        if side.accept_ack.is_none() {
            self.sides[y].accept_ack = Some((seg.ts, seg.frame));
            q.hold((seg.ts, self.id, HoldKind::Accept(y)), self.key);
        }
        true
    }

    /// The request sock `y` took the ACK of its SYN that waits: ESTABLISHED at that ACK.
    #[inline]
    pub(super) fn settle_accept(&mut self, q: &mut EventQueue, y: Side) {
        if let Some((t, frame)) = self.sides[y].accept_ack.take() {
            self.accept_at(q, y, t, frame);
        }
    }

    fn accept_at(&mut self, q: &mut EventQueue, y: Side, t: Timestamp, frame: u64) {
        q.release((t, self.id, HoldKind::Accept(y)));
        if let Some(isn) = self.sides[y].isn {
            self.apply_ack(q, y, isn + 1, t, frame);
        }
    }

    /// What `seg` from `s`, if a request sock, shows of the ACK of its SYN.
    pub(super) fn request_sends(&mut self, q: &mut EventQueue, seg: &Segment, s: Side, r: Side) {
        let side = &self.sides[s];
        if side.state != TcpState::SynReceived || !side.passive || self.self_connect {
            return;
        }
        let f = seg.flags;
        let resent = f.syn() && f.ack() && side.isn == Some(SeqNum(seg.seq));
        let answered = f.rst() && self.no_tcb_answers(seg, r);
        if resent || answered {
            let Some((t, _)) = side.accept_ack else {
                return;
            };
            // A SYN,ACK sent before the ACK arrived (crossing it) shows nothing: one that
            // follows it by more than the handshake's round trip does.
            let in_flight = self.record.syn_t.map_or(0, |s0| t.since(s0));
            if answered || seg.ts.since(t) > in_flight {
                q.release((t, self.id, HoldKind::Accept(s)));
                self.sides[s].accept_ack = None;
                self.sides[s].overflowed = true;
            }
            return;
        }
        if f.rst() {
            return;
        }
        if side.accept_ack.is_some() {
            self.settle_accept(q, s);
        } else if side.overflowed && f.ack() && !f.syn() {
            // The child exists: a request sock sends nothing but SYN,ACKs.
            if let Some(isn) = side.isn {
                self.apply_ack(q, s, isn + 1, seg.ts, seg.frame);
            }
        }
    }
}
