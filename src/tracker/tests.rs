//! Tracker tests on segments built in code, one banner per RFC 9293 state (as smoltcp groups
//! its tests), then connections picked up mid-stream, then property tests.

use super::*;
use crate::events::{Outcome, TcpState::*};
use crate::segment::{PayloadPrefix, TcpFlags, TcpOptions};
use proptest::prelude::*;
use std::net::SocketAddr;

const C: &str = "10.0.0.1:40000";
const S: &str = "10.0.0.2:80";
const ISN_C: u32 = 1000;
const ISN_S: u32 = 5000;
const F: u8 = TcpFlags::FIN;
const SY: u8 = TcpFlags::SYN;
const R: u8 = TcpFlags::RST;
const A: u8 = TcpFlags::ACK;

#[track_caller]
fn seg(n: u64, from: &str, to: &str, flags: u8, seq: u32, ack: u32, len: u32) -> Segment {
    Segment {
        ts: Timestamp(1_000_000 * n as i64),
        frame: n,
        orig_len: 60,
        cap_len: 60,
        src: from.parse().unwrap(),
        dst: to.parse().unwrap(),
        flags: TcpFlags(flags),
        seq,
        ack,
        window: 1000,
        payload_len: len,
        payload: PayloadPrefix::default(),
        payload_cut: false,
        options: TcpOptions::default(),
    }
}

fn run(segs: &[Segment]) -> Vec<Event> {
    let mut t = Tracker::new(TrackerConfig::default());
    let mut out = Vec::new();
    for s in segs {
        t.handle_segment(s);
        while let Some(e) = t.poll_event() {
            out.push(e);
        }
    }
    t.finish();
    while let Some(e) = t.poll_event() {
        out.push(e);
    }
    out
}

/// Each endpoint's (from, to) changes, in order, excluding projected ones.
fn path(events: &[Event], ep: &str) -> Vec<TcpState> {
    let ep: SocketAddr = ep.parse().unwrap();
    let mut v = Vec::new();
    for e in events {
        if let Event::State(s) = e {
            if s.endpoint.0 == ep && !s.projected {
                if v.is_empty() {
                    v.push(s.from);
                }
                v.push(s.to);
            }
        }
    }
    v
}

fn verdicts(events: &[Event]) -> Vec<&crate::events::ConnectionEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Connection(c) => Some(c),
            _ => None,
        })
        .collect()
}

fn handshake() -> Vec<Segment> {
    vec![
        seg(1, C, S, SY, ISN_C, 0, 0),
        seg(2, S, C, SY | A, ISN_S, ISN_C + 1, 0),
        seg(3, C, S, A, ISN_C + 1, ISN_S + 1, 0),
    ]
}

/// A payload cut by the snaplen: on the wire, not in the file.
fn cut(mut s: Segment) -> Segment {
    s.payload_cut = true;
    s.orig_len = 54 + s.payload_len;
    s.cap_len = 54;
    s
}

fn truncated(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Anomaly(a) if a.kind == AnomalyKind::TruncatedFrame => a.frame,
            _ => None,
        })
        .collect()
}

/// The history after the handshake and `then`.
fn history_after_handshake(then: &[Segment]) -> String {
    let mut s = handshake();
    s.extend_from_slice(then);
    verdicts(&run(&s))[0].history.clone()
}

// =============================================================================================
// Tests for the CLOSED state
// =============================================================================================
#[test]
fn refused_connect_gives_the_server_no_states() {
    let ev = run(&[
        seg(1, C, S, SY, ISN_C, 0, 0),
        seg(2, S, C, R | A, 0, ISN_C + 1, 0),
    ]);
    assert_eq!(path(&ev, C), [Closed, SynSent, Closed]);
    assert!(path(&ev, S).is_empty());
    assert_eq!(verdicts(&ev)[0].outcome, Outcome::Refused);
    assert_eq!(verdicts(&ev)[0].history, "Sr");
    assert_eq!(verdicts(&ev)[0].conn_state.as_str(), "REJ");
}

// =============================================================================================
// Tests for the LISTEN state
// =============================================================================================
#[test]
fn three_way_handshake() {
    let ev = run(&handshake());
    assert_eq!(path(&ev, C), [Closed, SynSent, Established]);
    assert_eq!(path(&ev, S), [Listen, SynReceived, Established]);
}

