//! Tests of the opening states: CLOSED, LISTEN, SYN-SENT, SYN-RECEIVED.

use super::*;

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
            Event::Call(c)
                if c.endpoint.addr() == ep && c.call == crate::events::CallName::Connect =>
            {
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
                Event::State(s)
                    if s.endpoint.addr() == ep.parse().unwrap() && s.to == Established =>
                {
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
