//! Zeek's conn.log `history` and `conn_state`, computed the way Zeek's TCP session adapter
//! does (TCPSessionAdapter.cc `update_history`, `update_window`, `update_last_seq`,
//! `UpdateStateMachine`; main.zeek `conn_state`), with checksums ignored as `zeek -C` does
//! (loopback captures carry offloaded, "bad" checksums). Originator letters upper case,
//! responder lower case; side 0 is the originator. The content-gap letters `G`/`g` come from
//! Zeek's reassembler, modelled in `reassembly.rs`.

use super::reassembly::{RangeBudget, Reassembly};
use crate::events::ConnState;
use crate::segment::Segment;
use crate::tracker::seq::SeqNum;

/// Zeek's TCP endpoint states (init-bare.zeek TCP_INACTIVE … TCP_RESET).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ZState {
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
}

#[derive(Debug, Clone, Default)]
struct ZEndpoint {
    state: Option<ZState>,
    prev_state: Option<ZState>,
    start_seq: Option<SeqNum>,
    last_seq: Option<SeqNum>,
    /// Highest ACK the peer sent for this endpoint's data.
    ack_seq: Option<SeqNum>,
    fin_seen: bool,
    last_syn: Option<u32>,
    last_fin: Option<u32>,
    last_rst: Option<u32>,
    rxmt: u32,
    rxmt_thresh: u32,
    win0: u32,
    win0_thresh: u32,
    gaps: u32,
    gap_thresh: u32,
    /// A sequence number of this side and its relative (64-bit, unwrapped) value.
    rel_ref: Option<(SeqNum, i64)>,
    /// Relative sequence number just past this side's last FIN (Zeek's `FIN_seq`).
    fin_seq: Option<u64>,
    stream: Reassembly,
}

impl ZEndpoint {
    fn state(&self) -> ZState {
        self.state.unwrap_or(ZState::Inactive)
    }
    fn rel(&self, seq: u32) -> u32 {
        seq.wrapping_sub(self.start_seq.map_or(seq.wrapping_sub(1), |s| s.0))
    }
    /// Zeek's relative sequence number, unwrapped past 2^32; negative before the start.
    fn rel64(&self, seq: u32) -> i64 {
        let seq = SeqNum(seq);
        match (self.rel_ref, self.start_seq) {
            (Some((r, v)), _) => v + (seq - r),
            (None, Some(start)) => seq - start,
            (None, None) => 1,
        }
    }
    /// Remember `seq` as a reference for unwrapping when it moves forward.
    fn note_rel(&mut self, seq: u32, rel: i64) {
        if self.rel_ref.is_none_or(|(_, v)| rel > v) {
            self.rel_ref = Some((SeqNum(seq), rel));
        }
    }
    /// Zeek's `NoDataAcked`: the peer never acknowledged any of this side's data.
    fn no_data_acked(&self) -> bool {
        match (self.ack_seq, self.start_seq) {
            (Some(a), Some(s)) => a == s || a == s + 1,
            _ => true,
        }
    }
    /// The peer acknowledged up to `a` (the highest ACK is kept).
    #[inline]
    fn acked_to(&mut self, a: SeqNum) {
        if self.ack_seq.is_none_or(|old| a > old) {
            self.ack_seq = Some(a);
        }
    }
    /// `DataSent`, for a segment at `seq` (`rel64` relative): remember it for unwrapping and,
    /// when `whole` (the capture holds its payload, not an RST's), hand its `len` bytes from
    /// `rel64 + syn` to the reassembler.
    /// (Always inlined, as the reassembler's `data` is: a call here cost ~2% of tracking.)
    #[inline(always)]
    fn data_sent(&mut self, seq: u32, rel64: i64, len: u32, whole: bool, syn: bool) {
        if rel64 < 0 {
            return;
        }
        self.note_rel(seq, rel64);
        if len > 0 && whole {
            let data_seq = rel64 as u64 + u64::from(syn);
            let acked = self
                .ack_seq
                .map_or(0, |a| u64::try_from(self.rel64(a.0)).unwrap_or(0));
            let none_acked = self.no_data_acked();
            self.stream
                .data(data_seq, u64::from(len), acked, none_acked);
        }
    }
    /// Both ends "cleanly established or closing": only then is a gap a history letter.
    fn is_clean(&self) -> bool {
        self.state() == ZState::Established
            || (self.state() == ZState::Closed && self.prev_state == Some(ZState::Established))
    }
    /// TCP_Endpoint::Size(): bytes sent, from the highest of last_seq and the peer's ACK.
    fn size(&self) -> u64 {
        let (Some(start), Some(last)) = (self.start_seq, self.last_seq) else {
            return 0;
        };
        let top = match self.ack_seq {
            Some(a) if a > last => a,
            _ => last,
        };
        let mut n = (top - start).max(0) as u64;
        n = n.saturating_sub(1);
        if self.fin_seen && n > 0 {
            n -= 1;
        }
        n
    }
}

