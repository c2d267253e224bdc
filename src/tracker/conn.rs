//! One connection: both endpoints' inferred states, the calls behind them, and the verdict.
//!
//! A segment is applied in RFC 9293 order: first what its sender must have done to send it
//! (a SYN means connect(), a FIN close() or shutdown()), then, for its receiver, the RST
//! check, the ACK field, and the SYN or FIN bit. A SYN or FIN is only *delivered* to its
//! receiver once the receiver's next segment shows whether it had seen it when it sent
//! (its ACK covers it) or had not (its own SYN or FIN crossed it): the ack numbers, not the
//! arrival order, decide. Meanwhile the queue holds later events back (see `queue`).

use super::queue::{EventQueue, HoldKind, Kind};
use super::seq::SeqNum;
use super::state::{next_state, Input, TcpState};
use super::zeek::history::ZeekHistory;
use crate::events::{
    AnomalyEvent, AnomalyKind, CallEvent, CallName, CallResult, CallSource, ConnId,
    ConnectionEvent, Dir, Endpoint, Errno, Event, FinalStates, Initiator, Note, Outcome, Phase,
    Role, SegmentEvent, StateEvent,
};
use crate::segment::Segment;
use crate::timestamp::Timestamp;
use std::net::SocketAddr;

/// A SYN or FIN on its way to the peer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pending {
    pub t: Timestamp,
    pub frame: u64,
    syn: bool,
    fin: bool,
    ack: Option<SeqNum>,
    /// What an ACK must reach to show the control segment was received.
    ctrl_end: SeqNum,
    /// A SYN,ACK with this SYN's sequence number, sent while the SYN was still in flight
    /// (a simultaneous open): (time, frame, its ACK), delivered right after the SYN.
    synack: Option<(Timestamp, u64, SeqNum)>,
}

/// A FIN whose call (close or shutdown) is not yet known.
#[derive(Debug, Clone, Copy)]
struct FinCall {
    t: Timestamp,
    /// The end of the peer's data when the FIN was sent; an ACK beyond it means the FIN
    /// sender kept receiving: shutdown(SHUT_WR).
    peer_data_end: Option<SeqNum>,
}

/// The fields that make two captures of one segment identical.
type Signature = (u32, u32, u8, u32, u16, Option<(u32, u32)>, Timestamp);

#[derive(Debug, Clone)]
struct Side {
    addr: SocketAddr,
    state: TcpState,
    /// Has this endpoint been seen to exist as a socket (sent anything but a bare RST)?
    exists: bool,
    /// Opened passively (was LISTEN).
    passive: bool,
    /// Sent a SYN without ACK: it called connect().
    active: bool,
    isn: Option<SeqNum>,
    synack_sent: bool,
    next_seq: Option<SeqNum>,
    /// End of the payload sent (FIN excluded).
    data_end: Option<SeqNum>,
    fin_seq: Option<SeqNum>,
    max_ack: Option<SeqNum>,
    window: u32,
    wscale: Option<u8>,
    syn_tries: u32,
    last_syn_t: Option<Timestamp>,
    pending: Option<Pending>,
    fin_call: Option<FinCall>,
    last_sig: Option<Signature>,
    /// A frame of this side cut by the snaplen was reported (once per side).
    cut_reported: bool,
}