// =============================================================================================
// Tests for the SYN-SENT state
// =============================================================================================
/// The `connect` calls of side `ep`: (phase, result, frame-time in ms).
fn connect_calls(events: &[Event], ep: &str) -> Vec<(crate::events::Phase, Option<String>, i64)> {
    let ep: SocketAddr = ep.parse().unwrap();
    events
        .iter()
        .filter_map(|e| match e {
            Event::Call(c) if c.endpoint.0 == ep && c.call == crate::events::CallName::Connect => {
                Some((c.phase, c.result.map(|r| r.to_string()), c.t.0 / 1_000_000))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_refused_syn_returns_econnrefused_at_the_rst() {
    let ev = run(&[
        seg(1, C, S, SY, ISN_C, 0, 0),
        seg(2, S, C, R | A, 0, ISN_C + 1, 0),
    ]);
    use crate::events::Phase::{Enter, Return};
    assert_eq!(
        connect_calls(&ev, C),
        [(Enter, None, 1), (Return, Some("ECONNREFUSED".into()), 2)]
    );
}

#[test]
fn the_same_syn_after_a_refusal_is_one_connection_refused_each_time() {
    // Windows answers an RST to its SYN by sending the same SYN again: one connection (the
    // ISN is the same), each try read as its own connect() → ECONNREFUSED.
    let ev = run(&[
        seg(1, C, S, SY, ISN_C, 0, 0),
        seg(2, S, C, R | A, 0, ISN_C + 1, 0),
        seg(500, C, S, SY, ISN_C, 0, 0),
        seg(501, S, C, R | A, 0, ISN_C + 1, 0),
    ]);
    use crate::events::Phase::{Enter, Return};
    let refused = Some("ECONNREFUSED".to_string());
    assert_eq!(
        connect_calls(&ev, C),
        [
            (Enter, None, 1),
            (Return, refused.clone(), 2),
            (Enter, None, 500),
            (Return, refused, 501)
        ]
    );
    assert_eq!(verdicts(&ev).len(), 1);
    assert_eq!(verdicts(&ev)[0].outcome, Outcome::Refused);
}

#[test]
fn syn_retransmission_is_one_connection_with_an_interval() {
    let ev = run(&[
        seg(1, C, S, SY, ISN_C, 0, 0),
        seg(1001, C, S, SY, ISN_C, 0, 0),
    ]);
    assert_eq!(verdicts(&ev).len(), 1);
    assert!(ev.iter().any(|e| matches!(e, Event::Anomaly(a)
        if a.kind == AnomalyKind::Retransmission && a.detail.contains("1.000 s"))));
    assert_eq!(verdicts(&ev)[0].outcome, Outcome::Incomplete);
    assert_eq!(verdicts(&ev)[0].conn_state.as_str(), "S0");
}

#[test]
fn crossed_syns_take_the_simultaneous_open_path() {
    let ev = run(&[
        seg(1, C, S, SY, ISN_C, 0, 0),
        seg(2, S, C, SY, ISN_S, 0, 0),
        seg(3, C, S, SY | A, ISN_C, ISN_S + 1, 0),
        seg(4, S, C, SY | A, ISN_S, ISN_C + 1, 0),
    ]);
    assert_eq!(path(&ev, C), [Closed, SynSent, SynReceived, Established]);
    assert_eq!(path(&ev, S), [Closed, SynSent, SynReceived, Established]);
}

#[test]
fn a_syn_ack_that_acks_nothing_of_ours_is_not_a_crossed_open() {
    // A SYN,ACK from the SYN's own sender with an ACK that is no ISN of the peer's.
    let ev = run(&[
        seg(1, C, S, SY, ISN_C, 0, 0),
        seg(2, C, S, SY | A, ISN_C, 777, 0),
    ]);
    assert!(!path(&ev, S).contains(&Established));
}

// =============================================================================================
// Tests for the SYN-RECEIVED state
// =============================================================================================
/// Crossed SYNs, S's SYN,ACK at 3 ms, C's at `n` ms (frame `n`), then C's first data.
fn crossed_syns_with_second_syn_ack_at(n: u64) -> Vec<Event> {
    run(&[
        seg(1, C, S, SY, ISN_C, 0, 0),
        seg(2, S, C, SY, ISN_S, 0, 0),
        seg(3, S, C, SY | A, ISN_S, ISN_C + 1, 0),
        seg(n, C, S, SY | A, ISN_C, ISN_S + 1, 0),
        seg(n + 1, C, S, A, ISN_C + 1, ISN_S + 1, 5),
    ])
}

#[test]
fn crossed_syns_held_in_flight_establish_on_the_peers_syn_ack() {
    // As captured behind a slow link: each SYN,ACK was sent in SYN_RECEIVED but is seen only
    // after the peer's SYN,ACK; the first one establishes its receiver at once.
    let ev = crossed_syns_with_second_syn_ack_at(4);
    assert_eq!(path(&ev, C), [Closed, SynSent, SynReceived, Established]);
    assert_eq!(path(&ev, S), [Closed, SynSent, SynReceived, Established]);
    let established_at = |ep: &str| {
        ev.iter()
            .find_map(|e| match e {
                Event::State(s) if s.endpoint.0 == ep.parse().unwrap() && s.to == Established => {
                    s.frame
                }
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(established_at(C), 3, "on S's SYN,ACK, not later");
    assert_eq!(established_at(S), 4);
    assert!(!ev.iter().any(|e| matches!(e, Event::Anomaly(_))));
    let returns = ev
        .iter()
        .filter(|e| {
            matches!(e, Event::Call(c) if c.call == crate::events::CallName::Connect
                && c.phase == crate::events::Phase::Return)
        })
        .count();
    assert_eq!(returns, 2, "both connect() calls return");
    assert!(verdicts(&ev)[0].simultaneous_open);
}

#[test]
fn crossed_syns_with_syn_acks_far_apart_still_establish_both() {
    // The second SYN,ACK comes after the delivery limit (1 s): the first SYN,ACK, attached to
    // its sender's SYN, is delivered when that SYN is settled, not lost with it.
    let ev = crossed_syns_with_second_syn_ack_at(1600);
    assert_eq!(path(&ev, C), [Closed, SynSent, SynReceived, Established]);
    assert_eq!(path(&ev, S), [Closed, SynSent, SynReceived, Established]);
    assert!(!ev.iter().any(|e| matches!(e, Event::Anomaly(_))));
}

// =============================================================================================
// Tests for the ESTABLISHED state (resets, content gaps)
// =============================================================================================
#[test]
fn rst_in_established_closes_both_ends() {
    let mut s = handshake();
    s.push(seg(4, C, S, R | A, ISN_C + 1, ISN_S + 1, 0));
    let ev = run(&s);
    assert_eq!(path(&ev, C).last(), Some(&Closed));
    assert_eq!(path(&ev, S).last(), Some(&Closed));
    assert_eq!(verdicts(&ev)[0].outcome, Outcome::Reset);
}

#[test]
fn rst_outside_the_window_is_ignored() {
    let mut s = handshake();
    s.push(seg(4, C, S, R, ISN_C + 900_000, 0, 0));
    let ev = run(&s);
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::Anomaly(a) if a.kind == AnomalyKind::RstOutOfWindow)));
    assert_eq!(path(&ev, S).last(), Some(&Established));
}

#[test]
fn acked_data_the_capture_cut_is_a_content_gap() {
    let mut s = handshake();
    s.push(cut(seg(4, C, S, A, ISN_C + 1, ISN_S + 1, 100)));
    s.push(seg(5, S, C, A, ISN_S + 1, ISN_C + 101, 0));
    s.push(cut(seg(6, S, C, A, ISN_S + 1, ISN_C + 101, 50)));
    s.push(seg(7, C, S, A, ISN_C + 101, ISN_S + 51, 0));
    s.push(cut(seg(8, C, S, A, ISN_C + 101, ISN_S + 51, 100)));
    let ev = run(&s);
    assert_eq!(verdicts(&ev)[0].history, "ShADaGdg");
    // A truncated_frame anomaly for the first cut frame of each side, not for every one.
    assert_eq!(truncated(&ev), vec![4, 6]);
}

#[test]
fn acked_data_that_was_never_captured_is_a_content_gap() {
    // Bytes 1..=100 missing; 101..=150 captured; the ACK covers both.
    let h = history_after_handshake(&[
        seg(4, C, S, A, ISN_C + 101, ISN_S + 1, 50),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 151, 0),
    ]);
    assert_eq!(h, "ShADaG");
}

#[test]
fn captured_data_acked_is_no_gap() {
    let h = history_after_handshake(&[
        seg(4, C, S, A, ISN_C + 1, ISN_S + 1, 100),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 101, 0),
    ]);
    assert_eq!(h, "ShADa");
}

#[test]
fn a_gap_revealed_by_an_rst_is_not_a_letter() {
    // The RST's sender is no longer cleanly established: Zeek does not trust it.
    let h = history_after_handshake(&[
        cut(seg(4, C, S, A, ISN_C + 1, ISN_S + 1, 100)),
        seg(5, S, C, R | A, ISN_S + 1, ISN_C + 101, 0),
    ]);
    assert_eq!(h, "ShADr");
}

// =============================================================================================
// Tests for the FIN-WAIT-1 state
// =============================================================================================
#[test]
fn fin_that_acks_our_fin_takes_two_transitions_in_one_frame() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, F | A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, C, S, A, ISN_C + 2, ISN_S + 2, 0),
    ]);
    let ev = run(&s);
    let frames: Vec<(TcpState, Option<u64>)> = ev
        .iter()
        .filter_map(|e| match e {
            Event::State(st) if st.endpoint.0 == C.parse().unwrap() && st.to != Closed => {
                Some((st.to, st.frame))
            }
            _ => None,
        })
        .collect();
    assert!(frames.contains(&(FinWait2, Some(5))) && frames.contains(&(TimeWait, Some(5))));
}

