//! One connection's line in the report's data: what the table, the state chart and the
//! distributions need, in about 150 bytes (tab-separated, no names repeated per field).
//!
//! ```text
//! id  client  server  start  dur  rtt  history  conn_state  outcome  closer  final_c  final_s
//!     anomalies  kinds  client_changes  server_changes  ladder
//! ```
//!
//! * `start`: µs since the first connection's start (may be negative for a connection drawn
//!   out of order); `dur`: µs; `rtt`: µs, empty without a whole handshake.
//! * `outcome` is [`Outcome::as_str`]; `closer` one letter (`c`, `s`, `b`, `-`).
//! * `final_c`, `final_s`: a state as its index in [`TcpState::ALL`] (`final_s` empty for a
//!   socket connected to itself: one socket).
//! * `kinds`: the anomalies' kinds as bits of [`ANOMALY_KINDS`].
//! * `*_changes`: each state the side entered, a capital letter (`A` + its index in
//!   [`TcpState::ALL`]) and then µs since the connection's start in base 36; a side that ends
//!   in TIME_WAIT gets its end (`B` = CLOSED) at the TIME_WAIT's end, even past the capture.
//! * `ladder`: `1` when the page carries this connection's drawing.
//!
//! What a line needs besides the verdict is gathered from the connection's events as they
//! come, into a [`Seen`] of a few hundred bytes, so that no connection's events need be kept.
//!
//! Pure: no I/O.

use crate::events::{AnomalyKind, ConnectionEvent, Event, Initiator, Role, TcpState};
use crate::timestamp::Timestamp;
use std::fmt::Write as _;

/// The anomaly kinds in the order of their bits.
pub const ANOMALY_KINDS: [AnomalyKind; 8] = [
    AnomalyKind::Retransmission,
    AnomalyKind::OutOfOrder,
    AnomalyKind::Midstream,
    AnomalyKind::RstOutOfWindow,
    AnomalyKind::IllegalTransition,
    AnomalyKind::TruncatedFrame,
    AnomalyKind::Duplicate,
    AnomalyKind::Evicted,
];

/// A kind's bit in the `kinds` field.
pub fn kind_bit(k: AnomalyKind) -> u8 {
    let i = ANOMALY_KINDS
        .iter()
        .position(|x| *x == k)
        .expect("every kind is listed");
    1 << i
}

/// A state's index in [`TcpState::ALL`].
pub fn state_index(s: TcpState) -> usize {
    TcpState::ALL
        .iter()
        .position(|x| *x == s)
        .expect("every state is listed")
}

/// Whole µs from `from` to `t`, rounded to the nearest.
pub fn micros(t: Timestamp, from: Timestamp) -> i64 {
    let ns = t.since(from);
    (ns + ns.signum() * 500) / 1_000
}

/// `n` in base 36 (lower case), appended.
fn push_base36(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    let mut n = n.unsigned_abs();
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize];
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[i..]).expect("ASCII digits"));
}

/// The final state of side `i` (0 client, 1 server), if the connection has that side.
fn final_state(v: &ConnectionEvent, i: usize) -> Option<TcpState> {
    v.final_states.0.get(i).map(|x| x.1)
}

/// What one connection's events say that its line needs: each side's state changes and the
/// anomalies by kind.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Each state entered and when: the client's, the server's.
    pub changes: [Vec<(TcpState, Timestamp)>; 2],
    /// Anomalies of each kind of [`ANOMALY_KINDS`].
    pub anomalies: [u32; 8],
}

impl Seen {
    /// Note one event of the connection.
    pub fn add(&mut self, e: &Event) {
        match e {
            Event::State(s) => {
                let side = match s.role {
                    Role::Client => 0,
                    Role::Server => 1,
                };
                self.changes[side].push((s.to, s.t));
            }
            Event::Anomaly(a) => {
                let i = kind_bit(a.kind).trailing_zeros() as usize;
                self.anomalies[i] = self.anomalies[i].saturating_add(1);
            }
            _ => {}
        }
    }