/// A history's letters: ASCII, a few a connection, kept inline.
type History = smallvec::SmallVec<[u8; 24]>;

/// The history string and Zeek's view of both endpoints.
#[derive(Debug, Clone, Default)]
pub struct ZeekHistory {
    /// ASCII letters (inline: a history is a few letters, so no allocation a connection).
    text: History,
    seen: u32,
    ep: [ZEndpoint; 2],
    /// Zeek's `is_partial`: a side's first packet was not a plain SYN (or SYN-ACK).
    partial: bool,
    first_seen: [bool; 2],
}

const HIST_SYN: u32 = 0x1;
const HIST_FIN: u32 = 0x2;
const HIST_RST: u32 = 0x4;
const HIST_FIN_RST: u32 = 0x8;
const HIST_ACK: u32 = 0x10;
const HIST_DATA: u32 = 0x20;
const HIST_MULTI: u32 = 0x40;

impl ZeekHistory {
    /// A connection whose roles were flipped from the first packet's sender starts with `^`.
    /// Its reassembly model counts its ranges against `ranges`.
    pub fn new(flipped: bool, ranges: &RangeBudget) -> ZeekHistory {
        let mut h = ZeekHistory::default();
        for e in &mut h.ep {
            e.stream = Reassembly::with_budget(ranges.clone());
        }
        if flipped {
            h.text.push(b'^');
        }
        h
    }

    /// Give the reassembly models' ranges back to their budget (the connection has ended).
    pub fn let_go(&mut self) {
        for e in &mut self.ep {
            e.stream = Reassembly::default();
        }
    }

    /// The history string.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters are pushed.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }

    fn letter(side: usize, c: char) -> u8 {
        debug_assert!(c.is_ascii(), "Zeek's history letters are ASCII");
        let c = c as u8;
        if side == 0 {
            c
        } else {
            c.to_ascii_lowercase()
        }
    }

    /// `Connection::CheckHistory`: add once per direction; true if already seen.
    fn check(&mut self, side: usize, mask: u32, c: char) -> bool {
        let m = if side == 0 { mask } else { mask << 16 };
        if self.seen & m != 0 {
            return true;
        }
        self.seen |= m;
        self.text.push(Self::letter(side, c));
        false
    }

    fn scaled(text: &mut History, side: usize, c: char, counter: &mut u32, thresh: &mut u32) {
        if *thresh == 0 {
            *thresh = 1;
        }
        *counter += 1;
        if *counter == *thresh {
            text.push(Self::letter(side, c));
            *thresh = thresh.saturating_mul(10);
        }
    }

    /// `gaps` content gaps in the stream of `side` (endpoint `e`), each a `G`, scaled.
    #[inline]
    fn gap_letters(text: &mut History, side: usize, e: &mut ZEndpoint, gaps: u32) {
        for _ in 0..gaps {
            Self::scaled(text, side, 'G', &mut e.gaps, &mut e.gap_thresh);
        }
    }