// =============================================================================================
// Tests for the FIN-WAIT-2 state
// =============================================================================================
#[test]
fn rst_in_fin_wait_2_closes_both_ends() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, S, C, R | A, ISN_S + 1, ISN_C + 2, 0),
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, C)[3..], [FinWait1, FinWait2, Closed]);
    assert_eq!(path(&ev, S)[3..], [CloseWait, Closed]);
}

// =============================================================================================
// Tests for the CLOSE-WAIT state
// =============================================================================================
#[test]
fn half_close_is_inferred_as_shutdown() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, S, C, A | TcpFlags::PSH, ISN_S + 1, ISN_C + 2, 5),
        seg(7, C, S, A, ISN_C + 2, ISN_S + 6, 0),
        seg(8, S, C, F | A, ISN_S + 6, ISN_C + 2, 0),
        seg(9, C, S, A, ISN_C + 2, ISN_S + 7, 0),
    ]);
    let ev = run(&s);
    assert!(ev.iter().any(|e| matches!(e, Event::Call(c)
        if c.call == crate::events::CallName::Shutdown)));
    assert_eq!(path(&ev, C)[3..], [FinWait1, FinWait2, TimeWait]);
}

// =============================================================================================
// Tests for the CLOSING state
// =============================================================================================
#[test]
fn crossed_fins_give_closing_on_both_ends() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, F | A, ISN_S + 1, ISN_C + 1, 0), // did not see C's FIN
        seg(6, C, S, A, ISN_C + 2, ISN_S + 2, 0),
        seg(7, S, C, A, ISN_S + 2, ISN_C + 2, 0),
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, C)[3..], [FinWait1, Closing, TimeWait]);
    assert_eq!(path(&ev, S)[3..], [FinWait1, Closing, TimeWait]);
    assert_eq!(
        verdicts(&ev)[0].close_initiator,
        Some(crate::events::Initiator::Both)
    );
}

