//! What synfin knows of one endpoint: its inferred TCB (state, sequence space, window) and
//! the control segment it has in flight.

use crate::events::TcpState;
use crate::timestamp::Timestamp;
use crate::tracker::seq::SeqNum;
use std::net::SocketAddr;

/// A SYN, FIN or RST on its way to the peer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pending {
    pub(super) t: Timestamp,
    pub(super) frame: u64,
    pub(super) syn: bool,
    pub(super) fin: bool,
    /// An RST (an abort): its receiver may yet show it never got it.
    pub(super) rst: bool,
    pub(super) ack: Option<SeqNum>,
    /// What an ACK must reach to show the control segment was received.
    pub(super) ctrl_end: SeqNum,
    /// A SYN,ACK with this SYN's sequence number, sent while the SYN was still in flight
    /// (a simultaneous open): (time, frame, its ACK), delivered right after the SYN.
    pub(super) synack: Option<(Timestamp, u64, SeqNum)>,
    /// It still holds output back. Once the hold has run out (a memory and latency bound,
    /// not a verdict) it stays undecided until evidence comes, and is then dated no earlier
    /// than that evidence, since output up to it may already have left.
    pub(super) held: bool,
    /// A FIN the peer's own FIN crossed (at this time): delivered, if the peer's ACK shows
    /// it, just after that FIN was sent.
    pub(super) crossed: Option<Timestamp>,
    /// The peer sent something after it that did not acknowledge it.
    pub(super) unacked_after: bool,
    /// A FIN with sequence space below it its receiver lacks (a hole in the capture below
    /// it, or the receiver's ACK stopping short of it): the first byte missing. The FIN
    /// waits in the receiver's out-of-order queue (tcp_data_queue) until that fills.
    pub(super) missing_from: Option<SeqNum>,
    /// The last segment (time, frame) that resent or filled what was missing below the FIN:
    /// the receiver takes the FIN then (tcp_ofo_queue hands it to tcp_fin), not at its
    /// arrival.
    pub(super) refill: Option<(Timestamp, u64)>,
}

/// A FIN whose call (close or shutdown) is not yet known.
#[derive(Debug, Clone, Copy)]
pub(super) struct FinCall {
    pub(super) t: Timestamp,
    /// The end of the peer's data when the FIN was sent; an ACK beyond it means the FIN
    /// sender kept receiving: shutdown(SHUT_WR).
    pub(super) peer_data_end: Option<SeqNum>,
}

/// The header fields that make two captures of one segment identical (seq, ack, flags,
/// payload length, window, TCP timestamps).
pub(super) type Signature = (u32, u32, u16, u32, u16, Option<(u32, u32)>);

#[derive(Debug, Clone)]
pub(super) struct Tcb {
    pub(super) addr: SocketAddr,
    pub(super) state: TcpState,
    /// Has this endpoint been seen to exist as a socket (sent anything but a bare RST)?
    pub(super) exists: bool,
    /// Opened passively (was LISTEN).
    pub(super) passive: bool,
    /// Sent a SYN without ACK: it called connect().
    pub(super) active: bool,
    pub(super) isn: Option<SeqNum>,
    /// The ISN of another SYN,ACK it sent (or someone sent in its name): it becomes `isn` if
    /// the peer acknowledges it.
    pub(super) alt_isn: Option<SeqNum>,
    pub(super) synack_sent: bool,
    /// A request sock's ACK of its SYN (time, frame), not yet known to be taken (see
    /// `accept`).
    pub(super) accept_ack: Option<(Timestamp, u64)>,
    /// A request sock that resent its SYN,ACK after an ACK of it: the ACK was dropped (a
    /// full accept queue); only its child's own segment shows it was taken later.
    pub(super) overflowed: bool,
    pub(super) next_seq: Option<SeqNum>,
    /// The lowest sequence number below `next_seq` that no captured segment carried (a
    /// sequence gap: lost before the capture point, or reordered behind what followed it).
    pub(super) hole_from: Option<SeqNum>,
    /// End of the payload sent (FIN excluded).
    pub(super) data_end: Option<SeqNum>,
    pub(super) fin_seq: Option<SeqNum>,
    pub(super) max_ack: Option<SeqNum>,
    pub(super) window: u32,
    pub(super) wscale: Option<u8>,
    pub(super) syn_tries: u32,
    pub(super) last_syn_t: Option<Timestamp>,
    pub(super) pending: Option<Pending>,
    pub(super) fin_call: Option<FinCall>,
    /// The last segment it sent: its signature and capture time.
    pub(super) last_sig: Option<(Signature, Timestamp)>,
    /// A frame of this side cut by the snaplen was reported (once per side).
    pub(super) cut_reported: bool,
}

impl Tcb {
    /// It sent sequence space up to `end`: its next sequence number moves on past it.
    pub(super) fn sent_to(&mut self, end: SeqNum) {
        if self.next_seq.is_none_or(|n| end > n) {
            self.next_seq = Some(end);
        }
    }

    /// It sent payload up to `end`.
    pub(super) fn data_to(&mut self, end: SeqNum) {
        if self.data_end.is_none_or(|n| end > n) {
            self.data_end = Some(end);
        }
    }

    /// It acknowledged `ack`.
    pub(super) fn acked(&mut self, ack: SeqNum) {
        if self.max_ack.is_none_or(|a| ack > a) {
            self.max_ack = Some(ack);
        }
    }

    /// It advertised `window` (scaled by its shift, as RFC 7323 caps it).
    pub(super) fn advertised(&mut self, window: u16) {
        self.window = u32::from(window) << u32::from(self.wscale.unwrap_or(0).min(14));
    }

    pub(super) fn new(addr: SocketAddr, state: TcpState) -> Tcb {
        Tcb {
            addr,
            state,
            exists: false,
            passive: false,
            active: false,
            isn: None,
            alt_isn: None,
            synack_sent: false,
            accept_ack: None,
            overflowed: false,
            next_seq: None,
            hole_from: None,
            data_end: None,
            fin_seq: None,
            max_ack: None,
            window: 0,
            wscale: None,
            syn_tries: 0,
            last_syn_t: None,
            cut_reported: false,
            pending: None,
            fin_call: None,
            last_sig: None,
        }
    }
}