    /// Feed one segment sent by `side`.
    #[inline]
    pub fn on_segment(&mut self, side: usize, seg: &Segment) {
        if !self.steady(side, seg) {
            self.any_segment(side, seg);
        }
    }

    /// Most segments: an ACK, with or without data, between two endpoints established (or
    /// closed after it, Zeek's "clean"), the sender seen before, a window open. What
    /// `any_segment` does for it, without the branches that cannot be taken (no handshake,
    /// FIN or RST letter, no zero window, no state change, no start to find); false (nothing
    /// done) for any other segment. A property test holds the two ways equal.
    #[inline]
    fn steady(&mut self, side: usize, seg: &Segment) -> bool {
        let f = seg.flags;
        let peer = 1 - side;
        let steady = f.ack()
            && !f.syn()
            && !f.fin()
            && !f.rst()
            && seg.window != 0
            && self.first_seen[side]
            && self.ep[side].is_clean()
            && self.ep[peer].is_clean();
        if !steady {
            return false;
        }
        let len = seg.payload_len;
        let rel64 = self.ep[side].rel64(seg.seq);
        let rel_ack = u64::try_from(self.ep[peer].rel64(seg.ack)).unwrap_or(0);
        if len > 0 {
            self.check(side, HIST_DATA, 'D');
        } else {
            self.check(side, HIST_ACK, 'A');
        }
        // update_last_seq.
        {
            let e = &mut self.ep[side];
            let new = SeqNum(seg.seq) + len;
            let last = e.last_seq.unwrap_or(new);
            if new - last > 0 {
                e.last_seq = Some(new);
            } else if len > 0 {
                Self::scaled(&mut self.text, side, 'T', &mut e.rxmt, &mut e.rxmt_thresh);
            }
        }
        let [e, p] = if side == 0 {
            let [a, b] = &mut self.ep;
            [a, b]
        } else {
            let [a, b] = &mut self.ep;
            [b, a]
        };
        p.acked_to(SeqNum(seg.ack));
        // AckReceived (both ends clean: a gap is a letter).
        let gaps = p.stream.ack(rel_ack, p.fin_seq, self.partial);
        Self::gap_letters(&mut self.text, peer, p, gaps);
        e.data_sent(seg.seq, rel64, len, !seg.payload_cut, false);
        true
    }

