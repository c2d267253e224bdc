//! Classification of a captured segment before it is applied: a capture duplicate, a
//! retransmission, a sequence gap, an RST outside the window, a frame cut by the snaplen.
//! Counts and history letters are taken here, once per segment that is not a duplicate.

use super::reset::{synchronized, RstCheck};
use super::tcb::Signature;
use super::*;
use crate::tracker::state_change::segment_event;

/// How close in capture time two identical segments of one side must be to be one frame
/// captured twice (a capture duplicate: a SPAN port or a bridge copying it, a frame seen on
/// two interfaces) rather than a retransmission. A sender resends after at least its RTO
/// (Linux: 200 ms, or a fast retransmit after three duplicate ACKs, rarely under a
/// millisecond) and, with timestamps on, with a new TSval; copies of one frame are
/// stamped within microseconds. So: identical header fields (seq, ack, flags, length,
/// window, TCP timestamps) and at most 10 µs apart, either way (the clock may step back).
/// Anything later, however identical, is a retransmission.
pub(super) const DUPLICATE_WINDOW_NS: i64 = 10_000;

/// The header fields two copies of one frame share (see `DUPLICATE_WINDOW_NS`).
#[inline]
pub(super) fn signature(seg: &Segment) -> Signature {
    (
        seg.seq,
        seg.ack,
        seg.flags.0,
        seg.payload_len,
        seg.window,
        seg.options.ts,
    )
}

/// What the rest of `handle` needs to know of a segment.
pub(super) struct Classified {
    /// It resends sequence space already sent.
    pub is_retrans: bool,
    /// It is an RST its receiver accepts.
    pub rst_ok: bool,
    /// Its receiver drops it without a change (a challenged SYN or RST, an RST outside the
    /// window).
    pub ignored: bool,
}

impl Conn {
    /// Classify `seg` (sent by `s` to `r`), emit its segment event and anomalies; `None` for
    /// a capture duplicate (already fully reported).
    pub(super) fn classify(
        &mut self,
        q: &mut EventQueue,
        seg: &Segment,
        s: Side,
        r: Side,
    ) -> Option<Classified> {
        let f = seg.flags;
        let t = seg.ts;
        let seq = SeqNum(seg.seq);
        let sig = signature(seg);
        let carries = seg.payload_len > 0 || f.syn() || f.fin() || f.rst();
        let copy = self.is_copy(s, &sig, t);
        self.sides[s].last_sig = Some((sig, t));
        // Every copy is a packet on the wire to Zeek (orig_pkts, and T/t for repeated
        // payload) and to tshark's conversations: counted, and fed to the history.
        self.record.packets[s] += 1;
        self.record.history.on_segment(s.index(), seg);
        if carries && copy {
            self.push_segment(q, seg, s, r, Note::Duplicate.into());
            self.anomaly(
                q,
                t,
                Some(seg.frame),
                AnomalyKind::Duplicate,
                format!("frame {} repeats the previous segment exactly", seg.frame),
            );
            return None;
        }
        self.record.bytes[s] += u64::from(seg.payload_len);
        if !f.rst() || self.sides[s].state != TcpState::Closed {
            self.sides[s].exists = true;
        }

        // Classify: retransmission or a gap.
        let mut notes = Notes::default();
        let mut retrans_detail = None;
        let side = &self.sides[s];
        if f.syn() && !f.ack() && side.isn == Some(seq) {
            let gap = side.last_syn_t.map(|p| t.since(p));
            retrans_detail = Some(format!(
                "SYN retransmitted (try {}){}: {}",
                side.syn_tries + 1,
                gap.map(|g| format!(" {:.3} s after the previous one", g as f64 / 1e9))
                    .unwrap_or_default(),
                if self.record.ending == Ending::Refused {
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
                    notes.insert(Note::OutOfOrder);
                }
            }
        }
        let is_retrans = retrans_detail.is_some();
        if is_retrans {
            notes.insert(Note::Retransmission);
            self.record.retransmissions += 1;
        }

        // Is an RST acceptable to its receiver (RFC 9293 §3.10.7.3/§3.10.7.4, RFC 5961)?
        let rst = f.rst().then(|| self.rst_check(seg, s, r));
        let rst_ok = rst == Some(RstCheck::Accept);
        if f.rst() && !rst_ok {
            notes.insert(Note::RstOutOfWindow);
        }
        // A SYN with a new ISN to a synchronized receiver: tcp_validate_incoming answers any
        // SYN there with a challenge ACK and drops it (RFC 5961 §4): no new connection, no
        // change (a peer that really lost its TCB answers that ACK with an RST).
        let syn_challenged = f.syn()
            && !f.ack()
            && self.sides[s].isn.is_some_and(|isn| isn != seq)
            && synchronized(self.sides[r].state);
        self.push_segment(q, seg, s, r, notes);
        if let Some(d) = retrans_detail {
            self.anomaly(q, t, Some(seg.frame), AnomalyKind::Retransmission, d);
        }
        if f.rst() && !rst_ok {
            let d = if rst == Some(RstCheck::Challenge) {
                format!(
                    "RST from {} is in {}'s window but not at RCV.NXT: answered by a challenge \
                     ACK, the connection goes on (RFC 5961 §3.2)",
                    self.ep(s),
                    self.ep(r)
                )
            } else {
                format!(
                    "RST from {} is outside {}'s window: ignored (RFC 5961)",
                    self.ep(s),
                    self.ep(r)
                )
            };
            self.anomaly(q, t, Some(seg.frame), AnomalyKind::RstOutOfWindow, d);
        }
        if syn_challenged {
            let d = format!(
                "SYN with a new ISN from {} while {} is {}: answered by a challenge ACK and \
                 dropped (RFC 5961 §4); not a new connection",
                self.ep(s),
                self.ep(r),
                self.sides[r].state
            );
            self.anomaly(q, t, Some(seg.frame), AnomalyKind::IllegalTransition, d);
        }
        // An RST carries no data: one beyond what was sent is a guess (or a forgery), not a
        // sign of bytes the capture missed.
        if seq > self.sides[s].next_seq.unwrap_or(seq) && !f.syn() && !f.rst() {
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
        Some(Classified {
            is_retrans,
            rst_ok,
            ignored: syn_challenged || (f.rst() && !rst_ok),
        })
    }

    /// `sig` sent by `s` at `t` is the frame `s` sent last, captured twice (see
    /// `DUPLICATE_WINDOW_NS`).
    #[inline]
    pub(super) fn is_copy(&self, s: Side, sig: &Signature, t: Timestamp) -> bool {
        self.sides[s]
            .last_sig
            .is_some_and(|(last, at)| last == *sig && (t.since(at)).abs() <= DUPLICATE_WINDOW_NS)
    }

    #[inline]
    pub(super) fn push_segment(
        &self,
        q: &mut EventQueue,
        seg: &Segment,
        s: Side,
        r: Side,
        notes: Notes,
    ) {
        if q.wants(Kind::Segment) {
            q.push(segment_event(
                self.id,
                seg,
                s,
                self.relative(seg, s, r),
                notes,
            ));
        }
    }

    /// `seg`'s sequence and acknowledgment numbers relative to their sides' ISNs.
    fn relative(&self, seg: &Segment, s: Side, r: Side) -> (u32, u32) {
        let seq = Self::rel(
            self.sides[s]
                .isn
                .or(seg.flags.syn().then_some(SeqNum(seg.seq))),
            seg.seq,
        );
        let ack = if seg.flags.ack() {
            Self::rel(self.sides[r].isn, seg.ack)
        } else {
            0
        };
        (seq, ack)
    }
}
