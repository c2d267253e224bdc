//! Which connection a segment belongs to when several share one 4-tuple.

use super::*;

/// `ep`'s state path in connection `conn` only.
fn path_in(events: &[Event], conn: u64, ep: &str) -> Vec<TcpState> {
    let only: Vec<Event> = events
        .iter()
        .filter(|e| e.conn() == conn)
        .cloned()
        .collect();
    path(&only, ep)
}

/// (conn, relative seq, relative ack) of frame `n`'s segment event.
fn rel(events: &[Event], n: u64) -> (u64, u32, u32) {
    events
        .iter()
        .find_map(|e| match e {
            Event::Segment(s) if s.frame == n => Some((s.conn, s.seq, s.ack)),
            _ => None,
        })
        .unwrap()
}

#[test]
fn a_new_isn_after_a_refusal_is_a_new_connection() {
    let ev = run(&[
        seg(1, C, S, SY, ISN_C, 0, 0),
        seg(2, S, C, R | A, 0, ISN_C + 1, 0),
        seg(500, C, S, SY, ISN_C + 7777, 0, 0),
        seg(501, S, C, SY | A, ISN_S, ISN_C + 7778, 0),
        seg(502, C, S, A, ISN_C + 7778, ISN_S + 1, 0),
    ]);
    let v = verdicts(&ev);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].outcome, Outcome::Refused);
    assert_eq!(v[1].handshake_rtt_ms, Some(2.0));
    assert_eq!(rel(&ev, 502), (2, 1, 1));
    assert_eq!(path_in(&ev, 2, C), [Closed, SynSent, Established]);
}

#[test]
fn a_new_isn_after_an_unanswered_syn_is_a_new_connection() {
    let ev = run(&[
        seg(1, C, S, SY, ISN_C, 0, 0),
        seg(1001, C, S, SY, ISN_C, 0, 0),
        seg(3001, C, S, SY, ISN_C, 0, 0),
        seg(10_000, C, S, SY, ISN_C + 7777, 0, 0),
        seg(10_001, S, C, SY | A, ISN_S, ISN_C + 7778, 0),
        seg(10_002, C, S, A, ISN_C + 7778, ISN_S + 1, 0),
    ]);
    let v = verdicts(&ev);
    assert_eq!(v.len(), 2, "{v:?}");
    assert_eq!((v[0].conn, v[0].conn_state.as_str()), (1, "S0"));
    assert_eq!(v[0].packets, [3, 0]);
    assert_eq!(v[1].handshake_rtt_ms, Some(2.0));
    assert_eq!(rel(&ev, 10_002), (2, 1, 1));
    assert_eq!(path_in(&ev, 2, C), [Closed, SynSent, Established]);
    assert_eq!(path_in(&ev, 2, S), [Listen, SynReceived, Established]);
}

#[test]
fn a_refused_syn_retried_and_answered_is_one_connection_after_any_idle_gap() {
    let ev = run(&[
        seg(1, C, S, SY, ISN_C, 0, 0),
        seg(2, S, C, R | A, 0, ISN_C + 1, 0),
        seg(500, C, S, SY, ISN_C, 0, 0),
        seg(501, S, C, SY | A, ISN_S, ISN_C + 1, 0),
        seg(502, C, S, A, ISN_C + 1, ISN_S + 1, 0),
        // idle well past the RST's lingering (2 s)
        seg(30_000, C, S, A | TcpFlags::PSH, ISN_C + 1, ISN_S + 1, 10),
        seg(30_001, S, C, A, ISN_S + 1, ISN_C + 11, 0),
    ]);
    let v = verdicts(&ev);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(rel(&ev, 30_000), (1, 1, 1));
    assert_eq!(path(&ev, C).last(), Some(&Established));
    assert_eq!(path(&ev, S).last(), Some(&Established));
}

#[test]
fn spoofed_syns_with_random_isns_do_not_capture_the_real_handshake() {
    let ev = run(&[
        seg(1, C, S, SY, ISN_C, 0, 0),
        seg(2, C, S, SY, 0x1234_5678, 0, 0),
        seg(3, C, S, SY, 0x9abc_def0, 0, 0),
        seg(4, S, C, SY | A, ISN_S, ISN_C + 1, 0),
        seg(5, C, S, A, ISN_C + 1, ISN_S + 1, 0),
    ]);
    let v = verdicts(&ev);
    assert_eq!(v.len(), 3, "{v:?}");
    let real = v.iter().find(|c| c.conn == 1).unwrap();
    assert_eq!(real.handshake_rtt_ms, Some(4.0));
    assert_eq!(real.history, "ShA");
    for spoofed in v.iter().filter(|c| c.conn != 1) {
        assert_eq!(spoofed.conn_state.as_str(), "S0");
    }
    assert_eq!(path_in(&ev, 1, C), [Closed, SynSent, Established]);
    assert_eq!(path_in(&ev, 1, S), [Listen, SynReceived, Established]);
    assert_eq!(rel(&ev, 5), (1, 1, 1));
}

#[test]
fn of_two_syn_acks_the_one_the_client_acknowledges_is_the_servers() {
    let ev = run(&[
        seg(1, C, S, SY, ISN_C, 0, 0),
        seg(2, S, C, SY | A, ISN_S + 0x4000_0000, ISN_C + 1, 0),
        seg(3, S, C, SY | A, ISN_S, ISN_C + 1, 0),
        seg(4, C, S, A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, A | TcpFlags::PSH, ISN_S + 1, ISN_C + 1, 10),
    ]);
    assert_eq!(path(&ev, S), [Listen, SynReceived, Established]);
    assert_eq!(rel(&ev, 4), (1, 1, 1));
    assert_eq!(rel(&ev, 5), (1, 1, 1));
    assert!(
        !ev.iter().any(|e| matches!(e, Event::Anomaly(a)
            if matches!(a.kind, AnomalyKind::Retransmission | AnomalyKind::OutOfOrder))),
        "{ev:?}"
    );
}
