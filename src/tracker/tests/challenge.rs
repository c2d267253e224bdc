//! RFC 5961 as Linux applies it (tcp_validate_incoming): RSTs not exactly at RCV.NXT and
//! SYNs to a synchronized end get a challenge ACK; the connection survives.

use super::*;

fn challenged(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Anomaly(a) if a.detail.contains("challenge ACK") => a.frame,
            _ => None,
        })
        .collect()
}

#[test]
fn an_in_window_rst_off_rcv_nxt_is_challenged_and_the_connection_survives() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, A | TcpFlags::PSH, ISN_C + 1, ISN_S + 1, 10),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 11, 0),
        seg(6, C, S, R, ISN_C + 111, 0, 0), // in the window, 100 past RCV.NXT
        seg(7, S, C, A, ISN_S + 1, ISN_C + 11, 0), // the challenge ACK
        seg(8, C, S, A | TcpFlags::PSH, ISN_C + 11, ISN_S + 1, 10),
    ]);
    let ev = run(&s);
    assert_eq!(challenged(&ev), [6]);
    assert_eq!(path(&ev, S), [Listen, SynReceived, Established]);
    assert_eq!(path(&ev, C), [Closed, SynSent, Established]);
    assert_eq!(verdicts(&ev)[0].outcome, Outcome::Open);
    assert_eq!(verdicts(&ev)[0].resets, 0);
}

#[test]
fn an_rst_exactly_at_rcv_nxt_resets() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, A | TcpFlags::PSH, ISN_C + 1, ISN_S + 1, 10),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 11, 0),
        seg(6, C, S, R, ISN_C + 111, 0, 0),
        seg(7, C, S, R, ISN_C + 11, 0, 0),
    ]);
    let ev = run(&s);
    assert_eq!(challenged(&ev), [6]);
    assert_eq!(path(&ev, S).last(), Some(&Closed));
    assert_eq!(verdicts(&ev)[0].outcome, Outcome::Reset);
}

#[test]
fn a_syn_in_established_is_challenged_not_a_new_connection() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, SY, 0x7777_0000, 0, 0), // forged, or from a client that lost its TCB
        seg(5, S, C, A, ISN_S + 1, ISN_C + 1, 0), // the challenge ACK
        seg(6, C, S, A | TcpFlags::PSH, ISN_C + 1, ISN_S + 1, 10),
        seg(7, S, C, A, ISN_S + 1, ISN_C + 11, 0),
    ]);
    let ev = run(&s);
    assert_eq!(challenged(&ev), [4]);
    assert_eq!(verdicts(&ev).len(), 1);
    assert_eq!(path(&ev, S), [Listen, SynReceived, Established]);
    assert_eq!(path(&ev, C), [Closed, SynSent, Established]);
    assert_eq!(verdicts(&ev)[0].outcome, Outcome::Open);
}

#[test]
fn a_client_that_lost_its_tcb_resets_the_challenge_and_reconnects() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, SY, 0x7777_0000, 0, 0),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 1, 0), // challenge ACK
        seg(6, C, S, R, ISN_C + 1, 0, 0),         // no TCB: seq = the ACK's ack
        seg(1004, C, S, SY, 0x7777_0000, 0, 0),
        seg(1005, S, C, SY | A, 0x5555_0000, 0x7777_0001, 0),
        seg(1006, C, S, A, 0x7777_0001, 0x5555_0001, 0),
    ]);
    let ev = run(&s);
    let v = verdicts(&ev);
    assert_eq!(v.len(), 2, "{v:?}");
    assert_eq!(v[0].outcome, Outcome::Reset);
    assert_eq!(v[1].history, "ShA");
}

/// A forged RST past what the client sent is a guess, not a sign of uncaptured bytes (seen
/// with `demo --scenario rst-challenge`).
#[test]
fn an_rst_beyond_what_was_sent_is_not_a_sequence_gap() {
    let mut s = handshake();
    s.push(seg(4, C, S, R, ISN_C + 1001, 0, 0));
    let ev = run(&s);
    let gaps = ev
        .iter()
        .filter(|e| matches!(e, Event::Anomaly(a) if a.kind == AnomalyKind::OutOfOrder))
        .count();
    assert_eq!(gaps, 0);
    assert_eq!(path(&ev, S), [Listen, SynReceived, Established]);
}