/// A retransmission that carries a newer ACK must not make a late FIN delivery go back in time.
#[test]
fn crossed_fins_then_a_retransmission_keep_each_endpoint_in_time_order() {
    let ev = run(&[
        seg(1, C, S, SY, 100, 0, 0),
        seg(2, S, C, SY | A, 500, 101, 0),
        seg(3, C, S, A, 101, 501, 0),
        seg(4, C, S, A | TcpFlags::PSH, 101, 501, 5),
        seg(5, S, C, F | A, 501, 101, 0),
        seg(6, C, S, F | A, 106, 501, 0),
        seg(7, C, S, A | TcpFlags::PSH, 101, 502, 5), // retransmitted data, newer ACK
        seg(8, S, C, A, 502, 107, 0),
    ]);
    let server: SocketAddr = S.parse().unwrap();
    let mut last = Timestamp(i64::MIN);
    let mut chain = Vec::new();
    for e in &ev {
        if let Event::State(s) = e {
            if s.endpoint.0 == server && !s.projected {
                assert!(s.t >= last, "the server's states go back in time: {ev:?}");
                last = s.t;
                if let Some(prev) = chain.last() {
                    assert_eq!(*prev, s.from, "the server's chain breaks");
                }
                chain.push(s.to);
            }
        }
    }
    assert_eq!(chain.last(), Some(&TimeWait));
}

