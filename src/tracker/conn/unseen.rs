//! What the captured side's segments prove about segments of its peer that were never
//! captured (a capture of one direction only, or a lost SYN,ACK or FIN at the capture
//! point). An endpoint only moves on what it received, so its own next segment shows it:
//!
//! - a SYN-SENT end that sends a plain ACK has received a SYN,ACK (tcp_rcv_synsent_state_process:
//!   only a SYN,ACK acknowledging the SYN moves it on and makes it send that ACK);
//! - a SYN-RECEIVED end that sends anything but its SYN,ACK again has received the ACK of its
//!   SYN (Linux keeps a request sock until then, and it sends only SYN,ACKs);
//! - with a peer never captured, an ACK one beyond everything acknowledged before is the
//!   peer's FIN (tcp_fin: a FIN takes one sequence number and is acknowledged at once).

use super::*;

impl Conn {
    /// Infer the peer's unseen segments from what `seg` (sent by `s`) acknowledges;
    /// `prev_ack` is the highest ACK `s` had sent before it.
    pub(super) fn infer_unseen(
        &mut self,
        q: &mut EventQueue,
        seg: &Segment,
        s: Side,
        r: Side,
        prev_ack: Option<SeqNum>,
    ) {
        let f = seg.flags;
        if self.self_connect || !f.ack() || f.rst() || f.syn() {
            return;
        }
        let (t, frame, ack) = (seg.ts, seg.frame, SeqNum(seg.ack));
        // The peer's SYN,ACK, never captured: its ISN is one below what `s` acknowledges.
        if self.sides[s].state == TcpState::SynSent && self.sides[r].isn.is_none() {
            if let Some(p) = self.sides[s].pending.filter(|p| p.syn && p.ack.is_none()) {
                self.deliver(q, s, p.t, p.frame);
            }
            let peer = &mut self.sides[r];
            peer.isn = Some(SeqNum(seg.ack.wrapping_sub(1)));
            peer.next_seq = Some(ack);
            peer.data_end = Some(ack);
            peer.synack_sent = true;
            self.transition(q, r, Input::SendSynAck, t, frame);
            let acked = self.sides[s].isn.map(|i| i + 1);
            self.recv_syn_ack(q, s, acked, t, frame);
            return;
        }
        // The ACK of its SYN,ACK, never captured.
        let never_heard = self.record.packets[r] == 0;
        if self.sides[s].state == TcpState::SynReceived && never_heard {
            if let Some(isn) = self.sides[s].isn {
                self.apply_ack(q, s, isn + 1, t, frame);
            }
        }
        // The peer's FIN, never captured (only when nothing of the peer's is).
        let fin = match prev_ack {
            Some(prev) => never_heard && ack == prev + 1 && self.sides[r].fin_seq.is_none(),
            None => false,
        };
        if !fin {
            return;
        }
        let fin_seq = SeqNum(seg.ack.wrapping_sub(1));
        // It was sent after everything `s` had sent had arrived: `s`'s own FIN in flight
        // first, then the peer's FIN (carrying the ACK of all of `s`'s sequence space).
        if let Some(p) = self.sides[s].pending.filter(|p| !p.syn) {
            self.deliver(q, s, p.t, p.frame);
        }
        let peer = &mut self.sides[r];
        peer.fin_seq = Some(fin_seq);
        peer.next_seq = Some(ack);
        self.record.first_closer.get_or_insert(r);
        self.transition(q, r, Input::SendFin, t, frame);
        if let Some(end) = self.sides[s].fin_seq.map(|fs| fs + 1) {
            self.apply_ack(q, s, end, t, frame);
        }
        let was = self.sides[s].state;
        if self.transition(q, s, Input::RecvFin, t, frame)
            && matches!(was, TcpState::Established | TcpState::FinWait2)
        {
            let eof = Some(CallResult::Bytes(0));
            self.call(q, t, s, CallName::Recv, Phase::Return, eof);
        }
    }
}
