//! Which connection a segment on a shared 4-tuple belongs to: what the tracker asks of a
//! connection before it hands it a SYN that may start another one, or an answer that may
//! belong to another one.

use super::*;

impl Conn {
    /// Is `seg` a SYN with a new ISN from this connection's client while its own SYN is
    /// still unanswered (nothing from the server captured)? Either a new connect() after a
    /// failed one, or a spoofed SYN: the server's answer will tell which (tcp_check_req
    /// answers only the SYN its request sock holds).
    pub fn rival_syn(&self, seg: &Segment) -> bool {
        let c = &self.sides[Side::Client];
        !self.self_connect
            && seg.flags.syn()
            && !seg.flags.ack()
            && seg.src == c.addr
            && c.state == TcpState::SynSent
            && c.isn.is_some_and(|isn| isn != SeqNum(seg.seq))
            && self.record.packets[Side::Server] == 0
    }

    /// Does `seg`, from the server, answer this connection's SYN (its ACK acknowledges the
    /// client's ISN exactly)?
    pub fn answered_by(&self, seg: &Segment) -> bool {
        let c = &self.sides[Side::Client];
        seg.src == self.sides[Side::Server].addr
            && seg.flags.ack()
            && c.isn.is_some_and(|isn| isn + 1 == SeqNum(seg.ack))
    }

    /// Does the client's SYN still hold output back (nothing after it has left)?
    pub fn syn_held(&self) -> bool {
        self.sides[Side::Client]
            .pending
            .is_some_and(|p| p.syn && p.ack.is_none() && p.held)
    }

    /// Has the server answered anything?
    pub fn answered(&self) -> bool {
        self.record.packets[Side::Server] > 0
    }

    /// Stop holding output back: this connection is set aside (its SYN stays undecided).
    pub fn release_holds(&mut self, q: &mut EventQueue) {
        for s in Side::BOTH {
            if let Some(p) = &mut self.sides[s].pending {
                p.held = false;
                q.release((p.t, self.id, HoldKind::Delivery(s)));
            }
            self.decide_fin_call(q, s, false);
        }
    }

    /// A connection an RST ended came back to life (a retried SYN was answered): it no
    /// longer lingers towards its end.
    pub fn stop_lingering(&mut self) {
        self.lingering = false;
    }
}

impl Conn {
    /// Of several SYN,ACKs with different ISNs, the server's is the one the client
    /// acknowledges (tcp_rcv_synsent_state_process takes the SYN,ACK that reaches it, and its
    /// ACK shows which): re-base the server's sequence space on it.
    pub(super) fn take_acknowledged_isn(&mut self, seg: &Segment, s: Side, r: Side) {
        let f = seg.flags;
        if s != Side::Client || self.self_connect || !f.ack() || f.syn() || f.rst() {
            return;
        }
        let ack = SeqNum(seg.ack);
        let peer = &mut self.sides[r];
        let Some(alt) = peer.alt_isn.filter(|&a| a + 1 == ack) else {
            return;
        };
        if peer.isn.is_some_and(|isn| isn + 1 == ack) {
            return;
        }
        peer.alt_isn = peer.isn;
        peer.isn = Some(alt);
        peer.next_seq = Some(alt + 1);
        peer.data_end = Some(alt + 1);
        if let Some(p) = &mut peer.pending {
            if p.syn {
                p.ctrl_end = alt + 1;
            }
        }
    }
}

impl Conn {
    /// The client's SYN was rejected by an end in TIME-WAIT (answered with its ACK): it
    /// reached no listener.
    pub fn syn_rejected(&mut self, q: &mut EventQueue) {
        if self.sides[Side::Client]
            .pending
            .is_some_and(|p| p.syn && p.ack.is_none())
        {
            self.drop_pending(q, Side::Client);
        }
    }
}
