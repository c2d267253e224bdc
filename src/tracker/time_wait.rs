//! A SYN meets TIME-WAIT (tcp_timewait_state_process). A SYN with a new ISN reaching the
//! end in TIME-WAIT either ends it and is handed to the listener (TCP_TW_SYN: a SYN,ACK
//! answers it), or is rejected with the TIME-WAIT's own ACK (TCP_TW_ACK), which the SYN's
//! sender, in SYN-SENT, answers with an RST (RFC 9293 §3.10.7.3) that ends the TIME-WAIT
//! (RFC 1337's assassination, Linux's default); its next SYN then opens the connection.
//! Until the answer shows which, the TIME-WAIT stands.

use super::*;

/// A SYN sent to an end in TIME-WAIT, waiting for that end's answer.
#[derive(Debug, Clone, Copy)]
pub(super) struct TwProbe {
    syn_t: Timestamp,
    syn_frame: u64,
    /// The side in TIME-WAIT, in the ended connection's terms.
    tw_side: Side,
}

impl Tracker {
    /// A SYN reuses the 4-tuple of `old`: a TIME-WAIT of its sender ends now (its socket is
    /// reused); one of its receiver waits for that receiver's answer. True if `old` must
    /// stay (a TIME-WAIT is being probed).
    pub(super) fn syn_meets_time_wait(&mut self, key: u128, old: &Ended, seg: &Segment) -> bool {
        let mut probed = false;
        for s in Side::BOTH {
            if !old.time_wait[s.index()] {
                continue;
            }
            if old.addrs[s.index()] == seg.dst && seg.src != seg.dst {
                let probe = TwProbe {
                    syn_t: seg.ts,
                    syn_frame: seg.frame,
                    tw_side: s,
                };
                self.tw_probes.insert(key, probe);
                probed = true;
            } else {
                self.close_time_wait(old, s, Cause::Timer(seg.ts, Some(seg.frame)));
            }
        }
        probed
    }

    /// Route `seg` on a probed 4-tuple: true if it belongs to the ended connection (the
    /// TIME-WAIT's ACK, the RST that answers it) and is fully handled.
    pub(super) fn probe_segment(&mut self, key: u128, flow: &FlowKey, seg: &Segment) -> bool {
        let Some(p) = self.tw_probes.get(&key).copied() else {
            return false;
        };
        let Some(old) = self
            .ended
            .get(flow)
            .filter(|o| o.time_wait[p.tw_side.index()])
        else {
            self.tw_probes.remove(&key); // it ran out, or ended otherwise
            return false;
        };
        let f = seg.flags;
        let from_tw = seg.src == old.addrs[p.tw_side.index()];
        if from_tw && f.syn() && f.ack() {
            // TCP_TW_SYN: the SYN ended the TIME-WAIT when it arrived (told at the answer if
            // output after the SYN may have left: the SYN no longer holds it).
            let held = self.conns.get(&key).is_some_and(|c| c.syn_held());
            let cause = if held {
                Cause::Timer(p.syn_t, Some(p.syn_frame))
            } else {
                Cause::Timer(seg.ts, Some(seg.frame))
            };
            self.close_time_wait(&old, p.tw_side, cause);
            self.ended.remove(flow);
            self.tw_probes.remove(&key);
            return false;
        }
        if from_tw && f.ack() && !f.syn() && !f.rst() {
            // TCP_TW_ACK: the SYN was rejected; the ACK is the old connection's.
            if let Some(conn) = self.conns.get_mut(&key) {
                conn.syn_rejected(&mut self.queue);
            }
            self.stray_segment(&old, seg);
            return true;
        }
        if !from_tw && f.rst() && !f.syn() {
            // The SYN's sender answers that ACK: the TIME-WAIT ends (assassination).
            self.stray_segment(&old, seg);
            self.tw_probes.remove(&key);
            return true;
        }
        false
    }

    /// The connection that probed `key` ends with its probe unanswered: the TIME-WAIT it
    /// left standing runs its course. True if that TIME-WAIT's entry stays (the new
    /// connection then keeps none of its own: one entry per 4-tuple).
    pub(super) fn drop_probe(&mut self, key: u128, flow: &FlowKey) -> bool {
        if self.tw_probes.remove(&key).is_none() {
            return false;
        }
        self.ended
            .get(flow)
            .is_some_and(|old| old.time_wait.contains(&true))
    }
}