    /// Feed one segment sent by `side`, whatever it is.
    fn any_segment(&mut self, side: usize, seg: &Segment) {
        let peer = 1 - side;
        let f = seg.flags;
        // SetPartialStatus.
        if !self.first_seen[side] && (side == 0 || !self.partial) {
            self.partial = !f.syn() || (side == 0 && f.ack());
        }
        // init_endpoint: start_seq from the SYN, else seq-1.
        {
            let e = &mut self.ep[side];
            if f.syn() {
                e.start_seq = Some(SeqNum(seg.seq));
                e.last_seq = Some(SeqNum(seg.seq));
                e.rel_ref = None;
            } else if e.start_seq.is_none() {
                e.start_seq = Some(SeqNum(seg.seq.wrapping_sub(1)));
                e.last_seq = Some(SeqNum(seg.seq));
            }
        }
        let rel = self.ep[side].rel(seg.seq);
        let rel64 = self.ep[side].rel64(seg.seq);
        let len = seg.payload_len;
        if f.fin() {
            // Zeek's get_segment_len: an RST's payload is not in the sequence space.
            let seg_len = if f.rst() {
                seg.seq_len().wrapping_sub(len)
            } else {
                seg.seq_len()
            };
            self.ep[side].fin_seq = u64::try_from(rel64 + i64::from(seg_len)).ok();
        }
        // The ACK, relative to the peer's stream (before the state machine moves).
        let rel_ack = if f.ack() && self.ep[peer].state() != ZState::Inactive {
            Some(u64::try_from(self.ep[peer].rel64(seg.ack)).unwrap_or(0))
        } else {
            None
        };
        // update_history: at most one of I, Q, S/H, F, R, D, A.
        let bits = u8::from(f.syn()) + u8::from(f.fin()) + u8::from(f.rst());
        if bits > 1 {
            if f.fin() && f.rst() {
                self.check(side, HIST_FIN_RST, 'I');
            } else {
                self.check(side, HIST_MULTI, 'Q');
            }
        } else if bits == 1 {
            if f.syn() {
                let code = if f.ack() { 'H' } else { 'S' };
                let last = self.ep[side].last_syn;
                if self.check(side, HIST_SYN, code) && last != Some(rel) {
                    self.text.push(Self::letter(side, code));
                }
                self.ep[side].last_syn = Some(rel);
            } else if f.fin() {
                let key = rel.wrapping_add(len);
                let last = self.ep[side].last_fin;
                if self.check(side, HIST_FIN, 'F') && last != Some(key) {
                    self.text.push(Self::letter(side, 'F'));
                }
                self.ep[side].last_fin = Some(key);
            } else {
                let last = self.ep[side].last_rst;
                if self.check(side, HIST_RST, 'R') && last != Some(rel) {
                    self.text.push(Self::letter(side, 'R'));
                }
                self.ep[side].last_rst = Some(rel);
            }
        } else if len > 0 {
            self.check(side, HIST_DATA, 'D');
        } else if f.ack() {
            self.check(side, HIST_ACK, 'A');
        }
        // update_window: a zero window, scaled.
        if seg.window == 0
            && !f.rst()
            && self.ep[peer].state() != ZState::Closed
            && self.ep[side].state() != ZState::Reset
        {
            let e = &mut self.ep[side];
            Self::scaled(&mut self.text, side, 'W', &mut e.win0, &mut e.win0_thresh);
        }
        // update_last_seq: T for payload at or below what was already sent.
        {
            let e = &mut self.ep[side];
            let seg_len = if f.rst() {
                0
            } else {
                len + u32::from(f.syn()) + u32::from(f.fin())
            };
            let new = SeqNum(seg.seq) + seg_len;
            let last = e.last_seq.unwrap_or(new);
            let delta = new - last;
            if (f.syn() || f.rst()) && delta.abs() > 1_048_576 {
            } else if f.fin() && e.start_seq.map(|s| s + 1) == Some(last) {
                e.last_seq = Some(new);
            } else if e.state() == ZState::Reset {
            } else if delta > 0 {
                e.last_seq = Some(new);
            } else if len > 0 {
                Self::scaled(&mut self.text, side, 'T', &mut e.rxmt, &mut e.rxmt_thresh);
            }
            if f.fin() {
                e.fin_seen = true;
            }
        }
        // The peer's record of what this side acknowledged (not on RSTs).
        if f.ack() && !f.rst() {
            self.ep[peer].acked_to(SeqNum(seg.ack));
        }
        self.update_state(side, seg);
        // AckReceived, after the state machine: a gap revealed by a FIN or RST is judged
        // with the states it leaves behind.
        if let Some(ack) = rel_ack {
            let partial = self.partial;
            let gaps = {
                let p = &mut self.ep[peer];
                let fin = p.fin_seq;
                p.stream.ack(ack, fin, partial)
            };
            if gaps > 0 && self.ep[peer].is_clean() && self.ep[side].is_clean() {
                Self::gap_letters(&mut self.text, peer, &mut self.ep[peer], gaps);
            }
        }
        // DataSent: only a payload the capture holds whole, never an RST's.
        let whole = !seg.payload_cut && !f.rst();
        self.ep[side].data_sent(seg.seq, rel64, len, whole, f.syn());
        self.first_seen[side] = true;
    }

