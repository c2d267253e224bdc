//! Connections set aside on one 4-tuple. A SYN with a new ISN while the client's SYN is
//! still unanswered is either a new connect() after a failed one or a spoofed SYN; which
//! one the server answers (its ACK acknowledges that ISN, as tcp_check_req answers only the
//! SYN its request sock holds) is the connection, and the others end unanswered.

use super::*;

/// At most this many connections set aside per 4-tuple (the oldest ends beyond it).
const MAX_ASIDE: usize = 4;

impl Tracker {
    /// Before `seg` is handled on `key`: a rival SYN sets the current connection aside (the
    /// caller then opens a new one); an answer to a connection set aside brings it back.
    pub(super) fn pick_among_rivals(&mut self, key: u128, seg: &Segment) {
        let Some(conn) = self.conns.get(&key) else {
            return;
        };
        if conn.rival_syn(seg) {
            let mut old = self.conns.remove(&key).expect("present");
            old.release_holds(&mut self.queue);
            let list = self.aside.entry(key).or_default();
            list.push(old);
            if list.len() > MAX_ASIDE {
                let oldest = list.remove(0);
                self.end_aside(oldest);
            }
            return;
        }
        if conn.answered_by(seg) || !seg.flags.ack() {
            return;
        }
        let Some(list) = self.aside.get_mut(&key) else {
            return;
        };
        let Some(i) = list.iter().position(|c| c.answered_by(seg)) else {
            return;
        };
        let back = list.remove(i);
        let mut cur = self.conns.remove(&key).expect("present");
        cur.release_holds(&mut self.queue);
        list.push(cur);
        self.order.push_back((key, back.id));
        self.conns.insert(key, back);
    }

    /// After a segment on `key`: once its connection is answered, those set aside were not.
    pub(super) fn settle_rivals(&mut self, key: u128) {
        if self.aside.is_empty() || !self.conns.get(&key).is_none_or(|c| c.answered()) {
            return;
        }
        if let Some(list) = self.aside.remove(&key) {
            for c in list {
                self.end_aside(c);
            }
        }
    }

    /// End a connection set aside: its verdict only (its 4-tuple belongs to another).
    pub(super) fn end_aside(&mut self, mut conn: Box<Conn>) {
        for kind in conn.open_holds() {
            conn.expire_hold(&mut self.queue, kind, true);
        }
        let verdict = conn.verdict(self.cfg.time_wait_ns);
        self.queue
            .push_at(verdict.end, Event::Connection(Box::new(verdict)));
        self.recycle(conn);
    }
}