// =============================================================================================
// Tests for the LAST-ACK state
// =============================================================================================
/// A new SYN from a client in TIME_WAIT opens a new connection even if the server never
/// finished (its LAST_ACK still waits).
#[test]
fn reuse_while_the_peer_still_waits_in_last_ack() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, S, C, F | A, ISN_S + 1, ISN_C + 2, 0),
        seg(7, C, S, A, ISN_C + 2, ISN_S + 2, 0),
    ]);
    // The server saw the last ACK here; drop it to leave LAST_ACK waiting.
    s.pop();
    s.extend([
        seg(2000, C, S, SY, ISN_C + 50_000, 0, 0),
        seg(2001, S, C, SY | A, ISN_S + 70_000, ISN_C + 50_001, 0),
        seg(2002, C, S, A, ISN_C + 50_001, ISN_S + 70_001, 0),
    ]);
    let ev = run(&s);
    assert_eq!(verdicts(&ev).len(), 2);
    assert!(!ev
        .iter()
        .any(|e| matches!(e, Event::Anomaly(a) if a.kind == AnomalyKind::IllegalTransition)));
}

// =============================================================================================
// Tests for the TIME-WAIT state
// =============================================================================================
#[test]
fn client_closes_first_and_waits_in_time_wait() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, S, C, F | A, ISN_S + 1, ISN_C + 2, 0),
        seg(7, C, S, A, ISN_C + 2, ISN_S + 2, 0),
    ]);
    let ev = run(&s);
    assert_eq!(
        path(&ev, C),
        [Closed, SynSent, Established, FinWait1, FinWait2, TimeWait]
    );
    assert_eq!(
        path(&ev, S),
        [Listen, SynReceived, Established, CloseWait, LastAck, Closed]
    );
    let v = verdicts(&ev)[0];
    assert_eq!(v.history, "ShAFaf");
    assert_eq!(v.conn_state.as_str(), "SF");
    assert_eq!(v.outcome, Outcome::Closed);
    // The end of TIME_WAIT is projected 60 s after it began.
    assert!(ev.iter().any(|e| matches!(e, Event::State(st)
        if st.projected && st.from == TimeWait && st.t == Timestamp(6_000_000 + LINUX_TIME_WAIT_NS))));
}

/// The final ACK was not captured: the TIME_WAIT side still ends on time, not at the end.
#[test]
fn time_wait_ends_on_time_when_the_last_ack_is_missing() {
    const C2: &str = "10.0.0.3:40001";
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, S, C, F | A, ISN_S + 1, ISN_C + 2, 0),
        // no final ACK; 100 s later, another connection
        seg(100_000, C2, S, SY, 7, 0, 0),
    ]);
    let ev = run(&s);
    let tw_end = ev
        .iter()
        .position(|e| matches!(e, Event::State(st) if st.from == TimeWait && st.conn == 1))
        .unwrap();
    let later = ev.iter().position(|e| e.conn() == 2).unwrap();
    assert!(tw_end < later, "TIME_WAIT's end comes in time order");
    assert!(matches!(&ev[tw_end], Event::State(st) if !st.projected));
}

#[test]
fn new_syn_on_a_time_wait_tuple_starts_a_new_connection() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, F | A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, C, S, A, ISN_C + 2, ISN_S + 2, 0),
        seg(7, C, S, SY, ISN_C + 100_000, 0, 0),
    ]);
    let ev = run(&s);
    let tw_end = ev.iter().find_map(|e| match e {
        Event::State(st) if st.from == TimeWait => Some((st.frame, st.projected, st.conn)),
        _ => None,
    });
    assert_eq!(tw_end, Some((Some(7), false, 1)));
    assert_eq!(verdicts(&ev).len(), 2);
    assert_eq!(verdicts(&ev)[1].conn, 2);
}

#[test]
fn rst_in_time_wait_ends_it_before_its_60_s() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, F | A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, C, S, A, ISN_C + 2, ISN_S + 2, 0),
        seg(7, S, C, R, ISN_S + 2, 0, 0),
    ]);
    let ev = run(&s);
    assert_eq!(
        path(&ev, C),
        [
            Closed,
            SynSent,
            Established,
            FinWait1,
            FinWait2,
            TimeWait,
            Closed
        ]
    );
    // Ended by the RST (frame 7), not projected.
    assert!(ev.iter().any(|e| matches!(e, Event::State(st)
        if st.from == TimeWait && st.frame == Some(7) && !st.projected)));
}