    /// The kinds of anomaly met, as bits.
    pub fn kinds(&self) -> u8 {
        (0..8)
            .filter(|i| self.anomalies[*i] > 0)
            .fold(0, |a, i| a | (1 << i))
    }
}

/// Append one side's changes: each state entered and when (µs since the start, base 36).
fn push_changes(out: &mut String, v: &ConnectionEvent, seen: &Seen, side: usize) {
    let letter = |s: TcpState| (b'A' + state_index(s) as u8) as char;
    let mut last = None;
    for (to, t) in &seen.changes[side] {
        out.push(letter(*to));
        push_base36(out, micros(*t, v.start));
        last = Some(*to);
    }
    if last.is_none() {
        // No change seen (picked up mid-stream, or a timer's): in its final state throughout.
        if let Some(f) = final_state(v, side) {
            out.push(letter(f));
            out.push('0');
            last = Some(f);
        }
    }
    if last == Some(TcpState::TimeWait) {
        if let Some(until) = v.time_wait_until {
            out.push(letter(TcpState::Closed));
            push_base36(out, micros(until, v.start));
        }
    }
}

/// Append connection `v`'s line (ending in `\n`); `t0` is the first connection's start.
pub fn push_row(out: &mut String, v: &ConnectionEvent, seen: &Seen, t0: Timestamp, ladder: bool) {
    let mut num = itoa::Buffer::new();
    out.push_str(num.format(v.conn));
    let _ = write!(out, "\t{}\t{}\t", v.client, v.server);
    out.push_str(num.format(micros(v.start, t0)));
    out.push('\t');
    out.push_str(num.format(micros(v.end, v.start)));
    out.push('\t');
    if let Some(r) = v.handshake_rtt_ms {
        out.push_str(num.format((r * 1000.0).round() as i64));
    }
    out.push('\t');
    out.push_str(&v.history);
    out.push('\t');
    out.push_str(v.conn_state.as_str());
    out.push('\t');
    out.push_str(v.outcome.as_str());
    out.push('\t');
    out.push(match v.close_initiator {
        Some(Initiator::Client) => 'c',
        Some(Initiator::Server) => 's',
        Some(Initiator::Both) => 'b',
        None => '-',
    });
    for i in 0..2 {
        out.push('\t');
        if let Some(s) = final_state(v, i) {
            out.push_str(num.format(state_index(s)));
        }
    }
    out.push('\t');
    out.push_str(num.format(v.anomalies));
    out.push('\t');
    out.push_str(num.format(seen.kinds()));
    out.push('\t');
    push_changes(out, v, seen, 0);
    out.push('\t');
    if v.final_states.0.len() > 1 {
        push_changes(out, v, seen, 1);
    }
    out.push('\t');
    out.push_str(if ladder { "1" } else { "0" });
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base36_round_trips() {
        for n in [0i64, 1, 35, 36, 1295, 1296, 60_000_000, -7] {
            let mut s = String::new();
            push_base36(&mut s, n);
            assert_eq!(i64::from_str_radix(&s, 36).unwrap(), n, "{s}");
        }
    }

    #[test]
    fn micros_round_to_the_nearest() {
        assert_eq!(micros(Timestamp(1_499), Timestamp(0)), 1);
        assert_eq!(micros(Timestamp(1_500), Timestamp(0)), 2);
        assert_eq!(micros(Timestamp(0), Timestamp(1_500)), -2);
    }

    #[test]
    fn every_kind_and_state_has_its_own_index() {
        let bits: u32 = ANOMALY_KINDS.iter().map(|k| u32::from(kind_bit(*k))).sum();
        assert_eq!(bits, 255);
        for (i, s) in TcpState::ALL.into_iter().enumerate() {
            assert_eq!(state_index(s), i);
        }
    }
}