    /// UpdateStateMachine, dispatched on the sender's state before the packet.
    fn update_state(&mut self, side: usize, seg: &Segment) {
        use ZState::*;
        let f = seg.flags;
        let peer = 1 - side;
        let cur = self.ep[side].state();
        let peer_state = self.ep[peer].state();
        let new = match cur {
            Inactive => {
                let mut s = None;
                if f.syn() {
                    if side == 0 {
                        s = Some(if f.ack() { SynAckSent } else { SynSent });
                    } else {
                        if peer_state == SynSent {
                            self.ep[peer].state = Some(Established);
                        }
                        s = Some(Established);
                    }
                }
                if f.fin() {
                    s = Some(Closed);
                }
                if f.rst() {
                    s = Some(Reset);
                }
                match s {
                    Some(s) => s,
                    None if side == 1 && seg.payload_len == 0 && peer_state == SynSent => Inactive,
                    None if f.ack() && peer_state == Established => {
                        self.partial = false;
                        Established
                    }
                    None => Partial,
                }
            }
            SynSent | SynAckSent => {
                if f.rst() {
                    Reset
                } else if f.fin() {
                    Closed
                } else {
                    cur
                }
            }
            Established | Partial => {
                if f.syn() && !f.ack() && cur == Partial && peer_state == Inactive {
                    SynSent
                } else if f.rst() {
                    Reset
                } else if f.fin() {
                    // UpdateEstablishedState: "if the peer is RESET with prev_state CLOSED,
                    // the peer goes back to CLOSED" (its RST followed its own FIN).
                    if peer_state == Reset && self.ep[peer].prev_state == Some(Closed) {
                        self.ep[peer].state = Some(Closed);
                    }
                    Closed
                } else {
                    cur
                }
            }
            Closed => {
                if f.rst() && peer_state != Closed {
                    Reset
                } else {
                    cur
                }
            }
            Reset => Reset,
        };
        if new != cur {
            self.ep[side].prev_state = Some(cur);
        }
        self.ep[side].state = Some(new);
    }