impl Side {
    fn new(addr: SocketAddr, state: TcpState) -> Side {
        Side {
            addr,
            state,
            exists: false,
            passive: false,
            active: false,
            isn: None,
            synack_sent: false,
            next_seq: None,
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

/// One tracked connection.
#[derive(Debug, Clone)]
pub(super) struct Conn {
    pub id: ConnId,
    /// This connection's key in the tracker's table (`FlowKey::compact`).
    pub key: u128,
    sides: [Side; 2],
    self_connect: bool,
    roles_guessed: bool,
    /// A SYN reached a side in SYN_SENT: both sides are active (no listen()).
    simultaneous_open: bool,
    start: Timestamp,
    pub last: Timestamp,
    syn_t: Option<Timestamp>,
    rtt_ns: Option<i64>,
    packets: [u64; 2],
    bytes: [u64; 2],
    history: ZeekHistory,
    refused: bool,
    reset: bool,
    reset_in_handshake: bool,
    pub evicted: bool,
    first_closer: Option<usize>,
    crossed_fins: bool,
    anomalies: u32,
    retransmissions: u32,
    resets: u32,
    states_entered: u16,
    tw_since: Option<Timestamp>,
    /// Ended by an RST and kept a little longer for the segments still in flight (Zeek
    /// keeps such a connection too: a FIN after the RST still counts in its history).
    pub lingering: bool,
    /// The TIME-WAIT start the tracker has scheduled an end for.
    pub tw_scheduled: Option<Timestamp>,
    /// When each side last changed state (a late delivery is never dated before it).
    last_change: [Option<Timestamp>; 2],
}

/// What the tracker needs back after a segment.
pub(super) struct Effects {
    pub done: bool,
}

impl Conn {
    /// A connection whose first captured segment is `seg`.
    pub fn new(
        id: ConnId,
        seg: &Segment,
        now: Timestamp,
        q: &mut EventQueue,
        ranges: &super::zeek::reassembly::RangeBudget,
    ) -> Conn {
        let f = seg.flags;
        let self_connect = seg.src == seg.dst;
        // Roles: the sender of a SYN without ACK is the client; of a SYN,ACK the server;
        // otherwise guess as Zeek does: a well-known (<1024) or else the lower port serves.
        let (client, server, guessed, flipped) = if f.syn() && !f.ack() {
            (seg.src, seg.dst, false, false)
        } else if f.syn() && f.ack() {
            (seg.dst, seg.src, false, true)
        } else {
            let (sp, dp) = (seg.src.port(), seg.dst.port());
            let src_serves = match (sp < 1024, dp < 1024) {
                (true, false) => true,
                (false, true) => false,
                _ => sp < dp,
            };
            if src_serves {
                (seg.dst, seg.src, true, true)
            } else {
                (seg.src, seg.dst, true, false)
            }
        };
        let init = if f.syn() {
            TcpState::Closed
        } else {
            TcpState::Unknown
        };
        let init_server = if f.syn() && f.ack() {
            TcpState::Unknown
        } else {
            init
        };
        let init_client = if f.syn() && f.ack() {
            TcpState::Unknown
        } else {
            init
        };
        let mut c = Conn {
            id,
            key: super::flow::FlowKey::new(seg.src, seg.dst).compact(),
            sides: [
                Side::new(client, init_client),
                Side::new(server, init_server),
            ],
            self_connect,
            roles_guessed: guessed,
            simultaneous_open: false,
            start: now,
            last: now,
            syn_t: None,
            rtt_ns: None,
            packets: [0; 2],
            bytes: [0; 2],
            history: ZeekHistory::new(flipped, ranges),
            refused: false,
            reset: false,
            reset_in_handshake: false,
            evicted: false,
            first_closer: None,
            crossed_fins: false,
            anomalies: 0,
            retransmissions: 0,
            resets: 0,
            states_entered: 0,
            tw_since: None,
            lingering: false,
            tw_scheduled: None,
            last_change: [None; 2],
        };
        if !f.syn() || f.ack() {
            let detail = if guessed {
                format!(
                    "picked up mid-stream: no handshake captured; roles guessed ({} serves: {})",
                    server,
                    if server.port() < 1024 && client.port() >= 1024 {
                        "well-known port"
                    } else {
                        "lower port"
                    }
                )
            } else {
                "picked up mid-handshake: the SYN was not captured".to_string()
            };
            c.anomaly(q, now, Some(seg.frame), AnomalyKind::Midstream, detail);
        }
        c
    }

    fn side_of(&self, src: SocketAddr) -> usize {
        usize::from(!self.self_connect && src != self.sides[0].addr)
    }

    fn peer(&self, s: usize) -> usize {
        if self.self_connect {
            s
        } else {
            1 - s
        }
    }

    fn ep(&self, s: usize) -> Endpoint {
        Endpoint(self.sides[s].addr)
    }

    fn rel(isn: Option<SeqNum>, raw: u32) -> u32 {
        isn.map_or(raw, |i| raw.wrapping_sub(i.0))
    }

    fn anomaly(
        &mut self,
        q: &mut EventQueue,
        t: Timestamp,
        frame: Option<u64>,
        kind: AnomalyKind,
        detail: String,
    ) {
        self.anomalies += 1;
        q.push(Event::Anomaly(AnomalyEvent {
            t,
            conn: self.id,
            frame,
            kind,
            detail,
        }));
    }

    fn call(
        &self,
        q: &mut EventQueue,
        t: Timestamp,
        s: usize,
        call: CallName,
        phase: Phase,
        result: Option<CallResult>,
    ) {
        if !q.wants(Kind::Call) {
            return;
        }
        q.push(Event::Call(CallEvent {
            t,
            conn: self.id,
            endpoint: self.ep(s),
            call,
            phase,
            result,
            source: CallSource::Inferred,
        }));
    }

    /// The one place an endpoint's state changes.
    fn set_state(
        &mut self,
        q: &mut EventQueue,
        s: usize,
        to: TcpState,
        t: Timestamp,
        frame: Option<u64>,
        projected: bool,
    ) {
        let from = self.sides[s].state;
        if from == to {
            return;
        }
        self.sides[s].state = to;
        self.last_change[s] = Some(t);
        self.states_entered |= to.bit() | from.bit();
        if to == TcpState::TimeWait {
            self.tw_since = Some(t);
        }
        q.push(Event::State(StateEvent {
            t,
            conn: self.id,
            endpoint: self.ep(s),
            role: Role::of_side(s),
            from,
            to,
            frame,
            projected,
        }));
        // Once it is closed or in TIME-WAIT, a FIN sender can no longer show a half-close.
        if matches!(to, TcpState::TimeWait | TcpState::Closed) {
            self.decide_fin_call(q, s, false);
        }
    }

    /// Apply `input` to side `s` through the transition table.
    fn transition(
        &mut self,
        q: &mut EventQueue,
        s: usize,
        input: Input,
        t: Timestamp,
        frame: u64,
    ) -> bool {
        let from = self.sides[s].state;
        match next_state(from, input) {
            Some(to) => {
                self.set_state(q, s, to, t, Some(frame), false);
                to != from
            }
            None => {
                let detail = format!(
                    "{} ({}) in {}: no RFC 9293 rule for {:?}; state kept",
                    self.ep(s),
                    Role::of_side(s).as_str(),
                    from,
                    input
                );
                self.anomaly(q, t, Some(frame), AnomalyKind::IllegalTransition, detail);
                false
            }
        }
    }

    /// Feed one segment. `q` receives the events.
    pub fn handle(&mut self, seg: &Segment, q: &mut EventQueue) -> Effects {
        let f = seg.flags;
        let s = self.side_of(seg.src);
        let r = self.peer(s);
        let t = seg.ts;
        self.last = t;
        let seq = SeqNum(seg.seq);
        let seg_end = seq + seg.seq_len();

        // A frame captured twice: same header fields, same TCP timestamp (or same time).
        let sig = (
            seg.seq,
            seg.ack,
            f.0,
            seg.payload_len,
            seg.window,
            seg.options.ts,
            if seg.options.ts.is_some() {
                Timestamp(0)
            } else {
                t
            },
        );
        let carries = seg.payload_len > 0 || f.syn() || f.fin() || f.rst();
        if carries && self.sides[s].last_sig == Some(sig) {
            self.push_segment(q, seg, s, r, vec![Note::Duplicate]);
            self.anomaly(
                q,
                t,
                Some(seg.frame),
                AnomalyKind::Duplicate,
                format!("frame {} repeats the previous segment exactly", seg.frame),
            );
            return self.effects();
        }
        self.sides[s].last_sig = Some(sig);
        self.packets[s] += 1;
        self.bytes[s] += u64::from(seg.payload_len);
        self.history.on_segment(s, seg);
        if !f.rst() || self.sides[s].state != TcpState::Closed {
            self.sides[s].exists = true;
        }

        // Classify: retransmission or a gap.
        let mut notes = Vec::new();
        let mut retrans_detail = None;
        let side = &self.sides[s];
        if f.syn() && !f.ack() && side.isn == Some(seq) {
            let gap = side.last_syn_t.map(|p| t.since(p));
            retrans_detail = Some(format!(
                "SYN retransmitted (try {}){}: {}",
                side.syn_tries + 1,
                gap.map(|g| format!(" {:.3} s after the previous one", g as f64 / 1e9))
                    .unwrap_or_default(),
                if self.refused {
                    "an RST refused the previous one and the same SYN (same ISN) comes again, as \
                     Windows retries a refused connect(); Linux fails it at once"
                } else {
                    "the SYN was not answered"
                }
            ));
        } else if f.syn() && f.ack() && side.synack_sent && side.isn == Some(seq) {
            retrans_detail = Some("SYN,ACK retransmitted: its ACK was not seen".to_string());
        } else if !f.syn() && seg.seq_len() > 0 {
            if let Some(nxt) = side.next_seq {
                if seq < nxt {
                    retrans_detail = Some(format!(
                        "{} retransmitted (relative seq {}, {} bytes)",
                        if f.fin() && seg.payload_len == 0 {
                            "FIN"
                        } else {
                            "data"
                        },
                        Self::rel(side.isn, seg.seq),
                        seg.payload_len
                    ));
                } else if seq > nxt {
                    notes.push(Note::OutOfOrder);
                }
            }
        }
        let is_retrans = retrans_detail.is_some();
        if is_retrans {
            notes.push(Note::Retransmission);
            self.retransmissions += 1;
        }

        // Is an RST acceptable to its receiver (RFC 9293 §3.10.7.3/§3.10.7.4, RFC 5961)?
        let rst_ok = f.rst() && self.rst_acceptable(seg, s, r);
        if f.rst() && !rst_ok {
            notes.push(Note::RstOutOfWindow);
        }
        self.push_segment(q, seg, s, r, notes);
        if let Some(d) = retrans_detail {
            self.anomaly(q, t, Some(seg.frame), AnomalyKind::Retransmission, d);
        }
        if f.rst() && !rst_ok {
            let d = format!(
                "RST from {} is outside {}'s window: ignored (RFC 5961)",
                self.ep(s),
                self.ep(r)
            );
            self.anomaly(q, t, Some(seg.frame), AnomalyKind::RstOutOfWindow, d);
        }
        if seq > self.sides[s].next_seq.unwrap_or(seq) && !f.syn() {
            let gap = seq - self.sides[s].next_seq.unwrap_or(seq);
            let d = format!(
                "{gap} bytes from {} were not captured (sequence gap)",
                self.ep(s)
            );
            self.anomaly(q, t, Some(seg.frame), AnomalyKind::OutOfOrder, d);
        }
        if seg.cap_len < seg.orig_len && !self.sides[s].cut_reported {
            self.sides[s].cut_reported = true;
            let d = format!(
                "frame {} was captured with {} of its {} bytes (snaplen){}; later cut frames from {} are not reported again",
                seg.frame,
                seg.cap_len,
                seg.orig_len,
                if seg.payload_cut {
                    format!(": its {} payload bytes are not all in the file", seg.payload_len)
                } else {
                    String::new()
                },
                self.ep(s)
            );
            self.anomaly(q, t, Some(seg.frame), AnomalyKind::TruncatedFrame, d);
        }

        // Sender bookkeeping.
        {
            let side = &mut self.sides[s];
            if f.syn() && side.isn.is_none() {
                side.isn = Some(seq);
            }
            if !f.rst() && side.next_seq.is_none_or(|n| seg_end > n) {
                side.next_seq = Some(seg_end);
            }
            let data_end = seq + seg.payload_len + u32::from(f.syn());
            if !f.rst() && side.data_end.is_none_or(|n| data_end > n) {
                side.data_end = Some(data_end);
            }
            if f.ack() && !f.rst() && side.max_ack.is_none_or(|a| SeqNum(seg.ack) > a) {
                side.max_ack = Some(SeqNum(seg.ack));
            }
            if f.syn() {
                side.wscale = seg.options.wscale;
            }
            side.window = u32::from(seg.window) << u32::from(side.wscale.unwrap_or(0).min(14));
        }

        // In-order delivery: a later segment from the sender reaches the receiver after the
        // sender's own SYN or FIN still in flight, so that one is delivered first.
        if !self.self_connect {
            if let Some(p) = self.sides[s].pending {
                if seq >= p.ctrl_end && !is_retrans {
                    self.deliver(q, s, p.t, p.frame);
                }
            }
        }

        // 1. What the sender had received: resolve the peer's control segment in flight.
        let mut deliver_after = None;
        if let Some(p) = self.sides[r].pending {
            let covered = f.ack() && SeqNum(seg.ack) >= p.ctrl_end;
            if f.rst() && p.syn && p.ack.is_none() {
                self.drop_pending(q, r);
            } else if covered {
                self.deliver(q, r, p.t, p.frame);
            } else if f.rst() {
                self.drop_pending(q, r);
            } else if f.syn() || f.fin() {
                if p.fin && f.fin() {
                    self.crossed_fins = true;
                }
                deliver_after = Some(p.frame);
            }
        }

        // 2. What the sender did.
        if f.rst() {
            if rst_ok {
                self.resets += 1;
                self.apply_rst(q, seg, s, r);
            }
            return self.finish_segment(q, seg, s, r, deliver_after);
        }
        if f.syn() && !f.ack() {
            if self.sides[s].state == TcpState::Closed || self.sides[s].state == TcpState::Unknown {
                self.syn_t.get_or_insert(t);
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
                self.first_closer.get_or_insert(s);
                if self.transition(q, s, Input::SendFin, t, seg.frame) {
                    let peer_end = self.sides[r].data_end;
                    self.sides[s].fin_call = Some(FinCall {
                        t,
                        peer_data_end: peer_end,
                    });
                    q.hold((t, self.id, HoldKind::FinCall(s as u8)), self.key);
                }
            } else {
                self.transition(q, s, Input::SendFin, t, seg.frame);
            }
            self.set_pending(q, s, seg);
        }
        self.finish_segment(q, seg, s, r, deliver_after)
    }

    fn finish_segment(
        &mut self,
        q: &mut EventQueue,
        seg: &Segment,
        s: usize,
        r: usize,
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
        if f.ack() && !f.syn() && !f.fin() && !f.rst() {
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

    fn effects(&mut self) -> Effects {
        Effects {
            done: self.is_done(),
        }
    }

    fn push_segment(
        &self,
        q: &mut EventQueue,
        seg: &Segment,
        s: usize,
        r: usize,
        notes: Vec<Note>,
    ) {
        if !q.wants(Kind::Segment) {
            return;
        }
        q.push(Event::Segment(SegmentEvent {
            frame: seg.frame,
            t: seg.ts,
            conn: self.id,
            src: Endpoint(seg.src),
            dst: Endpoint(seg.dst),
            dir: if s == 0 { Dir::C2s } else { Dir::S2c },
            flags: seg.flags,
            seq: Self::rel(
                self.sides[s]
                    .isn
                    .or(seg.flags.syn().then_some(SeqNum(seg.seq))),
                seg.seq,
            ),
            ack: if seg.flags.ack() {
                Self::rel(self.sides[r].isn, seg.ack)
            } else {
                0
            },
            seq_raw: seg.seq,
            ack_raw: seg.ack,
            len: seg.payload_len,
            win: seg.window,
            options: seg.options,
            notes,
            payload: seg.payload,
        }));
    }

    fn set_pending(&mut self, q: &mut EventQueue, s: usize, seg: &Segment) {
        if let Some(p) = &mut self.sides[s].pending {
            // A SYN,ACK answering a crossed SYN while our own SYN is still in flight: its ACK
            // field reaches the peer after that SYN.
            let f = seg.flags;
            let peer_isn = self.sides[1 - s].isn;
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
            return; // otherwise a retransmission of what is already in flight
        }
        let p = Pending {
            t: seg.ts,
            frame: seg.frame,
            syn: seg.flags.syn(),
            fin: seg.flags.fin(),
            ack: seg.flags.ack().then_some(SeqNum(seg.ack)),
            ctrl_end: SeqNum(seg.seq) + seg.seq_len(),
            synack: None,
        };
        self.sides[s].pending = Some(p);
        q.hold((p.t, self.id, HoldKind::Delivery(s as u8)), self.key);
    }

    fn drop_pending(&mut self, q: &mut EventQueue, s: usize) {
        if let Some(p) = self.sides[s].pending.take() {
            q.release((p.t, self.id, HoldKind::Delivery(s as u8)));
        }
    }

    /// Side `x`'s control segment reaches its peer at `t`: ACK field first, then SYN or FIN.
    pub fn deliver(&mut self, q: &mut EventQueue, x: usize, t: Timestamp, frame: u64) {
        let Some(p) = self.sides[x].pending.take() else {
            return;
        };
        q.release((p.t, self.id, HoldKind::Delivery(x as u8)));
        let y = self.peer(x);
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
                self.sides[y].state = TcpState::Listen;
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
    fn recv_syn_ack(
        &mut self,
        q: &mut EventQueue,
        y: usize,
        ack: Option<SeqNum>,
        t: Timestamp,
        frame: u64,
    ) {
        let acks_our_syn = match (ack, self.sides[y].isn) {
            (Some(a), Some(isn)) => a > isn,
            (Some(_), None) => true,
            _ => false,
        };
        if !acks_our_syn {
            return;
        }
        let was = self.sides[y].state;
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
    fn apply_ack(&mut self, q: &mut EventQueue, y: usize, ack: SeqNum, t: Timestamp, frame: u64) {
        let side = &self.sides[y];
        match side.state {
            TcpState::SynReceived if side.isn.is_some_and(|isn| ack > isn) => {
                let passive = side.passive;
                self.transition(q, y, Input::RecvAckOfSyn, t, frame);
                if self.rtt_ns.is_none() {
                    if let Some(s0) = self.syn_t {
                        self.rtt_ns = Some(t.since(s0));
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

    fn rst_acceptable(&self, seg: &Segment, s: usize, r: usize) -> bool {
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

    fn apply_rst(&mut self, q: &mut EventQueue, seg: &Segment, s: usize, r: usize) {
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
                self.reset_in_handshake = true;
            }
            self.first_closer.get_or_insert(s);
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
                self.refused = true;
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
                    self.reset_in_handshake = true;
                } else {
                    self.reset = true;
                }
                self.first_closer.get_or_insert(s);
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
        if synchronized && s != r && !self.refused && !self.reset_in_handshake {
            self.reset = true;
        }
        self.drop_pending(q, r);
        self.drop_pending(q, s);
    }

    /// Emit the call behind side `s`'s FIN once known.
    fn decide_fin_call(&mut self, q: &mut EventQueue, s: usize, shutdown: bool) {
        let Some(fc) = self.sides[s].fin_call.take() else {
            return;
        };
        q.release((fc.t, self.id, HoldKind::FinCall(s as u8)));
        let (call, result) = if shutdown {
            (CallName::Shutdown, CallResult::ShutWrSent)
        } else {
            (CallName::Close, CallResult::FinSent)
        };
        q.push_at(
            fc.t,
            Event::Call(CallEvent {
                t: fc.t,
                conn: self.id,
                endpoint: self.ep(s),
                call,
                phase: Phase::Enter,
                result: Some(result),
                source: CallSource::Inferred,
            }),
        );
    }

    /// Resolve what waits on side `s` because time ran out (or the input ended).
    pub fn expire_hold(&mut self, q: &mut EventQueue, kind: HoldKind) {
        match kind {
            HoldKind::Delivery(x) => {
                let x = usize::from(x);
                match self.sides[x].pending {
                    // An unanswered SYN reached nobody we can see; but one its sender
                    // already answered with a SYN,ACK (crossed SYNs) did arrive.
                    Some(p) if p.syn && p.ack.is_none() && p.synack.is_none() => {
                        self.drop_pending(q, x)
                    }
                    Some(p) => self.deliver(q, x, p.t, p.frame),
                    None => {}
                }
            }
            HoldKind::FinCall(x) => self.decide_fin_call(q, usize::from(x), false),
        }
    }

    /// Nothing more is expected: both ends closed or in TIME-WAIT, nothing in flight.
    pub fn is_done(&self) -> bool {
        let ended = |st: TcpState| matches!(st, TcpState::Closed | TcpState::TimeWait);
        let both = if self.self_connect {
            ended(self.sides[0].state)
        } else {
            ended(self.sides[0].state) && ended(self.sides[1].state)
        };
        let started = self.sides.iter().any(|s| s.exists);
        both && started
            && self
                .sides
                .iter()
                .all(|s| s.pending.is_none() && s.fin_call.is_none())
    }

    /// The side at `addr` has closed or is in TIME-WAIT (a new SYN from it opens a new
    /// connection, whatever its peer still waits for).
    pub fn side_ended(&self, addr: SocketAddr) -> bool {
        let s = self.side_of(addr);
        matches!(self.sides[s].state, TcpState::Closed | TcpState::TimeWait)
            && self.sides[s].isn.is_some()
    }

    /// When a side entered TIME-WAIT, if one is in it.
    pub fn time_wait_since(&self) -> Option<Timestamp> {
        self.sides
            .iter()
            .any(|s| s.state == TcpState::TimeWait)
            .then_some(self.tw_since)
            .flatten()
    }

    /// Did an RST end it?
    pub fn ended_by_rst(&self) -> bool {
        self.resets > 0
    }

    /// Both ends closed or in TIME-WAIT (something may still be in flight).
    pub fn both_ended(&self) -> bool {
        let n = if self.self_connect { 1 } else { 2 };
        self.sides[..n]
            .iter()
            .all(|s| matches!(s.state, TcpState::Closed | TcpState::TimeWait))
    }

    /// Which sides are in TIME-WAIT, and since when.
    pub fn time_wait(&self) -> (Vec<usize>, Option<Timestamp>) {
        let n = if self.self_connect { 1 } else { 2 };
        let sides = (0..n)
            .filter(|&s| self.sides[s].state == TcpState::TimeWait)
            .collect();
        (sides, self.tw_since)
    }

    /// The endpoints, client first.
    pub fn addrs(&self) -> [SocketAddr; 2] {
        [self.sides[0].addr, self.sides[1].addr]
    }

    /// The client's ISN, to tell a reusing SYN from a retransmission.
    pub fn client_isn(&self) -> Option<SeqNum> {
        self.sides[0].isn
    }

    /// Any hold still open on this connection.
    pub fn open_holds(&self) -> Vec<HoldKind> {
        let mut v = Vec::new();
        for (i, s) in self.sides.iter().enumerate() {
            if s.pending.is_some() {
                v.push(HoldKind::Delivery(i as u8));
            }
            if s.fin_call.is_some() {
                v.push(HoldKind::FinCall(i as u8));
            }
        }
        v
    }

    /// The verdict line.
    pub fn verdict(&self, time_wait_ns: i64) -> ConnectionEvent {
        let n = if self.self_connect { 1 } else { 2 };
        let final_states = FinalStates(
            (0..n)
                .map(|s| {
                    let st = self.sides[s].state;
                    (self.ep(s), st)
                })
                .collect(),
        );
        let states: Vec<TcpState> = self.sides.iter().map(|s| s.state).collect();
        let live =
            |st: &TcpState| !matches!(st, TcpState::Closed | TcpState::TimeWait | TcpState::Listen);
        let established = self.states_entered & TcpState::Established.bit() != 0;
        let outcome = if self.evicted {
            Outcome::Aborted
        } else if self.refused && !established {
            Outcome::Refused
        } else if self.reset_in_handshake {
            Outcome::Aborted
        } else if self.reset {
            Outcome::Reset
        } else if states[..n].iter().any(live) {
            if established || states[..n].contains(&TcpState::Unknown) {
                Outcome::Open
            } else {
                Outcome::Incomplete
            }
        } else if self.sides[..n].iter().all(|s| s.fin_seq.is_some()) {
            Outcome::Closed
        } else {
            Outcome::Incomplete
        };
        let close_initiator = if self.crossed_fins {
            Some(Initiator::Both)
        } else {
            self.first_closer.map(|s| {
                if s == 0 {
                    Initiator::Client
                } else {
                    Initiator::Server
                }
            })
        };
        let time_wait_until = self
            .sides
            .iter()
            .any(|s| s.state == TcpState::TimeWait)
            .then(|| self.tw_since.map(|t| t.plus_nanos(time_wait_ns)))
            .flatten();
        ConnectionEvent {
            conn: self.id,
            client: self.ep(0),
            server: self.ep(1),
            start: self.start,
            end: self.last,
            handshake_rtt_ms: self
                .rtt_ns
                .map(|ns| (ns as f64 / 1_000.0).round() / 1_000.0),
            packets: self.packets,
            bytes: self.bytes,
            history: self.history.as_str().to_string(),
            conn_state: self.history.conn_state(),
            outcome,
            close_initiator,
            final_states,
            time_wait_until,
            anomalies: self.anomalies,
            retransmissions: self.retransmissions,
            resets: self.resets,
            states_entered: self.states_entered,
            roles_guessed: self.roles_guessed,
            simultaneous_open: self.simultaneous_open && !self.self_connect,
            zeek_endpoints: self.history.endpoints(),
        }
    }
}
