//! Most segments of a connection: an ACK, with or without data, sent in order between two
//! established ends with nothing in flight. `Conn::steady` does for it what `handle_any` does,
//! without the branches that cannot be taken; a property test holds the two ways equal.

use super::classify::signature;
use super::*;

impl Conn {
    /// `seg` if it is steady: an ACK without SYN, FIN or RST, both ends ESTABLISHED, no SYN,
    /// FIN or RST of either in flight, no FIN sent by the sender, its sequence number the
    /// next the sender had (no gap, no retransmission), the peer heard from, no SYN,ACK of
    /// the peer's with another ISN to choose between, no first cut frame to report, and with
    /// data not a copy of the sender's last frame. False (nothing done) for any other segment.
    /// (A hole further back is left as it is by a segment at the sender's next number, and
    /// a FIN's close-or-shutdown question is asked only by a sender that left ESTABLISHED.)
    ///
    /// For such a segment no state changes, nothing is delivered or inferred, no hold begins
    /// or ends, and no anomaly is found: it is counted, fed to Zeek's model, told as a segment
    /// (and its data as a send()) to those who want them, and the sender's numbers move on.
    #[inline(always)]
    pub(super) fn steady(&mut self, seg: &Segment, q: &mut EventQueue) -> bool {
        let f = seg.flags;
        if self.self_connect || !f.ack() || f.syn() || f.fin() || f.rst() {
            return false;
        }
        let s = self.side_of(seg.src);
        let r = s.peer();
        let seq = SeqNum(seg.seq);
        let (side, peer) = (&self.sides[s], &self.sides[r]);
        let steady = side.state == TcpState::Established
            && peer.state == TcpState::Established
            && side.pending.is_none()
            && peer.pending.is_none()
            && side.next_seq == Some(seq)
            && side.fin_seq.is_none()
            && peer.alt_isn.is_none()
            && self.record.packets[r] > 0
            && (seg.cap_len >= seg.orig_len || side.cut_reported);
        if !steady {
            return false;
        }
        let t = seg.ts;
        let sig = signature(seg);
        if seg.payload_len > 0 && self.is_copy(s, &sig, t) {
            return false;
        }
        // What `classify` does for it.
        self.last = t;
        self.sides[s].last_sig = Some((sig, t));
        self.record.packets[s] += 1;
        self.record.history.on_segment(s.index(), seg);
        self.record.bytes[s] += u64::from(seg.payload_len);
        self.sides[s].exists = true;
        self.push_segment(q, seg, s, r, Notes::default());
        // The sender's bookkeeping (its next sequence number was `seq`).
        let side = &mut self.sides[s];
        let end = seq + seg.payload_len;
        side.sent_to(end);
        side.data_to(end);
        side.acked(SeqNum(seg.ack));
        side.advertised(seg.window);
        if seg.payload_len > 0 {
            let n = CallResult::Bytes(u64::from(seg.payload_len));
            self.call(q, t, s, CallName::Send, Phase::Return, Some(n));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::TcpFlags;
    use crate::tracker::queue::Wanted;
    use crate::tracker::zeek::reassembly::RangeBudget;
    use proptest::prelude::*;

    /// One segment of a made-up conversation (see `made_up::Parts`), a copy of the segment
    /// before (same header, 1 µs later), milliseconds since the segment before.
    type Step = (crate::tracker::made_up::Parts, bool, i64);

    fn step() -> impl Strategy<Value = Step> {
        (
            crate::tracker::made_up::parts(),
            crate::tracker::made_up::rarely(),
            prop_oneof![Just(0i64), 0i64..5, Just(400), Just(2_000)],
        )
    }

    /// A tracker's one connection and its queue, fed segments one way or the other.
    struct World {
        conn: Conn,
        q: EventQueue,
        out: Vec<Event>,
    }

    impl World {
        fn new(first: &Segment, wanted: Wanted) -> World {
            let mut q = EventQueue::default();
            q.set_wanted(wanted);
            World {
                conn: Conn::new(1, first, first.ts, &RangeBudget::new(64), None),
                q,
                out: Vec::new(),
            }
        }

        /// What the world looks like: the connection, the events that left, the done flag.
        fn seen(&mut self, done: bool) -> String {
            self.q.pop_ready(&mut self.out, usize::MAX);
            format!("{:?} {:?} {done}", self.conn, self.out)
        }
    }

    proptest! {
        /// `handle` (the steady way where it applies) leaves the connection and its events
        /// exactly as `handle_any` does, over conversations that start with a handshake and
        /// data (so that many segments take the steady way) and then go anywhere:
        /// retransmissions, holes, copies, cut frames, FINs, RSTs, SYNs, whatever is wanted.
        #[test]
        fn the_steady_way_is_the_whole_way(
            isn in any::<[u32; 2]>(),
            everything in any::<bool>(),
            steps in prop::collection::vec(step(), 0..60),
        ) {
            let client: std::net::SocketAddr = "10.0.0.1:40000".parse().unwrap();
            let server: std::net::SocketAddr = "10.0.0.2:80".parse().unwrap();
            let wanted = if everything { Wanted::ALL } else { Wanted::VERDICTS };
            let data = TcpFlags::ACK | TcpFlags::PSH;
            let opening: [Step; 9] = [
                ((false, TcpFlags::SYN, 0, 0, 0, false, false), false, 1),
                ((true, TcpFlags::SYN | TcpFlags::ACK, 0, 0, 0, false, false), false, 1),
                ((false, TcpFlags::ACK, 0, 0, 0, false, false), false, 1),
                ((false, data, 0, 0, 10, false, false), false, 1),
                ((true, TcpFlags::ACK, 0, 0, 0, false, false), false, 1),
                ((true, data, 0, 0, 10, false, false), false, 1),
                ((false, TcpFlags::ACK, 0, 0, 0, false, false), false, 1),
                ((false, data, 0, 0, 10, false, false), false, 1),
                ((true, TcpFlags::ACK, 0, 0, 0, false, false), false, 1),
            ];
            let mut next = [isn[0], isn[1]];
            let mut t = 1_000_000_000i64;
            let mut last: Option<Segment> = None;
            let mut worlds: Option<(World, World)> = None;
            let mut steady_taken = 0;
            for (frame, ((from_server, flags, seq_off, ack_off, len, zero, cut), copy, gap)) in
                opening.into_iter().chain(steps).enumerate()
            {
                let seg = match last.filter(|_| copy) {
                    Some(prev) => Segment {
                        ts: Timestamp(prev.ts.0 + 1_000),
                        frame: frame as u64 + 1,
                        ..prev
                    },
                    None => {
                        let side = usize::from(from_server);
                        let seq = next[side].wrapping_add(seq_off as u32);
                        let ack = next[1 - side].wrapping_add(ack_off as u32);
                        let (a, b) = if from_server { (server, client) } else { (client, server) };
                        t += gap * 1_000_000;
                        Segment {
                            ts: Timestamp(t),
                            frame: frame as u64 + 1,
                            window: if zero { 0 } else { 1000 },
                            payload_len: len,
                            orig_len: 100,
                            cap_len: if cut { 60 } else { 100 },
                            ..Segment::header(a, b, TcpFlags(flags), seq, ack)
                        }
                    }
                };
                let side = usize::from(seg.src == server);
                next[side] = seg.seq.wrapping_add(seg.seq_len());
                last = Some(seg);
                let (fast, whole) = worlds.get_or_insert_with(|| {
                    (World::new(&seg, wanted), World::new(&seg, wanted))
                });
                let mut probe = fast.conn.clone();
                let mut probe_q = EventQueue::default();
                probe_q.set_wanted(wanted);
                steady_taken += usize::from(probe.steady(&seg, &mut probe_q));
                let fast_done = fast.conn.handle(&seg, &mut fast.q).done;
                let whole_done = whole.conn.handle_any(&seg, &mut whole.q).done;
                prop_assert_eq!(fast.seen(fast_done), whole.seen(whole_done), "frame {}", seg.frame);
            }
            // Not vacuous: after the request sock's first segment, the opening's data and ACKs are
            // steady.
            prop_assert!(steady_taken >= 3, "{steady_taken} steady");
        }
    }

    /// The steady way is not taken where something else happens: a FIN, data after a hole,
    /// data sent again, the first frame cut by the snaplen.
    #[test]
    fn only_plain_segments_are_steady() {
        let seg = crate::tracker::made_up::plain;
        let budget = RangeBudget::new(64);
        let syn = seg(true, TcpFlags::SYN, 100, 0, 0);
        let mut conn = Conn::new(1, &syn, syn.ts, &budget, None);
        let mut q = EventQueue::default();
        for x in [
            syn,
            seg(false, TcpFlags::SYN | TcpFlags::ACK, 500, 101, 0),
            seg(true, TcpFlags::ACK, 101, 501, 0),
            seg(false, TcpFlags::ACK, 501, 101, 0),
        ] {
            conn.handle(&x, &mut q);
        }
        let probe = |x: Segment| conn.clone().steady(&x, &mut EventQueue::default());
        assert!(probe(seg(
            true,
            TcpFlags::ACK | TcpFlags::PSH,
            101,
            501,
            10
        )));
        assert!(probe(seg(false, TcpFlags::ACK, 501, 101, 0)));
        assert!(!probe(seg(
            true,
            TcpFlags::FIN | TcpFlags::ACK,
            101,
            501,
            0
        )));
        assert!(
            !probe(seg(true, TcpFlags::ACK, 111, 501, 10)),
            "after a hole"
        );
        assert!(!probe(seg(true, TcpFlags::ACK, 91, 501, 10)), "sent again");
        let cut = Segment {
            cap_len: 60,
            ..seg(true, TcpFlags::ACK, 101, 501, 10)
        };
        assert!(!probe(cut), "the first cut frame");
    }
}