    /// Zeek's endpoint records (`c$orig`, `c$resp`): state name and `size`.
    pub fn endpoints(&self) -> [(&'static str, u64); 2] {
        [0, 1].map(|i| {
            let e = &self.ep[i];
            let name = match e.state() {
                ZState::Inactive => "INACTIVE",
                ZState::SynSent => "SYN_SENT",
                ZState::SynAckSent => "SYN_ACK_SENT",
                ZState::Partial => "PARTIAL",
                ZState::Established => "ESTABLISHED",
                ZState::Closed => "CLOSED",
                ZState::Reset => "RESET",
            };
            (name, e.size())
        })
    }

    /// main.zeek `conn_state`.
    pub fn conn_state(&self) -> ConnState {
        use ZState::*;
        let os = self.ep[0].state();
        let rs = self.ep[1].state();
        let o_inactive = matches!(os, Inactive | Partial);
        let r_inactive = matches!(rs, Inactive | Partial);
        if rs == Reset {
            if matches!(os, SynSent | SynAckSent)
                || (os == Reset && self.ep[0].size() == 0 && self.ep[1].size() == 0)
            {
                ConnState::REJ
            } else if o_inactive {
                ConnState::RSTRH
            } else {
                ConnState::RSTR
            }
        } else if os == Reset {
            if r_inactive {
                if self.looks_like_rstos0() {
                    ConnState::RSTOS0
                } else {
                    ConnState::OTH
                }
            } else {
                ConnState::RSTO
            }
        } else if rs == Closed && os == Closed {
            ConnState::SF
        } else if os == Closed {
            if r_inactive {
                ConnState::SH
            } else {
                ConnState::S2
            }
        } else if rs == Closed {
            if o_inactive {
                ConnState::SHR
            } else {
                ConnState::S3
            }
        } else if os == SynSent && rs == Inactive {
            ConnState::S0
        } else if os == Established && rs == Established {
            ConnState::S1
        } else {
            ConnState::OTH
        }
    }

    /// `/^\^?S[^HAFGIQ]*R/`: an originator SYN, then an originator RST before anything else.
    fn looks_like_rstos0(&self) -> bool {
        let s = self.as_str();
        let s = s.strip_prefix('^').unwrap_or(s);
        let Some(rest) = s.strip_prefix('S') else {
            return false;
        };
        rest.chars()
            .find(|c| "HAFGIQR".contains(*c))
            .is_some_and(|c| c == 'R')
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::TcpFlags;
    use proptest::prelude::*;

    /// One segment of a made-up conversation (see `made_up::Parts`).
    type Step = crate::tracker::made_up::Parts;

    fn step() -> impl Strategy<Value = Step> {
        crate::tracker::made_up::parts()
    }

    proptest! {
        /// The steady path leaves the model exactly as the path for any segment does, over
        /// conversations that start with a handshake (so that most segments take it) and then
        /// go anywhere: retransmissions, holes, zero windows, cut payloads, FINs, RSTs, SYNs.
        #[test]
        fn the_steady_path_is_the_whole_path(
            isn in any::<[u32; 2]>(),
            steps in prop::collection::vec(step(), 0..80),
        ) {
            let src: std::net::SocketAddr = "10.0.0.1:40000".parse().unwrap();
            let dst: std::net::SocketAddr = "10.0.0.2:80".parse().unwrap();
            let (fast_budget, whole_budget) = (RangeBudget::new(64), RangeBudget::new(64));
            let mut fast = ZeekHistory::new(false, &fast_budget);
            let mut whole = ZeekHistory::new(false, &whole_budget);
            let mut next = [isn[0], isn[1]];
            let handshake: [Step; 3] = [
                (false, TcpFlags::SYN, 0, 0, 0, false, false),
                (true, TcpFlags::SYN | TcpFlags::ACK, 0, 0, 0, false, false),
                (false, TcpFlags::ACK, 0, 0, 0, false, false),
            ];
            for (from_server, flags, seq_off, ack_off, len, zero, cut) in
                handshake.into_iter().chain(steps)
            {
                let side = usize::from(from_server);
                let flags = TcpFlags(flags);
                let seq = next[side].wrapping_add(seq_off as u32);
                let ack = next[1 - side].wrapping_add(ack_off as u32);
                let (a, b) = if from_server { (dst, src) } else { (src, dst) };
                let seg = Segment {
                    window: if zero { 0 } else { 1000 },
                    payload_len: len,
                    payload_cut: cut,
                    ..Segment::header(a, b, flags, seq, ack)
                };
                next[side] = seq.wrapping_add(seg.seq_len());
                fast.on_segment(side, &seg);
                whole.any_segment(side, &seg);
                prop_assert_eq!(format!("{fast:?}"), format!("{whole:?}"));
            }
            prop_assert_eq!(fast.conn_state(), whole.conn_state());
            prop_assert_eq!(fast.endpoints(), whole.endpoints());
        }
    }

    /// The property above is not vacuous: after a handshake, data and its ACK take the steady
    /// path (and a FIN does not).
    #[test]
    fn data_after_the_handshake_is_steady() {
        let seg = crate::tracker::made_up::plain;
        let mut h = ZeekHistory::new(false, &RangeBudget::new(64));
        h.on_segment(0, &seg(true, TcpFlags::SYN, 100, 0, 0));
        h.on_segment(1, &seg(false, TcpFlags::SYN | TcpFlags::ACK, 500, 101, 0));
        h.on_segment(0, &seg(true, TcpFlags::ACK, 101, 501, 0));
        assert!(h.steady(0, &seg(true, TcpFlags::ACK | TcpFlags::PSH, 101, 501, 10)));
        assert!(h.steady(1, &seg(false, TcpFlags::ACK, 501, 111, 0)));
        assert!(!h.steady(0, &seg(true, TcpFlags::FIN | TcpFlags::ACK, 111, 501, 0)));
        h.on_segment(0, &seg(true, TcpFlags::FIN | TcpFlags::ACK, 111, 501, 0));
        // The FIN's ACK: the client is closed after being established, still clean.
        assert!(h.steady(1, &seg(false, TcpFlags::ACK, 501, 112, 0)));
        assert_eq!(h.as_str(), "ShADaF");
    }
}
