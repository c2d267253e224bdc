//! Tests of connections picked up mid-stream (UNKNOWN).

use super::*;

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