// =============================================================================================
// Tests for UNKNOWN: connections picked up mid-stream
// =============================================================================================
#[test]
fn midstream_fin_exchange_still_yields_states() {
    let ev = run(&[
        seg(1, C, S, A, 7, 9, 10),
        seg(2, C, S, F | A, 17, 9, 0),
        seg(3, S, C, F | A, 9, 18, 0),
        seg(4, C, S, A, 18, 10, 0),
    ]);
    assert_eq!(path(&ev, C), [Unknown, FinWait1, FinWait2, TimeWait]);
    assert_eq!(path(&ev, S), [Unknown, CloseWait, LastAck, Closed]);
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::Anomaly(a) if a.kind == AnomalyKind::Midstream)));
    assert!(verdicts(&ev)[0].roles_guessed);
}

#[test]
fn a_server_picked_up_at_its_syn_ack_never_returns_from_connect() {
    let ev = run(&[
        seg(1, S, C, SY | A, ISN_S, ISN_C + 1, 0),
        seg(2, C, S, A, ISN_C + 1, ISN_S + 1, 0),
    ]);
    assert_eq!(path(&ev, S).last(), Some(&Established));
    let server: SocketAddr = S.parse().unwrap();
    assert!(!ev.iter().any(|e| matches!(e, Event::Call(c)
        if c.endpoint.0 == server && c.call == crate::events::CallName::Connect)));
}

#[test]
fn a_gap_in_a_connection_picked_up_mid_stream_is_not_a_letter() {
    let s = vec![
        cut(seg(1, C, S, A, ISN_C + 1, ISN_S + 1, 100)),
        seg(2, S, C, A, ISN_S + 1, ISN_C + 101, 0),
    ];
    let ev = run(&s);
    assert!(!verdicts(&ev)[0].history.contains(['G', 'g']));
}

// =============================================================================================
// Tests for properties: random reorderings, drops and duplications
// =============================================================================================
fn conversation() -> Vec<Segment> {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, A | TcpFlags::PSH, ISN_C + 1, ISN_S + 1, 5),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 6, 0),
        seg(6, S, C, A | TcpFlags::PSH, ISN_S + 1, ISN_C + 6, 5),
        seg(7, C, S, A, ISN_C + 6, ISN_S + 6, 0),
        seg(8, C, S, F | A, ISN_C + 6, ISN_S + 6, 0),
        seg(9, S, C, F | A, ISN_S + 6, ISN_C + 7, 0),
        seg(10, C, S, A, ISN_C + 7, ISN_S + 7, 0),
        seg(11, S, C, R, ISN_S + 7, 0, 0),
    ]);
    s
}

fn legal(from: TcpState, to: TcpState) -> bool {
    state::Input::ALL
        .into_iter()
        .any(|i| state::next_state(from, i) == Some(to))
        || (from == TimeWait && to == Closed)
}

proptest! {
    #[test]
    fn shuffled_dropped_duplicated_conversations_stay_legal(
        order in Just((0..11usize).collect::<Vec<_>>()).prop_shuffle(),
        keep in proptest::collection::vec(0u8..4, 11),
        dup in proptest::collection::vec(any::<bool>(), 11),
    ) {
        let base = conversation();
        let mut segs = Vec::new();
        for &i in &order {
            if keep[i] == 0 {
                continue; // dropped
            }
            segs.push(base[i]);
            if dup[i] {
                segs.push(base[i]);
            }
        }
        // Times follow the new order, as a capture's would.
        for (n, s) in segs.iter_mut().enumerate() {
            s.ts = Timestamp(1_000_000 * (n as i64 + 1));
            s.frame = n as u64 + 1;
        }
        let ev = run(&segs);
        let mut last = Timestamp(i64::MIN);
        for e in &ev {
            if let Event::Connection(_) = e { continue; }
            prop_assert!(e.t() >= last, "time went backwards at {:?}", e);
            last = e.t();
            if let Event::State(st) = e {
                prop_assert!(legal(st.from, st.to), "illegal {:?} -> {:?}", st.from, st.to);
            }
        }
    }
}
